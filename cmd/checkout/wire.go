package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/handlers"
	"github.com/wallet-checkout/checkout/notify"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/reconciliation"
	"github.com/wallet-checkout/checkout/sessions"
	"github.com/wallet-checkout/checkout/wallet"
)

// walletTimeout bounds each call to WeChat's and Alipay's identity services.
const walletTimeout = 10 * time.Second

// app is the assembled service: its HTTP handler and the loops that run
// beside it (webhook delivery, reconciliation, the live-update hub).
type app struct {
	handler http.Handler
	loops   []func(context.Context)
	// recon runs reconciliations; `checkout reconcile` uses it directly.
	recon *reconciliation.Service
}

// wire builds every part from the settings and the directory. demo is nil
// outside demo mode; providers are the identity providers' URLs then.
func wire(s *config.Settings, rdb redis.UniversalClient, repo *checkout.Repo, dir *checkout.Directory, providers config.Providers, demo *demoSetup, log *slog.Logger) (*app, error) {
	gw := gateway.NewClient()
	hooks := webhook.New(rdb, dir,
		webhook.AllowPrivate(s.AllowPrivateWebhooks),
		webhook.WithLogger(log.With("component", "webhook")),
		webhook.WithRetry(s.WebhookRetry, 0, 0),
		webhook.WithLease(webhookLease(s.ClaimLease)),
		webhook.WithTimeout(webhookTimeout(s.ClaimLease)))
	svc, err := notify.New(notify.Config{
		Redis:     rdb,
		Repo:      repo,
		Directory: dir,
		Gateway:   gw,
		Events:    hooks,
		Logger:    log.With("component", "notify"),
		Retention: s.Retention,
		// The reconciler claims its work items under the same lease.
		EffectLease: s.ClaimLease,
	})
	if err != nil {
		return nil, err
	}
	hub := notify.NewHub(rdb, svc.Channel(), log.With("component", "hub"))
	reconciler := notify.NewReconciler(svc)
	recon, err := newReconciliation(s, rdb, repo, dir, gw, svc, hooks, log)
	if err != nil {
		return nil, err
	}
	payers, err := sessions.NewPayers(rdb, sessions.Config{PublicURL: s.PublicURL, KeyPairs: s.SessionKeyPairs()})
	if err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}

	deps := handlers.Deps{
		Redis:          rdb,
		Directory:      dir,
		Checkouts:      repo,
		Gateway:        gw,
		PublicURL:      s.PublicURL,
		Logger:         log,
		Clock:          time.Now,
		MaxAmount:      s.MaxAmount,
		TrustedProxies: s.TrustedProxies,
		// The same rule as for the merchants file's webhook URLs.
		AllowPrivateWebhooks: s.AllowPrivateWebhooks,
		Notifier:             svc,
		Refunds:              svc,
		Events:               hooks,
		Reconciliations:      recon,
		PagesDeps: handlers.PagesDeps{
			Sessions:   payers,
			PayOrderer: gw,
			Hub:        hub,
			Reconciler: svc,
		},
	}
	hc := &http.Client{Timeout: walletTimeout}
	if demo != nil {
		deps.Sandbox = demo.Sandbox
		deps.WalletSim = demo.Sim
		deps.WeChat, deps.Alipay = demo.Sim.WeChat(hc), demo.Sim.Alipay(hc)
	} else {
		deps.WeChat = &wallet.WeChat{AuthorizeBase: providers.WeChatAuthorizeBase, APIBase: providers.WeChatAPIBase, HTTP: hc}
		deps.Alipay = &wallet.Alipay{AuthorizeBase: providers.AlipayAuthorizeBase, GatewayURL: providers.AlipayGatewayURL, HTTP: hc}
	}
	h, err := handlers.New(deps)
	if err != nil {
		return nil, err
	}
	return &app{
		handler: h,
		loops:   []func(context.Context){hooks.Run, reconciler.Run, hub.Run, recon.Daily(0).Run},
		recon:   recon,
	}, nil
}

// start runs the loops until ctx ends; the returned function waits for them.
func (a *app) start(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	for _, loop := range a.loops {
		wg.Go(func() { loop(ctx) })
	}
	return wg.Wait
}

// webhookLease is the claim lease of webhook deliveries: four claim leases,
// which keeps the default (30 s) at the webhook sender's own 2 min.
func webhookLease(claim time.Duration) time.Duration { return 4 * claim }

// webhookTimeout bounds one delivery so that a whole claimed batch fits in
// its lease (the sender would otherwise stretch a short lease to fit the
// batch): the default 10 s unless the lease is compressed for a drill.
func webhookTimeout(claim time.Duration) time.Duration {
	rounds := time.Duration((webhook.DefaultBatch+webhook.DefaultConcurrency-1)/webhook.DefaultConcurrency + 1)
	return min(webhook.DefaultTimeout, webhookLease(claim)/rounds)
}

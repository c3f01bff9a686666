// Package app builds the whole service from its settings: the repository,
// the use cases, live updates, webhooks, reconciliations, sessions and the
// router. It is the one place that wires the parts together; the binary
// (cmd/checkout), the browser suite (e2e) and the package tests that need
// the whole service all call New, so a new dependency is one edit here.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/console"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/handlers"
	"github.com/wallet-checkout/checkout/metrics"
	"github.com/wallet-checkout/checkout/notify"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
	"github.com/wallet-checkout/checkout/reconciliation"
	"github.com/wallet-checkout/checkout/sessions"
	"github.com/wallet-checkout/checkout/wallet"
	"github.com/wallet-checkout/checkout/web/logos"
)

// WalletTimeout bounds each call to WeChat's and Alipay's identity services.
const WalletTimeout = 10 * time.Second

// LogoTimeout bounds the fetch of each merchant's logo at start.
const LogoTimeout = 5 * time.Second

// Gateway is every call the service makes to the payment gateway;
// *gateway.Client implements it.
type Gateway interface {
	payments.Gateway
	reconciliation.Gateway
}

// Config is what the service is built from. Settings, Redis, Directory and
// Accounts are required; the rest have the production defaults.
type Config struct {
	// Settings are the service's settings (config.FromEnv).
	Settings *config.Settings
	Redis    redis.UniversalClient
	// Directory holds the merchants and their stores.
	Directory *checkout.Directory
	// Accounts are the stores' gateway accounts: one for every store of
	// Directory (config.Merchants has both).
	Accounts *payments.Accounts
	// Providers are the identity providers' URLs (WeChat OAuth and
	// code2session, Alipay auth_base); the zero value means the real ones.
	Providers config.Providers
	// Gateway talks to the payment gateway (default gateway.NewClient()).
	// Tests put a spy or a fault in front of the real client.
	Gateway Gateway
	// Sandbox and WalletSim, when set (demo mode), are mounted under
	// /sandbox/ and /walletsim/. A merchants file with
	// identity_providers.emulator (Providers.Emulator) has app.New build
	// the emulator itself, from the sandbox stores' apps: WalletSim is
	// then left nil.
	Sandbox   http.Handler
	WalletSim http.Handler
	Logger    *slog.Logger
	// Clock is the service's clock (default time.Now); tests move it.
	Clock func() time.Time
	// Prefix starts every Redis key of the service, for tests that share
	// a Redis (default none: the production key names). No braces.
	Prefix string
	// Events, when set, stands between the use cases and the webhook
	// service: tests record events or make emitting fail. It is given the
	// webhook service to pass the events on to.
	Events func(hooks *webhook.Service) payments.Emitter
	// ReconcileEvery is how often the reconciler looks for due work
	// (default 1 s); the browser suite makes it faster.
	ReconcileEvery time.Duration
	// PageHeartbeat and PageEventsPoll tune the result page's event
	// stream (handlers.PagesDeps; defaults 15 s and 5 s).
	PageHeartbeat  time.Duration
	PageEventsPoll time.Duration
	// Metrics, when set, is told of everything the service counts and
	// reads Redis at each scrape (the binary sets it when the admin
	// listener is on, CHECKOUT_ADMIN_ADDR); nil counts nothing. With a
	// Gateway set, gateway calls are counted only if that Gateway does so.
	Metrics *metrics.Metrics
	// Draining, when set, says the process is shutting down: the public
	// /readyz answers 503 "draining" while it says true (the admin one
	// takes its own, App.Admin).
	Draining func() bool
}

// App is the assembled service: its HTTP handler, its parts (for the
// binary's subcommands and for tests) and the loops that run beside the
// handler.
type App struct {
	Handler        http.Handler
	Repo           *checkout.Repo
	Payments       *payments.Service
	Reconciler     *payments.Reconciler
	Webhooks       *webhook.Service
	Hub            *notify.Hub
	Reconciliation *reconciliation.Service
	Sessions       *sessions.Payers
	// Metrics is Config.Metrics (nil when not asked for).
	Metrics *metrics.Metrics

	rdb   redis.UniversalClient
	loops []func(context.Context)
	// merchantIDs are the directory's merchants, whose webhook events
	// Migrate walks.
	merchantIDs []string
	// dir, accounts and providers are what Reload swaps and checks.
	dir       *checkout.Directory
	accounts  *payments.Accounts
	providers config.Providers
}

// New builds the service. It starts nothing: Start runs the loops.
func New(cfg Config) (*App, error) {
	s := cfg.Settings
	switch {
	case s == nil:
		return nil, errors.New("app: Settings is required")
	case cfg.Redis == nil:
		return nil, errors.New("app: Redis is required")
	case cfg.Directory == nil:
		return nil, errors.New("app: Directory is required")
	case cfg.Accounts == nil:
		return nil, errors.New("app: Accounts is required")
	}
	if err := cfg.Accounts.Check(cfg.Directory); err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	m := cfg.Metrics
	var gwOpts []gateway.Option
	if m != nil {
		gwOpts = append(gwOpts, gateway.WithObserver(func(endpoint string, err error, elapsed time.Duration) {
			m.GatewayCall(endpoint, gateway.Result(err), elapsed)
		}))
	}
	var gw Gateway = gateway.NewClient(gwOpts...)
	if cfg.Gateway != nil {
		gw = cfg.Gateway
	}
	rdb, dir, p := cfg.Redis, cfg.Directory, cfg.Prefix
	lease, retry := s.ClaimLease, s.WebhookRetry
	if lease <= 0 {
		lease = config.DefaultClaimLease
	}
	if retry <= 0 {
		retry = config.DefaultWebhookRetry
	}

	repoOpts := []checkout.Option{checkout.WithRetention(s.Retention), checkout.WithClock(now)}
	hookOpts := []webhook.Option{
		webhook.AllowPrivate(s.AllowPrivateWebhooks),
		webhook.WithLogger(log.With("component", "webhook")),
		webhook.WithClock(now),
		webhook.WithRetry(retry, 0, 0),
		webhook.WithLease(webhookLease(lease)),
		webhook.WithTimeout(webhookTimeout(lease)),
	}
	var payObs payments.Observer
	var handlerObs handlers.Observer
	if m != nil {
		repoOpts = append(repoOpts, checkout.WithObserver(func(from, to checkout.Status, merchantID string) {
			m.Transition(string(from), string(to), merchantID)
		}))
		hookOpts = append(hookOpts, webhook.WithObserver(m.WebhookDelivery))
		payObs, handlerObs = m, m
	}
	var payPrefix, recPrefix, sessPrefix, oauthPrefix string
	if p != "" {
		repoOpts = append(repoOpts, checkout.WithPrefix(p+"co:"))
		hookOpts = append(hookOpts, webhook.WithPrefix(p))
		payPrefix, recPrefix, sessPrefix, oauthPrefix = p+"notify:", p+"rc:", p+"sess:", p+sessions.DefaultOAuthPrefix
	}
	a := &App{Repo: checkout.NewRepo(rdb, repoOpts...), Webhooks: webhook.New(rdb, dir, hookOpts...), Metrics: m, rdb: rdb,
		dir: dir, accounts: cfg.Accounts, providers: cfg.Providers}

	var events payments.Emitter = a.Webhooks
	if cfg.Events != nil {
		events = cfg.Events(a.Webhooks)
	}
	var err error
	a.Payments, err = payments.New(payments.Config{
		Redis: rdb, Repo: a.Repo, Directory: dir, Accounts: cfg.Accounts, Gateway: gw, Events: events,
		Logger: log.With("component", "payments"), Clock: now, Prefix: payPrefix,
		Retention: s.Retention, PublicURL: s.PublicURL,
		// The reconciler claims its work items under the same lease.
		EffectLease: lease,
		Observer:    payObs,
	})
	if err != nil {
		return nil, err
	}
	a.Reconciler = payments.NewReconciler(a.Payments, payments.WithInterval(cfg.ReconcileEvery))
	a.Hub = notify.NewHub(rdb, a.Payments.Channel(), log.With("component", "hub"))
	a.Reconciliation, err = reconciliation.New(reconciliation.Config{
		Redis: rdb, Repo: a.Repo, Directory: dir, Accounts: cfg.Accounts, Gateway: gw, Payments: a.Payments, Events: a.Webhooks,
		Logger: log.With("component", "reconciliation"), Clock: now, Prefix: recPrefix, Retention: s.Retention,
		// Like webhook deliveries: a run is longer than one reconciler item.
		Lease: webhookLease(lease),
	})
	if err != nil {
		return nil, err
	}
	a.Sessions, err = sessions.NewPayers(rdb, sessions.Config{PublicURL: s.PublicURL, KeyPairs: s.SessionKeyPairs(), Prefix: sessPrefix})
	if err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	consoleSessions, err := sessions.NewConsoleStore(rdb, sessions.ConsoleConfig{PublicURL: s.PublicURL, KeyPairs: s.SessionKeyPairs(), Prefix: p + sessions.DefaultConsolePrefix, Clock: now})
	if err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	// The pages' CSRF tokens and OAuth states are signed, not stored.
	secret := []byte(s.SigningSecret.Reveal())
	csrf, err := sessions.NewCSRF(secret)
	if err != nil {
		return nil, fmt.Errorf("CHECKOUT_SIGNING_SECRET: %w", err)
	}
	oauth, err := sessions.NewOAuthStates(rdb, sessions.OAuthConfig{Secret: secret, PublicURL: s.PublicURL, Prefix: oauthPrefix})
	if err != nil {
		return nil, fmt.Errorf("CHECKOUT_SIGNING_SECRET: %w", err)
	}

	hc := &http.Client{Timeout: WalletTimeout}
	pv, walletSim := cfg.Providers, cfg.WalletSim
	if pv.Emulator {
		if walletSim != nil {
			return nil, errors.New("app: WalletSim and Providers.Emulator both set; give one")
		}
		if pv.EmulatorAlipayKey == nil {
			return nil, errors.New("app: Providers.Emulator needs EmulatorAlipayKey (config.ParseMerchants sets both)")
		}
		walletSim, pv, err = identityEmulator(pv, dir, s.PublicURL, log)
		if err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
	}
	// The merchants' logos, once, through the webhooks' guard and rule.
	logoURLs := map[string]string{}
	for _, m := range dir.Merchants() {
		if m.LogoURL != "" {
			logoURLs[m.ID] = m.LogoURL
		}
	}
	merchantLogos := logos.Fetch(context.Background(), webhook.GuardedClient(LogoTimeout, s.AllowPrivateWebhooks), logoURLs, log)
	a.Handler, err = handlers.New(handlers.Deps{
		Redis:          rdb,
		Directory:      dir,
		Checkouts:      a.Repo,
		Payments:       a.Payments,
		PublicURL:      s.PublicURL,
		Logger:         log,
		Clock:          now,
		MaxAmount:      s.MaxAmount,
		TrustedProxies: s.TrustedProxies,
		// The same rule as for the merchants file's webhook URLs.
		AllowPrivateWebhooks: s.AllowPrivateWebhooks,
		Events:               a.Webhooks,
		Reconciliations:      a.Reconciliation,
		Sandbox:              cfg.Sandbox,
		Observer:             handlerObs,
		Draining:             cfg.Draining,
		Console: handlers.ConsoleDeps{Sessions: consoleSessions, Prefix: p,
			// Kept like the events: the service's retention.
			Audit: console.NewAudit(rdb, p, s.Retention, now)},
		RateLimits: handlers.RateLimits{
			API: s.RateAPI, AuthFailures: s.RateAuthFailures, Payer: s.RatePayer, Prefix: p,
		},
		PagesDeps: handlers.PagesDeps{
			Sessions:   a.Sessions,
			CSRF:       csrf,
			OAuth:      oauth,
			Hub:        a.Hub,
			WeChat:     &wallet.WeChat{AuthorizeBase: pv.WeChatAuthorizeBase, APIBase: pv.WeChatAPIBase, HTTP: hc},
			Alipay:     &wallet.Alipay{AuthorizeBase: pv.AlipayAuthorizeBase, GatewayURL: pv.AlipayGatewayURL, HTTP: hc},
			WalletSim:  walletSim,
			Logos:      merchantLogos,
			Heartbeat:  cfg.PageHeartbeat,
			EventsPoll: cfg.PageEventsPoll,
			Streams: handlers.StreamLimits{PerProcess: s.StreamsMax, PerClient: s.StreamsPerClient,
				PerCheckout: s.StreamsPerCheckout, Reads: s.StreamReads},
		},
	})
	if err != nil {
		return nil, err
	}
	a.loops = []func(context.Context){a.Webhooks.Run, a.Reconciler.Run, a.Hub.Run, a.Reconciliation.Daily(0).Run}
	if m != nil {
		m.AddProbes(metrics.Probes{WebhookQueue: a.Webhooks.QueueStats, ReconcilerOldest: a.Payments.ReconcilerOldest, Clock: now})
		m.AddRedisPool(rdb)
	}
	for _, m := range dir.Merchants() {
		a.merchantIDs = append(a.merchantIDs, m.ID)
	}
	return a, nil
}

// Reload makes the service serve a new merchants file (config.Merchants,
// validated): merchants, stores, API keys and users change for the next
// request, without a restart. The gateway accounts are swapped before the
// directory, so a store the new file adds never lacks its account. What the
// service built once at the start stays: the identity providers (a change
// is refused, naming identity_providers: a restart applies it), the
// identity emulator's apps, and the logos, which a new logo_url gets at the
// next start. A refused file changes nothing.
func (a *App) Reload(m *config.Merchants) error {
	if m == nil || m.Directory == nil || m.Accounts == nil {
		return errors.New("app: reload: no merchants")
	}
	if err := m.Accounts.Check(m.Directory); err != nil {
		return fmt.Errorf("app: reload: %w", err)
	}
	if !sameProviders(a.providers, m.Providers) {
		return &config.Error{Path: "identity_providers", Msg: "changed; the running configuration is kept (a restart applies a change of identity providers)"}
	}
	a.accounts.Replace(m.Accounts)
	a.dir.Replace(m.Directory)
	return nil
}

// sameProviders reports whether a reloaded file keeps the identity
// providers the service started with (the emulator with the same key).
func sameProviders(was, now config.Providers) bool {
	if was.Emulator || now.Emulator {
		return was.Emulator && now.Emulator && was.EmulatorAlipayKey != nil && was.EmulatorAlipayKey.Equal(now.EmulatorAlipayKey)
	}
	return was.WeChatAuthorizeBase == now.WeChatAuthorizeBase && was.WeChatAPIBase == now.WeChatAPIBase &&
		was.AlipayAuthorizeBase == now.AlipayAuthorizeBase && was.AlipayGatewayURL == now.AlipayGatewayURL
}

// ErrDraining is the readiness failure of a process that is shutting down.
var ErrDraining = &metrics.NotReady{Why: "draining"}

// Admin is what the admin listener serves (metrics.AdminHandler): /metrics,
// /debug/pprof/, /healthz, and /readyz, ready while Redis answers and
// draining (may be nil) says false. Without Config.Metrics, /metrics
// serves a registry of the Go runtime and the process only.
func (a *App) Admin(draining func() bool) http.Handler {
	m := a.Metrics
	if m == nil {
		m = metrics.New(metrics.Options{})
	}
	return m.AdminHandler(func(ctx context.Context) error {
		if draining != nil && draining() {
			return ErrDraining
		}
		if err := a.rdb.Ping(ctx).Err(); err != nil {
			return &metrics.NotReady{Why: "redis unreachable", Err: err}
		}
		return nil
	})
}

// Migration counts what Migrate moved from the earlier key layout, and the
// checkouts it indexed by status (StatusIndexed).
type Migration struct {
	Expiry, Watch, Events int
	// StatusIndexed counts the stored checkouts put in their merchant's
	// status index and day sums, once per merchant
	// (checkout.Repo.RebuildStatusIndex).
	StatusIndexed int
}

// Migrate moves data of the earlier key layout (the checkouts' expiry
// queue, the reconciler's watch list and the webhook events, each once one
// key or one hash slot) into the sharded one, and builds each merchant's
// status index and day sums from its stored checkouts the first time. The binary runs it at every
// start, before the loops: each owner's move is idempotent and safe with
// several replicas starting at once, and finds nothing once done.
func (a *App) Migrate(ctx context.Context) (Migration, error) {
	var m Migration
	var err error
	if m.Expiry, err = a.Repo.MigrateLegacy(ctx); err != nil {
		return m, err
	}
	if m.Watch, err = a.Payments.MigrateLegacy(ctx); err != nil {
		return m, err
	}
	if m.Events, err = a.Webhooks.MigrateLegacy(ctx, a.merchantIDs); err != nil {
		return m, err
	}
	for _, id := range a.merchantIDs {
		n, err := a.Repo.RebuildStatusIndex(ctx, id)
		m.StatusIndexed += n
		if err != nil {
			return m, err
		}
	}
	return m, nil
}

// Start runs the loops beside the handler (webhook delivery, the
// reconciler, the live-update hub, the daily reconciliation) until ctx
// ends; the returned function waits for them to stop.
func (a *App) Start(ctx context.Context) (wait func()) {
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

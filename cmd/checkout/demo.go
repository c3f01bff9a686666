package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/console"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/payments"
	"github.com/wallet-checkout/checkout/wallet/walletsim"
)

// The demo's fixed names. The appids have the shape of real ones so that
// every code path that checks them runs; the sandbox and the wallet emulator
// know them, nothing else does.
const (
	demoMerchantID  = "demo"
	demoStoreID     = "demo"
	demoWeChatAppID = "wxdemo0000000000oa" // official account
	demoMiniAppID   = "wxdemo0000000000mp" // mini-program
	demoAlipayAppID = "2021000100000001"
	// demoAmount is ¥19.99: its last two digits are none of the sandbox's
	// magic amounts, so the demo payment simply succeeds.
	demoAmount = 1999
	demoTTL    = checkout.MaxTTL
)

// demoSetup is everything demo mode adds: the sandbox gateway (mounted under
// /sandbox/), the wallet identity emulator (under /walletsim/), one merchant
// with one sandbox store taking both wallets natively, and its API key.
type demoSetup struct {
	// Directory holds the demo merchant.
	Directory *checkout.Directory
	// Sandbox is the sandbox gateway's handler; the service mounts it under
	// /sandbox/.
	Sandbox http.Handler
	// Sim is the wallet identity emulator; the service mounts it under
	// /walletsim/ and points the wallet clients at it.
	Sim *walletsim.Sim
	// Accounts holds the demo store's account at the sandbox gateway.
	Accounts *payments.Accounts
	// Providers are the emulator's addresses as identity providers.
	Providers config.Providers

	sandbox  *sandbox.Server
	store    sandbox.Store
	merchant *checkout.Merchant
	apiKey   string
	// webhookSecret signs the demo merchant's deliveries: a checkout's
	// webhook_url (loopback allowed in demo mode) gets them signed.
	webhookSecret string
	public        string
	// consolePassword is the demo console user's (demoConsoleEmail),
	// made for each process and printed in the banner.
	consolePassword string
}

// demoConsoleEmail signs in to the demo merchant's console, as an admin.
const demoConsoleEmail = "demo@checkout.example"

// newDemo builds the sandbox, the emulator and the demo merchant for a
// service reachable at publicURL.
func newDemo(publicURL string, log *slog.Logger) (*demoSetup, error) {
	sb, err := sandbox.New(sandbox.Config{PublicURL: publicURL + "/sandbox", Logger: log.With("component", "sandbox")})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	d := &demoSetup{sandbox: sb, public: publicURL, Sandbox: sb.Handler()}
	ok := false
	defer func() {
		if !ok {
			sb.Close()
		}
	}()

	d.store = sandbox.GenerateStore()
	d.store.Name = "演示门店 Demo Store"
	if err := sb.AddStore(d.store); err != nil {
		return nil, fmt.Errorf("sandbox store: %w", err)
	}
	// Native WeChat payments need the appids bound to the store, as on the
	// real gateway (mpconfig/add).
	for _, app := range []string{demoWeChatAppID, demoMiniAppID} {
		if err := sb.BindAppID(d.store.OpenID, "Weixin", app); err != nil {
			return nil, fmt.Errorf("sandbox bind %s: %w", app, err)
		}
	}

	// The emulated apps' credentials exist only in this process.
	oaSecret, mpSecret := randomToken(), randomToken()
	appKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("alipay app key: %w", err)
	}
	simURL := publicURL + "/walletsim"
	d.Sim = walletsim.New(walletsim.Config{
		PublicURL:  simURL,
		Apps:       map[string]string{demoWeChatAppID: oaSecret, demoMiniAppID: mpSecret},
		AlipayApps: map[string]*rsa.PublicKey{demoAlipayAppID: &appKey.PublicKey},
		Logger:     log.With("component", "walletsim"),
	})
	d.Providers = config.Providers{
		WeChatAuthorizeBase: simURL,
		WeChatAPIBase:       simURL,
		AlipayAuthorizeBase: simURL,
		AlipayGatewayURL:    simURL + "/gateway.do",
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(appKey)
	if err != nil {
		return nil, fmt.Errorf("alipay app key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(d.Sim.AlipayPublicKey())
	if err != nil {
		return nil, fmt.Errorf("alipay public key: %w", err)
	}

	gw, err := gateway.NewStore(publicURL+"/sandbox"+sb.Prefix(), d.store.OpenID, d.store.OpenKey, d.store.ShopPass)
	if err != nil {
		return nil, fmt.Errorf("gateway store: %w", err)
	}
	d.apiKey, err = checkout.NewAPIKey(false)
	if err != nil {
		return nil, err
	}
	d.webhookSecret = "whsec_" + randomToken()
	u, err := url.Parse(publicURL)
	if err != nil {
		return nil, fmt.Errorf("public URL: %w", err)
	}
	d.consolePassword = randomToken()[:16]
	consoleHash, err := console.HashPassword(d.consolePassword)
	if err != nil {
		return nil, fmt.Errorf("console user: %w", err)
	}
	d.merchant = &checkout.Merchant{
		Console: checkout.Console{
			Users: []*checkout.ConsoleUser{{Email: demoConsoleEmail, PasswordHash: consoleHash, Role: checkout.RoleAdmin}},
			// Support users have none in the demo; an admin is not limited.
			SupportLimits: checkout.RefundLimits{PerRefund: 10000, PerDay: 50000},
		},
		ID:   demoMerchantID,
		Name: "演示商户 Demo Merchant",
		// Shown with the code number of its payment links (the sticker
		// check): a demo has one so that the check is seen.
		RegisteredName: "演示商户（沙箱）有限公司 Demo Merchant Ltd.",
		APIKeys:        []checkout.APIKey{checkout.APIKeyFor(d.apiKey)},
		RedirectHosts:  demoRedirectHosts(u),
		// No merchant-wide webhook URL (there is nothing to send to until
		// the developer says where): a checkout's webhook_url gets its
		// events, and `checkout listen` forwards them all.
		WebhookSecrets: []checkout.Secret{checkout.Secret(d.webhookSecret)},
		Stores: []*checkout.Store{{
			ID:      demoStoreID,
			Name:    d.store.Name,
			Sandbox: true,
			WeChat: checkout.WeChatConfig{
				Enabled:           true,
				Mode:              checkout.ModeNative,
				AppID:             demoWeChatAppID,
				AppSecret:         checkout.Secret(oaSecret),
				MiniProgramAppID:  demoMiniAppID,
				MiniProgramSecret: checkout.Secret(mpSecret),
			},
			Alipay: checkout.AlipayConfig{
				Enabled:         true,
				Mode:            checkout.ModeNative,
				AppID:           demoAlipayAppID,
				PrivateKey:      checkout.Secret(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})),
				AlipayPublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})),
			},
			LatePolicy: checkout.LatePolicyAccept,
		}},
	}
	d.Directory, err = checkout.NewDirectory([]*checkout.Merchant{d.merchant})
	if err != nil {
		return nil, err
	}
	d.Accounts = payments.NewAccounts()
	if err := d.Accounts.Add(demoMerchantID, demoStoreID, gw); err != nil {
		return nil, err
	}
	ok = true
	return d, nil
}

// Start creates the demo checkout and prints what a person needs to try the
// service: the API key, the sandbox store's credentials, a checkout URL, a
// payment link's URL, a curl command, and how to watch webhooks (checkout
// listen, or a checkout's webhook_url with the demo's webhook secret). These are demo secrets, printed on purpose to stdout, never
// logged.
func (d *demoSetup) Start(ctx context.Context, repo *checkout.Repo, s *config.Settings, embeddedRedis bool, w io.Writer) error {
	c, err := checkout.NewCheckout(&checkout.Draft{
		MerchantID:  demoMerchantID,
		StoreID:     demoStoreID,
		Amounts:     checkout.Amounts{Original: demoAmount, Trade: demoAmount},
		Description: "演示订单 Demo order",
		Reference:   "demo-1",
		SuccessURL:  d.public + "/c/" + checkout.CheckoutIDPlaceholder,
		LatePolicy:  checkout.LatePolicyAccept,
		TTL:         demoTTL,
	}, time.Now())
	if err != nil {
		return fmt.Errorf("demo checkout: %w", err)
	}
	if err := repo.Create(ctx, c, nil); err != nil {
		return fmt.Errorf("demo checkout: %w", err)
	}

	// A payment link the payer fills in, as a shop's counter code would be.
	link, err := checkout.NewPaymentLink(demoMerchantID, demoStoreID, checkout.LinkTerms{
		MinAmount: 1, MaxAmount: 100000, Presets: []int64{1000, 2000, 5000},
		Description: "演示收款码 Demo payment link", LatePolicy: checkout.LatePolicyAccept, Active: true,
	}, time.Now())
	if err != nil {
		return fmt.Errorf("demo payment link: %w", err)
	}
	if err := repo.CreateLink(ctx, link, nil, ""); err != nil {
		return fmt.Errorf("demo payment link: %w", err)
	}

	data := "Redis at REDIS_URL"
	if embeddedRedis {
		data = "in-process Redis: everything is lost when this process stops"
	}
	fmt.Fprintf(w, `
Checkout service, DEMO MODE (no CHECKOUT_CONFIG): %[1]s
  Data:      %[2]s
  Merchant:  %[3]s (id %[4]s), redirect hosts %[5]s

  API key:   %[6]s

  Merchant console: %[1]s/console/login
    email     %[16]s
    password  %[17]s

  Sandbox gateway store (point any gateway client here):
    base URL   %[1]s/sandbox%[7]s
    console    %[1]s/sandbox/ (orders awaiting a payer, and their pay buttons;
               a checkout is listed once its page has shown a QR code)
    open_id    %[8]s
    open_key   %[9]s
    shop_pass  %[10]s

  Pay this demo checkout (¥%[11]s, valid for %[12]d hours):
    %[1]s/c/%[13]s

  Or this demo payment link (the payer enters ¥0.01 to ¥1,000.00; reusable):
    %[1]s/l/%[14]s
  and its store code to print (A5; ?paper=a4 for A4):
    %[1]s/l/%[14]s/poster

  Create another:
    curl -sS %[1]s/v1/checkouts \
      -H 'Authorization: Bearer %[6]s' \
      -H 'Content-Type: application/json' \
      -d '{"amount": 1999, "description": "Demo order", "success_url": "%[1]s/c/{CHECKOUT_ID}"}'

  Watch its webhooks on your machine (each event re-signed with a secret
  listen prints, POSTed to your endpoint; from a checkout of the repository,
  "go run ./cmd/checkout listen" does the same):
    CHECKOUT_API_KEY=%[6]s checkout listen -api %[1]s --forward-to http://localhost:3000/hooks

  Or give a checkout a "webhook_url" (loopback allowed in demo mode): the
  service delivers its events there, signed with
    webhook secret  %[15]s

`, s.PublicURL, data, d.merchant.Name, d.merchant.ID, strings.Join(d.merchant.RedirectHosts, ", "),
		d.apiKey, d.sandbox.Prefix(), d.store.OpenID, d.store.OpenKey, d.store.ShopPass,
		yuan(demoAmount), int(demoTTL.Hours()), c.ID, link.ID, d.webhookSecret, demoConsoleEmail, d.consolePassword)
	return nil
}

// demoRedirectHosts are the hosts the demo merchant's success and cancel
// URLs may use: the public URL's host first (the banner's curl command uses
// it), then the loopback names, so that the README's examples, written for
// http://localhost:8080, work as written whatever address or public URL the
// demo runs on. A host without a port allows every port of it. The demo's
// merchant is a developer's own, on their machine: loopback redirects open
// nothing to anyone else.
func demoRedirectHosts(public *url.URL) []string {
	hosts := []string{strings.ToLower(public.Hostname())}
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// Close stops the sandbox's notify deliveries.
func (d *demoSetup) Close() { d.sandbox.Close() }

func yuan(fen int64) string { return fmt.Sprintf("%d.%02d", fen/100, fen%100) }

// randomToken returns 32 random bytes as base64url, for demo app secrets.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
	"github.com/wallet-checkout/checkout/wallet/walletsim"
)

// Identities of the test merchant's apps at the wallets.
const (
	oaAppID     = "wxe2e00000000000oa" // WeChat official account
	mpAppID     = "wxe2e00000000000mp" // WeChat mini-program
	alipayAppID = "2021000000000001"
	merchantID  = "m_e2e"
	successURL  = "/merchant/success?checkout={CHECKOUT_ID}"
	cancelURL   = "/merchant/cancel?checkout={CHECKOUT_ID}"
)

// The merchant's stores: one pays inside the wallets through their JS
// bridges, the other redirects to the gateway's cashier page.
const (
	storeNative   = "native"
	storeRedirect = "redirect"
)

// stack is the whole service on one loopback server: the router with the
// pages, the notify intake and the merchant API, the sandbox gateway under
// /sandbox/, the wallet emulator under /walletsim/, a real Redis (or
// miniredis), the confirmation service, its hub and its reconciler.
type stack struct {
	t      *testing.T
	srv    *httptest.Server
	url    string
	apiKey string
	sb     *sandbox.Server
	// gwStores are the sandbox stores by our store id.
	gwStores map[string]sandbox.Store
	app      *app.App
	clock    *shiftClock
}

// shiftClock is the service's clock: real time plus an offset a test may
// move forward, to reach an expiry without waiting for it.
type shiftClock struct{ offset atomic.Int64 }

func (c *shiftClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *shiftClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// eventCount reports how many merchant events of typ the service stored
// for a checkout.
func (s *stack) eventCount(checkoutID, typ string) int {
	s.t.Helper()
	evs, _, err := s.app.Webhooks.List(context.Background(), merchantID, webhook.ListQuery{Type: typ, CheckoutID: checkoutID, Limit: 100})
	if err != nil {
		s.t.Fatalf("list events: %v", err)
	}
	return len(evs)
}

// keys are RSA keys for the Alipay app and for the emulated Alipay,
// generated once per test binary (generation is the slow part).
var keys = sync.OnceValues(func() ([2]*rsa.PrivateKey, error) {
	var out [2]*rsa.PrivateKey
	for i := range out {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return out, err
		}
		out[i] = k
	}
	return out, nil
})

func pemPrivate(k *rsa.PrivateKey) string {
	b, _ := x509.MarshalPKCS8PrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b}))
}

func pemPublic(k *rsa.PublicKey) string {
	b, _ := x509.MarshalPKIXPublicKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: b}))
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// sandboxOptions tune the sandbox of one stack.
type sandboxOptions struct {
	// notifyDelay delays the first notify of orders with the sandbox's
	// "delayed notify" magic amount (…21 fen).
	notifyDelay time.Duration
	// logo gives the merchant a logo_url on the test's merchant site:
	// "served" lets the start-up fetch reach loopback (as
	// CHECKOUT_ALLOW_PRIVATE_WEBHOOKS does), "refused" leaves the guard on.
	logo string
	// console gives the merchant console users (consoleUsers), a webhook
	// URL on the merchant's site (/merchant/hooks, answered 200) and its
	// secret.
	console bool
	// consoleUsers are more console users of the merchant, besides
	// console's.
	consoleUsers []*checkout.ConsoleUser
	// otherMerchantUsers, when set, adds a second merchant (otherMerchantID,
	// one sandbox store of its own) whose console users they are.
	otherMerchantUsers []*checkout.ConsoleUser
}

// otherMerchantID is the second merchant of sandboxOptions.otherMerchantUsers.
const otherMerchantID = "m_e2e_other"

// newStack builds and starts everything; it all stops when the test ends.
func newStack(t *testing.T, opt sandboxOptions) *stack {
	t.Helper()
	rdb := redistest.New(t)
	// Registered after the Redis client, so it runs first: the hub and the
	// reconciler stop before the client closes.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := testLogger(t)
	prefix := redistest.Prefix(t, rdb) // its keys are deleted when the test ends, after the service stops
	clock := &shiftClock{}

	var handler atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(handlerBox).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	base := srv.URL

	sbCfg := sandbox.Config{PublicURL: base + "/sandbox", Logger: log.With("component", "sandbox")}
	if opt.notifyDelay > 0 {
		sbCfg.NotifyDelay = opt.notifyDelay
	}
	sb, err := sandbox.New(sbCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)

	ks, err := keys()
	if err != nil {
		t.Fatal(err)
	}
	appKey, alipayKey := ks[0], ks[1]
	oaSecret, mpSecret := randomHex(t, 16), randomHex(t, 16)
	sim := walletsim.New(walletsim.Config{
		PublicURL:        base + "/walletsim",
		Apps:             map[string]string{oaAppID: oaSecret, mpAppID: mpSecret},
		AlipayApps:       map[string]*rsa.PublicKey{alipayAppID: &appKey.PublicKey},
		AlipayPrivateKey: alipayKey,
		Logger:           log.With("component", "walletsim"),
	})

	s := &stack{t: t, srv: srv, url: base, sb: sb, gwStores: map[string]sandbox.Store{}, clock: clock}
	var stores []*checkout.Store
	accounts := payments.NewAccounts()
	for _, id := range []string{storeNative, storeRedirect} {
		gs := sandbox.GenerateStore()
		gs.Name = "沙箱咖啡 " + id
		if err := sb.AddStore(gs); err != nil {
			t.Fatal(err)
		}
		for _, app := range []string{oaAppID, mpAppID} {
			if err := sb.BindAppID(gs.OpenID, "Weixin", app); err != nil {
				t.Fatal(err)
			}
		}
		gw, err := gateway.NewStore(base+"/sandbox"+sb.Prefix(), gs.OpenID, gs.OpenKey, gs.ShopPass)
		if err != nil {
			t.Fatal(err)
		}
		mode := checkout.ModeNative
		if id == storeRedirect {
			mode = checkout.ModeRedirect
		}
		s.gwStores[id] = gs
		if err := accounts.Add(merchantID, id, gw); err != nil {
			t.Fatal(err)
		}
		stores = append(stores, &checkout.Store{
			ID: id, Name: gs.Name, Sandbox: true,
			WeChat: checkout.WeChatConfig{
				Enabled: true, Mode: mode, AppID: oaAppID, AppSecret: checkout.Secret(oaSecret),
				MiniProgramAppID: mpAppID, MiniProgramSecret: checkout.Secret(mpSecret),
			},
			Alipay: checkout.AlipayConfig{
				Enabled: true, Mode: mode, AppID: alipayAppID,
				PrivateKey: checkout.Secret(pemPrivate(appKey)), AlipayPublicKey: pemPublic(&alipayKey.PublicKey),
			},
			LatePolicy: checkout.LatePolicyAccept,
		})
	}
	s.apiKey, err = checkout.NewAPIKey(false)
	if err != nil {
		t.Fatal(err)
	}
	m := &checkout.Merchant{
		ID: merchantID, Name: "沙箱咖啡", RegisteredName: registeredName, APIKeys: []checkout.APIKey{checkout.APIKeyFor(s.apiKey)},
		RedirectHosts: []string{"127.0.0.1"}, Stores: stores,
		LogoURL: logoURL(base, opt.logo),
	}
	if opt.console {
		m.WebhookURL, m.WebhookSecrets = base+"/merchant/hooks", []checkout.Secret{"whsec_e2e_console_0123456789abcdef"}
		m.Console = consoleUsers(t)
	}
	m.Console.Users = append(m.Console.Users, opt.consoleUsers...)
	merchants := []*checkout.Merchant{m}
	if len(opt.otherMerchantUsers) > 0 {
		gs := sandbox.GenerateStore()
		gs.Name = "另一家店"
		if err := sb.AddStore(gs); err != nil {
			t.Fatal(err)
		}
		gw, err := gateway.NewStore(base+"/sandbox"+sb.Prefix(), gs.OpenID, gs.OpenKey, gs.ShopPass)
		if err != nil {
			t.Fatal(err)
		}
		if err := accounts.Add(otherMerchantID, "other", gw); err != nil {
			t.Fatal(err)
		}
		other := *stores[0]
		other.ID, other.Name = "other", gs.Name
		merchants = append(merchants, &checkout.Merchant{
			ID: otherMerchantID, Name: "另一家店", Stores: []*checkout.Store{&other},
			Console: checkout.Console{Users: opt.otherMerchantUsers},
		})
	}
	dir, err := checkout.NewDirectory(merchants)
	if err != nil {
		t.Fatal(err)
	}
	settings, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	settings.PublicURL = base
	settings.AllowPrivateWebhooks = opt.logo == "served" || opt.console
	// The logo is fetched while the app is built, before the router is
	// in place: the merchant's site answers that much already.
	handler.Store(handlerBox{http.HandlerFunc(serveLogo)})
	a, err := app.New(app.Config{
		Settings: settings, Redis: rdb, Directory: dir, Accounts: accounts, Logger: log, Clock: clock.Now, Prefix: prefix,
		Providers: config.Providers{
			WeChatAuthorizeBase: base + "/walletsim", WeChatAPIBase: base + "/walletsim",
			AlipayAuthorizeBase: base + "/walletsim", AlipayGatewayURL: base + "/walletsim/gateway.do",
		},
		Sandbox: sb.Handler(), WalletSim: sim,
		ReconcileEvery: 250 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.app = a
	h := a.Handler
	// The merchant's own pages, where success and cancel URLs lead.
	mux := http.NewServeMux()
	mux.HandleFunc("/merchant/logo.png", serveLogo)
	mux.HandleFunc("/merchant/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html lang="zh-Hans"><meta name="viewport" content="width=device-width"><title>商户</title><h1 data-testid="merchant-page">%s</h1><p data-testid="merchant-query">%s</p>`,
			strings.TrimPrefix(r.URL.Path, "/merchant/"), r.URL.Query().Get("checkout"))
	})
	mux.Handle("/", h)
	// The handler is in place before the background work starts: the
	// reconciler calls the sandbox through this same server at once, and
	// found no handler (a panic in the server's log) when it came first.
	handler.Store(handlerBox{mux})
	wait := a.Start(ctx)
	t.Cleanup(func() { cancel(); wait() })
	select {
	case <-a.Hub.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("hub did not subscribe")
	}
	return s
}

// logoURL is the test merchant's logo_url for sandboxOptions.logo.
func logoURL(base, logo string) string {
	if logo == "" {
		return ""
	}
	return base + "/merchant/logo.png"
}

// handlerBox gives the stack's atomic handler one concrete type.
type handlerBox struct{ http.Handler }

// serveLogo is the test merchant's site serving its logo.
func serveLogo(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(logoPNG)
}

// logoPNG is the test merchant's logo: 8×8, one colour.
var logoPNG = func() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = 0xc0
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}()

// testLogger sends the service's logs to the test log, warnings and up
// unless E2E_VERBOSE is set.
func testLogger(t *testing.T) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("E2E_VERBOSE") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// createCheckout makes a checkout through the merchant API, as a merchant's
// server does, and returns its id and hosted URL.
func (s *stack) createCheckout(req map[string]any) (id, pageURL string) {
	s.t.Helper()
	body := map[string]any{
		"amount": 3600, "description": "拿铁 ×2", "success_url": s.url + successURL,
		"cancel_url": s.url + cancelURL, "expires_in": 1800,
	}
	for k, v := range req {
		body[k] = v
	}
	b, _ := json.Marshal(body)
	r, _ := http.NewRequest(http.MethodPost, s.url+"/v1/checkouts", bytes.NewReader(b))
	r.Header.Set("Authorization", "Bearer "+s.apiKey)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Idempotency-Key", randomHex(s.t, 8))
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
		s.t.Fatalf("create checkout: %d %s", res.StatusCode, raw)
	}
	var out struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.ID == "" {
		s.t.Fatalf("create checkout answer %s: %v", raw, err)
	}
	return out.ID, out.URL
}

// checkout reads a checkout straight from the repository.
func (s *stack) checkout(id string) *checkout.Checkout {
	s.t.Helper()
	c, err := s.app.Repo.Get(context.Background(), id)
	if err != nil {
		s.t.Fatalf("read %s: %v", id, err)
	}
	return c
}

// orders lists the sandbox orders of a checkout (their out_no leads back
// to it).
func (s *stack) orders(store, id string) []sandbox.OrderSnapshot {
	var out []sandbox.OrderSnapshot
	for _, o := range s.sb.Orders(s.gwStores[store].OpenID) {
		if cid, _, ok := checkout.ParseOutNo(o.OutNo); ok && cid == id {
			out = append(out, o)
		}
	}
	return out
}

// paidOrders counts a checkout's orders the sandbox calls paid.
func (s *stack) paidOrders(store, id string) int {
	n := 0
	for _, o := range s.orders(store, id) {
		if o.Status == gateway.StatusPaid {
			n++
		}
	}
	return n
}

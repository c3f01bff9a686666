package handlers_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/handlers"
	"github.com/wallet-checkout/checkout/notify"
	"github.com/wallet-checkout/checkout/payments"
	"github.com/wallet-checkout/checkout/sessions"
	"github.com/wallet-checkout/checkout/wallet/walletsim"
)

// Real WeChat, Alipay and browser User-Agents.
const (
	uaWeChatIOS     = handlers.UAWeChatIOS
	uaWeChatAndroid = handlers.UAWeChatAndroid
	uaWeChatMini    = handlers.UAWeChatMini
	uaAlipay        = handlers.UAAlipay
	uaDesktop       = handlers.UADesktop
	uaPhone         = handlers.UAPhone
)

const (
	pgOfficialApp    = "wxOFFICIAL0000001"
	pgOfficialSecret = "official-secret-0000000000000001"
	pgMiniApp        = "wxMINIPROGRAM0001"
	pgMiniSecret     = "mini-secret-000000000000000000001"
	pgAlipayApp      = "2021000000000001"
)

// pgKeys is the Alipay app key pair, made once (RSA generation is slow).
var pgKeys = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// pgEnv is the whole service (app.New) on httptest, with real Redis, the
// sandbox gateway and the wallet emulator mounted on it, and its hub
// running (no other loop).
type pgEnv struct {
	t        testing.TB
	srv      *httptest.Server
	app      *app.App
	repo     *checkout.Repo
	dir      *checkout.Directory
	sb       *sandbox.Server
	sbNative sandbox.Store // store "native": both wallets in native mode
	sbRedir  sandbox.Store // store "redirect": both wallets in redirect mode
	sbBad    sandbox.Store // store "badkeys": native, with unusable Alipay keys
	sim      *walletsim.Sim
	hub      *notify.Hub
	gw       *pgCountingGateway
	oas      *handlers.OpenAPICheck // what srv's answers validated (OpenAPIValidating)
	logs     *handlers.SyncBuffer
	// rdb is the service's Redis client (round-trip hooks, key counts).
	rdb redis.UniversalClient
	// prefix starts every Redis key of this service.
	prefix string
	// created is when newCheckout's checkouts are made (zero: now).
	created time.Time
}

// payStatus is the answer of GET /c/:id/status.
type payStatus struct {
	Status string `json:"status"`
	Late   bool   `json:"late"`
	Amount int64  `json:"amount"`
	PaidAt string `json:"paid_at,omitempty"`
}

// pgCountingGateway counts payorders and keeps the last request.
type pgCountingGateway struct {
	*gateway.Client
	mu        sync.Mutex
	payOrders []gateway.PayOrderRequest
	// fail, when set, answers payorder instead of the sandbox.
	fail func(r *gateway.PayOrderRequest) error
}

func (g *pgCountingGateway) PayOrder(ctx context.Context, st *gateway.Store, r *gateway.PayOrderRequest) (*gateway.PayOrderResult, error) {
	g.mu.Lock()
	g.payOrders = append(g.payOrders, *r)
	fail := g.fail
	g.mu.Unlock()
	if fail != nil {
		return nil, fail(r)
	}
	return g.Client.PayOrder(ctx, st, r)
}

func (g *pgCountingGateway) orders() []gateway.PayOrderRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]gateway.PayOrderRequest(nil), g.payOrders...)
}

func newPgEnv(t testing.TB, opts ...option) *pgEnv {
	t.Helper()
	e := &pgEnv{t: t, logs: &handlers.SyncBuffer{}}
	var h http.Handler
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	log := slog.New(slog.NewJSONHandler(e.logs, nil))

	var err error
	e.sb, err = sandbox.New(sandbox.Config{PublicURL: e.srv.URL + "/sandbox", NotifyStep: time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.sb.Close)
	e.sbNative, e.sbRedir, e.sbBad = sandbox.GenerateStore(), sandbox.GenerateStore(), sandbox.GenerateStore()
	for _, s := range []sandbox.Store{e.sbNative, e.sbRedir, e.sbBad} {
		if err := e.sb.AddStore(s); err != nil {
			t.Fatal(err)
		}
		for _, app := range []string{pgOfficialApp, pgMiniApp} {
			if err := e.sb.BindAppID(s.OpenID, "Weixin", app); err != nil {
				t.Fatal(err)
			}
		}
	}

	appKey := pgKeys()
	e.sim = walletsim.New(walletsim.Config{
		PublicURL:  e.srv.URL + "/walletsim",
		Apps:       map[string]string{pgOfficialApp: pgOfficialSecret, pgMiniApp: pgMiniSecret},
		AlipayApps: map[string]*rsa.PublicKey{pgAlipayApp: &appKey.PublicKey},
		Logger:     log,
	})
	privDER, err := x509.MarshalPKCS8PrivateKey(appKey)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(e.sim.AlipayPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	privPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}))
	alipayPubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))

	accounts := payments.NewAccounts()
	mkStore := func(id string, sb sandbox.Store, mode checkout.WalletMode) *checkout.Store {
		gs, err := gateway.NewStore(e.srv.URL+"/sandbox"+e.sb.Prefix(), sb.OpenID, sb.OpenKey, sb.ShopPass)
		if err != nil {
			t.Fatal(err)
		}
		if err := accounts.Add("m_pages", id, gs); err != nil {
			t.Fatal(err)
		}
		return &checkout.Store{
			ID: id, Name: "Store " + id, Sandbox: true, LatePolicy: checkout.LatePolicyAccept,
			WeChat: checkout.WeChatConfig{Enabled: true, Mode: mode, AppID: pgOfficialApp, AppSecret: pgOfficialSecret,
				MiniProgramAppID: pgMiniApp, MiniProgramSecret: pgMiniSecret},
			Alipay: checkout.AlipayConfig{Enabled: true, Mode: mode, AppID: pgAlipayApp,
				PrivateKey: checkout.Secret(privPEM), AlipayPublicKey: alipayPubPEM},
		}
	}
	m := &checkout.Merchant{
		ID: "m_pages", Name: "茶饮小铺", RegisteredName: pgRegisteredName,
		// The embed view's framing pages (and postMessage targets).
		RedirectHosts: []string{"localhost", "shop.example:8443"},
		Stores: []*checkout.Store{mkStore("native", e.sbNative, checkout.ModeNative), mkStore("redirect", e.sbRedir, checkout.ModeRedirect),
			mkStore("badkeys", e.sbBad, checkout.ModeNative)},
	}
	m.Stores[2].Alipay.PrivateKey = "not a key"
	if e.dir, err = checkout.NewDirectory([]*checkout.Merchant{m}); err != nil {
		t.Fatal(err)
	}
	e.gw = &pgCountingGateway{Client: gateway.NewClient()}
	sim := e.srv.URL + "/walletsim"
	cfg := &app.Config{
		Directory: e.dir, Accounts: accounts, Gateway: e.gw, Logger: log,
		Providers: config.Providers{WeChatAuthorizeBase: sim, WeChatAPIBase: sim, AlipayAuthorizeBase: sim, AlipayGatewayURL: sim + "/gateway.do"},
		Sandbox:   e.sb.Handler(), WalletSim: e.sim,
		PageHeartbeat: 200 * time.Millisecond, PageEventsPoll: 300 * time.Millisecond,
	}
	e.app = build(t, cfg, append([]option{publicURL(e.srv.URL)}, opts...)...)
	// Cleanups run last first: stop the sandbox's notifies and finish the
	// server's requests before build's cleanup deletes the test's keys, or
	// a late notify writes them again ({wh}:due without expiry was left).
	t.Cleanup(func() { e.sb.Close(); e.srv.Close() })
	e.repo, e.hub, e.rdb, e.prefix = e.app.Repo, e.app.Hub, cfg.Redis, cfg.Prefix
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go e.hub.Run(ctx)
	select {
	case <-e.hub.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("hub did not subscribe")
	}
	h, e.oas = handlers.OpenAPIValidating(t, e.app.Handler)
	return e
}

// withClock runs the service on clk.
func withClock(clk *testClock) option {
	return func(c *app.Config, _ *config.Settings) { c.Clock = clk.Now }
}

// newPgClock is a clock standing at the wall clock's now until moved: the
// pages' tests create checkouts at the wall clock's time.
func newPgClock() *testClock {
	clk := &testClock{}
	clk.ns.Store(time.Now().UnixNano())
	return clk
}

// newCheckout stores an open checkout of trade fen at a store.
func (e *pgEnv) newCheckout(storeID string, trade int64, edit ...func(*checkout.Draft)) *checkout.Checkout {
	e.t.Helper()
	d := &checkout.Draft{
		MerchantID: "m_pages", StoreID: storeID,
		Amounts:     checkout.Amounts{Original: trade, Trade: trade},
		Description: "两杯咖啡 <script>alert(1)</script>",
		SuccessURL:  "https://shop.example/ok?c={CHECKOUT_ID}",
		CancelURL:   "https://shop.example/cancel",
		LatePolicy:  checkout.LatePolicyAccept,
	}
	for _, f := range edit {
		f(d)
	}
	created := e.created
	e.created = time.Time{}
	if created.IsZero() {
		created = time.Now()
	}
	c, err := checkout.NewCheckout(d, created)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.repo.Create(context.Background(), c, nil); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// pgBrowser is one payer's browser: a cookie jar and a User-Agent.
type pgBrowser struct {
	e        *pgEnv
	ua       string
	c        *http.Client
	noFollow *http.Client
	payer    string
}

func (e *pgEnv) browser(ua, payer string) *pgBrowser {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(e.srv.URL)
	// The wallet emulator names its test payer by cookie.
	jar.SetCookies(u, []*http.Cookie{{Name: walletsim.PayerCookie, Value: payer, Path: "/"}})
	b := &pgBrowser{e: e, ua: ua, payer: payer}
	b.c = &http.Client{Jar: jar, Timeout: 20 * time.Second}
	b.noFollow = &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return b
}

type pgResp struct {
	status int
	header http.Header
	body   string
	url    string
}

func (b *pgBrowser) do(follow bool, method, path string, body []byte, hdr map[string]string) pgResp {
	b.e.t.Helper()
	target := path
	if strings.HasPrefix(path, "/") {
		target = b.e.srv.URL + path
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		b.e.t.Fatal(err)
	}
	req.Header.Set("User-Agent", b.ua)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method == http.MethodPost {
		// What a browser sends on a same-origin fetch.
		req.Header.Set("Origin", b.e.srv.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	cl := b.c
	if !follow {
		cl = b.noFollow
	}
	res, err := cl.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return pgResp{status: res.StatusCode, header: res.Header, body: string(out), url: res.Request.URL.String()}
}

func (b *pgBrowser) get(path string) pgResp { b.e.t.Helper(); return b.do(true, "GET", path, nil, nil) }

// pay posts the page's pay request with the page's CSRF token.
func (b *pgBrowser) pay(id, csrf string, body any) pgResp {
	b.e.t.Helper()
	raw, _ := json.Marshal(body)
	return b.do(false, "POST", "/c/"+id+"/pay", raw, map[string]string{"X-CSRF-Token": csrf})
}

var (
	reAction = regexp.MustCompile(`data-action="([^"]*)"`)
	reCSRF   = regexp.MustCompile(`data-csrf="([^"]*)"`)
)

func attr(re *regexp.Regexp, body string) string {
	m := re.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
}

func (e *pgEnv) payers() *sessions.Payers { return e.app.Sessions }

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// jumpQuery is the signed query the gateway's cashier sends to jump_url.
func (e *pgEnv) jumpQuery(st sandbox.Store, ordNo, outNo string, status gateway.Status) url.Values {
	return gateway.CallbackQuery(gateway.MustParseKey(st.OpenKey), gateway.Callback{
		OrdNo: ordNo, OutNo: outNo, Status: status, Timestamp: time.Now(), RandStr: rand.Text(),
	})
}

// sleep is the poll step of tests that wait for an async notify.
func (e *pgEnv) sleep() { time.Sleep(100 * time.Millisecond) }

// expiredCheckout stores a checkout whose expiry has passed, which the
// expiry poller has not moved yet.
func (e *pgEnv) expiredCheckout(storeID string) *checkout.Checkout {
	e.t.Helper()
	e.created = time.Now().Add(-checkout.DefaultTTL - time.Minute)
	return e.newCheckout(storeID, 100)
}

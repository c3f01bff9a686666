package handlers_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/handlers"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/payments"
)

// option changes what a test's service is built from.
type option func(*app.Config, *config.Settings)

func publicURL(u string) option {
	return func(_ *app.Config, s *config.Settings) { s.PublicURL = u }
}

// allowPrivateWebhooks is CHECKOUT_ALLOW_PRIVATE_WEBHOOKS.
func allowPrivateWebhooks(_ *app.Config, s *config.Settings) { s.AllowPrivateWebhooks = true }

func withRedis(rdb redis.UniversalClient) option {
	return func(c *app.Config, _ *config.Settings) { c.Redis = rdb }
}

func withGateway(gw app.Gateway) option {
	return func(c *app.Config, _ *config.Settings) { c.Gateway = gw }
}

// build assembles the whole service with app.New, as the binary does: the
// settings of an empty environment (config.FromEnv), changed by opts; Redis
// (real when reachable) under a key prefix of its own, so that parallel
// runs never share keys; a silent logger unless cfg has one. It starts no
// loop. cfg ends up as the service was built from it.
func build(t testing.TB, cfg *app.Config, opts ...option) *app.App {
	t.Helper()
	s, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(cfg, s)
	}
	cfg.Settings = s
	if cfg.Redis == nil {
		cfg.Redis = redistest.New(t)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = redistest.Prefix(t, cfg.Redis)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a, err := app.New(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

type testClock struct{ ns atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// testOpenKey is a gateway open_key that must never reach a log.
const testOpenKey = "0123456789abcdef0123456789abcdef"

// accountsFor gives every store of dir a gateway account at an address
// where nothing listens.
func accountsFor(t testing.TB, dir *checkout.Directory) *payments.Accounts {
	t.Helper()
	accounts := payments.NewAccounts()
	for _, m := range dir.Merchants() {
		for _, s := range m.Stores {
			gs, err := gateway.NewStore("http://127.0.0.1:9/mct1", "O"+m.ID+s.ID, testOpenKey, "supervisor")
			if err != nil {
				t.Fatal(err)
			}
			if err := accounts.Add(m.ID, s.ID, gs); err != nil {
				t.Fatal(err)
			}
		}
	}
	return accounts
}

// env is the whole service (app.New) serving the merchant API on httptest
// to merchants A and B (handlers.NewMerchants), on a clock that stands at
// 2026-11-25 08:00 UTC until the test moves it, with the sandbox mount
// echoing its path and the logs kept.
type env struct {
	t       testing.TB
	srv     *httptest.Server
	handler http.Handler
	app     *app.App
	rdb     redis.UniversalClient
	repo    *checkout.Repo
	dir     *checkout.Directory
	clk     *testClock
	logs    *handlers.SyncBuffer
	// keyA and keyB are test keys of merchants A and B, liveA a live key of A.
	keyA, keyB, liveA string
}

func newEnv(t testing.TB, opts ...option) *env {
	t.Helper()
	e := &env{t: t, clk: &testClock{}, logs: &handlers.SyncBuffer{}}
	e.clk.ns.Store(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC).UnixNano())
	m := handlers.NewMerchants(t)
	e.dir, e.keyA, e.keyB, e.liveA = m.Dir, m.KeyA, m.KeyB, m.LiveA
	cfg := &app.Config{
		Directory: e.dir, Accounts: accountsFor(t, e.dir), Clock: e.clk.Now,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)),
		Sandbox: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "sandbox:"+r.URL.Path)
		}),
	}
	opts = append([]option{publicURL("https://pay.example"), func(_ *app.Config, s *config.Settings) { s.MaxAmount = 1_000_000 }}, opts...)
	e.app = build(t, cfg, opts...)
	e.rdb, e.repo, e.handler = cfg.Redis, e.app.Repo, e.app.Handler
	validating, _ := handlers.OpenAPIValidating(t, e.handler)
	e.srv = httptest.NewServer(validating)
	t.Cleanup(e.srv.Close)
	return e
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) json(t testing.TB) map[string]any {
	t.Helper()
	return handlers.Object(t, r.status, r.body)
}

// errorOf returns code and param of an error body, failing on any other shape.
func (r *response) errorOf(t testing.TB) (string, string) {
	t.Helper()
	return handlers.ErrorOf(t, r.status, r.body)
}

func (e *env) do(method, path, key string, body string, hdr ...string) *response {
	e.t.Helper()
	r := handlers.Do(e.t, e.srv, method, path, key, body, hdr...)
	return &response{status: r.Status, header: r.Header, body: r.Body}
}

// create makes a checkout for key and returns its JSON.
func (e *env) create(key, body string) map[string]any {
	e.t.Helper()
	return handlers.Create(e.t, e.srv, key, body)
}

package handlers

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/notify"
	"github.com/wallet-checkout/checkout/payments"
	"github.com/wallet-checkout/checkout/sessions"
	"github.com/wallet-checkout/checkout/wallet"
)

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// standIns fills the dependencies a test does not exercise with stand-ins
// that refuse every call, so that New (which requires them all) builds the
// router. Tests that exercise a part give the real one (or a recording one).
func standIns(t testing.TB, d Deps) Deps {
	t.Helper()
	if d.Payments == nil {
		d.Payments = &standInPayments{}
	}
	if d.Events == nil {
		d.Events = standInEvents{}
	}
	if d.Reconciliations == nil {
		d.Reconciliations = standInReconciliations{}
	}
	if d.Sessions == nil {
		p, err := sessions.NewPayers(d.Redis, sessions.Config{PublicURL: d.PublicURL,
			KeyPairs: [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, Prefix: "test:" + rand.Text() + ":sess:"})
		if err != nil {
			t.Fatal(err)
		}
		d.Sessions = p
	}
	if d.Hub == nil {
		d.Hub = standInHub{}
	}
	if d.WeChat == nil {
		d.WeChat = &wallet.WeChat{}
	}
	if d.Alipay == nil {
		d.Alipay = &wallet.Alipay{}
	}
	return d
}

var errStandIn = errors.New("test stand-in: not part of this test")

// standInPayments records the cancels handed over to it and refuses the
// other use cases.
type standInPayments struct {
	mu        sync.Mutex
	cancelled []string
	intents   []string
}

func (p *standInPayments) Start(context.Context, payments.StartRequest) (*payments.PayAction, error) {
	return nil, errStandIn
}
func (p *standInPayments) Notify(context.Context, string, url.Values) error { return errStandIn }
func (p *standInPayments) Returned(context.Context, *checkout.Checkout, url.Values) error {
	return errStandIn
}
func (p *standInPayments) CheckNow(context.Context, string) (*checkout.Checkout, error) {
	return nil, errStandIn
}
func (p *standInPayments) CancelIntent(_ context.Context, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.intents = append(p.intents, id)
	return nil
}
func (p *standInPayments) Cancelled(_ context.Context, c *checkout.Checkout) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cancelled = append(p.cancelled, c.ID+":"+string(c.Status))
	return nil
}
func (p *standInPayments) Refund(context.Context, string, string, payments.RefundRequest) (*payments.Refund, error) {
	return nil, errStandIn
}
func (p *standInPayments) Refunds(context.Context, string) ([]payments.Refund, error) {
	return nil, nil
}

func (p *standInPayments) handedOver() (cancelled, intents []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.cancelled...), append([]string(nil), p.intents...)
}

type standInEvents struct{ EventLog }
type standInReconciliations struct{ Reconciliations }
type standInHub struct{}

func (standInHub) Subscribe(string) (<-chan notify.Update, func()) { return nil, func() {} }

type testClock struct{ ns atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

type env struct {
	t       testing.TB
	srv     *httptest.Server
	handler http.Handler
	rdb     redis.UniversalClient
	repo    *checkout.Repo
	dir     *checkout.Directory
	clk     *testClock
	pay     *standInPayments
	logs    *syncBuffer
	// keyA and keyB are test keys of merchants A and B, liveA a live key of A.
	keyA, keyB, liveA string
}

// testOpenKey is a gateway open_key that must never reach a log.
const testOpenKey = "0123456789abcdef0123456789abcdef"

func store(id string, sandbox bool) *checkout.Store {
	return &checkout.Store{
		ID: id, Name: "Store " + id, Sandbox: sandbox,
		WeChat:     checkout.WeChatConfig{Enabled: true, Mode: checkout.ModeRedirect},
		Alipay:     checkout.AlipayConfig{Enabled: true, Mode: checkout.ModeRedirect},
		LatePolicy: checkout.LatePolicyRefund,
	}
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, clk: &testClock{}, pay: &standInPayments{}, logs: &syncBuffer{}}
	e.clk.ns.Store(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC).UnixNano())
	e.keyA, _ = checkout.NewAPIKey(false)
	e.keyB, _ = checkout.NewAPIKey(false)
	e.liveA, _ = checkout.NewAPIKey(true)
	onlyWeChat := store("wx", true)
	onlyWeChat.Alipay.Enabled = false
	a := &checkout.Merchant{
		ID: "ma", Name: "Merchant A",
		APIKeys:        []checkout.APIKey{checkout.APIKeyFor(e.keyA), checkout.APIKeyFor(e.liveA)},
		WebhookURL:     "https://hooks.shop.example/checkout",
		WebhookSecrets: []checkout.Secret{"whsec_test_merchant_a"},
		RedirectHosts:  []string{"shop.example", "pay.shop.example:8443"},
		Stores:         []*checkout.Store{store("main", true), store("live", false), onlyWeChat},
		MaxAmount:      500000,
	}
	b := &checkout.Merchant{
		ID: "mb", Name: "Merchant B",
		APIKeys:       []checkout.APIKey{checkout.APIKeyFor(e.keyB)},
		RedirectHosts: []string{"b.example"},
		Stores:        []*checkout.Store{store("main", true)},
	}
	var err error
	if e.dir, err = checkout.NewDirectory([]*checkout.Merchant{a, b}); err != nil {
		t.Fatal(err)
	}
	e.rdb = redistest.New(t)
	// Merchant ids are shared by parallel test runs: a random prefix keeps
	// their indexes apart.
	e.repo = checkout.NewRepo(e.rdb, checkout.WithPrefix("test:"+rand.Text()+":"), checkout.WithClock(e.clk.Now))
	e.handler, err = New(standIns(t, Deps{
		Redis: e.rdb, Directory: e.dir, Checkouts: e.repo, Payments: e.pay,
		PublicURL: "https://pay.example/", Logger: slog.New(slog.NewJSONHandler(e.logs, nil)),
		Clock: e.clk.Now, MaxAmount: 1_000_000,
		Sandbox: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "sandbox:"+r.URL.Path)
		}),
	}))
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.handler)
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
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not JSON (%d): %q", r.status, r.body)
	}
	return m
}

// errorOf returns code and param of an error body, failing on any other shape.
func (r *response) errorOf(t testing.TB) (string, string) {
	t.Helper()
	var b struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Param   string `json:"param"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil || b.Error == nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("not an error body (%d): %q", r.status, r.body)
	}
	return b.Error.Code, b.Error.Param
}

func (e *env) do(method, path, key string, body string, hdr ...string) *response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &response{status: res.StatusCode, header: res.Header, body: b}
}

// create makes a checkout for key and returns its JSON.
func (e *env) create(key, body string) map[string]any {
	e.t.Helper()
	r := e.do("POST", "/v1/checkouts", key, body)
	if r.status != http.StatusCreated {
		e.t.Fatalf("create: %d %s", r.status, r.body)
	}
	return r.json(e.t)
}

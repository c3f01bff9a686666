package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/notify"
	"github.com/wallet-checkout/checkout/payments"
	"github.com/wallet-checkout/checkout/sessions"
	"github.com/wallet-checkout/checkout/wallet"
)

// standIns fills the dependencies a test does not exercise with stand-ins
// that refuse every call, so that New (which requires them all) builds the
// router. Tests that exercise a part give the real one (or a recording one).
func standIns(t testing.TB, d Deps) Deps {
	t.Helper()
	if d.MaxAmount == 0 {
		d.MaxAmount = config.DefaultMaxAmount
	}
	if d.Streams == (StreamLimits{}) {
		d.Streams = StreamLimits{PerProcess: config.DefaultStreamsMax, PerClient: config.DefaultStreamsPerClient,
			PerCheckout: config.DefaultStreamsPerCheckout, Reads: config.DefaultStreamReads}
	}
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
		// No store behind it: the tests with stand-ins open no page.
		d.Sessions = &sessions.Payers{}
	}
	if d.CSRF == nil {
		d.CSRF = &sessions.CSRF{}
	}
	if d.OAuth == nil {
		d.OAuth = &sessions.OAuthStates{}
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
func (p *standInPayments) Returned(context.Context, *checkout.Checkout, url.Values) (bool, error) {
	return false, errStandIn
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

func (p *standInPayments) CheckoutFromLink(context.Context, *checkout.PaymentLink, int64, checkout.LinkTap) (*checkout.Checkout, error) {
	return nil, errStandIn
}
func (p *standInPayments) CreateLink(context.Context, *checkout.PaymentLink, *checkout.IdempotentResponse) error {
	return errStandIn
}
func (p *standInPayments) UpdateLink(context.Context, string, string, checkout.LinkUpdate) (*checkout.LinkChange, error) {
	return nil, errStandIn
}
func (p *standInPayments) DeleteLink(context.Context, string, string) (*checkout.PaymentLink, error) {
	return nil, errStandIn
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
func (standInHub) Watch(string, func(notify.Update)) func()        { return func() {} }

type testClock struct{ ns atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// env is the merchant API on a router built with stand-ins (standIns): the
// real repository, and use cases that record what is handed over to them.
// The tests that need the whole service are in package handlers_test.
type env struct {
	t       testing.TB
	srv     *httptest.Server
	handler http.Handler
	rdb     redis.UniversalClient
	repo    *checkout.Repo
	dir     *checkout.Directory
	clk     *testClock
	pay     *standInPayments
	logs    *SyncBuffer
	// keyA and keyB are test keys of merchants A and B.
	keyA, keyB string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, clk: &testClock{}, pay: &standInPayments{}, logs: &SyncBuffer{}}
	e.clk.ns.Store(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC).UnixNano())
	m := NewMerchants(t)
	e.dir, e.keyA, e.keyB = m.Dir, m.KeyA, m.KeyB
	e.rdb = redistest.New(t)
	// Merchant ids are shared by parallel test runs: a random prefix keeps
	// their indexes apart.
	e.repo = checkout.NewRepo(e.rdb, checkout.WithPrefix(redistest.Prefix(t, e.rdb)), checkout.WithClock(e.clk.Now))
	var err error
	e.handler, err = New(standIns(t, Deps{
		Redis: e.rdb, Directory: e.dir, Checkouts: e.repo, Payments: e.pay,
		PublicURL: "https://pay.example/", Logger: slog.New(slog.NewJSONHandler(e.logs, nil)),
		Clock: e.clk.Now, MaxAmount: 1_000_000,
	}))
	if err != nil {
		t.Fatal(err)
	}
	validating, _ := OpenAPIValidating(t, e.handler)
	e.srv = httptest.NewServer(validating)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) do(method, path, key string, body string, hdr ...string) *Response {
	e.t.Helper()
	return Do(e.t, e.srv, method, path, key, body, hdr...)
}

// create makes a checkout for key and returns its JSON.
func (e *env) create(key, body string) map[string]any {
	e.t.Helper()
	return Create(e.t, e.srv, key, body)
}

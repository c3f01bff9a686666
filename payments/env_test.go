package payments_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/metrics"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
)

// recorder is the merchant-event sink: it keeps every Emit call, and, like
// webhook.Service, stores an id only once.
type recorder struct {
	mu    sync.Mutex
	calls []webhook.Event
	ids   map[string]bool
	fail  atomic.Bool
	// failLinks fails only the payment_link.* events.
	failLinks atomic.Bool
}

func (r *recorder) Emit(_ context.Context, e webhook.Event) error {
	if r.fail.Load() || r.failLinks.Load() && webhook.LinkType(e.Type) {
		return errors.New("recorder: emit failing on purpose")
	}
	if !webhook.ValidID(e.ID) || !webhook.ValidType(e.Type) {
		return fmt.Errorf("recorder: invalid event %q %q", e.ID, e.Type)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids == nil {
		r.ids = map[string]bool{}
	}
	r.calls = append(r.calls, e)
	r.ids[e.ID] = true
	return nil
}

// of returns the Emit calls of type typ for checkout id.
func (r *recorder) of(id, typ string) []webhook.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []webhook.Event
	for _, e := range r.calls {
		if e.CheckoutID == id && e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func (r *recorder) all(id string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.calls {
		if e.CheckoutID == id {
			out = append(out, e.Type)
		}
	}
	return out
}

// clock is the service's and repository's time; the sandbox keeps real time.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

type envConfig struct {
	sandbox    sandbox.Config
	rdb        redis.UniversalClient
	latePolicy checkout.LatePolicy
	spy        *gwSpy
	// quietStreams makes the result page's event streams send no
	// heartbeat and re-read nothing on their own, and lifts the stream
	// caps (the SSE benchmark).
	quietStreams bool
	// metrics, when set, counts what the service does (app.Config.Metrics).
	metrics *metrics.Metrics
}

// tee records an event, then stores it with the webhook service: a
// recorder told to fail keeps the event from being stored.
type tee struct {
	hooks *webhook.Service
	rec   *recorder
}

func (t tee) Emit(ctx context.Context, e webhook.Event) error {
	if err := t.rec.Emit(ctx, e); err != nil {
		return err
	}
	return t.hooks.Emit(ctx, e)
}

// gwSpy counts gateway calls and injects failures.
type gwSpy struct {
	app.Gateway
	mu            sync.Mutex
	status        map[string]int
	refunds       int
	statusDown    atomic.Bool
	refundUnknown atomic.Bool
	// statusEdit, when set, changes each paystatus answer (a gateway that
	// describes some other order).
	statusEdit func(o *gateway.Order)
	// beforeCancel, when set, runs before each paycancel reaches the gateway.
	beforeCancel func(ref gateway.OrderRef)
	cancels      atomic.Int64
}

func (g *gwSpy) PayCancel(ctx context.Context, st *gateway.Store, ref gateway.OrderRef) (*gateway.CancelResult, error) {
	g.cancels.Add(1)
	if g.beforeCancel != nil {
		g.beforeCancel(ref)
	}
	return g.Gateway.PayCancel(ctx, st, ref)
}

func (g *gwSpy) PayStatus(ctx context.Context, st *gateway.Store, ref gateway.OrderRef) (*gateway.Order, error) {
	g.mu.Lock()
	if g.status == nil {
		g.status = map[string]int{}
	}
	g.status[ref.OutNo]++
	g.mu.Unlock()
	if g.statusDown.Load() {
		return nil, errors.New("spy: gateway unreachable")
	}
	o, err := g.Gateway.PayStatus(ctx, st, ref)
	if err == nil && g.statusEdit != nil {
		c := *o
		g.statusEdit(&c)
		o = &c
	}
	return o, err
}

func (g *gwSpy) PayRefund(ctx context.Context, st *gateway.Store, r *gateway.RefundRequest) (*gateway.RefundResult, error) {
	g.mu.Lock()
	g.refunds++
	g.mu.Unlock()
	res, err := g.Gateway.PayRefund(ctx, st, r)
	if g.refundUnknown.Load() {
		// Processed upstream, answer lost: the worst case.
		return nil, &gateway.UnknownOutcomeError{Endpoint: gateway.EndpointPayRefund, OutNo: r.RefundOutNo, Err: errors.New("spy: timeout")}
	}
	return res, err
}

func (g *gwSpy) statusCalls(outNo string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.status[outNo]
}

func (g *gwSpy) refundCalls() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refunds
}

// env is the whole stack: an in-process sandbox gateway on httptest, Redis
// (real when reachable), the checkout repository, the notify service and
// reconciler, and the handlers on httptest.
type env struct {
	t        testing.TB
	rdb      redis.UniversalClient
	prefix   string
	clk      *clock
	sb       *sandbox.Server
	sbStore  sandbox.Store
	gs       *gateway.Store
	gw       *gateway.Client
	store    *checkout.Store
	merchant *checkout.Merchant
	apiKey   string
	dir      *checkout.Directory
	accounts *payments.Accounts
	repo     *checkout.Repo
	events   *recorder
	hooks    *webhook.Service
	app      *app.App
	svc      *payments.Service
	rec      *payments.Reconciler
	api      *httptest.Server
	handler  atomic.Pointer[http.Handler]
	cfg      envConfig
}

func quietLogger() *slog.Logger {
	if os.Getenv("NOTIFY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newEnv(t testing.TB, cfg envConfig) *env {
	t.Helper()
	e := &env{t: t, clk: &clock{}, events: &recorder{}, cfg: cfg}
	e.clk.ns.Store(time.Now().UnixNano())
	e.rdb = cfg.rdb
	if e.rdb == nil {
		e.rdb = redistest.New(t)
	}
	e.prefix = redistest.Prefix(t, e.rdb)
	sc := cfg.sandbox
	if sc.Logger == nil {
		sc.Logger = quietLogger()
	}
	if sc.Clock == nil {
		// One clock for the gateway and us, so tests can move past expiry.
		sc.Clock = e.clk.Now
	}
	sb, err := sandbox.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	e.sb = sb
	sbSrv := httptest.NewServer(sb.Handler())
	t.Cleanup(sbSrv.Close)
	t.Cleanup(sb.Close)
	e.sbStore = sandbox.GenerateStore()
	if err := sb.AddStore(e.sbStore); err != nil {
		t.Fatal(err)
	}
	e.gs, err = gateway.NewStore(sbSrv.URL+sb.Prefix(), e.sbStore.OpenID, e.sbStore.OpenKey, e.sbStore.ShopPass)
	if err != nil {
		t.Fatal(err)
	}
	e.gw = gateway.NewClient(gateway.WithRetries(0, 0, 0), gateway.WithClock(e.clk.Now))
	lp := cfg.latePolicy
	if lp == "" {
		lp = checkout.LatePolicyAccept
	}
	e.store = &checkout.Store{ID: "main", Name: "Main", Sandbox: true, LatePolicy: lp,
		WeChat: checkout.WeChatConfig{Enabled: true, Mode: checkout.ModeRedirect},
		Alipay: checkout.AlipayConfig{Enabled: true, Mode: checkout.ModeRedirect}}
	e.apiKey, _ = checkout.NewAPIKey(false)
	e.merchant = &checkout.Merchant{ID: "m_" + rand.Text()[:8], Name: "Shop", APIKeys: []checkout.APIKey{checkout.APIKeyFor(e.apiKey)},
		Stores: []*checkout.Store{e.store}}
	if e.dir, err = checkout.NewDirectory([]*checkout.Merchant{e.merchant}); err != nil {
		t.Fatal(err)
	}
	e.accounts = payments.NewAccounts()
	if err := e.accounts.Add(e.merchant.ID, e.store.ID, e.gs); err != nil {
		t.Fatal(err)
	}
	e.start()
	return e
}

// start builds the service's components on the env's Redis and prefix: call
// it again to simulate a restarted process.
func (e *env) start() {
	t := e.t
	a := e.build()
	e.app, e.repo, e.hooks, e.svc, e.rec = a, a.Repo, a.Webhooks, a.Payments, a.Reconciler
	h := a.Handler
	e.handler.Store(&h)
	if e.api == nil {
		e.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			(*e.handler.Load()).ServeHTTP(w, r)
		}))
		t.Cleanup(e.api.Close)
	}
}

// build assembles the whole service (app.New) on the env's Redis, prefix,
// clock, gateway (or spy) and event recorder: one process of it.
func (e *env) build() *app.App {
	e.t.Helper()
	var gw app.Gateway = e.gw
	if e.cfg.spy != nil {
		if e.cfg.spy.Gateway == nil {
			e.cfg.spy.Gateway = e.gw
		}
		gw = e.cfg.spy
	}
	settings, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		e.t.Fatal(err)
	}
	settings.PublicURL, settings.AllowPrivateWebhooks, settings.ClaimLease = "https://pay.example", true, 5*time.Second
	cfg := app.Config{
		Settings: settings, Redis: e.rdb, Directory: e.dir, Accounts: e.accounts, Gateway: gw, Logger: quietLogger(), Clock: e.clk.Now, Prefix: e.prefix,
		Events:  func(hooks *webhook.Service) payments.Emitter { return tee{hooks: hooks, rec: e.events} },
		Metrics: e.cfg.metrics,
	}
	if e.cfg.quietStreams {
		cfg.PageHeartbeat, cfg.PageEventsPoll = time.Hour, time.Hour
		// Ten thousand streams on one checkout from one address: above
		// the default caps, which would answer most of them the polling
		// hint. The stream read bound stays the default.
		settings.StreamsMax, settings.StreamsPerClient, settings.StreamsPerCheckout = 1_000_000, 1_000_000, 1_000_000
	}
	a, err := app.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// newCheckout stores an open checkout of amount fen.
func (e *env) newCheckout(amount int64, ttl time.Duration) *checkout.Checkout {
	e.t.Helper()
	c, err := checkout.NewCheckout(&checkout.Draft{
		MerchantID: e.merchant.ID, StoreID: e.store.ID, Amounts: checkout.Amounts{Original: amount, Trade: amount},
		Description: "测试商品", LatePolicy: e.store.LatePolicy, TTL: ttl,
	}, e.clk.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.repo.Create(context.Background(), c, nil); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// order makes an attempt and its gateway order the way the pages do:
// AddAttempt, payorder with our notify_url, record ord_no, Watch.
func (e *env) order(c *checkout.Checkout, s checkout.Scenario, authCode string) *checkout.Attempt {
	e.t.Helper()
	ctx := context.Background()
	a, _, err := e.repo.AddAttempt(ctx, c.ID, checkout.MethodWeChat, s)
	if err != nil {
		e.t.Fatal(err)
	}
	req := &gateway.PayOrderRequest{
		OutNo: a.OutNo, PmtTag: "Weixin", OrdName: c.Description, OriginalAmount: c.Amounts.Trade,
		TradeAmount: c.Amounts.Trade, NotifyURL: payments.NotifyURL(e.api.URL, e.gs.OpenID),
	}
	switch s {
	case checkout.ScenarioBarcode:
		req.AuthCode = authCode
	case checkout.ScenarioJump:
		req.JumpURL = "https://pay.example/c/" + c.ID + "/return"
	case checkout.ScenarioJSAPI:
		if err := e.sb.BindAppID(e.sbStore.OpenID, "Weixin", "wx0123456789abcdef"); err != nil {
			e.t.Fatal(err)
		}
		req.JSAPI, req.SubAppID, req.SubOpenID = true, "wx0123456789abcdef", "oPayer"+c.ID[3:13]
	}
	res, err := e.gw.PayOrder(ctx, e.gs, req)
	if err != nil {
		e.t.Fatalf("payorder: %v", err)
	}
	if _, err := e.repo.UpdateAttempt(ctx, c.ID, a.Seq, "", string(res.OrdNo)); err != nil {
		e.t.Fatal(err)
	}
	a.OrdNo = string(res.OrdNo)
	if err := e.svc.Watch(ctx, a.OutNo); err != nil {
		e.t.Fatal(err)
	}
	return a
}

// pay pays an order at the sandbox, as the payer would.
func (e *env) pay(a *checkout.Attempt) {
	e.t.Helper()
	if err := e.sb.PayOrderNo(context.Background(), a.OrdNo); err != nil {
		e.t.Fatalf("sandbox pay %s: %v", a.OrdNo, err)
	}
}

func (e *env) get(id string) *checkout.Checkout {
	e.t.Helper()
	c, err := e.repo.Get(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) attempt(id string, seq int) *checkout.Attempt {
	e.t.Helper()
	as, err := e.repo.Attempts(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, a := range as {
		if a.Seq == seq {
			return a
		}
	}
	e.t.Fatalf("no attempt %d of %s", seq, id)
	return nil
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// notifyQuery signs a notify the way the gateway does.
func (e *env) notifyQuery(a *checkout.Attempt, status gateway.Status, extra ...gateway.Field) url.Values {
	return gateway.CallbackQuery(e.gs.Key, gateway.Callback{
		OrdNo: a.OrdNo, OutNo: a.OutNo, Status: status, Timestamp: time.Now(), RandStr: strings.Repeat("a1B2", 32),
	}, extra...)
}

// sendNotify GETs our notify URL with q and returns status and body.
func (e *env) sendNotify(rawQuery string) (int, string) {
	e.t.Helper()
	return e.getRaw(payments.NotifyURL(e.api.URL, e.gs.OpenID) + "?" + rawQuery)
}

func (e *env) getRaw(u string) (int, string) {
	e.t.Helper()
	res, err := http.Get(u)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// watched returns the watch set's members and their due times.
func (e *env) watched() map[string]time.Time {
	e.t.Helper()
	out := map[string]time.Time{}
	for _, k := range payments.WatchShards(e.svc) {
		zs, err := e.rdb.ZRangeWithScores(context.Background(), k, 0, -1).Result()
		if err != nil {
			e.t.Fatal(err)
		}
		for _, z := range zs {
			m := z.Member.(string)
			if k != payments.WatchKey(e.svc, m) {
				e.t.Errorf("work %s in shard %s, not its checkout's", m, k)
			}
			out[m] = time.UnixMilli(int64(z.Score))
		}
	}
	return out
}

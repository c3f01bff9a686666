package reconciliation

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
)

// clock is the manual clock of the service, the repository and the sandbox.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func (c *clock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }

// china is a wall-clock time in UTC+8.
func china(y int, m time.Month, d, h, min, sec int) time.Time {
	return time.Date(y, m, d, h, min, sec, 0, gateway.ChinaTime())
}

// recorder keeps every event emitted, after the webhook service stored it.
type recorder struct {
	hooks *webhook.Service
	mu    sync.Mutex
	evs   []webhook.Event
}

func (r *recorder) Emit(ctx context.Context, e webhook.Event) error {
	if err := r.hooks.Emit(ctx, e); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, e)
	return nil
}

// of counts the distinct events of type typ (about checkout id, when set).
func (r *recorder) of(typ, id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for _, e := range r.evs {
		if e.Type == typ && (id == "" || e.CheckoutID == id) {
			seen[e.ID] = true
		}
	}
	return len(seen)
}

// payShim lets a test change what the service reports of refunds.
type payShim struct {
	*payments.Service
	refunds func(id string, rs []payments.Refund) []payments.Refund
}

func (p *payShim) Refunds(ctx context.Context, id string) ([]payments.Refund, error) {
	rs, err := p.Service.Refunds(ctx, id)
	if err == nil && p.refunds != nil {
		rs = p.refunds(id, rs)
	}
	return rs, err
}

type env struct {
	t        testing.TB
	clk      *clock
	rdb      redis.UniversalClient
	prefix   string
	sb       *sandbox.Server
	sbURL    string
	sbStore  sandbox.Store
	gw       *gateway.Client
	store    *checkout.Store
	merchant *checkout.Merchant
	dir      *checkout.Directory
	repo     *checkout.Repo

	payments *payments.Service
	accounts *payments.Accounts
	shim     *payShim
	events   *recorder
	hooks    *webhook.Service
	svc      *Service
}

type envOptions struct {
	// sandboxAhead sets the gateway's clock ahead of ours.
	sandboxAhead time.Duration
	quirksOff    bool
	// rdb, when set, is the Redis to use (a cluster client).
	rdb redis.UniversalClient
}

func quiet() *slog.Logger {
	if os.Getenv("RECONCILIATION_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newEnv is the whole stack on a manual clock set to start: a sandbox
// gateway (notifies dropped: tests confirm explicitly, so that being
// "behind" can be staged), Redis under a prefix of the test's own, the
// checkout repository and payments, notify, webhooks and the service.
func newEnv(t testing.TB, start time.Time, opts envOptions) *env {
	t.Helper()
	e := &env{t: t, clk: &clock{}, prefix: "test:rc:" + rand.Text()[:12] + ":"}
	e.clk.Set(start)
	e.rdb = opts.rdb
	if e.rdb == nil {
		e.rdb = redistest.New(t)
	}
	t.Cleanup(func() { cleanup(e.rdb, e.prefix) })
	ahead := opts.sandboxAhead
	sb, err := sandbox.New(sandbox.Config{
		Clock: func() time.Time { return e.clk.Now().Add(ahead) }, DropNotifies: true, Logger: quiet(),
		DisableQuirks: opts.quirksOff,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.sb = sb
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(sb.Close)
	e.sbURL = srv.URL + sb.Prefix()
	e.sbStore = sandbox.GenerateStore()
	if err := sb.AddStore(e.sbStore); err != nil {
		t.Fatal(err)
	}
	gs, err := gateway.NewStore(e.sbURL, e.sbStore.OpenID, e.sbStore.OpenKey, e.sbStore.ShopPass)
	if err != nil {
		t.Fatal(err)
	}
	e.gw = gateway.NewClient(gateway.WithRetries(0, 0, 0), gateway.WithClock(e.clk.Now))
	e.store = &checkout.Store{ID: "main", Name: "Main", Sandbox: true, LatePolicy: checkout.LatePolicyAccept,
		WeChat: checkout.WeChatConfig{Enabled: true, Mode: checkout.ModeRedirect},
		Alipay: checkout.AlipayConfig{Enabled: true, Mode: checkout.ModeRedirect}}
	e.merchant = &checkout.Merchant{ID: "m_" + rand.Text()[:8], Name: "Shop", Stores: []*checkout.Store{e.store}}
	if e.dir, err = checkout.NewDirectory([]*checkout.Merchant{e.merchant}); err != nil {
		t.Fatal(err)
	}
	e.accounts = payments.NewAccounts()
	if err := e.accounts.Add(e.merchant.ID, e.store.ID, gs); err != nil {
		t.Fatal(err)
	}
	e.repo = checkout.NewRepo(e.rdb, checkout.WithPrefix(e.prefix+"co:"), checkout.WithClock(e.clk.Now))
	e.hooks = webhook.New(e.rdb, e.dir, webhook.WithPrefix(e.prefix+"wh:"), webhook.WithClock(e.clk.Now), webhook.WithLogger(quiet()))
	e.events = &recorder{hooks: e.hooks}
	e.payments, err = payments.New(payments.Config{Redis: e.rdb, Repo: e.repo, Directory: e.dir, Accounts: e.accounts, Gateway: e.gw, Events: e.events,
		Logger: quiet(), Clock: e.clk.Now, Prefix: e.prefix + "n:", PublicURL: "https://pay.example"})
	if err != nil {
		t.Fatal(err)
	}
	e.shim = &payShim{Service: e.payments}
	e.svc = e.service()
	return e
}

// service is another Service on the same Redis: another replica.
func (e *env) service() *Service {
	s, err := New(Config{Redis: e.rdb, Repo: e.repo, Directory: e.dir, Accounts: e.accounts, Gateway: e.gw, Payments: e.shim,
		Events: e.events, Logger: quiet(), Clock: e.clk.Now, Prefix: e.prefix + "rc:", Lease: time.Minute})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// cleanup deletes a test's keys: the real Redis outlives the run.
func cleanup(rdb redis.UniversalClient, prefix string) {
	_ = redistest.Clean(rdb, prefix)
}

// order makes a checkout of amount fen and its gateway order (a QR code),
// the way the payer page does: the number is in the sent index first.
func (e *env) order(amount int64) (*checkout.Checkout, *payments.PayAction) {
	e.t.Helper()
	c, err := checkout.NewCheckout(&checkout.Draft{MerchantID: e.merchant.ID, StoreID: e.store.ID,
		Amounts: checkout.Amounts{Original: amount, Trade: amount}, Description: "测试商品", TTL: time.Hour,
		LatePolicy: checkout.LatePolicyAccept}, e.clk.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.repo.Create(ctx, c, nil); err != nil {
		e.t.Fatal(err)
	}
	act, err := e.payments.Start(ctx, payments.StartRequest{CheckoutID: c.ID, Wallet: checkout.MethodAlipay,
		Scenario: checkout.ScenarioQR})
	if err != nil {
		e.t.Fatalf("start payment: %v", err)
	}
	return c, act
}

// payerPays pays the order at the gateway; the service learns nothing.
func (e *env) payerPays(act *payments.PayAction) {
	e.t.Helper()
	if err := e.sb.PayQRCode(context.Background(), act.QRCode); err != nil {
		e.t.Fatalf("sandbox pay: %v", err)
	}
}

// paid makes a checkout paid and confirmed, as a notify would.
func (e *env) paid(amount int64) (*checkout.Checkout, string) {
	e.t.Helper()
	c, act := e.order(amount)
	e.payerPays(act)
	if _, err := e.payments.Confirm(context.Background(), act.OutNo); err != nil {
		e.t.Fatalf("confirm: %v", err)
	}
	if got := e.get(c.ID); got.Status != checkout.StatusPaid {
		e.t.Fatalf("checkout %s is %s", c.ID, got.Status)
	}
	return c, act.OutNo
}

func (e *env) get(id string) *checkout.Checkout {
	e.t.Helper()
	c, err := e.repo.Get(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) reconcile(date string) *Run {
	e.t.Helper()
	r, err := e.svc.Reconcile(context.Background(), e.merchant.ID, e.store.ID, date)
	if err != nil {
		e.t.Fatalf("reconcile %s: %v", date, err)
	}
	return r
}

// byOutNo finds a run's differences about out_no.
func byOutNo(r *Run, outNo string) []Difference {
	var out []Difference
	for _, d := range r.Differences {
		if d.OutNo == outNo {
			out = append(out, d)
		}
	}
	return out
}

func describe(r *Run) string {
	s := fmt.Sprintf("run %s: %d differences, counts %+v\n", r.ID, len(r.Differences), r.Counts)
	for _, d := range r.Differences {
		s += fmt.Sprintf("  %s %s %s gw=%d/%s svc=%d/%s %s\n", d.Class, d.Status, d.OutNo, d.GatewayAmount,
			d.GatewayState, d.ServiceAmount, d.ServiceState, d.Detail)
	}
	return s
}

// storeAccount is the env's store's gateway account.
func (e *env) storeAccount() *gateway.Store {
	gs, _ := e.accounts.Of(e.merchant.ID, e.store.ID)
	return gs
}

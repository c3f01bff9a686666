package payments

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/internal/redistest"
)

// payEnv is a repository, a directory with one store registered at a real
// sandbox gateway, and Payments on the real gateway client.
type payEnv struct {
	repo    *checkout.Repo
	rdb     redis.UniversalClient
	clk     *startClock
	sb      *sandbox.Server
	sbStore sandbox.Store
	store   *checkout.Store
	gw      *countingGateway
	pay     *starter
	watched *watchLog
}

const payTestAppID = "wxOFFICIAL000001"

// countingGateway counts the calls that reach the real client, and can
// replace payorder's answer.
type countingGateway struct {
	Gateway
	payOrders atomic.Int32
	payLists  atomic.Int32
	override  func(r *gateway.PayOrderRequest) (*gateway.PayOrderResult, error)
	last      atomic.Pointer[gateway.PayOrderRequest]
}

func (g *countingGateway) PayOrder(ctx context.Context, st *gateway.Store, r *gateway.PayOrderRequest) (*gateway.PayOrderResult, error) {
	g.payOrders.Add(1)
	cp := *r
	g.last.Store(&cp)
	if g.override != nil {
		return g.override(r)
	}
	return g.Gateway.PayOrder(ctx, st, r)
}

func (g *countingGateway) PayList(ctx context.Context, st *gateway.Store, types string) ([]gateway.PayMethod, error) {
	g.payLists.Add(1)
	return g.Gateway.PayList(ctx, st, types)
}

type watchLog struct {
	mu   sync.Mutex
	outs []string
	fail error // when set, watching fails
}

func (w *watchLog) add(_ context.Context, outNo string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail != nil {
		return w.fail
	}
	w.outs = append(w.outs, outNo)
	return nil
}

func (w *watchLog) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.outs...)
}

func newPayEnv(t *testing.T) *payEnv { return newPayEnvTB(t) }

func newPayEnvTB(t testing.TB) *payEnv {
	t.Helper()
	e := &payEnv{watched: &watchLog{}}
	e.rdb, e.clk = redistest.New(t), newStartClock()
	e.repo = checkout.NewRepo(e.rdb, checkout.WithPrefix(redistest.Prefix(t, e.rdb)), checkout.WithClock(e.clk.Now))
	sb, err := sandbox.New(sandbox.Config{DropNotifies: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	e.sb = sb
	e.sbStore = sandbox.GenerateStore()
	if err := sb.AddStore(e.sbStore); err != nil {
		t.Fatal(err)
	}
	if err := sb.BindAppID(e.sbStore.OpenID, "Weixin", payTestAppID); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	gs, err := gateway.NewStore(srv.URL+sb.Prefix(), e.sbStore.OpenID, e.sbStore.OpenKey, e.sbStore.ShopPass)
	if err != nil {
		t.Fatal(err)
	}
	e.store = &checkout.Store{
		ID: "main", Name: "Main", Sandbox: true,
		WeChat: checkout.WeChatConfig{Enabled: true, Mode: checkout.ModeNative, AppID: payTestAppID},
		Alipay: checkout.AlipayConfig{Enabled: true, Mode: checkout.ModeNative},
	}
	dir, err := checkout.NewDirectory([]*checkout.Merchant{{ID: "m1", Name: "M1", Stores: []*checkout.Store{e.store}}})
	if err != nil {
		t.Fatal(err)
	}
	accounts := NewAccounts()
	if err := accounts.Add("m1", "main", gs); err != nil {
		t.Fatal(err)
	}
	e.gw = &countingGateway{Gateway: gateway.NewClient()}
	e.pay = newStarter(&starter{repo: e.repo, dir: dir, accounts: accounts, gw: e.gw, now: e.clk.Now, watch: e.watched.add, publicURL: "https://pay.example"})
	return e
}

func (e *payEnv) checkout(t testing.TB, trade int64) *checkout.Checkout {
	t.Helper()
	d := draft("m1")
	d.Amounts = checkout.Amounts{Original: trade, Trade: trade}
	c, err := checkout.NewCheckout(d, e.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.repo.Create(context.Background(), c, nil); err != nil {
		t.Fatal(err)
	}
	return c
}

func wechatJSAPI(id, openid string) StartRequest {
	return StartRequest{CheckoutID: id, Wallet: checkout.MethodWeChat, Scenario: checkout.ScenarioJSAPI,
		SubAppID: payTestAppID, SubOpenID: openid}
}

func TestStartScenarios(t *testing.T) {
	e := newPayEnv(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		req   func(id string) StartRequest
		kind  string
		check func(t *testing.T, a *PayAction, o sandbox.OrderSnapshot)
	}{
		{"wechat qr", func(id string) StartRequest {
			return StartRequest{CheckoutID: id, Wallet: checkout.MethodWeChat, Scenario: checkout.ScenarioQR}
		}, KindQR, func(t *testing.T, a *PayAction, o sandbox.OrderSnapshot) {
			if a.QRCode == "" || a.QRCode != o.TradeQRCode {
				t.Errorf("QRCode %q, sandbox %q", a.QRCode, o.TradeQRCode)
			}
		}},
		{"alipay jump", func(id string) StartRequest {
			return StartRequest{CheckoutID: id, Wallet: checkout.MethodAlipay, Scenario: checkout.ScenarioJump, JumpURL: "https://pay.example/c/" + id + "/return"}
		}, KindRedirect, func(t *testing.T, a *PayAction, o sandbox.OrderSnapshot) {
			if a.RedirectURL == "" || !strings.HasPrefix(o.JumpURL, "https://pay.example/c/co_") || !strings.HasSuffix(o.JumpURL, "/return") {
				t.Errorf("RedirectURL %q, jump %q", a.RedirectURL, o.JumpURL)
			}
		}},
		{"wechat jsapi", func(id string) StartRequest { return wechatJSAPI(id, "openid-1") }, KindWeChatJSAPI,
			func(t *testing.T, a *PayAction, o sandbox.OrderSnapshot) {
				if !a.WeChat.Complete() || string(a.WeChat.AppID) != payTestAppID {
					t.Errorf("WeChat params %+v", a.WeChat)
				}
				for _, v := range []string{a.WeChat.SignType, a.WeChat.Package, a.WeChat.PaySign} {
					if len(v) > 0 && (v[0] == ' ' || v[len(v)-1] == ' ') {
						t.Errorf("untrimmed value %q", v)
					}
				}
				if o.SubAppID != payTestAppID {
					t.Errorf("sub_appid %q", o.SubAppID)
				}
			}},
		{"alipay jsapi", func(id string) StartRequest {
			return StartRequest{CheckoutID: id, Wallet: checkout.MethodAlipay, Scenario: checkout.ScenarioJSAPI, BuyerID: "2088000000000001"}
		}, KindAlipayJSAPI, func(t *testing.T, a *PayAction, o sandbox.OrderSnapshot) {
			if a.TradeNO == "" || a.TradeNO != o.TradeNo {
				t.Errorf("TradeNO %q, sandbox %q", a.TradeNO, o.TradeNo)
			}
		}},
		{"mini-program", func(id string) StartRequest {
			r := wechatJSAPI(id, "mini-openid")
			r.Scenario = checkout.ScenarioMiniProgram
			return r
		}, KindWeChatJSAPI, func(t *testing.T, a *PayAction, o sandbox.OrderSnapshot) {
			if !a.WeChat.Complete() {
				t.Errorf("WeChat params %+v", a.WeChat)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := e.checkout(t, 1234)
			a, err := e.pay.Start(ctx, tc.req(c.ID))
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			if a.Kind != tc.kind || a.AttemptSeq != 1 || a.OutNo != checkout.OutNo(c.ID, 1) || a.Reused {
				t.Fatalf("action %+v", a)
			}
			o, ok := e.sb.Order(e.sbStore.OpenID, a.OutNo)
			if !ok {
				t.Fatal("no order at the sandbox")
			}
			if o.TradeAmount != 1234 {
				t.Errorf("trade_amount %d, want the checkout's 1234", o.TradeAmount)
			}
			tc.check(t, a, o)
			atts, err := e.repo.Attempts(ctx, c.ID)
			if err != nil || len(atts) != 1 {
				t.Fatalf("attempts %v %v", atts, err)
			}
			if atts[0].OrdNo != o.OrdNo || atts[0].Status != checkout.AttemptPending {
				t.Errorf("attempt %+v, sandbox ord_no %s", atts[0], o.OrdNo)
			}
			if got, _ := e.repo.Get(ctx, c.ID); got.Status != checkout.StatusPending {
				t.Errorf("checkout status %s", got.Status)
			}
			if w := e.watched.list(); len(w) == 0 || w[len(w)-1] != a.OutNo {
				t.Errorf("reconciler not told of %s: %v", a.OutNo, w)
			}
		})
	}
}

func TestStartReuse(t *testing.T) {
	e := newPayEnv(t)
	ctx := context.Background()
	c := e.checkout(t, 500)

	first, err := e.pay.Start(ctx, wechatJSAPI(c.ID, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.pay.Start(ctx, wechatJSAPI(c.ID, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Reused || again.AttemptSeq != first.AttemptSeq || again.WeChat != first.WeChat {
		t.Fatalf("same payer should reuse: %+v vs %+v", again, first)
	}
	// Another payer, another wallet, another scenario: new orders.
	bob, err := e.pay.Start(ctx, wechatJSAPI(c.ID, "bob"))
	if err != nil {
		t.Fatal(err)
	}
	qr, err := e.pay.Start(ctx, StartRequest{CheckoutID: c.ID, Wallet: checkout.MethodWeChat, Scenario: checkout.ScenarioQR})
	if err != nil {
		t.Fatal(err)
	}
	if bob.Reused || bob.AttemptSeq != 2 || qr.Reused || qr.AttemptSeq != 3 {
		t.Fatalf("bob %+v qr %+v", bob, qr)
	}
	if got := e.gw.payOrders.Load(); got != 3 {
		t.Fatalf("payorders %d, want 3", got)
	}
}

func TestStartReuseEndsWithValidity(t *testing.T) {
	e := newPayEnv(t)
	ctx := context.Background()
	d := draft("m1")
	d.Amounts = checkout.Amounts{Original: 700, Trade: 700}
	d.TTL = 24 * time.Hour
	c, err := checkout.NewCheckout(d, e.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.repo.Create(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	a1, err := e.pay.Start(ctx, wechatJSAPI(c.ID, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	q1, err := e.pay.Start(ctx, StartRequest{CheckoutID: c.ID, Wallet: checkout.MethodAlipay, Scenario: checkout.ScenarioQR})
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(2*time.Hour - 30*time.Second)
	a2, err := e.pay.Start(ctx, wechatJSAPI(c.ID, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if a2.Reused || a2.AttemptSeq == a1.AttemptSeq {
		t.Errorf("a prepay id about to die was handed out again: %+v", a2)
	}
	q2, err := e.pay.Start(ctx, StartRequest{CheckoutID: c.ID, Wallet: checkout.MethodAlipay, Scenario: checkout.ScenarioQR})
	if err != nil {
		t.Fatal(err)
	}
	if !q2.Reused || q2.AttemptSeq != q1.AttemptSeq || q2.QRCode != q1.QRCode {
		t.Errorf("QR code should live as long as the checkout: %+v vs %+v", q2, q1)
	}
}

func TestStartDoubleClick(t *testing.T) {
	e := newPayEnv(t)
	c := e.checkout(t, 888)
	const n = 20
	var wg sync.WaitGroup
	acts := make([]*PayAction, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			acts[i], errs[i] = e.pay.Start(context.Background(), wechatJSAPI(c.ID, "alice"))
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("click %d: %v", i, errs[i])
		}
		if acts[i].OutNo != acts[0].OutNo || acts[i].WeChat != acts[0].WeChat {
			t.Fatalf("click %d got another order: %+v vs %+v", i, acts[i], acts[0])
		}
	}
	if got := e.gw.payOrders.Load(); got != 1 {
		t.Fatalf("%d payorders for one double click", got)
	}
	if orders := e.sb.Orders(e.sbStore.OpenID); len(orders) != 1 {
		t.Fatalf("%d sandbox orders", len(orders))
	}
}

func TestStartRefusals(t *testing.T) {
	e := newPayEnv(t)
	ctx := context.Background()
	qr := func(id string, w checkout.Method) StartRequest {
		return StartRequest{CheckoutID: id, Wallet: w, Scenario: checkout.ScenarioQR}
	}

	paid := e.checkout(t, 100)
	if _, err := e.pay.Start(ctx, qr(paid.ID, checkout.MethodWeChat)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.repo.MarkPaid(ctx, paid.ID, 1, ""); err != nil {
		t.Fatal(err)
	}
	cancelled := e.checkout(t, 100)
	if _, err := e.repo.Cancel(ctx, cancelled.ID); err != nil {
		t.Fatal(err)
	}
	onlyAlipay := func() *checkout.Checkout {
		d := draft("m1")
		d.Wallets = []checkout.Method{checkout.MethodAlipay}
		c, _ := checkout.NewCheckout(d, e.clk.Now())
		if err := e.repo.Create(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
		return c
	}()
	open := e.checkout(t, 100)
	before := e.gw.payOrders.Load()

	tests := []struct {
		name string
		req  StartRequest
		want error
	}{
		{"paid", qr(paid.ID, checkout.MethodWeChat), checkout.ErrNotAllowed},
		{"cancelled", qr(cancelled.ID, checkout.MethodWeChat), checkout.ErrNotAllowed},
		{"wallet not allowed", qr(onlyAlipay.ID, checkout.MethodWeChat), checkout.ErrNotAllowed},
		{"unknown checkout", qr("co_AAAAAAAAAAAAAAAAAAAAAAAA", checkout.MethodWeChat), checkout.ErrNotFound},
		{"garbage id", qr("../../etc", checkout.MethodWeChat), checkout.ErrNotFound},
		{"bad wallet", qr(open.ID, "paypal"), checkout.ErrInvalid},
		{"bad scenario", StartRequest{CheckoutID: open.ID, Wallet: checkout.MethodWeChat, Scenario: "barcode"}, checkout.ErrInvalid},
		{"jsapi without payer", StartRequest{CheckoutID: open.ID, Wallet: checkout.MethodAlipay, Scenario: checkout.ScenarioJSAPI}, ErrPayerRequired},
		{"jump without url", StartRequest{CheckoutID: open.ID, Wallet: checkout.MethodAlipay, Scenario: checkout.ScenarioJump}, checkout.ErrInvalid},
		{"alipay mini-program", StartRequest{CheckoutID: open.ID, Wallet: checkout.MethodAlipay, Scenario: checkout.ScenarioMiniProgram, BuyerID: "x"}, checkout.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.pay.Start(ctx, tc.req); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("wallet disabled", func(t *testing.T) {
		e.store.Alipay.Enabled = false
		defer func() { e.store.Alipay.Enabled = true }()
		if _, err := e.pay.Start(ctx, qr(open.ID, checkout.MethodAlipay)); !errors.Is(err, ErrWalletDisabled) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		e.clk.Advance(checkout.DefaultTTL)
		if _, err := e.pay.Start(ctx, qr(open.ID, checkout.MethodWeChat)); !errors.Is(err, checkout.ErrNotAllowed) {
			t.Fatalf("err %v", err)
		}
	})
	if got := e.gw.payOrders.Load(); got != before {
		t.Fatalf("refused requests sent %d payorders", got-before)
	}
	if atts, _ := e.repo.Attempts(ctx, open.ID); len(atts) != 0 {
		t.Fatalf("refused requests created attempts: %v", atts)
	}
}

func TestStartDeclined(t *testing.T) {
	e := newPayEnv(t)
	ctx := context.Background()
	c := e.checkout(t, 100+sandbox.MagicAmountPayFails)
	_, err := e.pay.Start(ctx, StartRequest{CheckoutID: c.ID, Wallet: checkout.MethodWeChat, Scenario: checkout.ScenarioQR})
	var pe *PayError
	if !errors.Is(err, ErrPaymentDeclined) || !errors.As(err, &pe) || pe.Reason == "" || pe.Seq != 1 {
		t.Fatalf("err %v (%+v)", err, pe)
	}
	atts, _ := e.repo.Attempts(ctx, c.ID)
	if len(atts) != 1 || atts[0].Status != checkout.AttemptFailed {
		t.Fatalf("attempts %+v", atts)
	}
	// The payer may try again: a new attempt, a new out_no.
	_, err = e.pay.Start(ctx, StartRequest{CheckoutID: c.ID, Wallet: checkout.MethodWeChat, Scenario: checkout.ScenarioQR})
	if !errors.As(err, &pe) || pe.Seq != 2 {
		t.Fatalf("retry: %v", err)
	}

	// An official account not bound to the store: 8011 from the gateway.
	c2 := e.checkout(t, 300)
	req := wechatJSAPI(c2.ID, "alice")
	req.SubAppID = "wxNOTBOUND"
	if _, err := e.pay.Start(ctx, req); !errors.Is(err, ErrPaymentDeclined) {
		t.Fatalf("unbound appid: %v", err)
	}
}

func TestStartOutcomeUnknown(t *testing.T) {
	e := newPayEnv(t)
	ctx := context.Background()
	c := e.checkout(t, 100)
	e.gw.override = func(r *gateway.PayOrderRequest) (*gateway.PayOrderResult, error) {
		return nil, &gateway.UnknownOutcomeError{Endpoint: "payorder", OutNo: r.OutNo, Err: context.DeadlineExceeded}
	}
	_, err := e.pay.Start(ctx, StartRequest{CheckoutID: c.ID, Wallet: checkout.MethodWeChat, Scenario: checkout.ScenarioQR})
	if !errors.Is(err, ErrPaymentUnknown) {
		t.Fatalf("err %v", err)
	}
	atts, _ := e.repo.Attempts(ctx, c.ID)
	if len(atts) != 1 || atts[0].Status != checkout.AttemptUnknown {
		t.Fatalf("attempts %+v", atts)
	}
	if w := e.watched.list(); len(w) != 1 || w[0] != atts[0].OutNo {
		t.Fatalf("the reconciler must watch the unknown order: %v", w)
	}
	// An answer without pay parameters is no better.
	e.gw.override = func(r *gateway.PayOrderRequest) (*gateway.PayOrderResult, error) {
		return &gateway.PayOrderResult{}, nil
	}
	if _, err := e.pay.Start(ctx, StartRequest{CheckoutID: c.ID, Wallet: checkout.MethodWeChat, Scenario: checkout.ScenarioQR}); !errors.Is(err, ErrPaymentUnknown) {
		t.Fatalf("empty answer: %v", err)
	}
}

func TestStartAmountFromCheckout(t *testing.T) {
	e := newPayEnv(t)
	ctx := context.Background()
	d := draft("m1") // 1200 − 100 − 100 = 1000
	c, err := checkout.NewCheckout(d, e.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.repo.Create(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pay.Start(ctx, StartRequest{CheckoutID: c.ID, Wallet: checkout.MethodAlipay, Scenario: checkout.ScenarioQR}); err != nil {
		t.Fatal(err)
	}
	r := e.gw.last.Load()
	if r.TradeAmount != 1000 || r.OriginalAmount != 1200 || r.DiscountAmount != 100 || r.IgnoreAmount != 100 {
		t.Fatalf("amounts %d %d %d %d", r.OriginalAmount, r.DiscountAmount, r.IgnoreAmount, r.TradeAmount)
	}
	if r.OrdName != d.Description || r.OutNo != checkout.OutNo(c.ID, 1) {
		t.Fatalf("ord_name %q out_no %q", r.OrdName, r.OutNo)
	}
}

func TestPayListCached(t *testing.T) {
	e := newPayEnv(t)
	ctx := context.Background()
	for range 3 {
		c := e.checkout(t, 100)
		if _, err := e.pay.Start(ctx, StartRequest{CheckoutID: c.ID, Wallet: checkout.MethodWeChat, Scenario: checkout.ScenarioQR}); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.gw.payLists.Load(); n != 1 {
		t.Fatalf("paylist called %d times", n)
	}
	e.clk.Advance(DefaultPayListTTL)
	c := e.checkout(t, 100)
	if _, err := e.pay.Start(ctx, StartRequest{CheckoutID: c.ID, Wallet: checkout.MethodWeChat, Scenario: checkout.ScenarioQR}); err != nil {
		t.Fatal(err)
	}
	if n := e.gw.payLists.Load(); n != 2 {
		t.Fatalf("paylist called %d times after the TTL", n)
	}
	// A store override skips paylist entirely.
	e.store.WeChat.PmtTag = "Weixin"
	defer func() { e.store.WeChat.PmtTag = "" }()
	e.clk.Advance(DefaultPayListTTL)
	c = e.checkout(t, 100)
	if _, err := e.pay.Start(ctx, StartRequest{CheckoutID: c.ID, Wallet: checkout.MethodWeChat, Scenario: checkout.ScenarioQR}); err != nil {
		t.Fatal(err)
	}
	if n := e.gw.payLists.Load(); n != 2 {
		t.Fatalf("paylist called with an override: %d", n)
	}
}

func TestOrdName(t *testing.T) {
	long := ""
	for range 120 {
		long += "字"
	}
	for _, tc := range []struct{ in, want string }{
		{"咖啡", "咖啡"}, {"  ", "订单"}, {long, long[:300]},
	} {
		if got := ordName(tc.in); got != tc.want {
			t.Errorf("ordName(%q) = %q", tc.in, got)
		}
	}
}

// TestStartWatchFails: an order the reconciler cannot be told of is never
// sent. Were it sent, a crash or a lost notify would leave a payment nobody
// ever asks the gateway about.
func TestStartWatchFails(t *testing.T) {
	e := newPayEnv(t)
	ctx := context.Background()
	c := e.checkout(t, 100)
	e.watched.mu.Lock()
	e.watched.fail = errors.New("LOADING Redis is loading the dataset in memory")
	e.watched.mu.Unlock()
	_, err := e.pay.Start(ctx, StartRequest{CheckoutID: c.ID, Wallet: checkout.MethodWeChat, Scenario: checkout.ScenarioQR})
	if err == nil || !strings.Contains(err.Error(), "LOADING") {
		t.Fatalf("Start: %v, want the watch error", err)
	}
	if n := e.gw.payOrders.Load(); n != 0 {
		t.Fatalf("%d payorder calls, want none", n)
	}
	atts, _ := e.repo.Attempts(ctx, c.ID)
	if len(atts) != 1 || atts[0].Status != checkout.AttemptFailed {
		t.Fatalf("attempts %+v, want one failed", atts)
	}
	// Once watching works again, the payer can pay.
	e.watched.mu.Lock()
	e.watched.fail = nil
	e.watched.mu.Unlock()
	a, err := e.pay.Start(ctx, StartRequest{CheckoutID: c.ID, Wallet: checkout.MethodWeChat, Scenario: checkout.ScenarioQR})
	if err != nil {
		t.Fatalf("Start after recovery: %v", err)
	}
	if w := e.watched.list(); len(w) != 1 || w[0] != a.OutNo {
		t.Fatalf("watched %v, want %s", w, a.OutNo)
	}
}

// failAfterLock fails every Redis command after the checkout lock is taken,
// as a Redis that restarts (LOADING) mid-request does, until healed.
type failAfterLock struct{ locked, healed atomic.Bool }

func (h *failAfterLock) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *failAfterLock) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.locked.Load() && !h.healed.Load() {
			cmd.SetErr(errors.New("LOADING Redis is loading the dataset in memory"))
			return cmd.Err()
		}
		err := next(ctx, cmd)
		if args := cmd.Args(); len(args) > 1 && strings.EqualFold(fmt.Sprint(args[0]), "set") &&
			strings.HasSuffix(fmt.Sprint(args[1]), ":lock") && err == nil {
			h.locked.Store(true)
		}
		return err
	}
}

func (h *failAfterLock) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.locked.Load() && !h.healed.Load() {
			err := errors.New("LOADING Redis is loading the dataset in memory")
			for _, c := range cmds {
				c.SetErr(err)
			}
			return err
		}
		return next(ctx, cmds)
	}
}

// TestStartRedisFailsUnderLock: Redis failing between taking the lock and
// releasing it is an error for the payer, never a panic (seen in the chaos
// suite: the deferred unlock logged a checkout it no longer had).
func TestStartRedisFailsUnderLock(t *testing.T) {
	e := newPayEnv(t)
	ctx := context.Background()
	c := e.checkout(t, 100)
	fail := &failAfterLock{}
	e.rdb.AddHook(fail)
	// Redis "recovers" before the test's keys are cleaned up (cleanups
	// run last-registered first), or they would be left behind.
	t.Cleanup(func() { fail.healed.Store(true) })
	_, err := e.pay.Start(ctx, StartRequest{CheckoutID: c.ID, Wallet: checkout.MethodWeChat, Scenario: checkout.ScenarioQR})
	if err == nil || !strings.Contains(err.Error(), "LOADING") {
		t.Fatalf("Start: %v, want the Redis error", err)
	}
	if n := e.gw.payOrders.Load(); n != 0 {
		t.Fatalf("%d payorder calls, want none", n)
	}
}

// startClock is the tests' clock: it moves only when told to.
type startClock struct{ ns atomic.Int64 }

func newStartClock() *startClock {
	c := &startClock{}
	c.ns.Store(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *startClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *startClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// draft is a checkout of merchant m1 at its main store.
func draft(merchant string) *checkout.Draft {
	return &checkout.Draft{
		MerchantID:  merchant,
		StoreID:     "main",
		Amounts:     checkout.Amounts{Original: 1200, Discount: 100, Ignore: 100, Trade: 1000},
		Description: "两杯咖啡",
		Reference:   "order-42",
		SuccessURL:  "https://shop.example/ok?c={CHECKOUT_ID}",
		CancelURL:   "https://shop.example/cancel",
		LatePolicy:  checkout.LatePolicyAccept,
		Metadata:    map[string]string{"table": "7"},
		Wallets:     []checkout.Method{checkout.MethodWeChat, checkout.MethodAlipay},
	}
}

package sandbox

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/gateway"
)

// typedClient returns the gateway's own client pointed at the sandbox.
func (e *env) typedClient(opts ...gateway.Option) (*gateway.Client, *gateway.Store) {
	e.t.Helper()
	st, err := gateway.NewStore(e.base, testOpenID, testOpenKey, "123456")
	if err != nil {
		e.t.Fatal(err)
	}
	return gateway.NewClient(append([]gateway.Option{gateway.WithClock(e.s.now)}, opts...)...), st
}

func TestTypedClientEveryEndpoint(t *testing.T) {
	for _, quirks := range []bool{true, false} {
		name := map[bool]string{true: "quirks", false: "plain"}[quirks]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, Config{DisableQuirks: !quirks})
			c, st := e.typedClient()
			ctx := bg
			rcv := newReceiver(t, e.clock.Now, func(int) string { return "notify_success" })

			methods, err := c.PayList(ctx, st, gateway.PayListTypes(2, 3, 4))
			if err != nil || len(methods) != 2 || methods[0].Tag != "Weixin" || !methods[0].Supports("4") {
				t.Fatalf("PayList: %+v %v", methods, err)
			}

			// C scans B, paid by scanning.
			qr, err := c.PayOrder(ctx, st, &gateway.PayOrderRequest{OutNo: "TC1", PmtTag: "Weixin", OrdName: "咖啡 / coffee", OriginalAmount: 1200, DiscountAmount: 200, TradeAmount: 1000, NotifyURL: rcv.url()})
			if err != nil || qr.TradeQRCode == "" || qr.Status != gateway.StatusAwaiting || qr.TradeAmount != 1000 || qr.OrdShopID != 1 {
				t.Fatalf("PayOrder QR: %+v %v", qr, err)
			}
			if err := e.s.PayQRCode(ctx, string(qr.TradeQRCode)); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(0)
			if got := rcv.all(); len(got) != 1 {
				t.Fatalf("%d notifies", len(got))
			}
			o, err := c.PayStatus(ctx, st, gateway.ByOutNo("TC1"))
			if err != nil || o.Status != gateway.StatusPaid || o.TradePayTime.IsZero() || o.DiscountAmount != 200 || o.OrdName != "咖啡 / coffee" {
				t.Fatalf("PayStatus: %+v %v", o, err)
			}
			if v, err := c.OrderView(ctx, st, gateway.ByOrdNo(string(qr.OrdNo))); err != nil || v.OutNo != "TC1" || v.OrdType != gateway.OrderPayment {
				t.Fatalf("OrderView: %+v %v", v, err)
			}

			// Refunds, within and beyond what was paid.
			rf, err := c.PayRefund(ctx, st, &gateway.RefundRequest{OutNo: "TC1", RefundOutNo: "TCR1", RefundAmount: 400})
			if err != nil || rf.Status != gateway.StatusPaid || rf.TradeAmount != 400 || string(rf.OriginalOrdNo) != string(qr.OrdNo) {
				t.Fatalf("PayRefund: %+v %v", rf, err)
			}
			if _, err := c.PayRefund(ctx, st, &gateway.RefundRequest{OutNo: "TC1", RefundOutNo: "TCR2", RefundAmount: 601}); !errors.Is(err, gateway.ErrRefundExceedsLeft) {
				t.Fatalf("over-refund: %v", err)
			}
			wrongPass, _ := gateway.NewStore(e.base, testOpenID, testOpenKey, "000000")
			if _, err := c.PayRefund(ctx, wrongPass, &gateway.RefundRequest{OutNo: "TC1", RefundOutNo: "TCR3", RefundAmount: 1}); !errors.Is(err, gateway.ErrShopPassWrong) {
				t.Fatalf("wrong password: %v", err)
			}

			// B scans C, and cancelling it.
			bc, err := c.PayOrder(ctx, st, &gateway.PayOrderRequest{OutNo: "TC2", PmtTag: "Alipay", OriginalAmount: 100, TradeAmount: 100, AuthCode: "284567890123459002"})
			if err != nil || bc.Status != gateway.StatusPassword {
				t.Fatalf("PayOrder barcode: %+v %v", bc, err)
			}
			cr, err := c.PayCancel(ctx, st, gateway.ByOutNo("TC2"))
			if err != nil || cr.Status != gateway.StatusCanceled || cr.OrdNo != bc.OrdNo {
				t.Fatalf("PayCancel: %+v %v", cr, err)
			}
			if _, err := c.PayCancel(ctx, st, gateway.ByOutNo("TC2")); !errors.Is(err, gateway.ErrNotCancellable) {
				t.Fatalf("second cancel: %v", err)
			}
			if _, err := c.PayCancel(ctx, st, gateway.ByOutNo("TC1")); !errors.Is(err, gateway.ErrNotCancellable) {
				t.Fatalf("cancel paid: %v", err)
			}

			// jump_url.
			j, err := c.PayOrder(ctx, st, &gateway.PayOrderRequest{OutNo: "TC3", PmtTag: "Alipay", OriginalAmount: 100, TradeAmount: 100, JumpURL: "https://m.example/back"})
			if err != nil || j.JSAPIPayURL == "" {
				t.Fatalf("PayOrder jump: %+v %v", j, err)
			}
			if _, err := c.PayCancel(ctx, st, gateway.ByOutNo("TC3")); !errors.Is(err, gateway.ErrCancelFailed) {
				t.Fatalf("cancel jump order: %v", err)
			}

			// Native WeChat JSAPI: unbound, bound, paid through the bridge.
			req := &gateway.PayOrderRequest{OutNo: "TC4", PmtTag: "Weixin", OriginalAmount: 100, TradeAmount: 100, JSAPI: true, SubAppID: testAppID, SubOpenID: "oU1"}
			if _, err := c.PayOrder(ctx, st, req); !errors.Is(err, gateway.ErrPaymentFailed) {
				t.Fatalf("unbound appid: %v", err)
			}
			if err := c.MPConfigAdd(ctx, st, gateway.MPConfig{PmtTag: "Weixin", SubAppID: testAppID}); err != nil {
				t.Fatal(err)
			}
			if ms, err := c.MPConfigQuery(ctx, st, "Weixin"); err != nil || len(ms) != 1 || ms[0].SubAppID != testAppID {
				t.Fatalf("MPConfigQuery: %+v %v", ms, err)
			}
			req.OutNo = "TC5"
			w, err := c.PayOrder(ctx, st, req)
			if err != nil || !w.WeChatPay.Complete() || w.AppID != testAppID || w.SignType != "MD5" {
				t.Fatalf("PayOrder JSAPI: %+v %v", w, err)
			}
			p := WeChatPayParams{AppID: string(w.AppID), TimeStamp: string(w.TimeStamp), NonceStr: string(w.NonceStr), Package: string(w.Package), SignType: string(w.SignType), PaySign: string(w.PaySign)}
			if err := e.s.PayWeChatJSAPI(ctx, p, true); err != nil {
				t.Fatalf("bridge with the client's trimmed parameters: %v", err)
			}

			// Native Alipay JSAPI.
			a, err := c.PayOrder(ctx, st, &gateway.PayOrderRequest{OutNo: "TC6", PmtTag: "Alipay", OriginalAmount: 100, TradeAmount: 100, JSAPI: true, BuyerID: "2088102146225135"})
			if err != nil || a.TradeNo == "" {
				t.Fatalf("PayOrder Alipay JSAPI: %+v %v", a, err)
			}
			if err := e.s.PayAlipayTrade(ctx, string(a.TradeNo), true); err != nil {
				t.Fatal(err)
			}

			// Errors the client cannot catch before sending.
			if _, err := c.PayOrder(ctx, st, &gateway.PayOrderRequest{OutNo: "TC1", PmtTag: "Weixin", OriginalAmount: 100, TradeAmount: 100}); !errors.Is(err, gateway.ErrOutNoExists) {
				t.Fatalf("duplicate out_no: %v", err)
			}
			if _, err := c.PayOrder(ctx, st, &gateway.PayOrderRequest{OutNo: "TC7", PmtTag: "Baifubao", OriginalAmount: 100, TradeAmount: 100}); !errors.Is(err, gateway.ErrPayMethodDisabled) {
				t.Fatalf("unknown tag: %v", err)
			}
			if _, err := c.PayOrder(ctx, st, &gateway.PayOrderRequest{OutNo: "TC8", PmtTag: "Weixin", OriginalAmount: 111, TradeAmount: 111}); !errors.Is(err, gateway.ErrPaymentFailed) {
				t.Fatalf("magic 11: %v", err)
			}
			if _, err := c.PayStatus(ctx, st, gateway.ByOutNo("NOPE")); !errors.Is(err, gateway.ErrOrderNotFound) {
				t.Fatalf("unknown order: %v", err)
			}
			if _, err := c.PayRefund(ctx, st, &gateway.RefundRequest{OutNo: "TC3", RefundOutNo: "TCR4", RefundAmount: 1}); !errors.Is(err, gateway.ErrNotRefundable) {
				t.Fatalf("refund unpaid: %v", err)
			}
			other, _ := gateway.NewStore(e.base, otherOpenID, otherKey, "")
			if _, err := c.PayList(ctx, other, "2"); !errors.Is(err, gateway.ErrStoreNotFound) {
				t.Fatalf("unknown store: %v", err)
			}
			if err := e.s.AddStore(Store{OpenID: otherOpenID, OpenKey: testOpenKey}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.PayList(ctx, other, "2"); !errors.Is(err, gateway.ErrGatewayBadSign) {
				t.Fatalf("store signing with the wrong key: %v", err)
			}
			late := gateway.NewClient(gateway.WithClock(func() time.Time { return e.s.now().Add(-11 * time.Minute) }))
			if _, err := late.PayList(ctx, st, "2"); !errors.Is(err, gateway.ErrTimestamp) {
				t.Fatalf("late clock: %v", err)
			}

			page, err := c.Orders(ctx, st, &gateway.OrderQuery{PageSize: 3, OrdType: gateway.OrderPayment})
			if err != nil || page.TotalNum != 5 || page.TotalPage != 2 || len(page.List) != 3 || page.List[0].OutNo != "TC6" {
				t.Fatalf("Orders: %+v %v", page, err)
			}
		})
	}
}

func TestTypedClientFaultInjection(t *testing.T) {
	t.Run("502 makes payorder's outcome unknown, Resolve settles it", func(t *testing.T) {
		e := newEnv(t, Config{FailureRate: 1})
		c, st := e.typedClient(gateway.WithRetries(0, 0, 0))
		created := 0
		for i := range 20 {
			outNo := "F" + itoa(int64(i))
			_, err := c.PayOrder(bg, st, &gateway.PayOrderRequest{OutNo: outNo, PmtTag: "Weixin", OriginalAmount: 100, TradeAmount: 100})
			if !errors.Is(err, gateway.ErrOutcomeUnknown) {
				t.Fatalf("payorder through a failing proxy: %v", err)
			}
			if _, ok := e.s.Order(testOpenID, outNo); ok {
				created++
			}
		}
		if created == 0 || created == 20 {
			t.Fatalf("%d of 20 failed requests took effect; want some but not all", created)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		e := newEnv(t, Config{TimeoutRate: 1})
		c, st := e.typedClient(gateway.WithHTTPClient(&http.Client{Timeout: 200 * time.Millisecond}))
		_, err := c.PayOrder(bg, st, &gateway.PayOrderRequest{OutNo: "T1", PmtTag: "Weixin", OriginalAmount: 100, TradeAmount: 100})
		if !errors.Is(err, gateway.ErrOutcomeUnknown) {
			t.Fatalf("payorder that times out: %v", err)
		}
		if _, ok := e.s.Order(testOpenID, "T1"); !ok {
			t.Fatal("a timed-out request should have taken effect")
		}
	})
	t.Run("latency", func(t *testing.T) {
		e := newEnv(t, Config{Latency: 50 * time.Millisecond})
		c, st := e.typedClient()
		start := time.Now()
		if _, err := c.PayList(bg, st, "2"); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el < 50*time.Millisecond {
			t.Fatalf("answered in %v despite 50 ms latency", el)
		}
	})
}

// TestTypedClientEveryErrorCode accounts for every errcode the sandbox
// produces from the typed client's side: either the client sends the request
// and maps the sandbox's answer to the code's sentinel error, or it refuses
// the request locally (ErrInvalid) so that the code can never come back.
// Codes only a hand-made request can provoke (8 for a JSON body, 8044 for
// undecryptable data, 3002, 5 and 9 for a wrong envelope) are driven raw in
// TestEnvelopeErrors and by the typed client in TestTypedClientEveryEndpoint.
func TestTypedClientEveryErrorCode(t *testing.T) {
	e := newEnv(t, Config{})
	c, st := e.typedClient()
	ctx := bg
	pay := func(outNo string, amount int64, extra func(r *gateway.PayOrderRequest)) *gateway.PayOrderRequest {
		r := &gateway.PayOrderRequest{OutNo: outNo, PmtTag: "Weixin", OriginalAmount: amount, TradeAmount: amount}
		if extra != nil {
			extra(r)
		}
		return r
	}
	barcode := func(r *gateway.PayOrderRequest) { r.AuthCode = "134567890123456789" }
	mustPay := func(r *gateway.PayOrderRequest) *gateway.PayOrderResult {
		t.Helper()
		res, err := c.PayOrder(ctx, st, r)
		if err != nil {
			t.Fatalf("PayOrder %s: %v", r.OutNo, err)
		}
		return res
	}
	mustPay(pay("PAID", 1000, barcode))
	mustPay(pay("PAID40", 1040, barcode))
	mustPay(pay("AWAIT", 1000, nil))
	if _, err := c.PayRefund(ctx, st, &gateway.RefundRequest{OutNo: "PAID", RefundOutNo: "REF1", RefundAmount: 100}); err != nil {
		t.Fatal(err)
	}
	noPass, err := gateway.NewStore(e.base, testOpenID, testOpenKey, "")
	if err != nil {
		t.Fatal(err)
	}
	refund := func(s *gateway.Store, r gateway.RefundRequest) func() error {
		return func() error { _, err := c.PayRefund(ctx, s, &r); return err }
	}
	order := func(r *gateway.PayOrderRequest) func() error {
		return func() error { _, err := c.PayOrder(ctx, st, r); return err }
	}

	answered := []struct {
		code gateway.Code
		call func() error
		want error
	}{
		{8002, func() error { _, err := c.OrderView(ctx, st, gateway.ByOutNo("NONE")); return err }, gateway.ErrOrderNotFound},
		{8005, order(pay("REF1", 100, nil)), gateway.ErrOrderExists},
		{8007, order(pay("X1", 100, func(r *gateway.PayOrderRequest) { r.PmtTag = "Baifubao" })), gateway.ErrPayMethodDisabled},
		{8007, func() error { return c.MPConfigAdd(ctx, st, gateway.MPConfig{PmtTag: "Alipay", SubAppID: testAppID}) }, gateway.ErrPayMethodDisabled},
		{8011, order(pay("X2", 100, func(r *gateway.PayOrderRequest) { r.AuthCode = "134567890123458011" })), gateway.ErrPaymentFailed},
		{8012, func() error { _, err := c.PayCancel(ctx, st, gateway.ByOutNo("PAID")); return err }, gateway.ErrNotCancellable},
		{8013, func() error { _, err := c.PayCancel(ctx, st, gateway.ByOutNo("AWAIT")); return err }, gateway.ErrCancelFailed},
		{8017, refund(func() *gateway.Store { s, _ := gateway.NewStore(e.base, testOpenID, testOpenKey, "654321"); return s }(), gateway.RefundRequest{OutNo: "PAID", RefundOutNo: "X3", RefundAmount: 1}), gateway.ErrShopPassWrong},
		{8018, refund(st, gateway.RefundRequest{OutNo: "NONE", RefundOutNo: "X4", RefundAmount: 1}), gateway.ErrOriginalNotFound},
		{8019, refund(st, gateway.RefundRequest{OutNo: "AWAIT", RefundOutNo: "X5", RefundAmount: 1}), gateway.ErrNotRefundable},
		{8020, refund(st, gateway.RefundRequest{OutNo: "PAID", RefundOutNo: "REF1", RefundAmount: 1}), gateway.ErrRefundExists},
		{8021, refund(st, gateway.RefundRequest{OutNo: "PAID", RefundOutNo: "X6", RefundAmount: 901}), gateway.ErrRefundExceedsLeft},
		{8022, refund(st, gateway.RefundRequest{OutNo: "PAID40", RefundOutNo: "X7", RefundAmount: 1041}), gateway.ErrRefundExceedsPaid},
		{8040, refund(st, gateway.RefundRequest{OutNo: "PAID40", RefundOutNo: "X8", RefundAmount: 1}), gateway.ErrRefundExceedsTakings},
		{8045, order(pay("AWAIT", 100, nil)), gateway.ErrOutNoExists},
	}
	for _, tc := range answered {
		t.Run(itoa(int64(tc.code))+" answered", func(t *testing.T) {
			err := tc.call()
			var ae *gateway.APIError
			if !errors.As(err, &ae) || ae.Code != tc.code || !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want the sandbox's errcode %d", err, tc.code)
			}
		})
	}

	refusedLocally := []struct {
		code gateway.Code
		call func() error
	}{
		{8001, func() error { _, err := c.PayStatus(ctx, st, gateway.OrderRef{}); return err }},
		{8004, order(pay("X9", 100, func(r *gateway.PayOrderRequest) { r.PmtTag = "" }))},
		{8004, order(pay("X10", 100, func(r *gateway.PayOrderRequest) { r.PmtTag = "Diy" }))},
		{8006, order(pay("X11", 100, func(r *gateway.PayOrderRequest) { r.DiscountAmount = 10 }))},
		{8008, order(pay("X-12", 100, nil))},
		{8008, order(pay("X13", 100, func(r *gateway.PayOrderRequest) { r.NotifyURL = "ftp://x" }))},
		{8014, refund(st, gateway.RefundRequest{RefundOutNo: "X14", RefundAmount: 1})},
		{8015, refund(st, gateway.RefundRequest{OutNo: "PAID", RefundOutNo: "X15"})},
		{8016, refund(noPass, gateway.RefundRequest{OutNo: "PAID", RefundOutNo: "X16", RefundAmount: 1})},
		{8023, refund(st, gateway.RefundRequest{OutNo: "PAID", RefundOutNo: "X-17", RefundAmount: 1})},
		{8044, order(pay("", 100, nil))},
		{8046, func() error { return c.MPConfigAdd(ctx, st, gateway.MPConfig{PmtTag: "Weixin"}) }},
	}
	before := len(e.s.Orders(testOpenID))
	for _, tc := range refusedLocally {
		t.Run(itoa(int64(tc.code))+" refused by the client", func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, gateway.ErrInvalid) {
				t.Fatalf("got %v, want a local ErrInvalid (the sandbox would answer %d)", err, tc.code)
			}
		})
	}
	if after := len(e.s.Orders(testOpenID)); after != before {
		t.Fatalf("locally refused requests created %d orders", after-before)
	}
}

package sandbox

import (
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/gateway"
)

var ordNoShape = regexp.MustCompile(`^9\d{24}$`)

func TestPayOrderValidation(t *testing.T) {
	e := newEnv(t, Config{})
	e.mustCall("payorder", payload("DUP1", "Weixin", 100))
	e.mustCall("payorder", payload("PAIDREF", "Alipay", 100, "auth_code", "284567890123456789"))
	e.mustCall("payrefund", map[string]any{"out_no": "PAIDREF", "refund_out_no": "REFUNDNO1", "refund_amount": 10, "shop_pass": gateway.PasswordSHA1("123456")})
	with := func(p map[string]any, kv ...any) map[string]any {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(p, kv[i].(string))
			} else {
				p[kv[i].(string)] = kv[i+1]
			}
		}
		return p
	}
	p := func(outNo string) map[string]any { return payload(outNo, "Weixin", 100) }
	tests := []struct {
		name string
		req  map[string]any
		code gateway.Code
		msg  string
	}{
		{"no out_no", with(p(""), "out_no", nil), gateway.CodeOutNoEmpty, "out_no不能为空"},
		{"out_no with dash", p("A-1"), gateway.CodeCreateFailed, ""},
		{"out_no too long", p(strings.Repeat("9", 65)), gateway.CodeCreateFailed, ""},
		{"no pmt_tag", with(p("V1"), "pmt_tag", nil), gateway.CodePayMethodEmpty, "付款方式不能为空"},
		{"unknown pmt_tag", with(p("V2"), "pmt_tag", "Baifubao"), gateway.CodePayMethodDisabled, "付款方式未开通"},
		{"Diy without pmt_name", with(p("V3"), "pmt_tag", "Diy"), gateway.CodePayMethodEmpty, ""},
		{"no trade_amount", with(p("V4"), "trade_amount", nil), gateway.CodeAmountWrong, "收款金额有误"},
		{"no original_amount", with(p("V5"), "original_amount", nil), gateway.CodeAmountWrong, ""},
		{"zero amount", with(p("V6"), "trade_amount", 0, "original_amount", 0), gateway.CodeAmountWrong, ""},
		{"negative amount", with(p("V7"), "trade_amount", -5, "original_amount", -5), gateway.CodeAmountWrong, ""},
		{"decimal amount", with(p("V8"), "trade_amount", 1.5, "original_amount", 1.5), gateway.CodeAmountWrong, ""},
		{"amount words", with(p("V9"), "trade_amount", "one", "original_amount", "one"), gateway.CodeAmountWrong, ""},
		{"sum wrong", with(p("V10"), "discount_amount", 10), gateway.CodeAmountWrong, ""},
		{"negative discount", with(p("V11"), "original_amount", 90, "discount_amount", -10), gateway.CodeAmountWrong, ""},
		{"bad notify_url", with(p("V12"), "notify_url", "ftp://x"), gateway.CodeCreateFailed, ""},
		{"bad jump_url", with(p("V13"), "jump_url", "/relative"), gateway.CodeCreateFailed, ""},
		{"ord_name too long", with(p("V14"), "ord_name", strings.Repeat("名", 101)), gateway.CodeCreateFailed, ""},
		{"control characters", with(p("V15"), "remark", "a\x00b"), gateway.CodeCreateFailed, ""},
		{"cash scenario type", with(p("V16"), "pmt_tag", "Cash", "auth_code", "134567890123456789"), gateway.CodeOK, ""},
		{"out_no exists", p("DUP1"), gateway.CodeOutNoExists, "out_no已经存在，请勿重复发起支付"},
		{"out_no is a refund's", p("REFUNDNO1"), gateway.CodeOrderExists, "订单号已经存在，请勿重复提交"},
		{"magic amount 11", with(p("V17"), "trade_amount", 1011, "original_amount", 1011), gateway.CodePaymentFailed, ""},
		{"auth_code letters", with(p("V18"), "auth_code", "abc"), gateway.CodePaymentFailed, ""},
		{"auth_code no funds", with(p("V19"), "auth_code", "134567890123458011"), gateway.CodePaymentFailed, "支付失败，NOTENOUGH:用户余额不足，请用户更换付款卡或充值后再试"},
		{"auth_code expired", with(p("V20"), "auth_code", "134567890123458012"), gateway.CodePaymentFailed, ""},
		{"JSAPI unbound appid", with(p("V21"), "JSAPI", "1", "sub_appid", "wxunbound", "sub_openid", "o1"), gateway.CodePaymentFailed, "支付失败，sub_mch_id与sub_appid不匹配"},
		{"JSAPI without openid", with(p("V22"), "JSAPI", 1, "sub_appid", testAppID), gateway.CodePaymentFailed, ""},
		{"buyer_id on WeChat", with(p("V23"), "JSAPI", 1, "buyer_id", "2088102146225135"), gateway.CodePaymentFailed, ""},
		{"sub_appid on Alipay", with(p("V24"), "pmt_tag", "Alipay", "JSAPI", 1, "sub_appid", testAppID, "sub_openid", "o"), gateway.CodePaymentFailed, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.code == gateway.CodeOK {
				e.in(t).mustCall("payorder", tc.req)
				return
			}
			e.in(t).wantCode("payorder", tc.req, tc.code, tc.msg)
		})
	}
	// Failed requests left no order behind.
	for _, o := range e.s.Orders(testOpenID) {
		if strings.HasPrefix(o.OutNo, "V") && o.OutNo != "V16" {
			t.Errorf("refused payorder %s left an order", o.OutNo)
		}
	}
	// Amounts as strings and 100.0 are accepted, as PHP is.
	e.mustCall("payorder", map[string]any{"out_no": "S1", "pmt_tag": "Weixin", "original_amount": "100", "trade_amount": "100.0"})
}

func TestScenarios(t *testing.T) {
	e := newEnv(t, Config{})

	t.Run("C scans B, WeChat", func(t *testing.T) {
		d := e.mustCall("payorder", payload("QR1", "Weixin", 100))
		if !ordNoShape.MatchString(str(d, "ord_no")) || str(d, "status") != "2" || !strings.HasPrefix(str(d, "trade_qrcode"), "weixin://wxpay/bizpayurl?pr=") {
			t.Fatalf("payorder: %v", d)
		}
		if err := e.s.PayQRCode(bg, str(d, "trade_qrcode")); err != nil {
			t.Fatal(err)
		}
		st := e.mustCall("paystatus", map[string]string{"out_no": "QR1"})
		if str(st, "status") != "1" || str(st, "trade_pay_time") == "" || !strings.HasPrefix(str(st, "trade_no"), "4200") {
			t.Fatalf("after scan: %v", st)
		}
		if err := e.s.PayQRCode(bg, str(d, "trade_qrcode")); !errors.Is(err, ErrNotPayable) {
			t.Fatalf("second scan: %v", err)
		}
		if err := e.s.PayQRCode(bg, "weixin://wxpay/bizpayurl?pr=nothing"); !errors.Is(err, ErrUnknownOrder) {
			t.Fatalf("unknown code: %v", err)
		}
	})
	t.Run("C scans B, Alipay", func(t *testing.T) {
		d := e.mustCall("payorder", payload("QR2", "Alipay", 200))
		if !strings.HasPrefix(str(d, "trade_qrcode"), "https://qr.alipay.com/") {
			t.Fatalf("payorder: %v", d)
		}
		if err := e.s.PayQRCode(bg, str(d, "trade_qrcode")); err != nil {
			t.Fatal(err)
		}
		if st := e.mustCall("order/view", map[string]string{"ord_no": str(d, "ord_no")}); str(st, "status") != "1" || str(st, "trade_amount") != "200" {
			t.Fatalf("order/view: %v", st)
		}
	})
	t.Run("B scans C pays at once", func(t *testing.T) {
		d := e.mustCall("payorder", payload("BC1", "Weixin", 300, "auth_code", "134567890123456789"))
		if str(d, "status") != "1" || str(d, "trade_pay_time") == "" || str(d, "trade_qrcode") != "" {
			t.Fatalf("barcode: %v", d)
		}
	})
	t.Run("jump_url", func(t *testing.T) {
		d := e.mustCall("payorder", payload("J1", "Alipay", 100, "jump_url", "https://merchant.example/back"))
		want := e.ts.URL + "/pay/" + str(d, "ord_no")
		if str(d, "jsapi_pay_url") != want {
			t.Fatalf("jsapi_pay_url %q, want %q", str(d, "jsapi_pay_url"), want)
		}
	})
	t.Run("native WeChat JSAPI", func(t *testing.T) {
		if _, err := e.call("mpconfig/add", map[string]string{"pmt_tag": "Weixin", "sub_appid": testAppID}); err != nil {
			t.Fatal(err)
		}
		d := e.mustCall("payorder", payload("W1", "Weixin", 100, "JSAPI", "1", "sub_appid", testAppID, "sub_openid", "oUser"))
		p := WeChatPayParams{AppID: str(d, "appId"), TimeStamp: str(d, "timeStamp"), NonceStr: str(d, "nonceStr"),
			Package: str(d, "package"), SignType: str(d, "signType"), PaySign: str(d, "paySign")}
		if p.AppID != testAppID || p.SignType != "MD5" || !strings.HasPrefix(p.Package, "prepay_id=wx") || len(p.PaySign) != 32 || str(d, "trade_result") == "" {
			t.Fatalf("JSAPI params: %+v", d)
		}
		if p.PaySign != e.s.WeChatPaySign(p) {
			t.Fatalf("paySign is not WeChat v2 MD5")
		}
		forged := p
		forged.PaySign = strings.Repeat("A", 32)
		if err := e.s.PayWeChatJSAPI(bg, forged, true); !errors.Is(err, ErrBadPaySign) {
			t.Fatalf("forged paySign: %v", err)
		}
		other := p
		other.NonceStr = p.NonceStr + "x"
		if err := e.s.PayWeChatJSAPI(bg, other, true); !errors.Is(err, ErrBadPaySign) {
			t.Fatalf("altered nonce %q (was %q): %v", other.NonceStr, p.NonceStr, err)
		}
		if err := e.s.PayWeChatJSAPI(bg, p, false); err != nil {
			t.Fatal(err)
		}
		if o, _ := e.s.Order(testOpenID, "W1"); o.Status != gateway.StatusAwaiting {
			t.Fatalf("cancel in the bridge changed status to %d", o.Status)
		}
		if err := e.s.PayWeChatJSAPI(bg, p, true); err != nil {
			t.Fatal(err)
		}
		if o, _ := e.s.Order(testOpenID, "W1"); o.Status != gateway.StatusPaid || o.PaidAmount != 100 {
			t.Fatalf("after bridge ok: %+v", o)
		}
		q, err := e.call("mpconfig/query", map[string]string{"pmt_tag": "Weixin"})
		if err != nil || !strings.Contains(string(q), testAppID) {
			t.Fatalf("mpconfig/query: %s %v", q, err)
		}
		e.wantCode("mpconfig/add", map[string]string{"pmt_tag": "Alipay", "sub_appid": "x"}, gateway.CodePayMethodDisabled, "")
		e.wantCode("mpconfig/add", map[string]string{"sub_appid": "x"}, gateway.CodePayMethodEmpty, "")
		e.wantCode("mpconfig/add", map[string]string{"pmt_tag": "Weixin"}, gateway.CodeRejected, "")
	})
	t.Run("mini-program", func(t *testing.T) {
		if err := e.s.BindAppID(testOpenID, "Weixin", "wxmini0000000001"); err != nil {
			t.Fatal(err)
		}
		d := e.mustCall("payorder", payload("M1", "Weixin", 100, "JSAPI", "1", "sub_appid", "wxmini0000000001", "sub_openid", "oMini"))
		if str(d, "appId") != "wxmini0000000001" {
			t.Fatalf("mini-program appId: %v", d)
		}
	})
	t.Run("native Alipay JSAPI", func(t *testing.T) {
		d := e.mustCall("payorder", payload("A1", "Alipay", 100, "JSAPI", "1", "buyer_id", "2088102146225135"))
		tn := str(d, "trade_no")
		if len(tn) != 28 {
			t.Fatalf("trade_no %q", tn)
		}
		if err := e.s.PayAlipayTrade(bg, tn, false); err != nil {
			t.Fatal(err)
		}
		if err := e.s.PayAlipayTrade(bg, tn, true); err != nil {
			t.Fatal(err)
		}
		if o, _ := e.s.Order(testOpenID, "A1"); o.Status != gateway.StatusPaid {
			t.Fatalf("status %d", o.Status)
		}
		if err := e.s.PayAlipayTrade(bg, "2026", true); !errors.Is(err, ErrUnknownOrder) {
			t.Fatalf("unknown trade_no: %v", err)
		}
	})
	t.Run("cash is paid at once", func(t *testing.T) {
		d := e.mustCall("payorder", payload("C1", "Cash", 100))
		if str(d, "status") != "1" {
			t.Fatalf("cash: %v", d)
		}
	})
	t.Run("serial counters", func(t *testing.T) {
		list := e.s.Orders(testOpenID)
		for i, o := range list {
			if o.ShopSerial != int64(i+1) {
				t.Fatalf("order %d has ord_shop_id %d", i, o.ShopSerial)
			}
		}
	})
}

func TestMagicAuthCodes(t *testing.T) {
	e := newEnv(t, Config{PasswordDelay: 15 * time.Second})
	d := e.mustCall("payorder", payload("P1", "Weixin", 100, "auth_code", "134567890123459001"))
	if str(d, "status") != "9" {
		t.Fatalf("password code: status %s", str(d, "status"))
	}
	e.clock.Advance(14 * time.Second)
	if o, _ := e.s.Order(testOpenID, "P1"); o.Status != gateway.StatusPassword {
		t.Fatalf("paid too early: %d", o.Status)
	}
	e.clock.Advance(time.Second)
	if o, _ := e.s.Order(testOpenID, "P1"); o.Status != gateway.StatusPaid {
		t.Fatalf("not paid after the password delay: %d", o.Status)
	}
	d = e.mustCall("payorder", payload("P2", "Alipay", 100, "auth_code", "284567890123459002"))
	e.clock.Advance(time.Hour)
	if st := e.mustCall("paystatus", map[string]string{"ord_no": str(d, "ord_no")}); str(st, "status") != "9" {
		t.Fatalf("password-forever code: %v", st)
	}
}

func TestMagicAmounts(t *testing.T) {
	e := newEnv(t, Config{LatePayDelay: 20 * time.Minute})
	pass := gateway.PasswordSHA1("123456")

	t.Run("paystatus amount differs", func(t *testing.T) {
		e.mustCall("payorder", payload("D1", "Weixin", 1024, "auth_code", "134567890123456789"))
		st := e.mustCall("paystatus", map[string]string{"out_no": "D1"})
		if str(st, "trade_amount") != "1023" {
			t.Fatalf("trade_amount %s, want 1023", str(st, "trade_amount"))
		}
		e.wantCode("payrefund", map[string]any{"out_no": "D1", "refund_out_no": "RD1", "refund_amount": 1024, "shop_pass": pass}, gateway.CodeRefundExceedsPaid, "")
	})
	t.Run("late payer", func(t *testing.T) {
		d := e.mustCall("payorder", payload("L1", "Weixin", 1025))
		if err := e.s.PayQRCode(bg, str(d, "trade_qrcode")); err != nil {
			t.Fatal(err)
		}
		if o, _ := e.s.Order(testOpenID, "L1"); o.Status != gateway.StatusAwaiting {
			t.Fatalf("late payer paid at once")
		}
		e.wantCode("paycancel", map[string]string{"out_no": "L1"}, gateway.CodeCancelFailed, "订单取消失败,错误原因：订单的支付场景不支持该请求")
		e.clock.Advance(20 * time.Minute)
		if o, _ := e.s.Order(testOpenID, "L1"); o.Status != gateway.StatusPaid {
			t.Fatalf("late payer never paid: %d", o.Status)
		}
		b := e.mustCall("payorder", payload("L2", "Weixin", 1025, "auth_code", "134567890123456789"))
		if str(b, "status") != "9" {
			t.Fatalf("late barcode: %v", b)
		}
		e.mustCall("paycancel", map[string]string{"out_no": "L2"})
		e.clock.Advance(20 * time.Minute)
		if o, _ := e.s.Order(testOpenID, "L2"); o.Status != gateway.StatusCanceled {
			t.Fatalf("cancelled barcode got paid: %d", o.Status)
		}
	})
	t.Run("refund fails with 8040", func(t *testing.T) {
		e.mustCall("payorder", payload("R40", "Alipay", 2040, "auth_code", "284567890123456789"))
		e.wantCode("payrefund", map[string]any{"out_no": "R40", "refund_out_no": "RR40", "refund_amount": 1, "shop_pass": pass}, gateway.CodeRefundExceedsTakings, "当前退款金额大于商户今日交易总额")
	})
}

func TestPayCancel(t *testing.T) {
	e := newEnv(t, Config{})
	e.mustCall("payorder", payload("QRC", "Weixin", 100))
	e.mustCall("payorder", payload("JC", "Weixin", 100, "jump_url", "https://m.example/j"))
	e.mustCall("payorder", payload("PAID", "Weixin", 100, "auth_code", "134567890123456789"))
	wait := e.mustCall("payorder", payload("WAIT", "Weixin", 100, "auth_code", "134567890123459002"))

	e.wantCode("paycancel", map[string]string{}, gateway.CodeOrderNoEmpty, "订单号不能为空")
	e.wantCode("paycancel", map[string]string{"out_no": "NOPE"}, gateway.CodeOrderNotFound, "订单不存在")
	e.wantCode("paycancel", map[string]string{"out_no": "QRC"}, gateway.CodeCancelFailed, "订单取消失败,错误原因：订单的支付场景不支持该请求")
	e.wantCode("paycancel", map[string]string{"out_no": "JC"}, gateway.CodeCancelFailed, "订单取消失败,错误原因：订单的支付场景不支持该请求")
	e.wantCode("paycancel", map[string]string{"out_no": "PAID"}, gateway.CodeNotCancellable, "当前订单不能取消，如果已经付款，请使用退款功能")
	d := e.mustCall("paycancel", map[string]string{"ord_no": str(wait, "ord_no")})
	if str(d, "ord_no") != str(wait, "ord_no") || str(d, "ord_stautus") != "4" {
		t.Fatalf("paycancel: %v", d)
	}
	e.wantCode("paycancel", map[string]string{"out_no": "WAIT"}, gateway.CodeNotCancellable, "")
	// A cancelled order can no longer be paid.
	if err := e.s.PayOrderNo(bg, str(wait, "ord_no")); !errors.Is(err, ErrNotPayable) {
		t.Fatalf("paying a cancelled order: %v", err)
	}
	// A QR order the merchant gave up on can still be paid.
	o, _ := e.s.Order(testOpenID, "QRC")
	if err := e.s.PayQRCode(bg, o.TradeQRCode); err != nil {
		t.Fatal(err)
	}
}

func TestPayRefund(t *testing.T) {
	e := newEnv(t, Config{})
	pass := gateway.PasswordSHA1("123456")
	paid := e.mustCall("payorder", payload("O1", "Weixin", 1000, "auth_code", "134567890123456789"))
	e.mustCall("payorder", payload("UNPAID", "Weixin", 1000))
	r := func(kv ...any) map[string]any {
		m := map[string]any{"out_no": "O1", "refund_out_no": "R1", "refund_amount": 300, "shop_pass": pass}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	tests := []struct {
		name string
		req  map[string]any
		code gateway.Code
	}{
		{"no original", r("out_no", nil), gateway.CodeOriginalOrderEmpty},
		{"no refund_out_no", r("refund_out_no", nil), gateway.CodeOutNoEmpty},
		{"no amount", r("refund_amount", nil), gateway.CodeRefundAmountEmpty},
		{"decimal amount", r("refund_amount", 1.5), gateway.CodeAmountWrong},
		{"no shop_pass", r("shop_pass", nil), gateway.CodeShopPassEmpty},
		{"plain shop_pass", r("shop_pass", "123456"), gateway.CodeShopPassWrong},
		{"wrong shop_pass", r("shop_pass", gateway.PasswordSHA1("654321")), gateway.CodeShopPassWrong},
		// Doc 1: hashed values are lowercase; an uppercase sha1 is wrong.
		{"uppercase sha1 shop_pass", r("shop_pass", strings.ToUpper(pass)), gateway.CodeShopPassWrong},
		{"refund_out_no with a dash", r("refund_out_no", "R-1"), gateway.CodeRefundFailed},
		{"refund_out_no too long", r("refund_out_no", strings.Repeat("R", 65)), gateway.CodeRefundFailed},
		{"refund_ord_name too long", r("refund_ord_name", strings.Repeat("退", 51)), gateway.CodeRefundFailed},
		{"remark with control characters", r("remark", "a\x00b"), gateway.CodeRefundFailed},
		{"unknown original", r("out_no", "NOPE"), gateway.CodeOriginalNotFound},
		{"unpaid original", r("out_no", "UNPAID"), gateway.CodeNotRefundable},
		{"more than paid", r("refund_amount", 1001), gateway.CodeRefundExceedsPaid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := tc.code.Message()
			switch tc.code {
			case gateway.CodeOutNoEmpty:
				msg = "refund_out_no不能为空"
			case gateway.CodeRefundFailed:
				msg = "" // 退款失败 and the reason
			}
			e.in(t).wantCode("payrefund", tc.req, tc.code, msg)
		})
	}
	d := e.mustCall("payrefund", r())
	if !ordNoShape.MatchString(str(d, "ord_no")) || str(d, "original_ord_no") != str(paid, "ord_no") || str(d, "trade_amount") != "300" || str(d, "status") != "1" {
		t.Fatalf("refund: %v", d)
	}
	e.wantCode("payrefund", r(), gateway.CodeRefundExists, "退款单号已经存在，请勿重复提交")
	e.wantCode("payrefund", r("refund_out_no", "O1"), gateway.CodeRefundExists, "")
	e.wantCode("payrefund", r("refund_out_no", "R2", "refund_amount", 701), gateway.CodeRefundExceedsLeft, "退款金额大于支付金额，当前订单有其它退款记录")
	e.mustCall("payrefund", r("refund_out_no", "R3", "ord_no", str(paid, "ord_no"), "out_no", nil, "refund_amount", "700"))
	e.wantCode("payrefund", r("refund_out_no", "R4", "refund_amount", 1), gateway.CodeRefundExceedsLeft, "")
	// A refund is an order of its own, ord_type 2; the original stays paid.
	st := e.mustCall("paystatus", map[string]string{"out_no": "R1"})
	if str(st, "ord_type") != "2" || str(st, "status") != "1" || str(st, "original_ord_no") != str(paid, "ord_no") {
		t.Fatalf("refund paystatus: %v", st)
	}
	if st := e.mustCall("paystatus", map[string]string{"out_no": "O1"}); str(st, "status") != "1" {
		t.Fatalf("original changed: %v", st)
	}
	e.wantCode("payrefund", r("out_no", "R1", "refund_out_no", "R5", "refund_amount", 1), gateway.CodeNotRefundable, "")
	// A store with its own password.
	if err := e.s.AddStore(Store{OpenID: otherOpenID, OpenKey: otherKey, ShopPass: "s3cret"}); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentPayOrdersSameOutNo(t *testing.T) {
	e := newEnv(t, Config{})
	const n = 40
	var wg sync.WaitGroup
	results := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.call("payorder", payload("SAME1", "Weixin", 100))
			results <- err
		}()
	}
	wg.Wait()
	close(results)
	ok, dup := 0, 0
	for err := range results {
		switch {
		case err == nil:
			ok++
		case isCode(err, gateway.CodeOutNoExists):
			dup++
		default:
			t.Errorf("unexpected: %v", err)
		}
	}
	if ok != 1 || dup != n-1 {
		t.Fatalf("%d created, %d refused as duplicates; want 1 and %d", ok, dup, n-1)
	}
	if got := len(e.s.Orders(testOpenID)); got != 1 {
		t.Fatalf("%d orders stored", got)
	}
}

func TestConcurrentRefundsNeverExceedPaid(t *testing.T) {
	e := newEnv(t, Config{})
	e.mustCall("payorder", payload("BIG", "Alipay", 1000, "auth_code", "284567890123456789"))
	pass := gateway.PasswordSHA1("123456")
	const n = 50 // 50 refunds of 30 fen against 1000 fen: at most 33 fit
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.call("payrefund", map[string]any{"out_no": "BIG", "refund_out_no": "CR" + itoa(int64(i)), "refund_amount": 30, "shop_pass": pass})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case isCode(err, gateway.CodeRefundExceedsLeft):
		default:
			t.Errorf("unexpected: %v", err)
		}
	}
	o, _ := e.s.Order(testOpenID, "BIG")
	if ok != 33 || o.Refunded != 990 {
		t.Fatalf("%d refunds accepted, %d fen refunded; want 33 and 990", ok, o.Refunded)
	}
	var sum int64
	for _, r := range e.s.Orders(testOpenID) {
		if r.OrdType == gateway.OrderRefund {
			sum += r.TradeAmount
		}
	}
	if sum != 990 {
		t.Fatalf("refund orders sum to %d", sum)
	}
}

func TestOrderList(t *testing.T) {
	e := newEnv(t, Config{})
	pass := gateway.PasswordSHA1("123456")
	old := e.mustCall("payorder", payload("OLD1", "Weixin", 100))
	e.clock.Advance(91 * 24 * time.Hour)
	for i := range 25 {
		tag := "Weixin"
		if i%2 == 1 {
			tag = "Alipay"
		}
		e.mustCall("payorder", payload("N"+itoa(int64(i)), tag, 1000+100*int64(i)))
		e.clock.Advance(time.Minute)
	}
	paid := e.mustCall("payorder", payload("PAIDL", "Alipay", 500, "auth_code", "284567890123456789"))
	e.mustCall("payrefund", map[string]any{"out_no": "PAIDL", "refund_out_no": "RL1", "refund_amount": 100, "shop_pass": pass})

	type pages struct {
		total, pages, size, page int
	}
	list := func(t *testing.T, q map[string]any) (pages, []map[string]any) {
		t.Helper()
		d := e.in(t).mustCall("order", q)
		pg := d["pages"].(map[string]any)
		var out []map[string]any
		for _, it := range d["list"].([]any) {
			out = append(out, it.(map[string]any))
		}
		atoi := func(k string) int {
			var n int
			for _, c := range str(pg, k) {
				n = n*10 + int(c-'0')
			}
			return n
		}
		return pages{atoi("totalnum"), atoi("totalpage"), atoi("pagesize"), atoi("page")}, out
	}
	tests := []struct {
		name  string
		q     map[string]any
		want  pages
		first string // out_no of the first item
	}{
		{"default: last 90 days, 10 a page, newest first", map[string]any{}, pages{27, 3, 10, 1}, "RL1"},
		{"page 3", map[string]any{"page": 3}, pages{27, 3, 10, 3}, "N6"},
		{"page past the end", map[string]any{"page": 9}, pages{27, 3, 10, 9}, ""},
		{"pagesize capped at 100", map[string]any{"pagesize": 500}, pages{27, 1, 100, 1}, "RL1"},
		{"by out_no", map[string]any{"out_no": "N3"}, pages{1, 1, 10, 1}, "N3"},
		{"by ord_no", map[string]any{"ord_no": str(paid, "ord_no")}, pages{1, 1, 10, 1}, "PAIDL"},
		{"by trade_no", map[string]any{"trade_no": str(paid, "trade_no")}, pages{2, 1, 10, 1}, "RL1"},
		{"by pmt_tag", map[string]any{"pmt_tag": "Weixin", "pagesize": "5"}, pages{13, 3, 5, 1}, "N24"},
		{"refunds", map[string]any{"ord_type": 2}, pages{1, 1, 10, 1}, "RL1"},
		{"paid", map[string]any{"status": "1", "ord_type": "1"}, pages{1, 1, 10, 1}, "PAIDL"},
		{"old range", map[string]any{"sdate": "2026-11-25", "edate": gateway.FormatTime(t0.Add(time.Hour))}, pages{1, 1, 10, 1}, "OLD1"},
		{"sdate only", map[string]any{"sdate": gateway.FormatTime(t0.Add(-time.Hour))}, pages{28, 3, 10, 1}, "RL1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pg, items := list(t, tc.q)
			if pg != tc.want {
				t.Fatalf("pages %+v, want %+v", pg, tc.want)
			}
			first := ""
			if len(items) > 0 {
				first = str(items[0], "out_no")
			}
			if first != tc.first {
				t.Fatalf("first %q, want %q", first, tc.first)
			}
		})
	}
	_ = old
	e.wantCode("order/view", map[string]string{}, gateway.CodeOrderNoEmpty, "")
	e.wantCode("order/view", map[string]string{"ord_no": "9000"}, gateway.CodeOrderNotFound, "")
	v := e.mustCall("order/view", map[string]string{"ord_no": str(old, "ord_no")})
	for _, k := range []string{"pmt_tag", "pmt_name", "ord_mct_id", "ord_shop_id", "ord_no", "ord_type", "original_amount", "discount_amount", "ignore_amount", "trade_amount", "status", "trade_result", "out_no", "add_time"} {
		if _, ok := v[k]; !ok {
			t.Errorf("order/view lacks %s", k)
		}
	}
}

package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
)

// TestPayAfterCancel: the payer closes WeChat's sheet, comes back and pays:
// the same order is handed out again and pays once.
func TestPayAfterCancel(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 880)
	b := e.browser(uaWeChatIOS, "hesitant")
	_, _, csrf := b.openPage(ck.ID)
	payOnce := func() pgPayAnswer {
		t.Helper()
		pr := b.pay(ck.ID, csrf, map[string]string{"wallet": "wechat", "scenario": "jsapi"})
		var ans pgPayAnswer
		decodeJSON(t, pr.body, &ans)
		if pr.status != 200 || ans.WeChat == nil {
			t.Fatalf("pay: %d %s", pr.status, pr.body)
		}
		return ans
	}
	first := payOnce()
	w := first.WeChat
	p := sandbox.WeChatPayParams{AppID: w.AppID, TimeStamp: w.TimeStamp, NonceStr: w.NonceStr, Package: w.Package, SignType: w.SignType, PaySign: w.PaySign}
	if err := e.sb.PayWeChatJSAPI(context.Background(), p, false); err != nil {
		t.Fatal(err)
	}
	second := payOnce()
	if *second.WeChat != *first.WeChat {
		t.Fatalf("a still-valid order was not reused: %+v vs %+v", second.WeChat, first.WeChat)
	}
	if err := e.sb.PayWeChatJSAPI(context.Background(), p, true); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, e, ck.ID, checkout.StatusPaid)
	if n := len(e.gw.orders()); n != 1 {
		t.Fatalf("%d payorders", n)
	}
}

// TestPayOutcomeUnknown: a payorder that times out tells the payer to wait,
// marks the attempt unknown for the reconciler, and a later "Pay" starts a
// new attempt instead of resending the uncertain one.
func TestPayOutcomeUnknown(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 560)
	b := e.browser(uaDesktop, "unlucky")
	_, _, csrf := b.openPage(ck.ID)
	e.gw.mu.Lock()
	e.gw.fail = func(r *gateway.PayOrderRequest) error {
		return &gateway.UnknownOutcomeError{Endpoint: "payorder", OutNo: r.OutNo, Err: context.DeadlineExceeded}
	}
	e.gw.mu.Unlock()
	pr := b.do(false, "POST", "/c/"+ck.ID+"/pay", []byte(`{"wallet":"wechat","scenario":"qr"}`),
		map[string]string{"X-CSRF-Token": csrf, "Accept-Language": "en"})
	if pr.status != http.StatusServiceUnavailable || !strings.Contains(pr.body, `"code":"payment_unknown"`) ||
		!strings.Contains(pr.body, "do not pay again") || pr.header.Get("Retry-After") == "" {
		t.Fatalf("unknown outcome: %d %s", pr.status, pr.body)
	}
	atts, err := e.repo.Attempts(context.Background(), ck.ID)
	if err != nil || len(atts) != 1 || atts[0].Status != checkout.AttemptUnknown {
		t.Fatalf("attempts %+v %v", atts, err)
	}
	e.gw.mu.Lock()
	e.gw.fail = nil
	e.gw.mu.Unlock()
	pr = b.pay(ck.ID, csrf, map[string]string{"wallet": "wechat", "scenario": "qr"})
	if pr.status != 200 || !strings.Contains(pr.body, "/qr/2.svg") {
		t.Fatalf("next pay: %d %s", pr.status, pr.body)
	}
}

// TestPayDeclinedReason: an 8011 reaches the payer with the acquirer's
// reason, in the payer's language around it.
func TestPayDeclinedReason(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 100+sandbox.MagicAmountPayFails)
	b := e.browser(uaDesktop, "declined")
	_, _, csrf := b.openPage(ck.ID)
	pr := b.pay(ck.ID, csrf, map[string]string{"wallet": "alipay", "scenario": "qr"})
	var ans pgPayAnswer
	decodeJSON(t, pr.body, &ans)
	if pr.status != http.StatusPaymentRequired || ans.Error == nil || ans.Error.Code != "payment_declined" ||
		!strings.Contains(ans.Error.Message, "支付渠道拒绝") || !strings.Contains(ans.Error.Message, "(") {
		t.Fatalf("declined: %d %s", pr.status, pr.body)
	}
}

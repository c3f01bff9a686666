package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	_ "image/png" // screenshots of QR codes
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	qr "github.com/piglig/go-qr"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// assertPaidOnce checks the money side after a payer paid: the checkout is
// paid, exactly one order at the gateway is paid, and the merchant got
// exactly one checkout.paid event.
func assertPaidOnce(t *testing.T, s *stack, store, id string) {
	t.Helper()
	if c := s.checkout(id); c.Status != checkout.StatusPaid {
		t.Errorf("checkout %s is %s, want paid", id, c.Status)
	}
	if n := s.paidOrders(store, id); n != 1 {
		t.Errorf("%d paid orders at the gateway, want 1", n)
	}
	// The event is emitted right after the transition; give it a moment.
	deadline := time.Now().Add(3 * time.Second)
	for s.eventCount(id, webhook.TypePaid) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := s.eventCount(id, webhook.TypePaid); n != 1 {
		t.Errorf("%d checkout.paid events, want 1", n)
	}
}

// assertNotPaid checks that nothing moved money.
func assertNotPaid(t *testing.T, s *stack, store, id string) {
	t.Helper()
	if c := s.checkout(id); c.Status == checkout.StatusPaid || c.PaidAttempt != 0 {
		t.Errorf("checkout %s is %s (paid attempt %d), want unpaid", id, c.Status, c.PaidAttempt)
	}
	if n := s.paidOrders(store, id); n != 0 {
		t.Errorf("%d paid orders at the gateway, want 0", n)
	}
	if n := s.eventCount(id, webhook.TypePaid); n != 0 {
		t.Errorf("%d checkout.paid events, want 0", n)
	}
}

// assertCheckoutPage checks what the payer must see before paying.
func assertCheckoutPage(t *testing.T, tb *tab, amount, action string, description ...string) {
	t.Helper()
	if got := tb.text("[data-testid=amount]"); got != amount {
		t.Errorf("amount shows %q, want %q", got, amount)
	}
	if got := tb.text("[data-testid=merchant-name]"); got != "沙箱咖啡" {
		t.Errorf("merchant shows %q", got)
	}
	wantDesc := "拿铁 ×2"
	if len(description) > 0 {
		wantDesc = description[0]
	}
	if got := tb.text("[data-testid=description]"); got != wantDesc {
		t.Errorf("description shows %q", got)
	}
	if a := eval[string](tb, `document.getElementById("app").dataset.action`); a != action {
		t.Errorf("page action %q, want %q", a, action)
	}
	assertFits(t, tb)
	if !matches(`^\d+:\d\d$`, tb.text("[data-testid=countdown]")) {
		t.Errorf("countdown shows %q", tb.text("[data-testid=countdown]"))
	}
}

// assertFits checks the page needs no sideways scrolling and its pay
// button (when there is one) is on the first screen.
func assertFits(t *testing.T, tb *tab) {
	t.Helper()
	if w := eval[int](tb, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
		t.Errorf("the page is %d px wider than the screen", w)
	}
	if !eval[bool](tb, `(function(){var b=document.querySelector("[data-testid=pay-button]");return !b || b.getBoundingClientRect().bottom <= window.innerHeight})()`) {
		t.Error("the pay button is below the first screen")
	}
}

// assertResultPaid checks the result page's paid state and its way back to
// the merchant.
func assertResultPaid(t *testing.T, tb *tab, s *stack, id, amount string) {
	t.Helper()
	assertFits(t, tb)
	if got := tb.text("[data-testid=result-paid] [data-testid=amount]"); got != amount {
		t.Errorf("paid amount shows %q, want %q", got, amount)
	}
	href := eval[string](tb, `document.querySelector("[data-testid=success-button]").href`)
	if want := s.url + strings.ReplaceAll(successURL, "{CHECKOUT_ID}", id); href != want {
		t.Errorf("success button goes to %q, want %q", href, want)
	}
	if strings.Contains(href, "status") || strings.Contains(href, "paid") {
		t.Errorf("success URL carries a status: %q", href)
	}
}

// TestWeChatNative is scenario 1: inside WeChat, native mode. The page
// gets the payer's openid through OAuth, the bridge stand-in pays at the
// sandbox, and the result page turns paid when the (delayed) async notify
// lands, without a reload.
func TestWeChatNative(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{notifyDelay: 2 * time.Second})
	// An amount ending in 21 fen: the sandbox delays the first notify, so
	// the payer sees the result page wait, then turn.
	id, u := s.createCheckout(map[string]any{"amount": 3621, "store": storeNative})
	tb := newTab(t, s, wechatPhone, wechatBridge("ok"))

	tb.open(u, "[data-testid=pay-button]")
	// WeChat keeps the authorize URL's #wechat_redirect through the redirects.
	if loc, _, _ := strings.Cut(tb.location(), "#"); loc != s.url+"/c/"+id {
		t.Errorf("after OAuth the page is %s", loc)
	}
	assertCheckoutPage(t, tb, "¥36.21", "wechat_jsapi")
	tb.screenshot("checkout")

	tb.click("[data-testid=pay-button]")
	tb.visible("[data-testid=result-pending]")
	tb.screenshot("result-pending")
	if c := s.checkout(id); c.Status == checkout.StatusPaid {
		t.Log("note: the checkout was already paid when the result page showed pending")
	}
	tb.exec(`window.__e2eSamePage = true`)

	tb.visible("[data-testid=result-paid]")
	if !eval[bool](tb, `window.__e2eSamePage === true`) {
		t.Error("the result page reloaded to show paid")
	}
	tb.screenshot("result-paid")
	assertResultPaid(t, tb, s, id, "¥36.21")
	assertPaidOnce(t, s, storeNative, id)
	sheets := eval[string](tb, `sessionStorage.getItem("e2e_wx_sheets")`)
	if sheets != "1" {
		t.Errorf("the payment sheet was shown %s times, want 1", sheets)
	}

	// Back to the merchant: the success URL, with the id, never a status.
	tb.click("[data-testid=success-button]")
	tb.visible("[data-testid=merchant-page]")
	if got := tb.text("[data-testid=merchant-query]"); got != id {
		t.Errorf("merchant got checkout %q, want %q", got, id)
	}

	// Opening the link again shows it paid and offers nothing to pay.
	tb.open(u, "[data-testid=state-paid]")
	if tb.isVisible("[data-testid=pay-button]") {
		t.Error("a paid checkout offers a pay button")
	}
	tb.screenshot("checkout-already-paid")
	assertPaidOnce(t, s, storeNative, id)
}

// TestWeChatCancelThenPay is scenario 2: the payer closes the payment sheet,
// is back on the page with the button enabled, then pays.
func TestWeChatCancelThenPay(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})
	id, u := s.createCheckout(map[string]any{"amount": 1288, "store": storeNative,
		"description": "年度会员 · 含 12 个月高级功能与专属客服，自动续费可随时取消"})
	small := wechatPhone
	small.width, small.height = 360, 640 // a small phone
	tb := newTab(t, s, small, wechatBridge("cancel", "ok"))

	tb.open(u, "[data-testid=pay-button]")
	assertCheckoutPage(t, tb, "¥12.88", "wechat_jsapi", "年度会员 · 含 12 个月高级功能与专属客服，自动续费可随时取消")
	tb.screenshot("checkout-360x640")
	tb.click("[data-testid=pay-button]")
	tb.waitFor("the cancel message", `document.querySelector("[data-testid=message]").textContent.indexOf("取消") >= 0`)
	if eval[bool](tb, `document.querySelector("[data-testid=pay-button]").disabled`) {
		t.Error("the pay button stays disabled after a cancel")
	}
	if loc, _, _ := strings.Cut(tb.location(), "#"); loc != s.url+"/c/"+id {
		t.Errorf("after cancelling the page is %s", loc)
	}
	tb.screenshot("cancelled-can-retry")
	assertNotPaid(t, s, storeNative, id)

	tb.click("[data-testid=pay-button]")
	tb.visible("[data-testid=result-paid]")
	tb.screenshot("result-paid")
	assertResultPaid(t, tb, s, id, "¥12.88")
	assertPaidOnce(t, s, storeNative, id)
	sheets := eval[string](tb, `sessionStorage.getItem("e2e_wx_sheets")`)
	if sheets != "2" {
		t.Errorf("the payment sheet was shown %s times, want 2", sheets)
	}
}

// TestAlipayNative is scenario 3: inside Alipay, native mode: auth_base,
// the RSA2-signed token call at the emulator, tradePay through the
// AlipayJSBridge stand-in.
func TestAlipayNative(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})
	id, u := s.createCheckout(map[string]any{"amount": 990, "store": storeNative})
	tb := newTab(t, s, alipayPhone, alipayBridge("cancel", "ok"))

	tb.open(u, "[data-testid=pay-button]")
	assertCheckoutPage(t, tb, "¥9.90", "alipay_jsapi")
	tb.screenshot("checkout")

	// 6001: back on the page, able to pay again.
	tb.click("[data-testid=pay-button]")
	tb.waitFor("the cancel message", `document.querySelector("[data-testid=message]").textContent.indexOf("取消") >= 0`)
	tb.screenshot("cancelled-can-retry")
	assertNotPaid(t, s, storeNative, id)

	tb.click("[data-testid=pay-button]")
	tb.visible("[data-testid=result-paid]")
	tb.screenshot("result-paid")
	assertResultPaid(t, tb, s, id, "¥9.90")
	assertPaidOnce(t, s, storeNative, id)
}

// TestRedirectMode is scenario 4: WeChat and Alipay in redirect mode, through
// the sandbox's hosted pay page and back through /c/:id/return.
func TestRedirectMode(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})
	for _, w := range []struct {
		name   string
		dev    device
		action string
	}{
		{"wechat", wechatPhone, "wechat_redirect"},
		{"alipay", alipayPhone, "alipay_redirect"},
	} {
		t.Run(w.name, func(t *testing.T) {
			id, u := s.createCheckout(map[string]any{"amount": 2050, "store": storeRedirect})
			tb := newTab(t, s, w.dev)
			tb.open(u, "[data-testid=pay-button]")
			assertCheckoutPage(t, tb, "¥20.50", w.action)
			tb.screenshot("checkout")

			tb.click("[data-testid=pay-button]")
			tb.visible("[data-testid=sandbox-pay]")
			if loc := tb.location(); !strings.HasPrefix(loc, s.url+"/sandbox/pay/") {
				t.Errorf("the cashier is at %s", loc)
			}
			tb.screenshot("gateway-cashier")
			assertNotPaid(t, s, storeRedirect, id)

			tb.click("[data-testid=sandbox-pay]")
			tb.visible("[data-testid=result-paid]")
			// The cashier said paid: the wallet's OK (no bare "pay again").
			if loc := tb.location(); loc != s.url+"/c/"+id+"/result?wallet=ok" {
				t.Errorf("after the jump back the page is %s", loc)
			}
			if !tb.sawRequest("/c/" + id + "/return?") {
				t.Error("the cashier did not come back through /return")
			}
			tb.screenshot("result-paid")
			assertResultPaid(t, tb, s, id, "¥20.50")
			assertPaidOnce(t, s, storeRedirect, id)

			// Back twice, past the cashier, to the checkout page as it was
			// before paying: it must not offer to pay again.
			// Deferred, so the evaluation returns before the navigation
			// starts (else Chromium may report the target navigated away).
			tb.exec(`setTimeout(function(){history.go(-2)}, 0)`)
			tb.waitFor("back on the checkout page", `location.pathname === "/c/`+id+`" || location.pathname === "/c/`+id+`/result"`)
			tb.waitFor("the page knows it is paid", `!!document.querySelector("[data-testid=state-paid], [data-view=paid]")`)
			if tb.isVisible("[data-testid=pay-button]") {
				t.Error("the back button shows a pay button for a paid checkout")
			}
			tb.screenshot("back-after-paying")
			assertPaidOnce(t, s, storeRedirect, id)
		})
	}
}

// sawRequest reports whether the tab requested a URL containing part.
func (tb *tab) sawRequest(part string) bool {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, r := range tb.requests {
		if strings.Contains(r, part) {
			return true
		}
	}
	return false
}

// requestWith returns the last request URL containing part.
func (tb *tab) requestWith(part string) string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for i := len(tb.requests) - 1; i >= 0; i-- {
		if strings.Contains(tb.requests[i], part) {
			return tb.requests[i]
		}
	}
	return ""
}

// TestDesktopQR is scenario 5: a desktop browser gets QR codes, the payer
// scans one with a phone (the sandbox's scan action, fed with what the QR
// code on the screen decodes to), and the page follows live.
func TestDesktopQR(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})
	id, u := s.createCheckout(map[string]any{"amount": 4500, "store": storeNative})
	tb := newTab(t, s, desktop)

	tb.open(u, "[data-testid=qr-image-wechat]")
	assertCheckoutPage(t, tb, "¥45.00", "qr")
	if !tb.isVisible("[data-testid=phone-hint]") {
		t.Error("no hint to open the link on a phone")
	}
	tb.screenshot("qr-wechat")

	tb.click("[data-testid=qr-tab-alipay]")
	tb.visible("[data-testid=qr-image-alipay]")
	if tb.isVisible("[data-testid=qr-image-wechat]") {
		t.Error("both QR codes shown at once")
	}
	tb.screenshot("qr-alipay")

	// The payer's phone reads the code off the screen.
	png := get(tb, "capture the QR code", chromedp.Screenshot(chromedp.CSS("[data-testid=qr-image-alipay]")))
	img, _, err := image.Decode(bytes.NewReader(png))
	if err != nil {
		t.Fatalf("QR screenshot: %v", err)
	}
	code, err := qr.Decode(img)
	if err != nil {
		t.Fatalf("the QR code on the page does not decode: %v", err)
	}
	var want string
	for _, o := range s.orders(storeNative, id) {
		if o.TradeQRCode != "" && strings.Contains(strings.ToLower(o.PmtTag), "ali") {
			want = o.TradeQRCode
		}
	}
	if code != want {
		t.Errorf("the page's Alipay QR code says %q, the gateway's order %q", code, want)
	}
	tb.exec(`window.__e2eSamePage = true`)

	scan(t, s, code)
	tb.waitFor("the page follows to the result", `location.pathname.endsWith("/result") && !!document.querySelector("[data-view=paid]")`)
	tb.visible("[data-testid=result-paid]")
	tb.screenshot("result-paid")
	assertResultPaid(t, tb, s, id, "¥45.00")
	assertPaidOnce(t, s, storeNative, id)
}

// scan is the payer's phone paying a C-scans-B code at the sandbox.
func scan(t *testing.T, s *stack, code string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"qrcode": code})
	res, err := http.Post(s.url+"/sandbox/payer/qrcode", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("scan and pay: %s", res.Status)
	}
}

// TestTamperedJumpCallback is scenario 6: the payer cancels at the cashier,
// and a tampered copy of the signed jump-back query claims "paid". The page
// says the result could not be verified, and nothing changes.
func TestTamperedJumpCallback(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})
	id, u := s.createCheckout(map[string]any{"amount": 1500, "store": storeRedirect})
	tb := newTab(t, s, wechatPhone)
	tb.allow(`status of 400`)

	tb.open(u, "[data-testid=pay-button]")
	tb.click("[data-testid=pay-button]")
	tb.click("[data-testid=sandbox-cancel]")
	tb.visible("[data-testid=result-page]")
	genuine := tb.requestWith("/c/" + id + "/return?")
	if genuine == "" {
		t.Fatal("the cashier did not come back through /return")
	}
	tb.screenshot("result-after-cancel")
	before := s.checkout(id)

	gu, _ := url.Parse(genuine)
	q := gu.Query()
	tampered := []struct {
		name string
		edit func(q url.Values)
	}{
		{"status says paid", func(q url.Values) { q.Set("status", fmt.Sprint(int(gateway.StatusPaid))) }},
		{"signature dropped", func(q url.Values) { q.Del("sign") }},
		{"signature of garbage", func(q url.Values) { q.Set("sign", strings.Repeat("0", 32)) }},
		{"another order", func(q url.Values) { q.Set("ord_no", "9"+q.Get("ord_no")) }},
	}
	for i, tt := range tampered {
		t2 := url.Values{}
		for k, v := range q {
			t2[k] = append([]string(nil), v...)
		}
		tt.edit(t2)
		bad := *gu
		bad.RawQuery = t2.Encode()
		tb.open(bad.String(), "[data-testid=error-page]")
		if status := eval[string](tb, `document.querySelector("[data-testid=error-page]").dataset.status`); status != "400" {
			t.Errorf("%s: error status %s, want 400", tt.name, status)
		}
		if tb.isVisible("[data-testid=result-paid]") {
			t.Errorf("%s: shows paid", tt.name)
		}
		if i == 0 {
			tb.screenshot("tampered-callback")
		}
	}
	after := s.checkout(id)
	if after.Status != before.Status || after.UpdatedAt != before.UpdatedAt || after.Attempts != before.Attempts {
		t.Errorf("a tampered callback changed the checkout: %s/%d → %s/%d", before.Status, before.Attempts, after.Status, after.Attempts)
	}
	assertNotPaid(t, s, storeRedirect, id)
}

// TestExpired is scenario 7: the countdown runs out with the desktop page
// open, the page follows the server to the expired result, and the link
// then offers nothing to pay.
func TestExpired(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})
	id, u := s.createCheckout(map[string]any{"amount": 800, "store": storeNative, "expires_in": 60})
	// The service's clock jumps to ten seconds before the expiry: enough
	// for a loaded machine to open the page before it expires (with four,
	// the page was seen already expired at a load average of 20).
	s.clock.Advance(50 * time.Second)
	tb := newTab(t, s, desktop)
	tb.open(u, "[data-testid=countdown]")
	// The countdown is the server's remaining time when the handlers pass
	// their clock (CheckoutView.Now); with the wall clock it shows 0:5x.
	if cd := tb.text("[data-testid=countdown]"); !strings.HasPrefix(cd, "0:0") {
		t.Logf("countdown starts at %q: the page was rendered with the wall clock, not the service's", cd)
	}
	tb.screenshot("about-to-expire")
	tb.waitFor("the page follows the expiry", `location.pathname.endsWith("/result") && !!document.querySelector("[data-view=expired]")`)
	tb.visible("[data-testid=result-expired]")
	tb.screenshot("result-expired")
	// The page shows expired from the service's clock; the store says so
	// once the page's check or the reconciler (every 250 ms) has moved it,
	// which a loaded machine may not have done yet.
	waitStatus(t, s, id, checkout.StatusExpired)

	tb.open(u, "[data-testid=state-expired]")
	if tb.isVisible("[data-testid=pay-button]") || tb.isVisible("[data-testid=qr-wechat]") {
		t.Error("an expired checkout offers a way to pay")
	}
	tb.screenshot("checkout-expired")

	// A pay request from the page (an old tab) is refused and starts nothing.
	orders := len(s.orders(storeNative, id))
	tb.allow(`status of 4`)
	status := eval[int](tb, `(async function(){
		var app = document.getElementById("app");
		var r = await fetch("/c/`+id+`/pay", {method: "POST", headers: {"Content-Type": "application/json", "X-CSRF-Token": app.dataset.csrf},
			body: JSON.stringify({wallet: "wechat", scenario: "qr"})});
		return r.status;
	})()`)
	if status < 400 || status >= 500 {
		t.Errorf("pay after expiry answered %d, want a 4xx refusal", status)
	}
	if n := len(s.orders(storeNative, id)); n != orders {
		t.Errorf("pay after expiry created %d gateway orders", n-orders)
	}
	assertNotPaid(t, s, storeNative, id)
}

// TestGuidance opens the checkout where it cannot pay by itself and checks
// the guidance: a phone browser, an Alipay-only checkout inside WeChat, a
// mini-program web-view (hand-off) and a WeChat Moments snapshot page.
func TestGuidance(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})

	t.Run("phone browser", func(t *testing.T) {
		_, u := s.createCheckout(map[string]any{"store": storeNative})
		tb := newTab(t, s, phone)
		tb.open(u, "[data-testid=guide-open-in-wallet]")
		if got := tb.value("[data-testid=page-url]"); got != u {
			t.Errorf("link to copy %q, want %q", got, u)
		}
		// Under the hint, the QR codes, folded: another phone can scan them.
		tb.click("[data-testid=other-device] summary")
		tb.visible("[data-testid=qr-image-wechat]")
		tb.screenshot("open-in-wallet-360x640")
	})
	t.Run("alipay only in wechat", func(t *testing.T) {
		_, u := s.createCheckout(map[string]any{"store": storeNative, "wallets": []string{"alipay"}})
		tb := newTab(t, s, wechatPhone)
		tb.open(u, "[data-testid=guide-open-in-browser]")
		if tb.isVisible("[data-testid=pay-button]") {
			t.Error("a pay button inside WeChat for an Alipay-only checkout")
		}
		tb.screenshot("open-in-browser")
	})
	t.Run("mini-program web-view", func(t *testing.T) {
		id, u := s.createCheckout(map[string]any{"store": storeNative})
		tb := newTab(t, s, miniProgram, miniProgramEnv)
		tb.open(u, "[data-testid=guide-miniprogram]")
		tb.waitFor("hand-off", `sessionStorage.getItem("e2e_mp_nav") !== null`)
		nav := eval[string](tb, `sessionStorage.getItem("e2e_mp_nav")`)
		if want := "/pages/pay/pay?checkout_id=" + id; nav != want {
			t.Errorf("hand-off to %q, want %q", nav, want)
		}
		tb.screenshot("miniprogram-handoff")
	})
	t.Run("mini-program web-view without the JS-SDK", func(t *testing.T) {
		// The page loads no third-party script, so WeChat's JS-SDK (and
		// wx.miniProgram) is absent: the hand-off goes through the
		// web-view's WeixinJSBridge, as the SDK itself does.
		id, u := s.createCheckout(map[string]any{"store": storeNative})
		tb := newTab(t, s, miniProgram, miniProgramBridge)
		tb.open(u, "[data-testid=guide-miniprogram]")
		tb.waitFor("hand-off", `sessionStorage.getItem("e2e_mp_invoke") !== null`)
		var got struct {
			Name string `json:"name"`
			Arg  struct {
				URL string `json:"url"`
			} `json:"arg"`
		}
		raw := eval[string](tb, `sessionStorage.getItem("e2e_mp_invoke")`)
		if err := json.Unmarshal([]byte(raw), &got); err != nil {
			t.Fatalf("invokeMiniProgramAPI arguments %q: %v", raw, err)
		}
		if want := "/pages/pay/pay?checkout_id=" + id; got.Name != "navigateTo" || got.Arg.URL != want {
			t.Errorf("hand-off %s, want navigateTo %q", raw, want)
		}
		// By hand too, when the automatic hand-off did not happen.
		tb.exec(`sessionStorage.removeItem("e2e_mp_invoke")`)
		tb.click("[data-testid=miniprogram-button]")
		tb.waitFor("hand-off by the button", `sessionStorage.getItem("e2e_mp_invoke") !== null`)
	})
	t.Run("mini-program web-view the User-Agent hides", func(t *testing.T) {
		// Some WeChat versions leave "miniProgram" out of a web-view's
		// User-Agent: the page offers WeChat Pay, but on "Pay" WeChat's
		// environment flag says web-view, where the bridge cannot pay, and
		// the page hands off to the mini-program instead.
		id, u := s.createCheckout(map[string]any{"store": storeNative})
		tb := newTab(t, s, wechatPhone, miniProgramBridge)
		tb.open(u, "[data-testid=pay-button]")
		tb.waitFor("the bridge", `!!window.WeixinJSBridge`)
		tb.click("[data-testid=pay-button]")
		tb.waitFor("hand-off", `sessionStorage.getItem("e2e_mp_invoke") !== null`)
		if n := len(s.orders(storeNative, id)); n != 0 {
			t.Errorf("%d gateway orders for a payment the web-view cannot make", n)
		}
		raw := eval[string](tb, `sessionStorage.getItem("e2e_mp_invoke")`)
		if want := `"url":"/pages/pay/pay?checkout_id=` + id + `"`; !strings.Contains(raw, want) {
			t.Errorf("hand-off %s, want %s", raw, want)
		}
		if other := eval[string](tb, `sessionStorage.getItem("e2e_mp_other") || ""`); other != "" {
			t.Errorf("the page called %s inside a web-view", other)
		}
		tb.waitFor("the button again", `!document.querySelector("[data-testid=pay-button]").disabled`)
		tb.screenshot("webview-handoff-from-pay")
		assertNotPaid(t, s, storeNative, id)
	})
	t.Run("leave without paying", func(t *testing.T) {
		id, u := s.createCheckout(map[string]any{"store": storeNative})
		tb := newTab(t, s, wechatPhone, wechatBridge("cancel"))
		tb.open(u, "[data-testid=pay-button]")
		tb.click("[data-testid=cancel-link]")
		tb.visible("[data-testid=merchant-page]")
		if got := tb.text("[data-testid=merchant-page]"); got != "cancel" {
			t.Errorf("leaving went to the merchant's %q page, want cancel", got)
		}
		if got := tb.text("[data-testid=merchant-query]"); got != id {
			t.Errorf("the cancel URL names checkout %q, want %q", got, id)
		}
		assertNotPaid(t, s, storeNative, id)
	})
	t.Run("moments snapshot", func(t *testing.T) {
		id, u := s.createCheckout(map[string]any{"store": storeNative})
		tb := newTab(t, s, wechatPhone, wechatBridge("ok"))
		if _, err := chromedp.Call(tb.ctx, network.SetCookie, network.SetCookieParams{Name: "walletsim_snapshot", Value: "1", URL: s.url + "/walletsim/"}); err != nil {
			t.Fatal(err)
		}
		tb.open(u, "[data-testid=guide-snapshot]")
		if tb.isVisible("[data-testid=pay-button]") {
			t.Error("a snapshot page offers to pay")
		}
		tb.screenshot("snapshot")
		assertNotPaid(t, s, storeNative, id)
	})
	t.Run("english", func(t *testing.T) {
		_, u := s.createCheckout(map[string]any{"store": storeNative})
		dev := desktop
		dev.lang = "en-US,en;q=0.9"
		tb := newTab(t, s, dev)
		tb.open(u, "[data-testid=qr-image-wechat]")
		if got := tb.text("[data-testid=qr-tab-wechat]"); got != "WeChat Pay" {
			t.Errorf("English tab says %q", got)
		}
		tb.screenshot("qr-english")
		// Keyboard: the arrow key moves to the Alipay tab and its code.
		tb.exec(`var w = document.querySelector("[data-tab=wechat]"); w.focus(); w.dispatchEvent(new KeyboardEvent("keydown", {key: "ArrowRight", bubbles: true}))`)
		tb.visible("[data-testid=qr-image-alipay]")
		if !eval[bool](tb, `document.activeElement === document.querySelector("[data-tab=alipay]")`) {
			t.Error("focus did not follow the arrow key")
		}
	})
}

// matches reports whether s matches the regular expression pattern.
func matches(pattern, s string) bool {
	return regexp.MustCompile(pattern).MatchString(s)
}

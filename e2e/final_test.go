package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
)

// panelHTML is the markup of the visible final panel of state.
func panelHTML(tb *tab, state string) string {
	tb.t.Helper()
	sel := "[data-final=" + state + "]"
	if !tb.isVisible(sel) {
		tb.t.Fatalf("the %s panel is not shown", state)
	}
	return eval[string](tb, `document.querySelector("`+sel+`").outerHTML`)
}

// assertNoCancel checks that a page of a checkout that can no longer be
// paid offers no way to cancel it.
func assertNoCancel(t *testing.T, tb *tab, where string) {
	t.Helper()
	if tb.isVisible("[data-testid=cancel-link]") {
		t.Errorf("%s: a cancel link on a checkout that can no longer be paid", where)
	}
	if txt := eval[string](tb, `document.body.innerText`); strings.Contains(txt, "取消支付") {
		t.Errorf("%s: the page offers to cancel: %q", where, txt)
	}
	if tb.isVisible("[data-testid=countdown]") || tb.isVisible("[data-testid=pay-button]") {
		t.Errorf("%s: a countdown or a pay button on a final page", where)
	}
}

// TestFinalStatesOneDesign (issue 12, defect 5): an expired checkout looks
// the same whether the timer ran out on the page (the result page turns to
// it) or the link is opened again (the checkout page renders it), and a
// cancelled one likewise; neither offers to cancel. Before the fix the
// reopened link showed an orange "!" under "支付金额" with "取消支付，返回商户".
func TestFinalStatesOneDesign(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})

	t.Run("expired", func(t *testing.T) {
		_, u := s.createCheckout(map[string]any{"amount": 1234500, "store": storeNative, "expires_in": 60})
		s.clock.Advance(50 * time.Second)
		tb := newTab(t, s, wechatPhone, wechatBridge("cancel"))
		tb.open(u, "[data-testid=countdown]")
		tb.waitFor("the timer runs out", `location.pathname.endsWith("/result") && !!document.querySelector("[data-view=expired]")`)
		byTimer := panelHTML(tb, "expired")
		assertNoCancel(t, tb, "expired by the timer")
		tb.screenshot("expired-by-timer")

		tb.open(u, "[data-testid=state-expired]")
		reopened := panelHTML(tb, "expired")
		assertNoCancel(t, tb, "expired, reopened")
		tb.screenshot("expired-reopened")
		if byTimer != reopened {
			t.Errorf("two designs for expired:\nby the timer: %s\nreopened:     %s", byTimer, reopened)
		}
		if !strings.Contains(reopened, "¥12,345.00") {
			t.Errorf("the expired panel does not show the amount: %s", reopened)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		id, u := s.createCheckout(map[string]any{"store": storeNative})
		cancel(t, s, id)
		tb := newTab(t, s, wechatPhone)
		tb.open(u+"/result", "[data-testid=result-cancelled]")
		onResult := panelHTML(tb, "cancelled")
		assertNoCancel(t, tb, "cancelled, result page")
		tb.open(u, "[data-testid=state-cancelled]")
		reopened := panelHTML(tb, "cancelled")
		assertNoCancel(t, tb, "cancelled, reopened")
		if onResult != reopened {
			t.Errorf("two designs for cancelled:\nresult page: %s\nreopened:    %s", onResult, reopened)
		}
	})
}

// TestPaidPage: on the desktop the code, the countdown and the cancel link
// go the moment the payment is seen; the paid page has a drawn check
// mark, the amount, the merchant, the time in UTC+8, the method and the
// reference, the same when the link is opened again; without a success
// URL its "完成" closes WeChat's in-app browser.
func TestPaidPage(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})

	t.Run("desktop", func(t *testing.T) {
		id, u := s.createCheckout(map[string]any{"amount": 1234567, "store": storeNative, "reference": "ORD-2026-0042"})
		tb := newTab(t, s, desktop)
		tb.open(u, "[data-testid=qr-image-wechat]")
		if got := tb.text("[data-testid=amount]"); got != "¥12,345.67" {
			t.Errorf("amount shows %q, want ¥12,345.67", got)
		}
		if got := tb.text("[data-testid=checkout-reference]"); got != "订单号 ORD-2026-0042" {
			t.Errorf("reference line %q", got)
		}
		// When the page learns it is paid, record at that instant what is
		// still on the screen (the page leaves for the result soon after).
		tb.exec(`new MutationObserver(function () {
			var app = document.getElementById("app");
			if (app.dataset.view !== "paid") return;
			var shown = ["[data-testid=countdown-line]", "[data-testid=qr-wechat]", "[data-testid=cancel-link]", ".tabs"].filter(function (s) {
				var e = document.querySelector(s);
				return e && getComputedStyle(e).display !== "none";
			});
			sessionStorage.setItem("e2e_paid_shown", JSON.stringify(shown));
		}).observe(document.getElementById("app"), {attributes: true})`)
		var code string
		for _, o := range s.orders(storeNative, id) {
			code = o.TradeQRCode
		}
		scan(t, s, code)
		tb.waitFor("the result page", `location.pathname.endsWith("/result") && !!document.querySelector("[data-view=paid]")`)
		if shown := eval[string](tb, `sessionStorage.getItem("e2e_paid_shown") || "never saw paid"`); shown != "[]" {
			t.Errorf("when paid, still shown: %s", shown)
		}
		tb.screenshot("result-paid")
		assertPaidPanel(t, tb, "ORD-2026-0042", "")
		if !tb.isVisible("[data-testid=success-button]") || tb.isVisible("[data-testid=done-button]") {
			t.Error("with a success URL the paid page should lead back to the merchant")
		}
		livePanel := panelHTML(tb, "paid")

		tb.open(u, "[data-testid=state-paid]")
		assertPaidPanel(t, tb, "ORD-2026-0042", "微信支付")
		assertNoCancel(t, tb, "paid, reopened")
		tb.screenshot("checkout-paid")
		if c := s.checkout(id); c.Status != checkout.StatusPaid {
			t.Errorf("checkout is %s", c.Status)
		}
		if !strings.Contains(livePanel, `class="icon icon-paid"`) || !strings.Contains(panelHTML(tb, "paid"), `class="icon icon-paid"`) {
			t.Error("the paid panels do not share the drawn check mark")
		}
	})

	t.Run("done closes the wallet", func(t *testing.T) {
		id, u := s.createCheckout(map[string]any{"amount": 990, "store": storeNative, "success_url": ""})
		record := `document.addEventListener("WeixinJSBridgeReady", function () {
			window.WeixinJSBridge.call = function (name) { sessionStorage.setItem("e2e_wx_call", name); };
		});`
		tb := newTab(t, s, wechatPhone, wechatBridge("ok"), record)
		tb.open(u, "[data-testid=pay-button]")
		tb.click("[data-testid=pay-button]")
		tb.visible("[data-testid=result-paid]")
		assertPaidPanel(t, tb, id, "")
		// WeChat injects its bridge after the page starts.
		tb.waitFor("the bridge", `!!window.WeixinJSBridge`)
		tb.click("[data-testid=done-button]")
		tb.waitFor("closeWindow", `sessionStorage.getItem("e2e_wx_call") === "closeWindow"`)
	})
}

// assertPaidPanel checks the paid panel's facts; method "" skips its row
// (a page that turned paid live does not know which wallet paid).
func assertPaidPanel(t *testing.T, tb *tab, reference, method string) {
	t.Helper()
	if !tb.isVisible("[data-final=paid] svg.icon-paid") {
		t.Error("no drawn check mark")
	}
	if got := tb.text("[data-final=paid] [data-testid=reference]"); got != reference {
		t.Errorf("reference %q, want %q", got, reference)
	}
	if got := tb.text("[data-final=paid] [data-testid=paid-time]"); !matches(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(北京时间\)$`, got) {
		t.Errorf("paid time %q", got)
	} else {
		at, err := time.ParseInLocation("2006-01-02 15:04:05", got[:19], time.FixedZone("UTC+8", 8*3600))
		if err != nil || time.Since(at) > 5*time.Minute || time.Until(at) > 5*time.Minute {
			t.Errorf("paid time %q is not now in UTC+8 (%v)", got, err)
		}
	}
	if !strings.Contains(tb.text("[data-final=paid] .facts"), "沙箱咖啡") {
		t.Error("the merchant is not named")
	}
	if method != "" {
		if got := tb.text("[data-final=paid] [data-testid=paid-method]"); got != method {
			t.Errorf("method %q, want %q", got, method)
		}
	}
}

// TestCountdown: the countdown is neutral, red only in the last two
// minutes, and not shown with more than an hour left.
func TestCountdown(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})
	for _, tt := range []struct {
		name      string
		expiresIn int
		shown     bool
		colour    string
	}{
		{"more than an hour", 7200, false, ""},
		{"half an hour", 1800, true, "rgb(31, 35, 41)"},
		{"last two minutes", 100, true, "rgb(203, 38, 52)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, u := s.createCheckout(map[string]any{"store": storeNative, "expires_in": tt.expiresIn})
			tb := newTab(t, s, wechatPhone, wechatBridge("cancel"))
			tb.open(u, "[data-testid=pay-button]")
			// The script has ticked once the page is interactive.
			tb.waitFor("the first tick", `document.readyState === "complete"`)
			if got := tb.isVisible("[data-testid=countdown-line]"); got != tt.shown {
				t.Fatalf("countdown shown %v, want %v", got, tt.shown)
			}
			if !tt.shown {
				return
			}
			if got := eval[string](tb, `getComputedStyle(document.querySelector("[data-testid=countdown]")).color`); got != tt.colour {
				t.Errorf("countdown colour %s, want %s", got, tt.colour)
			}
		})
	}
}

// TestPhoneBrowser: in a phone's own browser the page gives one
// instruction, a button that opens it in the Alipay app (with a fallback
// when the app does not open), and the QR codes folded behind "在另一台设备上
// 扫码", making no gateway order until unfolded; its tabs are not styled
// as pay buttons.
func TestPhoneBrowser(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})
	id, u := s.createCheckout(map[string]any{"store": storeNative})
	tb := newTab(t, s, phone)
	tb.allow(`alipays:`) // Chromium has no handler for the app's scheme
	tb.open(u, "[data-testid=guide-open-in-wallet]")
	if n := eval[int](tb, `document.querySelectorAll(".guide, .phone-hint").length`); n != 1 {
		t.Errorf("%d instructions, want 1", n)
	}
	href := eval[string](tb, `document.querySelector("[data-testid=open-alipay]").getAttribute("href")`)
	if want := "alipays://platformapi/startapp?appId=20000067&url=" + url.QueryEscape(u); href != want {
		t.Errorf("Alipay button goes to %q, want %q", href, want)
	}
	if eval[bool](tb, `document.querySelector("[data-testid=other-device]").open || document.querySelector("[data-testid=qr-wechat]").checkVisibility()`) {
		t.Error("the QR codes are not folded")
	}
	if n := len(s.orders(storeNative, id)); n != 0 {
		t.Errorf("%d gateway orders before the codes were unfolded", n)
	}
	tb.screenshot("phone-browser")

	tb.click("[data-testid=other-device] summary")
	tb.visible("[data-testid=qr-image-wechat]")
	style := eval[string](tb, `(function () {
		var tab = getComputedStyle(document.querySelector("[data-tab][aria-selected=true]"));
		var pay = getComputedStyle(document.querySelector("[data-testid=open-alipay]"));
		return tab.backgroundColor + "|" + tab.color + "|" + (tab.backgroundColor === pay.backgroundColor);
	})()`)
	if style != "rgb(255, 255, 255)|rgb(31, 35, 41)|false" {
		t.Errorf("selected tab style %s: looks like a pay button", style)
	}
	tb.screenshot("phone-browser-codes")

	// The app does not open here: the page says what else to do.
	tb.click("[data-testid=open-alipay]")
	tb.waitFor("the fallback", `document.querySelector("[data-testid=message]").textContent.indexOf("复制") >= 0`)
}

// TestMerchantLogo: a merchant's logo_url is fetched at start and served
// from our origin; when the fetch is refused (the webhooks' guard: no
// loopback) the page keeps the initial.
func TestMerchantLogo(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		logo   string
		served bool
	}{{"served", true}, {"refused", false}} {
		t.Run(tt.logo, func(t *testing.T) {
			s := newStack(t, sandboxOptions{logo: tt.logo})
			_, u := s.createCheckout(map[string]any{"store": storeNative})
			tb := newTab(t, s, wechatPhone, wechatBridge("cancel"))
			tb.open(u, "[data-testid=pay-button]")
			got := eval[string](tb, `(function () {
				var img = document.querySelector("[data-testid=merchant-logo]");
				if (!img) return "initial " + document.querySelector(".avatar").textContent;
				return img.getAttribute("src") + " " + (img.complete && img.naturalWidth);
			})()`)
			if tt.served && !matches(`^/logos/m_e2e\?v=[0-9a-f]{12} 8$`, got) {
				t.Errorf("logo %q, want /logos/m_e2e?v=… loaded, 8 px wide", got)
			}
			if !tt.served && got != "initial 沙" {
				t.Errorf("logo %q, want the initial", got)
			}
		})
	}
}

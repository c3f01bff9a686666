package e2e

import (
	_ "embed" // axe-core, vendored
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/wallet-checkout/checkout/checkout"
)

// axeSource is axe-core 4.x from npm (e2e/testdata/axe, with its licence),
// vendored so that the suite needs no network.
//
//go:embed testdata/axe/axe.min.js
var axeSource string

// a11yLangs are the page languages, chosen the way a payer's phone does:
// by Accept-Language (it survives the wallets' OAuth round trip).
var a11yLangs = []struct{ name, accept string }{
	{"zh-Hans", "zh-CN,zh;q=0.9"},
	{"zh-Hant", "zh-TW,zh;q=0.9"},
	{"en", "en-US,en;q=0.9"},
}

// pageState is one state of a payer page: where it is opened, what to
// wait for, and an optional step that puts the page into the state.
type pageState struct {
	name    string
	dev     device
	scripts []string
	cookie  bool // the WeChat Moments snapshot cookie
	url     string
	wait    string
	then    string // JS run once wait is visible
	// before runs just before the page is opened (the payer limit
	// refills within seconds, so it is exhausted at that moment).
	before func(t *testing.T)
}

// payerStates builds a checkout in every state a payer can see and returns
// the pages to open. The states are shared by every language: the language
// is the request's, not the checkout's.
func payerStates(t *testing.T, s *stack) []pageState {
	t.Helper()
	// Two checkouts that expire in a minute: one left to expire, one paid
	// after its expiry (late). The clock moves once, below.
	_, expURL := s.createCheckout(map[string]any{"store": storeNative, "expires_in": 60})
	lateID, lateURL := s.createCheckout(map[string]any{"amount": 4800, "store": storeNative, "expires_in": 60})
	pendID, pendURL := s.createCheckout(map[string]any{"amount": 1234567, "store": storeNative})
	_, openURL := s.createCheckout(map[string]any{"store": storeNative})
	// Never opened on a page that makes a gateway order: stays unpaid.
	_, unpaidURL := s.createCheckout(map[string]any{"store": storeNative})
	_, aliOnlyURL := s.createCheckout(map[string]any{"store": storeNative, "wallets": []string{"alipay"}})
	_, redirURL := s.createCheckout(map[string]any{"store": storeRedirect})
	paidID, paidURL := s.createCheckout(map[string]any{"amount": 4500, "store": storeNative})
	cancID, cancURL := s.createCheckout(map[string]any{"store": storeNative})
	refID, refURL := s.createCheckout(map[string]any{"amount": 1500, "store": storeNative})
	// One whose OAuth callback has been called past the payer limit: its
	// next answer is the 429 page.
	_, busyURL := s.createCheckout(map[string]any{"store": storeNative})

	// A QR code each for the late, pending and paid ones: a gateway order
	// to pay.
	codes := map[string]string{}
	for _, c := range []struct{ id, u string }{{lateID, lateURL}, {pendID, pendURL}, {paidID, paidURL}, {refID, refURL}} {
		tb := newTab(t, s, desktop)
		tb.open(c.u, "[data-testid=qr-image-wechat]")
		for _, o := range s.orders(storeNative, c.id) {
			if o.TradeQRCode != "" {
				codes[c.id] = o.TradeQRCode
			}
		}
		if codes[c.id] == "" {
			t.Fatalf("no QR order for %s", c.id)
		}
	}
	scan(t, s, codes[paidID])
	waitStatus(t, s, paidID, checkout.StatusPaid)

	// The late payment comes once the service has closed the checkout.
	s.clock.Advance(70 * time.Second)
	waitStatus(t, s, lateID, checkout.StatusExpired)
	scan(t, s, codes[lateID])
	waitStatus(t, s, lateID, checkout.StatusPaid)

	cancel(t, s, cancID)
	scan(t, s, codes[refID])
	waitStatus(t, s, refID, checkout.StatusPaid)
	refund(t, s, refID, 1500)
	waitStatus(t, s, refID, checkout.StatusRefunded)

	// Payment links: a fixed amount, the keypad, and one switched off.
	_, fixedLink := s.createLink(map[string]any{"amount": 1800, "description": "拿铁 ×2", "store": storeNative})
	_, keypadLink := s.createLink(map[string]any{"min_amount": 100, "max_amount": 50000, "presets": []int{1000, 2000, 5000}, "description": "拿铁 ×2", "store": storeNative})
	_, offLink := s.createLink(map[string]any{"amount": 1800, "active": false, "store": storeNative})

	flip := func(view string) string {
		return `document.getElementById("app").dataset.view = "` + view + `"`
	}
	res := func(u string) string { return u + "/result" }
	return []pageState{
		{name: "qr-desktop", dev: desktop, url: openURL, wait: "[data-testid=qr-image-wechat]"},
		{name: "qr-desktop-alipay", dev: desktop, url: openURL, wait: "[data-testid=qr-image-wechat]",
			then: `document.querySelector("[data-tab=alipay]").click()`},
		{name: "wechat-jsapi", dev: wechatPhone, scripts: []string{wechatBridge("cancel")}, url: openURL, wait: "[data-testid=pay-button]"},
		{name: "alipay-jsapi", dev: alipayPhone, scripts: []string{alipayBridge("cancel")}, url: openURL, wait: "[data-testid=pay-button]"},
		{name: "wechat-redirect", dev: wechatPhone, url: redirURL, wait: "[data-testid=pay-button]"},
		{name: "phone-browser", dev: phone, url: openURL, wait: "[data-testid=guide-open-in-wallet]"},
		{name: "miniprogram", dev: miniProgram, scripts: []string{miniProgramEnv}, url: openURL, wait: "[data-testid=guide-miniprogram]"},
		{name: "open-in-browser", dev: wechatPhone, url: aliOnlyURL, wait: "[data-testid=guide-open-in-browser]"},
		{name: "snapshot", dev: wechatPhone, cookie: true, url: openURL, wait: "[data-testid=guide-snapshot]"},
		{name: "paid", dev: wechatPhone, url: paidURL, wait: "[data-testid=state-paid]"},
		{name: "expired", dev: wechatPhone, url: expURL, wait: "[data-testid=state-expired]"},
		{name: "cancelled", dev: wechatPhone, url: cancURL, wait: "[data-testid=state-cancelled]"},
		{name: "result-pending", dev: wechatPhone, url: res(pendURL), wait: "[data-testid=result-pending]"},
		{name: "result-unpaid", dev: wechatPhone, url: res(unpaidURL), wait: "[data-testid=result-unpaid]"},
		{name: "result-paid", dev: wechatPhone, url: res(paidURL), wait: "[data-testid=result-paid]"},
		{name: "result-late", dev: wechatPhone, url: res(lateURL), wait: "[data-testid=result-late]"},
		{name: "result-expired", dev: wechatPhone, url: res(expURL), wait: "[data-testid=result-expired]"},
		{name: "result-cancelled", dev: wechatPhone, url: res(cancURL), wait: "[data-testid=result-cancelled]"},
		// A failed attempt has no sandbox switch; the final page's script
		// has stopped, so its panel can be shown as the stream would.
		{name: "result-failed", dev: wechatPhone, url: res(cancURL), wait: "[data-testid=result-cancelled]",
			then: flip("failed")},
		{name: "result-pending-slow", dev: wechatPhone, url: res(cancURL), wait: "[data-testid=result-cancelled]",
			then: flip("pending") + `; document.querySelector("[data-testid=result-slow]").hidden = false`},
		{name: "error-not-found", dev: wechatPhone, url: s.url + "/c/ck_doesnotexist00000000", wait: "[data-testid=error-page]"},
		// A spent or forged OAuth state: the error page with its way back.
		{name: "error-oauth", dev: wechatPhone, url: openURL + "/oauth/wechat?state=forged&code=x", wait: "[data-testid=error-back]"},
		{name: "error-rate-limited", dev: wechatPhone, url: busyURL + "/oauth/wechat?state=forged&code=x", wait: "[data-testid=error-page][data-status='429']",
			before: func(t *testing.T) { exhaustOAuth(t, busyURL+"/oauth/wechat") }},
		{name: "result-refunded", dev: wechatPhone, url: res(refURL), wait: "[data-testid=result-refunded]"},
		// The offer after the wallet's OK, shown as the server's word would.
		{name: "link-fixed", dev: wechatPhone, url: fixedLink, wait: "[data-testid=link-pay]"},
		{name: "link-keypad", dev: wechatPhone, url: keypadLink, wait: "[data-testid=amount-input]"},
		{name: "link-inactive", dev: wechatPhone, url: offLink, wait: "[data-testid=state-link-inactive]"},
		{name: "result-unconfirmed", dev: wechatPhone, url: res(pendURL) + "?wallet=ok", wait: "[data-testid=result-pending]",
			then: `document.querySelector("[data-testid=result-unconfirmed]").hidden = false`},
	}
}

// waitStatus waits until the checkout reaches want.
func waitStatus(t *testing.T, s *stack, id string, want checkout.Status) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := s.checkout(id)
		if c.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkout %s is %s, want %s", id, c.Status, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cancel cancels a checkout through the merchant API.
func cancel(t *testing.T, s *stack, id string) {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPost, s.url+"/v1/checkouts/"+id+"/cancel", strings.NewReader("{}"))
	r.Header.Set("Authorization", "Bearer "+s.apiKey)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Idempotency-Key", randomHex(t, 8))
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("cancel %s: %s", id, res.Status)
	}
}

// refund refunds a paid checkout in full through the merchant API.
func refund(t *testing.T, s *stack, id string, amount int64) {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPost, s.url+"/v1/checkouts/"+id+"/refunds", strings.NewReader(fmt.Sprintf(`{"amount":%d}`, amount)))
	r.Header.Set("Authorization", "Bearer "+s.apiKey)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Idempotency-Key", randomHex(t, 8))
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		t.Fatalf("refund %s: %s", id, res.Status)
	}
}

// exhaustOAuth calls an OAuth callback until the payer limit answers 429.
func exhaustOAuth(t *testing.T, u string) {
	t.Helper()
	for range 1000 {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusTooManyRequests {
			return
		}
	}
	t.Fatalf("%s never answered 429", u)
}

// openState opens st in a new tab in lang.
func openState(t *testing.T, s *stack, st pageState, accept string) *tab {
	t.Helper()
	dev := st.dev
	dev.lang = accept
	tb := newTab(t, s, dev, st.scripts...)
	tb.allow(`status of 4(00|04|29)`)
	if st.cookie {
		if _, err := chromedp.Call(tb.ctx, network.SetCookie, network.SetCookieParams{Name: "walletsim_snapshot", Value: "1", URL: s.url + "/walletsim/"}); err != nil {
			t.Fatal(err)
		}
	}
	if st.before != nil {
		// What before sets up may not last (a payer limit refills within
		// seconds, longer than a loaded machine may take between the last
		// refusal and the page's request): set it up again until the
		// page shows it, then wait as for any state.
		for range 20 {
			st.before(t)
			if _, err := chromedp.Run(tb.ctx, chromedp.Navigate(st.url)); err == nil && tb.isVisible(st.wait) {
				break
			}
		}
		tb.visible(st.wait)
	} else {
		tb.open(st.url, st.wait)
	}
	if st.then != "" {
		tb.exec(st.then)
	}
	return tb
}

// axeViolation is the part of an axe result the test reports.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// alsoRequired are rules of lower impact that the pages keep clean too
// (issue 12): one h1 per page, and roles an element may have.
var alsoRequired = map[string]bool{"page-has-heading-one": true, "aria-allowed-role": true, "landmark-one-main": true}

// runAxe injects axe-core and returns its violations on the page as it is.
func runAxe(tb *tab) []axeViolation {
	tb.t.Helper()
	if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](axeSource+";true")); err != nil {
		tb.fail("inject axe", err)
	}
	raw := eval[string](tb, `axe.run(document, {resultTypes: ["violations"]}).then(function (r) { return JSON.stringify(r.violations); })`)
	var out []axeViolation
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		tb.t.Fatalf("axe results %q: %v", raw, err)
	}
	return out
}

// smallTargets lists the visible links, buttons and inputs smaller than
// 44×44 CSS px, as "text w×h".
func smallTargets(tb *tab) []string {
	tb.t.Helper()
	raw := eval[string](tb, `JSON.stringify(Array.prototype.slice.call(document.querySelectorAll("a[href],button,input,select,textarea,summary,[role=tab],[tabindex]")).filter(function (e) {
		var r = e.getBoundingClientRect();
		return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== "hidden" && (r.width < 44 || r.height < 44);
	}).map(function (e) {
		var r = e.getBoundingClientRect();
		return (e.getAttribute("data-testid") || e.tagName) + " “" + (e.textContent || e.value || "").trim().slice(0, 30) + "” " + Math.round(r.width) + "×" + Math.round(r.height);
	}))`)
	var out []string
	_ = json.Unmarshal([]byte(raw), &out)
	return out
}

// weakButtons lists the visible buttons and button-like links whose text
// does not meet WCAG 1.4.3 on their own background: 4.5:1, or 3:1 for
// large text (bold from 14 pt = 18.66 px, else from 24 px). axe leaves
// some of them "to review" (it cannot always tell the background), so the
// wallets' brand-coloured buttons are measured here.
func weakButtons(tb *tab) []string {
	tb.t.Helper()
	raw := eval[string](tb, `(function () {
		function rgb(s) { var m = s.match(/[\d.]+/g) || []; return m.map(Number); }
		function lum(c) {
			var v = c.slice(0, 3).map(function (x) { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
			return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
		}
		var out = [];
		Array.prototype.slice.call(document.querySelectorAll(".btn")).forEach(function (e) {
			var r = e.getBoundingClientRect();
			if (!r.width || !r.height) return;
			var cs = getComputedStyle(e), bg = rgb(cs.backgroundColor), fg = rgb(cs.color);
			if (bg.length > 3 && bg[3] === 0) return; // transparent: axe's case
			var a = lum(fg), b = lum(bg), ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
			var px = parseFloat(cs.fontSize), bold = parseInt(cs.fontWeight, 10) >= 700;
			var need = (px >= 24 || (bold && px >= 18.66)) ? 3 : 4.5;
			if (ratio < need) out.push((e.getAttribute("data-testid") || e.className) + " " + ratio.toFixed(2) + ":1 < " + need + ":1 (" + cs.color + " on " + cs.backgroundColor + ", " + px + "px " + cs.fontWeight + ")");
		});
		return JSON.stringify(out);
	})()`)
	var out []string
	_ = json.Unmarshal([]byte(raw), &out)
	return out
}

// TestAccessibility opens every payer page state in every language and
// fails on any serious or critical axe-core violation, on the rules in
// alsoRequired, on any tap target under 44×44 CSS px and on a first load
// of 30 KB or more (document, stylesheet, script as transferred). With
// ARTIFACTS_DIR set it also saves each state at 390×844 and 360×640.
func TestAccessibility(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})
	states := payerStates(t, s)
	for _, lang := range a11yLangs {
		t.Run(lang.name, func(t *testing.T) {
			// The languages share the states and change none of them (the
			// clock moved in payerStates): each opens its pages in its own
			// tab, beside the others.
			t.Parallel()
			for _, st := range states {
				t.Run(st.name, func(t *testing.T) {
					tb := openState(t, s, st, lang.accept)
					if got := eval[string](tb, `document.documentElement.lang`); got != lang.name {
						t.Errorf("page language %q, want %q", got, lang.name)
					}
					for _, v := range runAxe(tb) {
						if v.Impact != "serious" && v.Impact != "critical" && !alsoRequired[v.ID] {
							t.Logf("axe (%s, not failing): %s: %s", v.Impact, v.ID, v.Help)
							continue
						}
						var where []string
						for _, n := range v.Nodes {
							where = append(where, fmt.Sprint(n.Target)+": "+strings.ReplaceAll(n.Summary, "\n", " "))
						}
						t.Errorf("axe %s (%s): %s\n  %s", v.ID, v.Impact, v.Help, strings.Join(where, "\n  "))
					}
					for _, weak := range weakButtons(tb) {
						t.Errorf("button contrast: %s", weak)
					}
					for _, small := range smallTargets(tb) {
						t.Errorf("tap target under 44×44: %s", small)
					}
					// Page weight on first load (a new tab: nothing cached): the
					// document, its stylesheet and its script as transferred.
					if kb := eval[float64](tb, `(function () {
						var n = performance.getEntriesByType("navigation")[0].transferSize;
						performance.getEntriesByType("resource").forEach(function (r) {
							if (r.initiatorType === "link" || r.initiatorType === "script") n += r.transferSize;
						});
						return n / 1024;
					})()`); kb >= 30 || kb == 0 {
						t.Errorf("first load transferred %.1f KB, want under 30 KB", kb)
					} else if testing.Verbose() {
						t.Logf("first load: %.1f KB", kb)
					}
					stateScreenshots(t, tb, lang.name, st.name)
				})
			}
		})
	}
}

// stateScreenshots saves the page at the two phone sizes, only when
// ARTIFACTS_DIR is set (the suite stays fast without).
func stateScreenshots(t *testing.T, tb *tab, lang, state string) {
	t.Helper()
	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		return
	}
	dir = filepath.Join(dir, "states", lang)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, size := range [][2]int64{{390, 844}, {360, 640}} {
		if err := chromedp.Do(tb.ctx, chromedp.EmulateViewport(size[0], size[1], chromedp.EmulateScale(1)), chromedp.Sleep(150*time.Millisecond)); err != nil {
			t.Fatalf("resize for %s %dx%d: %v", state, size[0], size[1], err)
		}
		png, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s %dx%d: %v", state, size[0], size[1], err)
		}
		p := filepath.Join(dir, fmt.Sprintf("%s-%dx%d.png", state, size[0], size[1]))
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

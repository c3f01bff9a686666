package templates

import (
	"bytes"
	"compress/gzip"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
	"golang.org/x/net/html"

	"github.com/wallet-checkout/checkout/web/static"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func checkoutView(action string) CheckoutView {
	return CheckoutView{
		Page:         NewPage(LangZhHans, "nonce123"),
		ID:           "co_test123",
		MerchantName: "沙箱咖啡",
		Description:  "拿铁 ×2",
		Amount:       FormatFen(3600),
		AmountFen:    3600,
		ExpiresAt:    now.Add(29*time.Minute + 59*time.Second),
		Now:          now,
		Status:       "open",
		Wallet:       WalletWeChat,
		Action:       action,
		PayURL:       "/c/co_test123/pay",
		CSRFToken:    "csrf-token",
		StatusURL:    "/c/co_test123/status",
		EventsURL:    "/c/co_test123/events",
		ResultURL:    "/c/co_test123/result",
		CheckURL:     "/c/co_test123/check",
		CancelURL:    "https://shop.example/cancel",
		Wallets:      []string{"wechat", "alipay"},
		PageURL:      "https://pay.example/c/co_test123",
	}
}

func resultView(status string) ResultView {
	return ResultView{
		Page:         NewPage(LangZhHans, "nonce123"),
		ID:           "co_test123",
		MerchantName: "沙箱咖啡",
		Description:  "拿铁 ×2",
		Amount:       FormatFen(3600),
		AmountFen:    3600,
		Status:       status,
		SuccessURL:   "https://shop.example/ok?id=co_test123",
		CancelURL:    "https://shop.example/cancel",
		CheckoutURL:  "/c/co_test123",
		StatusURL:    "/c/co_test123/status",
		EventsURL:    "/c/co_test123/events",
		CheckURL:     "/c/co_test123/check",
		CSRFToken:    "csrf-token",
	}
}

func render(t *testing.T, c templ.Component) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.Render(templ.WithNonce(context.Background(), "nonce123"), &b); err != nil {
		t.Fatalf("render: %v", err)
	}
	return b.String()
}

// doc parses a rendered page; the tests look at elements by data-testid.
type doc struct{ root *html.Node }

func parse(t *testing.T, s string) doc {
	t.Helper()
	n, err := html.Parse(strings.NewReader(s))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc{n}
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func (d doc) walk(fn func(n *html.Node)) {
	var rec func(*html.Node)
	rec = func(n *html.Node) {
		if n.Type == html.ElementNode {
			fn(n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			rec(c)
		}
	}
	rec(d.root)
}

func (d doc) byTestID(id string) *html.Node {
	var found *html.Node
	d.walk(func(n *html.Node) {
		if v, _ := attr(n, "data-testid"); v == id && found == nil {
			found = n
		}
	})
	return found
}

func text(n *html.Node) string {
	var b strings.Builder
	var rec func(*html.Node)
	rec = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			rec(c)
		}
	}
	rec(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func (d doc) mustText(t *testing.T, id, want string) {
	t.Helper()
	n := d.byTestID(id)
	if n == nil {
		t.Fatalf("no element with data-testid=%q", id)
	}
	if got := text(n); got != want {
		t.Errorf("%s: text %q, want %q", id, got, want)
	}
}

// checkCSPSafe asserts what a strict CSP needs: no inline script, no event
// handler attributes, no style attributes, no javascript: URLs, and every
// script and stylesheet from our own static path with the nonce.
func checkCSPSafe(t *testing.T, d doc) {
	t.Helper()
	d.walk(func(n *html.Node) {
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") {
				t.Errorf("<%s> has an inline handler %s=%q", n.Data, a.Key, a.Val)
			}
			if a.Key == "style" {
				t.Errorf("<%s> has a style attribute %q", n.Data, a.Val)
			}
			if (a.Key == "href" || a.Key == "src") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
				t.Errorf("<%s %s=%q>", n.Data, a.Key, a.Val)
			}
		}
		switch n.Data {
		case "script":
			src, ok := attr(n, "src")
			if !ok || src != static.Path("app.js") {
				t.Errorf("script without our src: %v", n.Attr)
			}
			if n.FirstChild != nil {
				t.Errorf("inline script content %q", n.FirstChild.Data)
			}
			if v, _ := attr(n, "nonce"); v != "nonce123" {
				t.Errorf("script nonce %q", v)
			}
		case "link":
			href, _ := attr(n, "href")
			rel, _ := attr(n, "rel")
			// The icon is an empty data: URL, so browsers ask for no favicon.
			if (rel == "stylesheet" && href != static.Path("app.css")) || (rel == "icon" && href != "data:,") || (rel != "stylesheet" && rel != "icon") {
				t.Errorf("link rel=%q href=%q", rel, href)
			}
		case "style":
			t.Errorf("inline <style> element")
		case "img":
			if _, ok := attr(n, "alt"); !ok {
				t.Errorf("img without alt: %v", n.Attr)
			}
		}
	})
}

func TestCheckoutPageActions(t *testing.T) {
	tests := []struct {
		action   string
		testids  []string
		wallet   string // of the pay button, "" when none
		scenario string
	}{
		{ActionWeChatJSAPI, []string{"pay-button", "countdown"}, "wechat", "jsapi"},
		{ActionWeChatRedirect, []string{"pay-button"}, "wechat", "jump"},
		{ActionAlipayJSAPI, []string{"pay-button"}, "alipay", "jsapi"},
		{ActionAlipayRedirect, []string{"pay-button"}, "alipay", "jump"},
		{ActionQR, []string{"qr-wechat", "qr-alipay", "qr-tab-wechat", "qr-tab-alipay", "qr-image-wechat", "live-status", "phone-hint"}, "", ""},
		{ActionOpenInWallet, []string{"guide-open-in-wallet", "page-url", "copy-button"}, "", ""},
		{ActionSnapshot, []string{"guide-snapshot"}, "", ""},
		{ActionMiniProgramHandoff, []string{"guide-miniprogram", "miniprogram-button"}, "", ""},
		{ActionOpenInBrowser, []string{"guide-open-in-browser", "page-url"}, "", ""},
		{ActionPaid, []string{"state-paid", "result-paid", "reference", "done-button"}, "", ""},
		{ActionExpired, []string{"state-expired", "result-expired", "reference"}, "", ""},
		{ActionCancelled, []string{"state-cancelled", "result-cancelled", "reference"}, "", ""},
		{"something-new", []string{"state-unavailable"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			v := checkoutView(tt.action)
			d := parse(t, render(t, CheckoutPage(v)))
			checkCSPSafe(t, d)
			d.mustText(t, "merchant-name", "沙箱咖啡")
			d.mustText(t, "amount", "¥36.00")
			if final := tt.action == ActionPaid || tt.action == ActionExpired || tt.action == ActionCancelled; final {
				// The result page's panel for the state, and no way to pay
				// or to cancel (issue 12).
				for _, id := range []string{"countdown", "cancel-link", "pay-button"} {
					if d.byTestID(id) != nil {
						t.Errorf("a final page has data-testid=%q", id)
					}
				}
			} else {
				d.mustText(t, "description", "拿铁 ×2")
				if d.byTestID("action-"+tt.action) == nil {
					t.Errorf("no action-%s section", tt.action)
				}
			}
			for _, id := range tt.testids {
				if d.byTestID(id) == nil {
					t.Errorf("no data-testid=%q", id)
				}
			}
			btn := d.byTestID("pay-button")
			if (btn != nil) != (tt.wallet != "") {
				t.Fatalf("pay button present %v, want %v", btn != nil, tt.wallet != "")
			}
			if btn != nil {
				if w, _ := attr(btn, "data-wallet"); w != tt.wallet {
					t.Errorf("data-wallet %q, want %q", w, tt.wallet)
				}
				if s, _ := attr(btn, "data-scenario"); s != tt.scenario {
					t.Errorf("data-scenario %q, want %q", s, tt.scenario)
				}
				if l, _ := attr(btn, "aria-label"); !strings.Contains(l, "¥36.00") {
					t.Errorf("pay button label %q lacks the amount", l)
				}
			}
			main := d.byTestID("checkout-page")
			for key, want := range map[string]string{
				"data-page": "checkout", "data-action": tt.action, "data-pay-url": v.PayURL,
				"data-csrf": v.CSRFToken, "data-status-url": v.StatusURL, "data-events-url": v.EventsURL,
				"data-result-url": v.ResultURL, "data-check-url": v.CheckURL, "data-expires-in": "1799",
				"data-mp-path": "/pages/pay/pay?checkout_id=co_test123",
			} {
				if got, _ := attr(main, key); got != want {
					t.Errorf("%s = %q, want %q", key, got, want)
				}
			}
		})
	}
}

func TestCheckoutPageCountdown(t *testing.T) {
	v := checkoutView(ActionWeChatJSAPI)
	parse(t, render(t, CheckoutPage(v))).mustText(t, "countdown", "29:59")
	v.ExpiresAt = now.Add(-time.Minute)
	parse(t, render(t, CheckoutPage(v))).mustText(t, "countdown", "0:00")
	v.ExpiresAt = now.Add(2 * time.Hour)
	parse(t, render(t, CheckoutPage(v))).mustText(t, "countdown", "2:00:00")
}

func TestCheckoutPageQRSingleWallet(t *testing.T) {
	v := checkoutView(ActionQR)
	v.Wallets = []string{"alipay"}
	d := parse(t, render(t, CheckoutPage(v)))
	if d.byTestID("qr-tab-alipay") != nil || d.byTestID("qr-wechat") != nil {
		t.Error("one wallet: no tabs and no WeChat QR expected")
	}
	fig := d.byTestID("qr-alipay")
	if fig == nil {
		t.Fatal("no Alipay QR")
	}
	if _, hidden := attr(fig, "hidden"); hidden {
		t.Error("the only QR is hidden")
	}
}

func TestCheckoutPageNotice(t *testing.T) {
	v := checkoutView(ActionWeChatJSAPI)
	d := parse(t, render(t, CheckoutPage(v)))
	if d.byTestID("notice") != nil {
		t.Error("notice rendered without one")
	}
	v.Notice = "授权失败，请重试"
	parse(t, render(t, CheckoutPage(v))).mustText(t, "notice", "授权失败，请重试")
}

// TestEscaping: whatever a merchant puts in a description or name is text.
func TestEscaping(t *testing.T) {
	evil := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	v := checkoutView(ActionWeChatJSAPI)
	v.Description = evil
	v.MerchantName = `"><script>alert(2)</script>`
	v.CancelURL = "javascript:alert(3)"
	v.PayURL = `/c/x" onclick="alert(4)`
	out := render(t, CheckoutPage(v))
	for _, bad := range []string{"<script>alert", "<img src=x", `onclick="alert`, "javascript:alert"} {
		if strings.Contains(out, bad) {
			t.Errorf("rendered page contains %q", bad)
		}
	}
	if !strings.Contains(out, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Error("description not escaped as text")
	}
	d := parse(t, out)
	checkCSPSafe(t, d)
	d.mustText(t, "description", evil)
	d.mustText(t, "merchant-name", v.MerchantName)

	r := resultView("paid")
	r.Description = evil
	r.SuccessURL = "javascript:alert(5)"
	out = render(t, ResultPage(r))
	if strings.Contains(out, "<script>alert") || strings.Contains(out, "javascript:alert") {
		t.Errorf("result page not escaped:\n%s", out)
	}
	checkCSPSafe(t, parse(t, out))

	e := ErrorView{Page: NewPage("en", "nonce123"), Status: 400, Title: evil, Message: evil, BackURL: "javascript:alert(6)"}
	out = render(t, ErrorPage(e))
	if strings.Contains(out, "<script>alert") || strings.Contains(out, "javascript:alert") {
		t.Errorf("error page not escaped:\n%s", out)
	}
	parse(t, out).mustText(t, "error-title", evil)
}

func TestResultPageStates(t *testing.T) {
	for _, status := range []string{"pending", "open", "paid", "partially_refunded", "refunded", "failed", "expired", "cancelled", "bogus"} {
		t.Run(status, func(t *testing.T) {
			v := resultView(status)
			d := parse(t, render(t, ResultPage(v)))
			checkCSPSafe(t, d)
			main := d.byTestID("result-page")
			if got, _ := attr(main, "data-view"); got != ResultState(status) {
				t.Errorf("data-view %q, want %q", got, ResultState(status))
			}
			for _, id := range []string{"result-pending", "result-paid", "result-unpaid", "result-failed", "result-expired", "result-cancelled"} {
				if d.byTestID(id) == nil {
					t.Errorf("panel %s missing (the script switches between all of them)", id)
				}
			}
			ok := d.byTestID("success-button")
			if href, _ := attr(ok, "href"); href != v.SuccessURL {
				t.Errorf("success button href %q", href)
			}
			_, hidden := attr(d.byTestID("result-refunded"), "hidden")
			if refunded := status == "refunded" || status == "partially_refunded"; hidden == refunded {
				t.Errorf("refunded note hidden=%v for %s", hidden, status)
			}
			if got, _ := attr(main, "data-check-after"); got != "4000" {
				t.Errorf("data-check-after %q", got)
			}
		})
	}
}

func TestResultPageLate(t *testing.T) {
	v := resultView("paid")
	if parse(t, render(t, ResultPage(v))).byTestID("result-late") != nil {
		t.Error("late note without Late")
	}
	v.Late = true
	v.CheckAfter = 1500 * time.Millisecond
	d := parse(t, render(t, ResultPage(v)))
	if d.byTestID("result-late") == nil {
		t.Error("late note missing")
	}
	if got, _ := attr(d.byTestID("result-page"), "data-check-after"); got != "1500" {
		t.Errorf("data-check-after %q", got)
	}
}

func TestLanguages(t *testing.T) {
	for lang, want := range map[string]string{LangZhHans: "支付成功", LangZhHant: "付款成功", LangEn: "Payment successful"} {
		v := resultView("paid")
		v.Page = NewPage(lang, "nonce123")
		out := render(t, ResultPage(v))
		d := parse(t, out)
		d.mustText(t, "result-paid-title", want)
		if !strings.Contains(out, `<html lang="`+lang+`"`) {
			t.Errorf("%s: html lang missing", lang)
		}
	}
}

func TestErrorPage(t *testing.T) {
	p := NewPage(LangZhHans, "nonce123")
	v := ErrorView{Page: p, Status: 404, Title: p.T("error.not_found.title"), Message: p.T("error.not_found.body"), BackURL: "/c/co_x"}
	d := parse(t, render(t, ErrorPage(v)))
	checkCSPSafe(t, d)
	d.mustText(t, "error-title", "找不到该订单")
	if href, _ := attr(d.byTestID("error-back"), "href"); href != "/c/co_x" {
		t.Errorf("back href %q", href)
	}
	v.BackURL = ""
	if parse(t, render(t, ErrorPage(v))).byTestID("error-back") != nil {
		t.Error("back link without BackURL")
	}
}

// TestPageWeight keeps every checkout page (HTML + CSS + JS) under the 30 KB
// compressed budget of issue 5: what a payer on a slow network downloads.
func TestPageWeight(t *testing.T) {
	const budget = 30 << 10
	css, _ := static.Bytes("app.css")
	js, _ := static.Bytes("app.js")
	gz := func(b []byte) int {
		var buf bytes.Buffer
		w, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
		_, _ = w.Write(b)
		_ = w.Close()
		return buf.Len()
	}
	assets := gz(css) + gz(js)
	pages := map[string]templ.Component{"result": ResultPage(resultView("pending"))}
	for _, a := range []string{ActionWeChatJSAPI, ActionQR, ActionOpenInWallet, ActionMiniProgramHandoff} {
		v := checkoutView(a)
		v.Description = strings.Repeat("描述", 50) // the longest description allowed
		pages["checkout/"+a] = CheckoutPage(v)
	}
	for name, c := range pages {
		page := gz([]byte(render(t, c)))
		total := page + assets
		t.Logf("%s: html %d B + css %d B + js %d B gzip = %d B (budget %d B)", name, page, gz(css), gz(js), total, budget)
		if total > budget {
			t.Errorf("%s weighs %d B compressed, over the %d B budget", name, total, budget)
		}
	}
}

package handlers_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/web/static"
	"github.com/wallet-checkout/checkout/web/templates"
)

func TestCheckoutPageVariants(t *testing.T) {
	e := newPgEnv(t)
	ctx := context.Background()
	open := e.newCheckout("native", 1000)
	redirect := e.newCheckout("redirect", 1000)
	badKeys := e.newCheckout("badkeys", 1000)
	alipayOnly := e.newCheckout("native", 1000, func(d *checkout.Draft) { d.Wallets = []checkout.Method{checkout.MethodAlipay} })
	wechatOnly := e.newCheckout("native", 1000, func(d *checkout.Draft) { d.Wallets = []checkout.Method{checkout.MethodWeChat} })
	expired := e.expiredCheckout("native")
	cancelled := e.newCheckout("native", 1000)
	if _, err := e.repo.Cancel(ctx, cancelled.ID); err != nil {
		t.Fatal(err)
	}
	paid := e.newCheckout("native", 1000)
	if _, _, err := e.repo.AddAttempt(ctx, paid.ID, checkout.MethodWeChat, checkout.ScenarioQR); err != nil {
		t.Fatal(err)
	}
	if _, err := e.repo.MarkPaid(ctx, paid.ID, 1, ""); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		ua     string
		id     string
		status int
		action string
	}{
		{"alipay-only inside WeChat", uaWeChatIOS, alipayOnly.ID, 200, templates.ActionOpenInBrowser},
		{"wechat-only inside Alipay", uaAlipay, wechatOnly.ID, 200, templates.ActionOpenInBrowser},
		{"mini-program web-view", uaWeChatMini, open.ID, 200, templates.ActionMiniProgramHandoff},
		{"WeChat, redirect mode", uaWeChatAndroid, redirect.ID, 200, templates.ActionWeChatRedirect},
		{"Alipay, redirect mode", uaAlipay, redirect.ID, 200, templates.ActionAlipayRedirect},
		{"Alipay, native mode with unusable app keys", uaAlipay, badKeys.ID, 200, templates.ActionAlipayRedirect},
		{"desktop", uaDesktop, open.ID, 200, templates.ActionQR},
		{"phone browser", uaPhone, open.ID, 200, templates.ActionOpenInWallet},
		{"expired", uaWeChatIOS, expired.ID, 200, templates.ActionExpired},
		{"cancelled", uaAlipay, cancelled.ID, 200, templates.ActionCancelled},
		{"paid, inside WeChat (no OAuth, no charge)", uaWeChatIOS, paid.ID, 200, templates.ActionPaid},
		{"unknown checkout", uaDesktop, "co_AAAAAAAAAAAAAAAAAAAAAAAA", 404, ""},
		{"garbage id", uaDesktop, "%3Cscript%3E", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser(tc.ua, "variant")
			r := b.do(false, "GET", "/c/"+tc.id, nil, nil)
			if r.status != tc.status || attr(reAction, r.body) != tc.action {
				t.Fatalf("%d %q (Location %s)", r.status, attr(reAction, r.body), r.header.Get("Location"))
			}
			if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Content-Security-Policy") == "" {
				t.Errorf("headers %v", r.header)
			}
		})
	}
	// Expired and cancelled checkouts cannot be paid.
	b := e.browser(uaDesktop, "late")
	for _, c := range []struct{ id, code string }{{expired.ID, "checkout_expired"}, {cancelled.ID, "checkout_cancelled"}} {
		_, _, csrf := b.openPage(c.id)
		if r := b.pay(c.id, csrf, map[string]string{"wallet": "wechat", "scenario": "qr"}); r.status != 409 || !strings.Contains(r.body, c.code) {
			t.Errorf("pay %s: %d %s", c.id, r.status, r.body)
		}
	}
	if n := len(e.gw.orders()); n != 0 {
		t.Fatalf("%d payorders", n)
	}
}

func TestPageLanguage(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 100)
	b := e.browser(uaDesktop, "lang")
	for _, tc := range []struct{ accept, query, want string }{
		{"", "", "zh-Hans"},
		{"en-US,en;q=0.9", "", "en"},
		{"zh-TW,zh;q=0.9", "", "zh-Hant"},
		{"zh-HK", "", "zh-Hant"},
		{"zh-CN", "", "zh-Hans"},
		{"fr-FR", "", "zh-Hans"},
		{"en", "zh-Hant", "zh-Hant"},
		{"zh-CN", "en", "en"},
		{"en", "xx", "en"},
	} {
		path := "/c/" + ck.ID
		if tc.query != "" {
			path += "?lang=" + tc.query
		}
		r := b.do(false, "GET", path, nil, map[string]string{"Accept-Language": tc.accept})
		if !strings.Contains(r.body, `<html lang="`+tc.want+`"`) {
			t.Errorf("Accept-Language %q lang %q: want %s, got %.80s", tc.accept, tc.query, tc.want, r.body)
		}
	}
	// Error pages are translated too.
	r := b.do(false, "GET", "/c/co_AAAAAAAAAAAAAAAAAAAAAAAA", nil, map[string]string{"Accept-Language": "en"})
	if r.status != 404 || !strings.Contains(r.body, "Checkout not found") {
		t.Errorf("English 404: %d %.300s", r.status, r.body)
	}
}

func TestStatusAndEvents(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 1999)
	b := e.browser(uaDesktop, "status")
	r := b.get("/c/" + ck.ID + "/status")
	var s payStatus
	decodeJSON(t, r.body, &s)
	if r.status != 200 || s != (payStatus{Status: "open", Amount: 1999}) || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("status: %d %s", r.status, r.body)
	}
	if r := b.get("/c/co_AAAAAAAAAAAAAAAAAAAAAAAA/status"); r.status != 404 || !strings.Contains(r.body, `"code":"not_found"`) {
		t.Fatalf("unknown: %d %s", r.status, r.body)
	}

	// A declined attempt shows as failed while the checkout stays payable.
	declined := e.newCheckout("native", 1011) // sandbox magic: payorder fails with 8011
	_, _, csrf := b.openPage(declined.ID)
	if r := b.pay(declined.ID, csrf, map[string]string{"wallet": "wechat", "scenario": "qr"}); r.status != http.StatusPaymentRequired || !strings.Contains(r.body, "payment_declined") {
		t.Fatalf("declined pay: %d %s", r.status, r.body)
	}
	decodeJSON(t, b.get("/c/"+declined.ID+"/status").body, &s)
	if s.Status != "failed" {
		t.Fatalf("declined status %+v", s)
	}

	// The stream sends heartbeats while nothing happens, and the final state
	// closes it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/c/"+ck.ID+"/events", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	buf := make([]byte, 1<<12)
	var got string
	for !strings.Contains(got, ": ping") {
		n, err := res.Body.Read(buf)
		got += string(buf[:n])
		if err != nil {
			t.Fatalf("stream ended before a heartbeat: %q %v", got, err)
		}
	}
	if !regexp.MustCompile(`^retry: \d+\n\ndata: \{"status":"open"`).MatchString(got) {
		t.Fatalf("stream start %q", got)
	}
	if _, err := e.repo.Cancel(context.Background(), ck.ID); err != nil {
		t.Fatal(err)
	}
	// No Hub publish for a direct repository move: the safety poll notices.
	for !strings.Contains(got, `"status":"cancelled"`) {
		n, err := res.Body.Read(buf)
		got += string(buf[:n])
		if err != nil && !strings.Contains(got, `"status":"cancelled"`) {
			t.Fatalf("no cancelled event: %q %v", got, err)
		}
	}
	// A final state ends the stream.
	for {
		if _, err := res.Body.Read(buf); err != nil {
			if err != io.EOF {
				t.Fatalf("stream not closed after the final state: %v", err)
			}
			break
		}
	}
}

func TestCheckRequiresCSRF(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 100)
	b := e.browser(uaDesktop, "check")
	_, _, csrf := b.openPage(ck.ID)
	if r := b.do(false, "POST", "/c/"+ck.ID+"/check", nil, nil); r.status != 403 {
		t.Fatalf("no token: %d", r.status)
	}
	if r := b.do(false, "POST", "/c/"+ck.ID+"/check", nil, map[string]string{"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}); r.status != 403 {
		t.Fatalf("cross-site: %d", r.status)
	}
	for range 3 { // rate-limited at the reconciler, answered every time
		r := b.do(false, "POST", "/c/"+ck.ID+"/check", nil, map[string]string{"X-CSRF-Token": csrf})
		if r.status != 200 || !strings.Contains(r.body, `"status":"open"`) {
			t.Fatalf("check: %d %s", r.status, r.body)
		}
	}
}

func TestStaticAssets(t *testing.T) {
	e := newPgEnv(t)
	b := e.browser(uaDesktop, "static")
	for _, name := range []string{"app.js", "app.css"} {
		r := b.get(static.Path(name))
		if r.status != 200 || !strings.Contains(r.header.Get("Cache-Control"), "immutable") {
			t.Fatalf("%s: %d %s", name, r.status, r.header.Get("Cache-Control"))
		}
	}
	for _, p := range []string{"/static/0000000000000000/app.js", "/static/x/../../etc/passwd", "/static/app.js"} {
		if r := b.get(p); r.status != 404 {
			t.Errorf("%s: %d", p, r.status)
		}
	}
	// The checkout page references only our origin.
	ck := e.newCheckout("native", 100)
	page := b.get("/c/" + ck.ID).body
	for _, bad := range []string{"http://", "https://", "//cdn"} {
		for _, attr := range []string{`src="` + bad, `href="` + bad} {
			if strings.Contains(page, attr) && !strings.Contains(page, `href="https://shop.example/cancel"`) {
				t.Errorf("third-party reference %s", attr)
			}
		}
	}
}

// TestEventsClientGone: a payer who closes the page frees the stream and its
// hub subscription.
func TestEventsClientGone(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 100)
	before := e.hub.Waiters()
	const n = 5
	cancels := make([]context.CancelFunc, n)
	for i := range n {
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i] = cancel
		req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/c/"+ck.ID+"/events", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		buf := make([]byte, 256)
		if _, err := res.Body.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.hub.Waiters(); got != before+n {
		t.Fatalf("waiters %d, want %d", got, before+n)
	}
	for _, c := range cancels {
		c()
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.hub.Waiters() != before {
		if time.Now().After(deadline) {
			t.Fatalf("waiters left after the payers went away: %d", e.hub.Waiters())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

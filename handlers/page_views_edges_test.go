package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/web/templates"
)

// TestOtherViewsStoreNothing (issue 11) extends TestPlainViewsStoreNothing
// to what else a browser, a crawler or a link preview opens: HEAD, a
// language switch, 404s, error pages, the status and QR fetches, an OAuth
// callback link opened without a round trip in flight, and a browser whose
// session cookie no longer verifies or whose session has expired. None
// adds a Redis key or sets a cookie.
func TestOtherViewsStoreNothing(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 1000)
	paid := e.paidCheckout()

	// A payer whose session has gone from Redis (expired) but whose
	// browser still sends its signed cookie.
	gone := e.browser(uaWeChatIOS, "gone")
	if r, action, _ := gone.openPage(ck.ID); r.status != 200 || action != templates.ActionWeChatJSAPI {
		t.Fatalf("after OAuth: %d %q", r.status, action)
	}
	keys, err := redistest.Keys(e.rdb, e.prefix+"sess:*")
	if err != nil || len(keys) != 1 {
		t.Fatalf("session keys %v %v", keys, err)
	}
	if err := e.rdb.Del(context.Background(), keys...).Err(); err != nil {
		t.Fatal(err)
	}

	bogusSession := map[string]string{"Cookie": "checkout_sid=MTcwMDAwMDAwMHxnYXJiYWdlfA==; checkout_oauth=forged"}
	desktop := map[string]string{"User-Agent": uaDesktop}
	tests := []struct {
		name   string
		b      *pgBrowser
		method string
		path   string
		hdr    map[string]string
	}{
		{"HEAD page", e.browser(uaDesktop, "v"), "HEAD", "/c/" + ck.ID, nil},
		{"HEAD result", e.browser(uaDesktop, "v"), "HEAD", "/c/" + ck.ID + "/result", nil},
		{"language switch", e.browser(uaDesktop, "v"), "GET", "/c/" + ck.ID + "?lang=en", nil},
		{"language switch, result", e.browser(uaPhone, "v"), "GET", "/c/" + paid.ID + "/result?lang=zh-Hant", nil},
		{"unknown checkout", e.browser(uaDesktop, "v"), "GET", "/c/co_AAAAAAAAAAAAAAAAAAAAAAAA", nil},
		{"malformed id", e.browser(uaDesktop, "v"), "GET", "/c/not-an-id", nil},
		{"unknown page", e.browser(uaDesktop, "v"), "GET", "/c/" + ck.ID + "/nope", nil},
		{"gateway return without a signature", e.browser(uaPhone, "v"), "GET", "/c/" + ck.ID + "/return", nil},
		{"status", e.browser(uaDesktop, "v"), "GET", "/c/" + ck.ID + "/status", nil},
		{"QR image", e.browser(uaDesktop, "v"), "GET", "/c/" + ck.ID + "/qr/1", nil},
		{"callback link, no round trip in flight", e.browser(uaWeChatIOS, "v"), "GET",
			"/c/" + ck.ID + "/oauth/wechat?" + url.Values{"code": {"c"}, "state": {"1deadbeef"}}.Encode(), nil},
		{"Alipay callback link, no round trip in flight", e.browser(uaAlipay, "v"), "GET",
			"/c/" + ck.ID + "/oauth/alipay?" + url.Values{"auth_code": {"c"}, "state": {"1"}}.Encode(), nil},
		{"session cookie that does not verify", e.browser(uaDesktop, "v"), "GET", "/c/" + ck.ID, bogusSession},
		{"session cookie that does not verify, result", e.browser(uaDesktop, "v"), "GET", "/c/" + ck.ID + "/result", bogusSession},
		{"session gone from Redis", gone, "GET", "/c/" + ck.ID, desktop},
		{"session gone from Redis, result", gone, "GET", "/c/" + ck.ID + "/result", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.keyCount()
			r := tc.b.do(false, tc.method, tc.path, nil, tc.hdr)
			if r.status >= 500 || r.status == http.StatusFound {
				t.Fatalf("status %d: %.300s", r.status, r.body)
			}
			if after := e.keyCount(); after != before {
				t.Errorf("added %d Redis keys", after-before)
			}
			if sc := r.header.Values("Set-Cookie"); len(sc) != 0 {
				t.Errorf("status %d set cookies: %v", r.status, sc)
			}
		})
	}
}

// TestPayPreflightNotGranted: the CSRF token of a browser without a
// session is one anyone can fetch from the page, so what keeps another
// site from posting it (in a browser that sends neither Sec-Fetch-Site nor
// Origin) is that it travels in a header, X-CSRF-Token, which a cross-site
// page can only add after a CORS preflight the service never grants. If
// the pages ever answer CORS, that argument (docs/pages.md) must be
// revisited.
func TestPayPreflightNotGranted(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 100)
	for _, sub := range []string{"/pay", "/check"} {
		r := e.browser(uaDesktop, "v").do(false, "OPTIONS", "/c/"+ck.ID+sub, nil, map[string]string{
			"Origin":                         "https://evil.example",
			"Access-Control-Request-Method":  "POST",
			"Access-Control-Request-Headers": "content-type,x-csrf-token",
		})
		if r.status < 400 {
			t.Errorf("%s preflight: %d", sub, r.status)
		}
		for k := range r.header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("%s preflight answered %s: %v", sub, k, r.header[k])
			}
		}
	}
}

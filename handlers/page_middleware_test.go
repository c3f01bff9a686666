package handlers

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/web/templates"
)

// pgErrorAnswer is the part of a page answer the opening steps decide.
type pgErrorAnswer struct {
	status int
	// page is the error page's text (HTML answers), or zero.
	page errorText
	// code is the JSON error's code (fetch answers), or "".
	code string
}

// check compares r with the answer: an HTML error page with its catalogue
// title, or exactly {"error":{"code","message"}} in the payer's language;
// both with the pages' headers and without touching the session.
func (want pgErrorAnswer) check(t *testing.T, r pgResp) {
	t.Helper()
	if r.status != want.status {
		t.Fatalf("status %d, want %d: %.300s", r.status, want.status, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" || !strings.Contains(r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("page headers missing: %v", r.header)
	}
	if sc := r.header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("a refused request wrote the session: %v", sc)
	}
	switch {
	case want.code != "":
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type %q, want JSON", ct)
		}
		var got errorBody
		decodeJSON(t, r.body, &got)
		exp := errorBody{apiError{Code: want.code, Message: apiErrorMessage(templates.LangZhHans, want.code)}}
		if got != exp {
			t.Errorf("answer %+v, want %+v", got, exp)
		}
	case want.page != errorText{}:
		if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("Content-Type %q, want HTML", ct)
		}
		title := templates.Translate(templates.LangZhHans, want.page.title)
		if !strings.Contains(r.body, `data-testid="error-page"`) || !strings.Contains(r.body, `data-testid="error-title">`+title+`<`) {
			t.Errorf("not the %q error page: %.300s", want.page.title, r.body)
		}
	default:
		if r.body != "" {
			t.Errorf("body %q, want none", r.body)
		}
	}
}

// TestPageRoutesMissingCheckout: every /c/:id route answers an unknown (or
// malformed) id, and a checkout whose store left the merchants file, the
// way it always has: an error page for what a browser opens, a JSON error
// for what the page script fetches, a bare 404 for the QR image.
func TestPageRoutesMissingCheckout(t *testing.T) {
	e := newPgEnv(t)
	gone := e.newCheckout("native", 100, func(d *checkout.Draft) { d.StoreID = "closed" })
	const unknown = "co_AAAAAAAAAAAAAAAAAAAAAAAA"
	htmlNotFound := pgErrorAnswer{status: http.StatusNotFound, page: pageNotFound}
	jsonNotFound := pgErrorAnswer{status: http.StatusNotFound, code: "not_found"}
	htmlUnavailable := pgErrorAnswer{status: http.StatusServiceUnavailable, page: pageUnavailable}
	jsonUnavailable := pgErrorAnswer{status: http.StatusServiceUnavailable, code: "unavailable"}
	tests := []struct {
		method, sub string
		missing     pgErrorAnswer // unknown and malformed ids
		noStore     pgErrorAnswer // the checkout's store is gone
	}{
		{"GET", "", htmlNotFound, htmlUnavailable},
		{"GET", "/oauth/wechat?code=c&state=s", htmlNotFound, htmlUnavailable},
		{"GET", "/oauth/alipay?auth_code=c&state=s", htmlNotFound, htmlUnavailable},
		{"GET", "/return", htmlNotFound, htmlUnavailable},
		{"GET", "/result", htmlNotFound, htmlUnavailable},
		{"GET", "/status", jsonNotFound, jsonUnavailable},
		{"GET", "/events", jsonNotFound, jsonUnavailable},
		{"POST", "/pay", jsonNotFound, jsonUnavailable},
		{"POST", "/check", jsonNotFound, jsonUnavailable},
		// The QR image reads only the attempt: no checkout, no store.
		{"GET", "/qr/1.svg", pgErrorAnswer{status: http.StatusNotFound}, pgErrorAnswer{status: http.StatusNotFound}},
	}
	b := e.browser(uaWeChatIOS, "lost")
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.sub, func(t *testing.T) {
			var body []byte
			if tt.method == "POST" {
				body = []byte(`{"wallet":"wechat","scenario":"jsapi"}`)
			}
			for _, id := range []string{unknown, "nope"} {
				tt.missing.check(t, b.do(false, tt.method, "/c/"+id+tt.sub, body, map[string]string{"X-CSRF-Token": "x"}))
			}
			tt.noStore.check(t, b.do(false, tt.method, "/c/"+gone.ID+tt.sub, body, map[string]string{"X-CSRF-Token": "x"}))
		})
	}
}

// TestPagePostsRefused: the page's POSTs refuse a missing or wrong CSRF
// token, and a cross-origin request before anything else (even for an
// unknown checkout), and change nothing: no order, no attempt, no session.
func TestPagePostsRefused(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 100)
	b := e.browser(uaDesktop, "forger")
	_, _, csrf := b.openPage(ck.ID)
	if csrf == "" {
		t.Fatal("no CSRF token on the page")
	}
	csrfRefused := pgErrorAnswer{status: http.StatusForbidden, code: "csrf"}
	crossOrigin := pgErrorAnswer{status: http.StatusForbidden, code: "cross_origin"}
	evil := map[string]string{"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
	tests := []struct {
		name string
		id   string
		hdr  map[string]string
		want pgErrorAnswer
	}{
		{"no token", ck.ID, nil, csrfRefused},
		{"empty token", ck.ID, map[string]string{"X-CSRF-Token": ""}, csrfRefused},
		{"wrong token", ck.ID, map[string]string{"X-CSRF-Token": csrf + "x"}, csrfRefused},
		{"another session's token", ck.ID, map[string]string{"X-CSRF-Token": e.browser(uaDesktop, "other").csrfOf(ck.ID)}, csrfRefused},
		{"cross origin", ck.ID, evil, crossOrigin},
		{"cross origin, unknown checkout", "co_AAAAAAAAAAAAAAAAAAAAAAAA", evil, crossOrigin},
	}
	for _, sub := range []string{"/pay", "/check"} {
		for _, tt := range tests {
			t.Run(sub+" "+tt.name, func(t *testing.T) {
				body := []byte(`{"wallet":"wechat","scenario":"qr"}`)
				tt.want.check(t, b.do(false, "POST", "/c/"+tt.id+sub, body, tt.hdr))
			})
		}
	}
	if orders := e.gw.orders(); len(orders) != 0 {
		t.Errorf("refused requests placed %d orders", len(orders))
	}
	got, err := e.repo.Get(context.Background(), ck.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != checkout.StatusOpen || got.Attempts != 0 {
		t.Errorf("refused requests moved the checkout: %s, %d attempts", got.Status, got.Attempts)
	}
	// The session's token still works: nothing was rotated or lost.
	if r := b.pay(ck.ID, csrf, map[string]string{"wallet": "wechat", "scenario": "qr"}); r.status != http.StatusOK {
		t.Fatalf("pay with the token: %d %s", r.status, r.body)
	}
}

// csrfOf opens the checkout page in this browser and returns its token.
func (b *pgBrowser) csrfOf(id string) string {
	b.e.t.Helper()
	_, _, csrf := b.openPage(id)
	return csrf
}

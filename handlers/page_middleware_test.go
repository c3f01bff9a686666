package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/handlers"
	"github.com/wallet-checkout/checkout/web/templates"
)

// pgErrorAnswer is the part of a page answer the opening steps decide.
type pgErrorAnswer struct {
	status int
	// page is the catalogue key of the error page's title (HTML answers),
	// or "".
	page string
	// code is the JSON error's code (fetch answers), or "".
	code string
}

// pgErrorBody is the JSON error answer of what the page script fetches.
type pgErrorBody struct {
	Error pgAPIError `json:"error"`
}

type pgAPIError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
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
	// Only an HTML page has scripts and styles to allow, by its nonce.
	if csp := r.header.Get("Content-Security-Policy"); strings.Contains(csp, "nonce-") != (want.page != "") {
		t.Errorf("CSP %q for an answer of page %q", csp, want.page)
	}
	switch {
	case want.code != "":
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type %q, want JSON", ct)
		}
		var got pgErrorBody
		decodeJSON(t, r.body, &got)
		exp := pgErrorBody{pgAPIError{Code: want.code, Message: handlers.APIErrorMessage(templates.LangZhHans, want.code)}}
		if got != exp {
			t.Errorf("answer %+v, want %+v", got, exp)
		}
	case want.page != "":
		if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("Content-Type %q, want HTML", ct)
		}
		title := templates.Translate(templates.LangZhHans, want.page)
		if !strings.Contains(r.body, `data-testid="error-page"`) || !strings.Contains(r.body, `data-testid="error-title">`+title+`<`) {
			t.Errorf("not the %q error page: %.300s", want.page, r.body)
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
	htmlNotFound := pgErrorAnswer{status: http.StatusNotFound, page: handlers.PageNotFoundTitle}
	jsonNotFound := pgErrorAnswer{status: http.StatusNotFound, code: "not_found"}
	htmlUnavailable := pgErrorAnswer{status: http.StatusServiceUnavailable, page: handlers.PageUnavailableTitle}
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
// TestPagePostsWithoutSession has the stateless token's own cases.
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
		{"another checkout's token", ck.ID, map[string]string{"X-CSRF-Token": e.browser(uaDesktop, "other").csrfOf(e.newCheckout("native", 100).ID)}, csrfRefused},
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
	// The page's token still works: nothing was rotated or lost.
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

// TestOAuthCallbacks runs both wallets through the one callback flow:
// state mismatch, missing code, refused code, success, and the refresh of
// a callback whose identity the session already holds.
func TestOAuthCallbacks(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 100)
	wallets := []struct {
		name, ua, path, codeParam, action string
		mint                              func(payer string) string
	}{
		{"wechat", uaWeChatIOS, "/oauth/wechat", "code", templates.ActionWeChatJSAPI,
			func(payer string) string { return e.sim.MintOAuthCode(pgOfficialApp, payer, false) }},
		{"alipay", uaAlipay, "/oauth/alipay", "auth_code", templates.ActionAlipayJSAPI,
			func(payer string) string { return e.sim.MintAlipayCode(pgAlipayApp, payer) }},
	}
	back := "/c/" + ck.ID
	for _, w := range wallets {
		// start opens the page, which sends the payer to the wallet.
		start := func(t *testing.T, b *pgBrowser) string {
			t.Helper()
			r := b.do(false, "GET", back, nil, nil)
			loc, err := url.Parse(r.header.Get("Location"))
			if r.status != http.StatusFound || err != nil || loc.Query().Get("state") == "" {
				t.Fatalf("no OAuth redirect: %d %s", r.status, r.header.Get("Location"))
			}
			return loc.Query().Get("state")
		}
		callback := func(b *pgBrowser, code, state string) pgResp {
			q := url.Values{"state": {state}}
			if code != "" {
				q.Set(w.codeParam, code)
			}
			return b.do(false, "GET", back+w.path+"?"+q.Encode(), nil, nil)
		}
		backPage := func(status int, page string) func(*testing.T, pgResp) {
			return func(t *testing.T, r pgResp) {
				t.Helper()
				pgErrorAnswer{status: status, page: page}.check(t, withoutCookies(r))
				if !strings.Contains(r.body, `data-testid="error-back"`) || !strings.Contains(r.body, `href="`+back+`"`) {
					t.Errorf("no way back to the checkout page: %.300s", r.body)
				}
			}
		}
		tests := []struct {
			name  string
			code  func(payer string) string
			state func(real string) string
			want  func(*testing.T, pgResp)
			// identified: the payer's id is in the session afterwards.
			identified bool
		}{
			{"state mismatch", w.mint, func(string) string { return "forged-state" }, backPage(http.StatusBadRequest, handlers.PageOAuthExpiredTitle), false},
			{"no state", w.mint, func(string) string { return "" }, backPage(http.StatusBadRequest, handlers.PageOAuthExpiredTitle), false},
			{"missing code", func(string) string { return "" }, func(s string) string { return s }, backPage(http.StatusBadRequest, handlers.PageOAuthDeniedTitle), false},
			{"refused code", func(string) string { return "not-a-code" }, func(s string) string { return s }, backPage(http.StatusBadRequest, handlers.PageOAuthFailedTitle), false},
			{"success", w.mint, func(s string) string { return s }, func(t *testing.T, r pgResp) {
				if r.status != http.StatusFound || r.header.Get("Location") != back {
					t.Fatalf("success: %d %q", r.status, r.header.Get("Location"))
				}
			}, true},
		}
		for _, tt := range tests {
			t.Run(w.name+" "+tt.name, func(t *testing.T) {
				payer := w.name + strings.ReplaceAll(tt.name, " ", "")
				b := e.browser(w.ua, payer)
				state := start(t, b)
				tt.want(t, callback(b, tt.code(payer), tt.state(state)))
				r := b.do(false, "GET", back, nil, nil)
				if !tt.identified {
					// Not identified, and the state was spent: start over.
					if r.status != http.StatusFound {
						t.Fatalf("after %s the page did not start over: %d", tt.name, r.status)
					}
					return
				}
				if r.status != http.StatusOK || attr(reAction, r.body) != w.action {
					t.Fatalf("after OAuth: %d %q", r.status, attr(reAction, r.body))
				}
				// A refresh of the callback (its code spent) goes straight back.
				if r := callback(b, "spent", "whatever"); r.status != http.StatusFound || r.header.Get("Location") != back {
					t.Fatalf("refresh: %d %q", r.status, r.header.Get("Location"))
				}
			})
		}
	}
}

// withoutCookies drops Set-Cookie: the OAuth callbacks end the round
// trip's binding cookie even when they refuse.
func withoutCookies(r pgResp) pgResp {
	r.header = r.header.Clone()
	r.header.Del("Set-Cookie")
	return r
}

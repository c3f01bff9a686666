package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/handlers"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/sessions"
	"github.com/wallet-checkout/checkout/web/templates"
)

// keyCount is how many Redis keys the test's service has (KEYS, one call:
// the shared server may hold many keys of others).
func (e *pgEnv) keyCount() int {
	e.t.Helper()
	keys, err := redistest.Keys(e.rdb, e.prefix+"*")
	if err != nil {
		e.t.Fatal(err)
	}
	return len(keys)
}

// paidCheckout stores a checkout paid with a QR attempt.
func (e *pgEnv) paidCheckout() *checkout.Checkout {
	e.t.Helper()
	ctx := context.Background()
	ck := e.newCheckout("native", 1000)
	if _, _, err := e.repo.AddAttempt(ctx, ck.ID, checkout.MethodWeChat, checkout.ScenarioQR); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.repo.MarkPaid(ctx, ck.ID, 1, ""); err != nil {
		e.t.Fatal(err)
	}
	return ck
}

// TestPlainViewsStoreNothing (issue 11): a view of a checkout's pages, in
// every state and every client, adds no Redis key and sets no cookie. The
// one answer that sets a cookie is the redirect of a first visit to the
// wallet's OAuth: the short-lived cookie that binds the round trip to the
// browser (no Redis either).
func TestPlainViewsStoreNothing(t *testing.T) {
	e := newPgEnv(t)
	open, redirect, paid, expired := e.newCheckout("native", 1000), e.newCheckout("redirect", 1000), e.paidCheckout(), e.expiredCheckout("native")
	cancelled := e.newCheckout("native", 1000)
	if _, err := e.repo.Cancel(context.Background(), cancelled.ID); err != nil {
		t.Fatal(err)
	}
	uas := map[string]string{"desktop": uaDesktop, "phone": uaPhone, "WeChat": uaWeChatIOS, "WeChat Android": uaWeChatAndroid,
		"mini-program": uaWeChatMini, "Alipay": uaAlipay}
	pages := []struct {
		name string
		path string
	}{
		{"open, native store", "/c/" + open.ID},
		{"open, redirect store", "/c/" + redirect.ID},
		{"paid", "/c/" + paid.ID},
		{"expired", "/c/" + expired.ID},
		{"cancelled", "/c/" + cancelled.ID},
		{"result, open", "/c/" + open.ID + "/result"},
		{"result, paid", "/c/" + paid.ID + "/result"},
		{"result, expired", "/c/" + expired.ID + "/result"},
	}
	for _, p := range pages {
		for uaName, ua := range uas {
			t.Run(p.name+" in "+uaName, func(t *testing.T) {
				before := e.keyCount()
				r := e.browser(ua, "viewer").do(false, "GET", p.path, nil, nil)
				if after := e.keyCount(); after != before {
					t.Errorf("the view added %d Redis keys", after-before)
				}
				cookies := (&http.Response{Header: r.header}).Cookies()
				if r.status == http.StatusFound {
					// A first visit in a wallet: off to its OAuth, with the binding only.
					if len(cookies) != 1 || cookies[0].Name != "checkout_oauth" || cookies[0].MaxAge <= 0 || cookies[0].MaxAge > 600 || !cookies[0].HttpOnly {
						t.Errorf("OAuth redirect cookies %v", r.header.Values("Set-Cookie"))
					}
					return
				}
				if r.status != http.StatusOK {
					t.Fatalf("status %d: %.300s", r.status, r.body)
				}
				if len(cookies) != 0 {
					t.Errorf("a plain view set cookies: %v", r.header.Values("Set-Cookie"))
				}
				if cl := r.header.Get("Content-Length"); cl == "" || r.header.Get("Transfer-Encoding") != "" {
					t.Errorf("not one write with a Content-Length: %q %q", cl, r.header.Get("Transfer-Encoding"))
				}
			})
		}
	}
}

// TestPageViewRoundTrips (issue 11): a view without a cookie reads the
// checkout and nothing else, one Redis round trip; a returning payer's
// view reads the session in the same round trip.
func TestPageViewRoundTrips(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 1234)
	rt := &roundTrips{}
	e.rdb.AddHook(rt)
	returning := e.browser(uaWeChatIOS, "returning")
	if r, action, _ := returning.openPage(ck.ID); r.status != 200 || action != templates.ActionWeChatJSAPI {
		t.Fatalf("after OAuth: %d %q", r.status, action)
	}
	for _, tc := range []struct {
		name string
		b    *pgBrowser
		path string
	}{
		{"checkout page, no cookie", e.browser(uaDesktop, "new"), "/c/" + ck.ID},
		{"result page, no cookie", e.browser(uaDesktop, "new"), "/c/" + ck.ID + "/result"},
		{"checkout page, returning payer", returning, "/c/" + ck.ID},
	} {
		rt.n.Store(0)
		if r := tc.b.do(false, "GET", tc.path, nil, nil); r.status != 200 {
			t.Fatalf("%s: %d", tc.name, r.status)
		}
		if n := rt.n.Load(); n != 1 {
			t.Errorf("%s: %d Redis round trips, want 1", tc.name, n)
		}
	}
}

// TestPagePostsWithoutSession (issue 11): the page's token works without
// any session, and is refused (403, the JSON error in the payer's
// language, nothing changed) when missing, forged, another checkout's,
// expired, bound to another browser's session, or sent cross-origin.
func TestPagePostsWithoutSession(t *testing.T) {
	clk := newPgClock()
	e := newPgEnv(t, withClock(clk))
	ck, other := e.newCheckout("native", 100), e.newCheckout("native", 100)
	b := e.browser(uaDesktop, "stateless")
	token := b.csrfOf(ck.ID)
	// A token made a CSRF lifetime ago.
	clk.Advance(-sessions.CSRFLifetime - time.Minute)
	expired := b.csrfOf(ck.ID)
	clk.Advance(sessions.CSRFLifetime + time.Minute)
	// A payer with a session (its openid): its tokens are bound to it.
	holder := e.browser(uaWeChatIOS, "holder")
	if r, action, _ := holder.openPage(ck.ID); r.status != 200 || action != templates.ActionWeChatJSAPI {
		t.Fatalf("after OAuth: %d %q", r.status, action)
	}
	bound := holder.csrfOf(ck.ID)
	exp, _, _ := strings.Cut(token, ".")
	refused := pgErrorAnswer{status: http.StatusForbidden, code: "csrf"}
	tests := []struct {
		name  string
		b     *pgBrowser
		token string
		hdr   map[string]string
		want  pgErrorAnswer
	}{
		{"missing", b, "", nil, refused},
		{"forged", b, exp + "." + strings.Repeat("A", 43), nil, refused},
		{"far future, forged", b, "zzzzzzzzz." + strings.Repeat("A", 43), nil, refused},
		{"very long", b, exp + "." + strings.Repeat("A", 6000), nil, refused},
		{"negative expiry", b, "-1." + token[strings.Index(token, ".")+1:], nil, refused},
		{"signed expiry with a plus", b, "+" + token, nil, refused},
		{"not base64", b, exp + "." + strings.Repeat("!", 43), nil, refused},
		{"another checkout's", b, b.csrfOf(other.ID), nil, refused},
		{"expired", b, expired, nil, refused},
		{"bound to another browser's session", b, bound, nil, refused},
		{"unbound, with a session", holder, token, nil, refused},
		{"cross origin", b, token, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
			pgErrorAnswer{status: http.StatusForbidden, code: "cross_origin"}},
	}
	for _, sub := range []string{"/pay", "/check"} {
		for _, tt := range tests {
			t.Run(sub+" "+tt.name, func(t *testing.T) {
				hdr := map[string]string{"X-CSRF-Token": tt.token, "Accept-Language": "zh-CN"}
				for k, v := range tt.hdr {
					hdr[k] = v
				}
				before := e.keyCount()
				tt.want.check(t, tt.b.do(false, "POST", "/c/"+ck.ID+sub, []byte(`{"wallet":"wechat","scenario":"qr"}`), hdr))
				if after := e.keyCount(); after != before {
					t.Errorf("a refused POST added %d Redis keys", after-before)
				}
			})
		}
	}
	if n := len(e.gw.orders()); n != 0 {
		t.Fatalf("refused requests placed %d orders", n)
	}
	// Without any cookie at all, the page's token pays; a payer with a
	// session pays with its own.
	bare := &pgBrowser{e: e, ua: uaDesktop, c: &http.Client{}, noFollow: &http.Client{}}
	if r := bare.pay(ck.ID, token, map[string]string{"wallet": "wechat", "scenario": "qr"}); r.status != http.StatusOK {
		t.Fatalf("pay with the stateless token: %d %s", r.status, r.body)
	}
	if r := holder.pay(ck.ID, bound, map[string]string{"wallet": "wechat", "scenario": "jsapi"}); r.status != http.StatusOK {
		t.Fatalf("pay with the session's token: %d %s", r.status, r.body)
	}
}

// TestOAuthStateWithoutSession (issue 11): the first visit's OAuth state is
// signed, not stored: the round trip works and starts the session (an
// identity is worth keeping); a forged, expired, replayed, other
// checkout's or other browser's state is refused and keeps nothing.
func TestOAuthStateWithoutSession(t *testing.T) {
	clk := newPgClock()
	e := newPgEnv(t, withClock(clk))
	ck, other := e.newCheckout("native", 100), e.newCheckout("native", 100)
	start := func(t *testing.T, b *pgBrowser, id string) string {
		t.Helper()
		before := e.keyCount()
		r := b.do(false, "GET", "/c/"+id, nil, nil)
		loc, err := url.Parse(r.header.Get("Location"))
		if r.status != http.StatusFound || err != nil {
			t.Fatalf("no OAuth redirect: %d", r.status)
		}
		if after := e.keyCount(); after != before {
			t.Fatalf("the OAuth redirect stored %d keys", after-before)
		}
		state := loc.Query().Get("state")
		// WeChat takes a-z, A-Z, 0-9, at most 128; Alipay at most 100.
		if len(state) == 0 || len(state) > 100 || strings.Trim(state, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
			t.Fatalf("state %q is not one the wallets take", state)
		}
		return state
	}
	callback := func(b *pgBrowser, id, payer, state string) pgResp {
		code := e.sim.MintOAuthCode(pgOfficialApp, payer, false)
		return b.do(false, "GET", "/c/"+id+"/oauth/wechat?"+url.Values{"code": {code}, "state": {state}}.Encode(), nil, nil)
	}
	sessionKeys := func() int {
		keys, err := redistest.Keys(e.rdb, e.prefix+"sess:*")
		if err != nil {
			t.Fatal(err)
		}
		return len(keys)
	}
	refusedKeepsNothing := func(t *testing.T, r pgResp, sessionsBefore int) {
		t.Helper()
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, templates.Translate(templates.LangZhHans, handlers.PageOAuthExpiredTitle)) {
			t.Fatalf("refused state: %d %.300s", r.status, r.body)
		}
		if n := sessionKeys(); n != sessionsBefore {
			t.Errorf("a refused callback stored a session")
		}
	}

	t.Run("round trip", func(t *testing.T) {
		b := e.browser(uaWeChatIOS, "alice")
		state := start(t, b, ck.ID)
		n := sessionKeys()
		r := callback(b, ck.ID, "alice", state)
		if r.status != http.StatusFound || r.header.Get("Location") != "/c/"+ck.ID {
			t.Fatalf("callback: %d %q", r.status, r.header.Get("Location"))
		}
		if sessionKeys() != n+1 {
			t.Fatal("the identity started no session")
		}
		if r := b.do(false, "GET", "/c/"+ck.ID, nil, nil); r.status != 200 || attr(reAction, r.body) != templates.ActionWeChatJSAPI {
			t.Fatalf("after OAuth: %d", r.status)
		}
	})
	t.Run("replayed", func(t *testing.T) {
		b := e.browser(uaWeChatIOS, "bob")
		state := start(t, b, ck.ID)
		// A copy of the browser's binding, taken before the callback.
		u, _ := url.Parse(e.srv.URL)
		copycat := e.browser(uaWeChatIOS, "copycat")
		copycat.c.Jar.SetCookies(u, b.c.Jar.Cookies(u))
		if r := callback(b, ck.ID, "bob", state); r.status != http.StatusFound {
			t.Fatalf("first use: %d", r.status)
		}
		refusedKeepsNothing(t, callback(copycat, ck.ID, "copycat", state), sessionKeys())
	})
	t.Run("forged", func(t *testing.T) {
		b := e.browser(uaWeChatIOS, "mallory")
		state := start(t, b, ck.ID)
		last := "0"
		if state[len(state)-1] == '0' {
			last = "1"
		}
		forged := state[:len(state)-1] + last
		refusedKeepsNothing(t, callback(b, ck.ID, "mallory", forged), sessionKeys())
	})
	t.Run("expired", func(t *testing.T) {
		b := e.browser(uaWeChatIOS, "dave")
		state := start(t, b, ck.ID)
		clk.Advance(sessions.StateLifetime + time.Second)
		defer clk.Advance(-sessions.StateLifetime - time.Second)
		refusedKeepsNothing(t, callback(b, ck.ID, "dave", state), sessionKeys())
	})
	t.Run("another checkout's", func(t *testing.T) {
		b := e.browser(uaWeChatIOS, "carol")
		state := start(t, b, ck.ID)
		refusedKeepsNothing(t, callback(b, other.ID, "carol", state), sessionKeys())
	})
	t.Run("another browser's", func(t *testing.T) {
		b := e.browser(uaWeChatIOS, "victim")
		state := start(t, e.browser(uaWeChatIOS, "attacker"), ck.ID)
		// The attacker's code and state, opened in the victim's browser.
		refusedKeepsNothing(t, callback(b, ck.ID, "attacker", state), sessionKeys())
	})
}

// TestIdentitylessSessionLifetime (issue 11): a session without a wallet
// identity lives hours, one with an identity keeps the month.
func TestIdentitylessSessionLifetime(t *testing.T) {
	e := newPgEnv(t)
	ctx := context.Background()
	seen := map[string]bool{}
	for _, tc := range []struct {
		name     string
		identity bool
		min, max time.Duration
	}{
		{"without identity", false, time.Hour, 6 * time.Hour},
		{"with identity", true, 29 * 24 * time.Hour, 30 * 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", e.srv.URL+"/c/x", nil)
			p, err := e.payers().Load(req)
			if err != nil {
				t.Fatal(err)
			}
			if tc.identity {
				p.SetWeChatOpenID(pgOfficialApp, "oLIFE")
			}
			w := newRecorder()
			if err := e.payers().Save(w, req, p); err != nil {
				t.Fatal(err)
			}
			cookies := w.Result().Cookies()
			if len(cookies) != 1 || time.Duration(cookies[0].MaxAge)*time.Second < tc.min || time.Duration(cookies[0].MaxAge)*time.Second > tc.max {
				t.Fatalf("cookie %v", cookies)
			}
			keys, err := redistest.Keys(e.rdb, e.prefix+"sess:*")
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, k := range keys {
				if !seen[k] {
					seen[k], found = true, true
					if ttl := e.rdb.TTL(ctx, k).Val(); ttl < tc.min || ttl > tc.max {
						t.Errorf("session TTL %s, want between %s and %s", ttl, tc.min, tc.max)
					}
				}
			}
			if !found {
				t.Errorf("no new session key among %v", keys)
			}
		})
	}
}

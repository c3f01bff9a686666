package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
)

// The checkout page is served from a cache of rendered pages
// (templates.PageCache) with the per-request values spliced in. These tests
// hold it to what a fresh render gives: each answer's own nonce and CSRF
// token, the countdown of the moment, and the checkout's current state.

var (
	reCSPNonce  = regexp.MustCompile(`'nonce-([^']+)'`)
	reNonceAttr = regexp.MustCompile(`nonce="([^"]*)"`)
	reExpiresIn = regexp.MustCompile(`data-expires-in="([^"]*)"`)
	reCountdown = regexp.MustCompile(`data-testid="countdown">([^<]*)<`)
	reStatus    = regexp.MustCompile(`data-status="([^"]*)"`)
)

// pageNonce checks that every nonce in r's markup is the one of its CSP
// header and returns it.
func pageNonce(t *testing.T, r pgResp) string {
	t.Helper()
	csp := reCSPNonce.FindStringSubmatch(r.header.Get("Content-Security-Policy"))
	if csp == nil {
		t.Fatalf("no nonce in the CSP %q", r.header.Get("Content-Security-Policy"))
	}
	attrs := reNonceAttr.FindAllStringSubmatch(r.body, -1)
	if len(attrs) != 2 {
		t.Fatalf("%d nonce attributes, want the stylesheet's and the script's", len(attrs))
	}
	for _, a := range attrs {
		if a[1] != csp[1] {
			t.Fatalf("markup nonce %q, CSP nonce %q", a[1], csp[1])
		}
	}
	return csp[1]
}

// TestCheckoutPageCachePerRequestValues: browsers viewing the same page
// (one cache entry) and other checkouts' pages each get their own nonce
// and a CSRF token that works for them only.
func TestCheckoutPageCachePerRequestValues(t *testing.T) {
	e := newPgEnv(t)
	one, two := e.newCheckout("native", 1000), e.newCheckout("native", 2000)

	nonces := map[string]bool{}
	view := func(b *pgBrowser, id, wantAction string) string {
		t.Helper()
		r, action, csrf := b.openPage(id)
		if r.status != http.StatusOK || action != wantAction || csrf == "" {
			t.Fatalf("page of %s: %d, action %q, csrf %q", id, r.status, action, csrf)
		}
		n := pageNonce(t, r)
		if nonces[n] {
			t.Fatalf("nonce %q served twice", n)
		}
		nonces[n] = true
		return csrf
	}
	// refusedCSRF posts a pay request that is invalid past the CSRF check:
	// 403 means the token was refused, 400 that it was accepted.
	refusedCSRF := func(b *pgBrowser, id, csrf string) bool {
		t.Helper()
		r := b.pay(id, csrf, map[string]string{"wallet": "none", "scenario": "none"})
		if r.status != http.StatusForbidden && r.status != http.StatusBadRequest {
			t.Fatalf("pay: %d %s", r.status, r.body)
		}
		return r.status == http.StatusForbidden
	}

	// Two cookieless desktop browsers and the other checkout's page.
	d1, d2 := e.browser(uaDesktop, "d1"), e.browser(uaDesktop, "d2")
	csrfD1, csrfD2 := view(d1, one.ID, "qr"), view(d2, one.ID, "qr")
	_ = view(d1, one.ID, "qr")
	csrfTwo := view(d1, two.ID, "qr")
	if csrfTwo == csrfD1 {
		t.Fatal("two checkouts' pages carry the same CSRF token")
	}
	if refusedCSRF(d1, one.ID, csrfD1) || refusedCSRF(d2, one.ID, csrfD2) {
		t.Fatal("a page's own CSRF token refused")
	}
	if !refusedCSRF(d1, one.ID, csrfTwo) {
		t.Fatal("another checkout's CSRF token accepted")
	}

	// Two WeChat payers with their sessions: the same markup for both, a
	// token bound to each one's session.
	a, b := e.browser(uaWeChatIOS, "payer-a"), e.browser(uaWeChatIOS, "payer-b")
	csrfA, csrfB := view(a, one.ID, "wechat_jsapi"), view(b, one.ID, "wechat_jsapi")
	if again := view(a, one.ID, "wechat_jsapi"); again != csrfA && refusedCSRF(a, one.ID, again) {
		t.Fatal("a's second view has a token a cannot use")
	}
	if csrfA == csrfB {
		t.Fatal("two payers' sessions got the same CSRF token")
	}
	if refusedCSRF(a, one.ID, csrfA) || refusedCSRF(b, one.ID, csrfB) {
		t.Fatal("a payer's own CSRF token refused")
	}
	if !refusedCSRF(b, one.ID, csrfA) || !refusedCSRF(a, one.ID, csrfB) {
		t.Fatal("one payer's CSRF token accepted from the other")
	}
}

// TestCheckoutPageCacheCountdown: the countdown is the request's, not the
// one of the render that filled the cache.
func TestCheckoutPageCacheCountdown(t *testing.T) {
	clk := newPgClock()
	e := newPgEnv(t, withClock(clk))
	ck := e.newCheckout("native", 1000)
	br := e.browser(uaDesktop, "p")
	left := func() (string, string) {
		t.Helper()
		r := br.get("/c/" + ck.ID)
		return attr(reExpiresIn, r.body), attr(reCountdown, r.body)
	}
	secs, text := left()
	if secs == "" || text == "" {
		t.Fatalf("no countdown: %q %q", secs, text)
	}
	clk.Advance(61 * time.Second)
	secs2, text2 := left()
	if secs2 == secs || text2 == text {
		t.Fatalf("after 61 s the countdown still says %s (%s)", secs2, text2)
	}
	n1, n2 := mustAtoi(t, secs), mustAtoi(t, secs2)
	if n1-n2 != 61 {
		t.Fatalf("countdown went from %d to %d in 61 s", n1, n2)
	}
	if wantText := clockOf(n2); text2 != wantText {
		t.Fatalf("countdown text %q, want %q", text2, wantText)
	}
}

// TestCheckoutPageCacheStatusChange: a view after the checkout is paid or
// cancelled shows the new state at once, though the open page is cached.
func TestCheckoutPageCacheStatusChange(t *testing.T) {
	e := newPgEnv(t)
	ctx := context.Background()
	br := e.browser(uaDesktop, "p")
	paid, cancelled := e.newCheckout("native", 1000), e.newCheckout("native", 1000)
	for _, id := range []string{paid.ID, cancelled.ID} {
		for range 2 {
			if _, action, _ := br.openPage(id); action != "qr" {
				t.Fatalf("open page: action %q", action)
			}
		}
	}
	if _, _, err := e.repo.AddAttempt(ctx, paid.ID, checkout.MethodWeChat, checkout.ScenarioQR); err != nil {
		t.Fatal(err)
	}
	if _, err := e.repo.MarkPaid(ctx, paid.ID, 1, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.repo.Cancel(ctx, cancelled.ID); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{paid.ID: "paid", cancelled.ID: "cancelled"} {
		r, action, _ := br.openPage(id)
		if action != want || attr(reStatus, r.body) != want {
			t.Fatalf("after the change: action %q, status %q, want %s", action, attr(reStatus, r.body), want)
		}
		if strings.Contains(r.body, `data-testid="countdown"`) {
			t.Fatal("a closed checkout's page shows the countdown")
		}
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// clockOf is the countdown's m:ss (h:mm:ss from an hour up).
func clockOf(secs int) string {
	if secs >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", secs/3600, secs/60%60, secs%60)
	}
	return fmt.Sprintf("%d:%02d", secs/60, secs%60)
}

package handlers_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/wallet-checkout/checkout/apiobject"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// loginOwner signs shop's admin in (password and one-time code) on a
// fresh browser; each call moves the clock to the next code's step.
func (e *consoleEnv) loginOwner() *http.Client {
	e.t.Helper()
	e.advance(31 * time.Second)
	code, err := totp.GenerateCode(consoleTOTP, e.clock())
	if err != nil {
		e.t.Fatal(err)
	}
	b := e.browser()
	if a := e.login(b, "owner@shop.example", consolePassword, code); a.status != http.StatusSeeOther {
		e.t.Fatalf("owner sign-in: %d\n%s", a.status, a.body)
	}
	return b
}

// loginViewer signs shop's viewer in on a fresh browser.
func (e *consoleEnv) loginViewer() *http.Client {
	e.t.Helper()
	b := e.browser()
	if a := e.login(b, "viewer@shop.example", consolePassword, ""); a.status != http.StatusSeeOther {
		e.t.Fatalf("viewer sign-in: %d\n%s", a.status, a.body)
	}
	return b
}

// pay marks checkout id paid through its first attempt, at the env's
// clock (the repository's own transition, as a confirmed notify makes it).
func (e *consoleEnv) pay(id string) *checkout.Checkout {
	e.t.Helper()
	ctx := e.t.Context()
	a, _, err := e.app.Repo.AddAttempt(ctx, id, checkout.MethodWeChat, checkout.ScenarioJSAPI)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.app.Repo.MarkPaid(ctx, id, a.Seq, "ord"+id[3:13]); err != nil {
		e.t.Fatal(err)
	}
	co, err := e.app.Repo.Get(ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return co
}

// emitRefund stores a refund event of kind typ for checkout co, at the
// env's clock, as payments emits it when a refund succeeds.
func (e *consoleEnv) emitRefund(typ string, co *checkout.Checkout, fen int64) {
	e.t.Helper()
	ev, err := webhook.NewEvent(typ, co, "http://console.test", e.clock())
	if err != nil {
		e.t.Fatal(err)
	}
	ev.Data.Refund = &apiobject.Refund{ID: "re_" + co.ID[3:], Object: "refund", CheckoutID: co.ID, Amount: fen, Currency: "CNY", Kind: "merchant", Status: "succeeded"}
	if err := e.app.Webhooks.Emit(e.t.Context(), ev); err != nil {
		e.t.Fatal(err)
	}
}

// figureOf reads one figure's value and link from the overview.
func figureOf(t *testing.T, body, testid string) (value, href string) {
	t.Helper()
	m := regexp.MustCompile(`<a class="console-figure" href="([^"]*)" data-testid="` + testid + `"><span class="console-figure-label">[^<]*</span>\s*<span class="console-figure-value">([^<]*)</span>\s*(?:<span class="console-figure-amount">([^<]*)</span>)?`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no figure %s in:\n%s", testid, body)
	}
	return strings.TrimSpace(m[2] + " " + m[3]), strings.ReplaceAll(m[1], "&amp;", "&")
}

// TestConsoleOverview: today's and the week's payments (by the day they
// were paid, UTC+8), refunds, late and duplicate payments, each linking
// to the list behind it; another merchant's money is not counted.
func TestConsoleOverview(t *testing.T) {
	e := newConsoleEnv(t) // 2026-12-02 17:00 UTC+8
	// Three days ago: paid 30.00; yesterday 23:59 UTC+8: paid 5.00 (the
	// week, not today); today: 12.34 and 0.66 paid, the first refunded
	// 2.34, and a duplicate payment refunded.
	e.now.Store(time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC).UnixNano())
	e.pay(e.mkCheckout("shop", "old", 3000))
	e.now.Store(time.Date(2026, 12, 1, 15, 59, 0, 0, time.UTC).UnixNano())
	e.pay(e.mkCheckout("shop", "yesterday", 500))
	e.now.Store(time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC).UnixNano())
	a := e.pay(e.mkCheckout("shop", "today-a", 1234))
	e.pay(e.mkCheckout("shop", "today-b", 66))
	e.emitRefund(webhook.TypeRefundSucceeded, a, 234)
	e.emitRefund(webhook.TypeDuplicatePaymentRefunded, a, 1234)
	e.pay(e.mkCheckout("other", "foreign", 99999))
	e.mkCheckout("shop", "unpaid", 700)
	// Eight days ago is out of the week.
	e.now.Store(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC).UnixNano())
	e.pay(e.mkCheckout("shop", "too-old", 100))
	e.now.Store(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC).UnixNano())

	b := e.loginViewer()
	page := e.do(b, "GET", "/console/overview", nil)
	if page.status != http.StatusOK {
		t.Fatalf("overview: %d\n%s", page.status, page.body)
	}
	for _, c := range []struct{ id, value, href string }{
		{"today-paid", "2 ¥13.00", "/console/payments?from=2026-12-02&status=paid&to=2026-12-02"},
		{"today-refunds", "2 ¥14.68", "/console/payments?from=2026-12-02&status=refunded&to=2026-12-02"},
		{"today-duplicates", "1", "/console/payments?duplicate=1&from=2026-12-02&to=2026-12-02"},
		{"today-late", "0", "/console/payments?from=2026-12-02&late=1&to=2026-12-02"},
		{"week-paid", "4 ¥48.00", "/console/payments?from=2026-11-26&status=paid&to=2026-12-02"},
		{"week-refunds", "2 ¥14.68", "/console/payments?from=2026-11-26&status=refunded&to=2026-12-02"},
		{"week-failing", "0", "/console/developers#deliveries"},
		{"mismatches", "0", "/console/reconciliation?open=1"},
	} {
		value, href := figureOf(t, page.body, c.id)
		if value != c.value || href != c.href {
			t.Errorf("%s: %q %q, want %q %q", c.id, value, href, c.value, c.href)
		}
	}
	if a := e.do(e.browser(), "GET", "/console/overview", nil); a.status != http.StatusSeeOther {
		t.Errorf("signed out: %d", a.status)
	}
	// zh-Hant and en render too.
	for _, lang := range []string{"zh-Hant", "en"} {
		if a := e.do(b, "GET", "/console/overview?lang="+lang, nil); a.status != http.StatusOK || !strings.Contains(a.body, `lang="`+lang) {
			t.Errorf("%s: %d", lang, a.status)
		}
	}
}

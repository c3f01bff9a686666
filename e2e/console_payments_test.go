package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/console"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// The console users of the e2e merchant (sandboxOptions.console).
const (
	consoleAdmin    = "owner@e2e.example"
	consoleViewer   = "books@e2e.example"
	consolePassword = "e2e-console-password"
)

var consoleHash = sync.OnceValues(func() (string, error) { return console.HashPassword(consolePassword) })

// consoleUsers is the e2e merchant's console: an admin and a viewer.
func consoleUsers(t *testing.T) checkout.Console {
	t.Helper()
	h, err := consoleHash()
	if err != nil {
		t.Fatal(err)
	}
	return checkout.Console{
		Users: []*checkout.ConsoleUser{
			{Email: consoleAdmin, PasswordHash: h, Role: checkout.RoleAdmin},
			{Email: consoleViewer, PasswordHash: h, Role: checkout.RoleViewer},
		},
		SupportLimits: checkout.RefundLimits{PerRefund: 5000, PerDay: 20000},
	}
}

// signInConsole signs in at /console/login in tb.
func signInConsole(tb *tab, s *stack, email string) {
	tb.t.Helper()
	tb.open(s.url+"/console/login", "[data-testid=login-email]")
	tb.run("sign in as "+email,
		chromedp.SendKeys("[data-testid=login-email]", email),
		chromedp.SendKeys("[data-testid=login-password]", consolePassword),
		chromedp.Click("[data-testid=login-submit]"),
		chromedp.WaitVisible(chromedp.CSS("[data-testid=console-home]")))
}

// noOverflow fails when the page is wider than its viewport: wide tables
// must scroll inside their frame, not push the page sideways.
func noOverflow(tb *tab, what string) {
	tb.t.Helper()
	if w := eval[float64](tb, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
		tb.t.Errorf("%s: the page is %v px wider than the viewport", what, w)
	}
}

// axeClean fails on any serious or critical axe-core violation of the
// page as it is (and on the rules a11y_test also requires).
func axeClean(tb *tab, what string) {
	tb.t.Helper()
	for _, v := range runAxe(tb) {
		if v.Impact == "serious" || v.Impact == "critical" || alsoRequired[v.ID] {
			tb.t.Errorf("%s: axe %s (%s): %s, %d nodes, first %v", what, v.ID, v.Impact, v.Help, len(v.Nodes), v.Nodes[0].Target)
		}
	}
}

// openDelivered reloads the payment's page until the event typ shows a
// delivery attempt (the deliveries run in the background, each in a
// second or so).
func openDelivered(tb *tab, s *stack, id, typ string) {
	tb.t.Helper()
	sel := fmt.Sprintf(`[data-event-type=%q] [data-testid=delivery-row]`, typ)
	deadline := time.Now().Add(30 * time.Second)
	for {
		tb.open(s.url+"/console/payments/"+id, "[data-testid=console-payment]")
		if tb.isVisible(sel) {
			return
		}
		if time.Now().After(deadline) {
			tb.fail("wait for the delivery of "+typ, fmt.Errorf("none after 30 s"))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestConsolePayments: an admin signs in, finds a paid checkout by its
// reference, refunds part of it through the confirmation step, sees the
// refund and the events with their deliveries, and resends one; a viewer
// has no refund button and its POST is refused. Screenshots at 1280×800
// and 390×844; at 390 px the tables scroll inside their frames.
func TestConsolePayments(t *testing.T) {
	s := newStack(t, sandboxOptions{console: true})
	id, _ := s.createCheckout(map[string]any{"amount": 1000, "reference": "E2E-CONSOLE-42", "metadata": map[string]string{"table": "7"}})
	payQR(t, s, id)
	waitStatus(t, s, id, checkout.StatusPaid)

	tb := newTab(t, s, desktop)
	signInConsole(tb, s, consoleAdmin)
	tb.open(s.url+"/console/payments", "[data-testid=payments-search]")
	tb.run("search the reference",
		chromedp.SendKeys("[data-testid=payments-search]", "E2E-CONSOLE-42"),
		chromedp.Click("[data-testid=payments-apply]"))
	// The list before the search shows the row too: wait for the page the
	// search loads (its query in the address) before counting.
	tb.waitFor("the search's answer", `new URLSearchParams(location.search).get("q") === "E2E-CONSOLE-42" &&
		document.readyState === "complete" && !!document.querySelector("[data-testid=payment-row]")`)
	if n := eval[int](tb, `document.querySelectorAll("[data-testid=payment-row]").length`); n != 1 {
		t.Fatalf("search by reference: %d rows", n)
	}
	tb.visible("[data-testid=test-badge]")
	tb.screenshot("desktop-payments-search")
	axeClean(tb, "payments list")
	tb.click("[data-testid=payment-link]")
	tb.visible("[data-testid=console-payment]")
	if got := tb.value("[data-testid=refund-amount]"); got != "10.00" {
		t.Errorf("refund amount prefilled with %q, want 10.00", got)
	}
	tb.exec(`document.querySelector("[data-testid=refund-amount]").value=""`)
	tb.run("ask for a 3.00 refund",
		chromedp.SendKeys("[data-testid=refund-amount]", "3.00"),
		chromedp.SendKeys("[data-testid=refund-reason]", "少了一杯"),
		chromedp.Click("[data-testid=refund-start]"),
		chromedp.WaitVisible(chromedp.CSS("[data-testid=console-refund-confirm]")))
	if got := tb.text("[data-testid=confirm-amount]"); got != "¥3.00" {
		t.Errorf("the confirmation says %q, want ¥3.00", got)
	}
	tb.screenshot("desktop-refund-confirm")
	axeClean(tb, "refund confirmation")
	tb.click("[data-testid=refund-confirm]")
	tb.visible("[data-testid=action-done]")
	if got := tb.text("[data-testid=refund-row-amount]"); got != "¥3.00" {
		t.Errorf("refund row shows %q", got)
	}
	if c := s.checkout(id); c.Status != checkout.StatusPartiallyRefunded || c.Refunded != 300 {
		t.Errorf("after the refund: %s, refunded %d", c.Status, c.Refunded)
	}
	openDelivered(tb, s, id, "checkout.refund.succeeded")
	openDelivered(tb, s, id, "checkout.paid")
	if got := tb.text(`[data-event-type="checkout.paid"] [data-testid=delivery-status]`); got != "200" {
		t.Errorf("the paid event's delivery shows %q, want 200", got)
	}
	tb.screenshot("desktop-payment-detail")
	axeClean(tb, "payment page")
	tb.exec(`document.querySelector("[data-testid=event]").scrollIntoView()`)
	tb.screenshot("desktop-payment-events")
	before := s.eventDeliveries(id)
	tb.click(`[data-event-type="checkout.paid"] [data-testid=event-resend]`)
	tb.visible("[data-testid=action-done]")
	deadline := time.Now().Add(30 * time.Second)
	for s.eventDeliveries(id) <= before {
		if time.Now().After(deadline) {
			t.Fatal("the resent event was not delivered again")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The same pages on a phone: nothing wider than the screen.
	ph := newTab(t, s, device{ua: uaPhoneBrowser, width: 390, height: 844, mobile: true, lang: "zh-CN,zh;q=0.9"})
	signInConsole(ph, s, consoleAdmin)
	ph.open(s.url+"/console/payments", "[data-testid=payment-row]")
	noOverflow(ph, "payments list at 390 px")
	ph.screenshot("phone-payments")
	ph.open(s.url+"/console/payments/"+id, "[data-testid=console-payment]")
	noOverflow(ph, "payment page at 390 px")
	ph.screenshot("phone-payment-detail")
	ph.exec(`document.querySelector("[data-testid=event]").scrollIntoView()`)
	ph.screenshot("phone-payment-events")
	ph.exec(`document.querySelector("[data-testid=event] .console-table-wrap").scrollLeft = 1000`)
	ph.screenshot("phone-payment-events-scrolled")

	// A viewer: no refund button, and the POST is refused.
	vt := newTab(t, s, desktop)
	vt.allow(`403`)
	signInConsole(vt, s, consoleViewer)
	vt.open(s.url+"/console/payments/"+id, "[data-testid=console-payment]")
	for _, sel := range []string{"[data-testid=refund-form]", "[data-testid=event-resend]", "[data-testid=cancel-form]"} {
		if vt.isVisible(sel) {
			t.Errorf("the viewer sees %s", sel)
		}
	}
	status := eval[int](vt, `fetch("/console/").then(function (r) { return r.text(); }).then(function (html) {
		var csrf = new DOMParser().parseFromString(html, "text/html").querySelector("input[name=csrf]").value;
		var body = new URLSearchParams({csrf: csrf, amount: "100", key: "ABCDEFGHIJKLMNOPQRSTUVWXYZ"});
		return fetch("/console/payments/`+id+`/refund", {method: "POST", body: body, redirect: "manual"});
	}).then(function (r) { return r.status; })`)
	if status != 403 {
		t.Errorf("the viewer's refund POST: %d, want 403", status)
	}
	if c := s.checkout(id); c.Refunded != 300 {
		t.Errorf("the viewer's POST refunded: %d", c.Refunded)
	}
	vt.screenshot("desktop-viewer-payment")
	if !strings.Contains(vt.text("[data-testid=payment-status]"), "部分退款") {
		t.Errorf("status shows %q", vt.text("[data-testid=payment-status]"))
	}
}

// eventDeliveries counts the delivery attempts of a checkout's events.
func (s *stack) eventDeliveries(checkoutID string) int {
	s.t.Helper()
	evs, _, err := s.app.Webhooks.List(context.Background(), merchantID, webhook.ListQuery{CheckoutID: checkoutID, Limit: 100})
	if err != nil {
		s.t.Fatalf("list events: %v", err)
	}
	n := 0
	for _, e := range evs {
		n += len(e.Delivery.Attempts)
	}
	return n
}

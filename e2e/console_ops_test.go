package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/console"
	"github.com/wallet-checkout/checkout/gateway"
)

// speechStub stands in for the browser's speech synthesis (headless
// Chromium has no voices): it records what the page says.
const speechStub = `window.__spoken = [];
Object.defineProperty(window, "speechSynthesis", {configurable: true, value: {
  speak: function (u) { window.__spoken.push(u.text + "|" + u.lang); }, cancel: function () {} }});
Object.defineProperty(window, "SpeechSynthesisUtterance", {configurable: true, writable: true,
  value: function (text) { this.text = text; this.lang = ""; }});`

// TestConsoleOpsPages: an admin signs in and opens the overview (and the
// list of its payments figure), the payment links (creates one), the
// developers page, the export form, the reconciliation pages (and from a
// difference its payment) and the counter screen, on a phone (390×844) and
// a desktop (1280×800); no
// script or CSP error, no serious or critical axe violation; the counter
// shows a payment made while it is open and says it aloud in Chinese.
func TestConsoleOpsPages(t *testing.T) {
	const email, password = "owner@e2e.example", "console-e2e-password"
	hash, err := console.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	s := newStack(t, sandboxOptions{consoleUsers: []*checkout.ConsoleUser{{Email: email, PasswordHash: hash, Role: checkout.RoleAdmin}}})
	ctx := t.Context()
	// A reconciliation report with an open difference: a payment our
	// records hold, sent a quarter of an hour ago, that the gateway never
	// saw (unknown_to_gateway).
	sentAt := s.clock.Now().Add(-15 * time.Minute)
	missing, err := checkout.NewCheckout(&checkout.Draft{
		MerchantID: merchantID, StoreID: storeNative, Amounts: checkout.Amounts{Original: 2300, Trade: 2300},
		Description: "对账差异", Reference: "recon-missing", LatePolicy: checkout.LatePolicyAccept,
	}, s.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.app.Repo.Create(ctx, missing, nil); err != nil {
		t.Fatal(err)
	}
	matt, _, err := s.app.Repo.AddAttempt(ctx, missing.ID, checkout.MethodWeChat, checkout.ScenarioJSAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.app.Repo.RecordSent(ctx, merchantID, storeNative, matt.OutNo, sentAt); err != nil {
		t.Fatal(err)
	}
	if _, err := s.app.Repo.MarkPaid(ctx, missing.ID, matt.Seq, "ord"+missing.ID[3:13]); err != nil {
		t.Fatal(err)
	}
	run, err := s.app.Reconciliation.Reconcile(ctx, merchantID, storeNative, sentAt.In(gateway.ChinaTime()).Format("2006-01-02"))
	if err != nil || run.Counts.Open < 1 {
		t.Fatalf("reconciliation: %v %+v", err, run)
	}
	phone390 := device{ua: uaPhoneBrowser, width: 390, height: 844, mobile: true, lang: "zh-CN,zh;q=0.9"}
	for _, dev := range []struct {
		name string
		d    device
	}{{"phone", phone390}, {"desktop", desktop}, {"phone-en", device{ua: uaPhoneBrowser, width: 390, height: 844, mobile: true, lang: "en-US,en;q=0.9"}},
		{"phone-zh-Hant", device{ua: uaPhoneBrowser, width: 390, height: 844, mobile: true, lang: "zh-TW,zh;q=0.9"}}} {
		t.Run(dev.name, func(t *testing.T) {
			tb := newTab(t, s, dev.d, speechStub)
			tb.open(s.url+"/console/login", `[data-testid=login-email]`)
			tb.run("sign in",
				chromedp.SendKeys(`[data-testid=login-email]`, email),
				chromedp.SendKeys(`[data-testid=login-password]`, password),
				chromedp.Click(`[data-testid=login-submit]`))
			tb.visible(`[data-testid=console-home]`)

			axe := func(page string) {
				t.Helper()
				tb.screenshot(page)
				for _, v := range runAxe(tb) {
					if v.Impact != "serious" && v.Impact != "critical" && !alsoRequired[v.ID] {
						continue
					}
					var where []string
					for _, n := range v.Nodes {
						where = append(where, fmt.Sprint(n.Target))
					}
					t.Errorf("%s: axe %s (%s): %s %s", page, v.ID, v.Impact, v.Help, strings.Join(where, " "))
				}
			}
			tb.open(s.url+"/console/overview", `[data-testid=console-overview]`)
			axe("overview")
			// The list its payments figure links to says which list it is.
			tb.open(s.url+"/console/payments?paid=1", `[data-testid=payments-only]`)
			axe("payments-paid")

			// A link: the form, then its page.
			tb.open(s.url+"/console/links/new", `[data-testid=link-form]`)
			tb.run("fill the link", chromedp.SendKeys(`[data-testid=link-description]`, "门店收款 "+dev.name),
				chromedp.SendKeys(`[data-testid=link-amount-input]`, "15"))
			axe("link-new")
			tb.click(`[data-testid=link-save]`)
			tb.visible(`[data-testid=link-poster]`)
			if got := tb.text(`[data-testid=link-amount]`); got != "¥15.00" && got != "CN¥15.00" {
				t.Errorf("link amount %q", got)
			}
			axe("link")
			tb.open(s.url+"/console/links", `[data-testid=link-row]`)
			axe("links")

			tb.open(s.url+"/console/developers", `[data-testid=send-ping]`)
			tb.click(`[data-testid=send-ping]`)
			tb.visible(`[data-testid=ping-sent]`)
			axe("developers")

			tb.open(s.url+"/console/export", `[data-testid=export-form]`)
			axe("export")

			// Reconciliation: the reports, the open differences, a report,
			// and from its difference the payment.
			tb.open(s.url+"/console/reconciliation", `[data-testid=recon-row]`)
			axe("reconciliation")
			tb.open(s.url+"/console/reconciliation?open=1", `[data-testid=mismatch-row]`)
			axe("reconciliation-open")
			tb.open(s.url+"/console/reconciliation/"+run.ID, `[data-testid=console-reconciliation-report]`)
			axe("reconciliation-report")
			tb.click(`[data-difference-id] [data-testid=mismatch-payment][href="/console/payments/` + missing.ID + `"]`)
			tb.visible(`[data-testid=console-payment]`)

			// The counter: switched on, then a payment arrives.
			tb.open(s.url+"/console/counter", `[data-testid=counter-speak]`)
			tb.waitFor("the stream opened", `document.querySelector("[data-testid=counter-state]").getAttribute("data-state") === "live"`)
			tb.click(`[data-testid=counter-speak]`)
			co := payAtCounter(t, s, "counter-"+dev.name)
			tb.waitFor("the payment shows", `document.querySelector('[data-checkout-id="`+co.ID+`"]')`)
			tb.waitFor("it is said", `window.__spoken.indexOf("微信收款 15 元|zh-CN") >= 0`)
			axe("counter")
		})
	}
}

package handlers_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
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

// refund records a refund of fen on checkout id (as a succeeded refund
// does), at the env's clock.
func (e *consoleEnv) refund(id, key string, fen int64) {
	e.t.Helper()
	if _, err := e.app.Repo.RecordRefund(e.t.Context(), id, key, fen); err != nil {
		e.t.Fatal(err)
	}
}

// payTwice pays checkout id through two attempts: the second is a double
// payment.
func (e *consoleEnv) payTwice(id string) {
	e.t.Helper()
	ctx := e.t.Context()
	var seqs []int
	for range 2 {
		a, _, err := e.app.Repo.AddAttempt(ctx, id, checkout.MethodWeChat, checkout.ScenarioJSAPI)
		if err != nil {
			e.t.Fatal(err)
		}
		seqs = append(seqs, a.Seq)
	}
	for _, seq := range seqs {
		if _, err := e.app.Repo.MarkPaid(ctx, id, seq, ""); err != nil {
			e.t.Fatal(err)
		}
	}
}

// payLate expires checkout id and then pays it.
func (e *consoleEnv) payLate(id string) {
	e.t.Helper()
	ctx := e.t.Context()
	a, _, err := e.app.Repo.AddAttempt(ctx, id, checkout.MethodAlipay, checkout.ScenarioQR)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.app.Repo.Cancel(ctx, id); err != nil {
		e.t.Fatal(err)
	}
	if p, err := e.app.Repo.MarkPaid(ctx, id, a.Seq, ""); err != nil || !p.Checkout.Late {
		e.t.Fatalf("late payment: %+v, %v", p, err)
	}
}

var rowIDRe = regexp.MustCompile(`data-testid="payment-row" data-checkout-id="([^"]+)"`)

// listed is the checkout ids a payments page lists, in order.
func listed(body string) []string {
	var out []string
	for _, m := range rowIDRe.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestConsoleOverview: today's and the week's payments (by the day they
// were paid, UTC+8), refunds, late and duplicate payments, each linking
// to the list behind it, which lists exactly the checkouts counted;
// another merchant's money is not counted.
func TestConsoleOverview(t *testing.T) {
	e := newConsoleEnv(t) // 2026-12-02 17:00 UTC+8
	// Three days ago: paid 30.00, refunded 10.00 today; yesterday 23:59
	// UTC+8: paid 5.00 (the week, not today); today: 12.34 and 0.66
	// paid, the first refunded 2.34 (recorded twice: a retry), a late
	// payment of 1.00, and 2.00 paid twice.
	e.now.Store(time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC).UnixNano())
	old := e.pay(e.mkCheckout("shop", "old", 3000))
	e.now.Store(time.Date(2026, 12, 1, 15, 59, 0, 0, time.UTC).UnixNano())
	yesterday := e.pay(e.mkCheckout("shop", "yesterday", 500))
	// Eight days ago is out of the week.
	e.now.Store(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC).UnixNano())
	e.pay(e.mkCheckout("shop", "too-old", 100))
	e.now.Store(time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC).UnixNano())
	a := e.pay(e.mkCheckout("shop", "today-a", 1234))
	e.advance(time.Second)
	b := e.pay(e.mkCheckout("shop", "today-b", 66))
	e.refund(a.ID, "rf_a", 234)
	e.refund(a.ID, "rf_a", 234)
	e.advance(time.Second)
	e.refund(old.ID, "rf_old", 1000)
	e.advance(time.Second)
	late := e.mkCheckout("shop", "late", 100)
	e.payLate(late)
	e.advance(time.Second)
	twice := e.mkCheckout("shop", "twice", 200)
	e.payTwice(twice)
	e.pay(e.mkCheckout("other", "foreign", 99999))
	e.mkCheckout("shop", "unpaid", 700)
	e.now.Store(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC).UnixNano())

	br := e.loginViewer()
	page := e.do(br, "GET", "/console/overview", nil)
	if page.status != http.StatusOK {
		t.Fatalf("overview: %d\n%s", page.status, page.body)
	}
	for _, c := range []struct {
		id, value, href string
		// rows: what the link lists, newest first; nil for links
		// elsewhere.
		rows []string
	}{
		{"today-paid", "4 ¥16.00", "/console/payments?from=2026-12-02&paid=1&to=2026-12-02", []string{twice, late, b.ID, a.ID}},
		{"today-refunds", "2 ¥12.34", "/console/payments?from=2026-12-02&refunds=1&to=2026-12-02", []string{old.ID, a.ID}},
		{"today-duplicates", "1", "/console/payments?duplicate=1&from=2026-12-02&to=2026-12-02", []string{twice}},
		{"today-late", "1", "/console/payments?from=2026-12-02&late=1&to=2026-12-02", []string{late}},
		{"week-paid", "6 ¥51.00", "/console/payments?from=2026-11-26&paid=1&to=2026-12-02", []string{twice, late, b.ID, a.ID, yesterday.ID, old.ID}},
		{"week-refunds", "2 ¥12.34", "/console/payments?from=2026-11-26&refunds=1&to=2026-12-02", []string{old.ID, a.ID}},
		{"week-failing", "0", "/console/developers#deliveries", nil},
		{"mismatches", "0", "/console/reconciliation?open=1", nil},
	} {
		value, href := figureOf(t, page.body, c.id)
		if value != c.value || href != c.href {
			t.Errorf("%s: %q %q, want %q %q", c.id, value, href, c.value, c.href)
		}
		if c.rows == nil {
			continue
		}
		list := e.do(br, "GET", href, nil)
		if got := listed(list.body); list.status != http.StatusOK || !slices.Equal(got, c.rows) {
			t.Errorf("%s lists %d %v, want %v", c.id, list.status, got, c.rows)
		}
	}
	// The lists keep their filter in the form and in the next page's link;
	// two at once, or one with a payment link, are refused.
	if a := e.do(br, "GET", "/console/payments?late=1", nil); !strings.Contains(a.body, `name="late" value="1"`) || !strings.Contains(a.body, `data-testid="payments-only"`) {
		t.Errorf("late list without its filter in the form:\n%s", a.body)
	}
	for _, q := range []string{"late=1&paid=1", "refunds=2", "duplicate=1&link=pl_x"} {
		if a := e.do(br, "GET", "/console/payments?"+q, nil); a.status != http.StatusBadRequest || len(listed(a.body)) != 0 {
			t.Errorf("%s: %d, %d rows", q, a.status, len(listed(a.body)))
		}
	}
	if a := e.do(e.browser(), "GET", "/console/overview", nil); a.status != http.StatusSeeOther {
		t.Errorf("signed out: %d", a.status)
	}
	// zh-Hant and en render too.
	for _, lang := range []string{"zh-Hant", "en"} {
		if a := e.do(br, "GET", "/console/overview?lang="+lang, nil); a.status != http.StatusOK || !strings.Contains(a.body, `lang="`+lang) {
			t.Errorf("%s: %d", lang, a.status)
		}
	}
}

var linkIDRe = regexp.MustCompile(`^/console/links/(pl_[0-9A-Za-z]+)$`)

// TestConsoleLinks: an admin creates a fixed and an entered-amount link
// (the API's rules, events and the audit log), edits and deactivates
// one and downloads its code; bad input is a 400 that stores nothing; a
// viewer sees the links but no form, and its POSTs are refused; another
// merchant's link is a 404.
func TestConsoleLinks(t *testing.T) {
	e := newConsoleEnv(t)
	ctx := t.Context()
	admin := e.loginOwner()
	if a := e.do(admin, "GET", "/console/links", nil); a.status != http.StatusOK || !strings.Contains(a.body, `data-testid="links-empty"`) || !strings.Contains(a.body, `data-testid="link-new"`) {
		t.Fatalf("empty list: %d\n%s", a.status, a.body)
	}
	token := e.csrf(admin, "/console/links/new")
	post := func(b *http.Client, path string, kv ...string) answer {
		f := url.Values{"csrf": {token}}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return e.do(b, "POST", path, f)
	}
	// Refused: each a 400 naming the field, nothing stored.
	for _, bad := range [][]string{
		{"mode", "fixed", "amount", "", "description", "x", "store", "main"},
		{"mode", "fixed", "amount", "12.345", "description", "x", "store", "main"},
		{"mode", "fixed", "amount", "-3", "description", "x", "store", "main"},
		{"mode", "fixed", "amount", "1e3", "description", "x", "store", "main"},
		{"mode", "fixed", "amount", "5", "description", "x", "store", "nope"},
		{"mode", "entered", "min_amount", "50", "max_amount", "10", "description", "x", "store", "main"},
		{"mode", "entered", "presets", "5,abc", "description", "x", "store", "main"},
		{"mode", "fixed", "amount", "5", "description", "x", "store", "main", "max_payments", "-1"},
		{"mode", "fixed", "amount", "5", "description", "x", "store", "main", "active_until", "2020-01-01T00:00"},
		{"mode", "fixed", "amount", "5", "description", "x", "store", "main", "active_until", "tomorrow"},
		{"mode", "fixed", "amount", "99999999999", "description", "x", "store", "main"},
	} {
		a := post(admin, "/console/links", bad...)
		if a.status != http.StatusBadRequest || !strings.Contains(a.body, `data-testid="link-error"`) {
			t.Errorf("%v: %d, want 400 with the reason", bad, a.status)
		}
	}
	if links, _, _ := e.app.Repo.ListLinks(ctx, "shop", "", 10); len(links) != 0 {
		t.Fatalf("refused forms stored %d links", len(links))
	}

	a := post(admin, "/console/links", "mode", "fixed", "amount", "15", "description", "咖啡", "store", "main", "max_payments", "3")
	m := linkIDRe.FindStringSubmatch(a.location)
	if a.status != http.StatusSeeOther || m == nil {
		t.Fatalf("create fixed: %d %s\n%s", a.status, a.location, a.body)
	}
	fixed := m[1]
	l, err := e.app.Repo.GetLinkFor(ctx, "shop", fixed)
	if err != nil || l.Amount != 1500 || l.MaxPayments != 3 || l.Description != "咖啡" || !l.Active {
		t.Fatalf("stored link: %+v %v", l, err)
	}
	a = post(admin, "/console/links", "mode", "entered", "min_amount", "1", "max_amount", "200.50", "presets", "5, 10，20", "description", "随意付", "store", "main")
	if m = linkIDRe.FindStringSubmatch(a.location); m == nil {
		t.Fatalf("create entered: %d\n%s", a.status, a.body)
	}
	entered := m[1]
	if l, _ := e.app.Repo.GetLinkFor(ctx, "shop", entered); l.Amount != 0 || l.MinAmount != 100 || l.MaxAmount != 20050 || len(l.Presets) != 3 || l.Presets[2] != 2000 {
		t.Fatalf("entered link: %+v", l)
	}
	page := e.do(admin, "GET", "/console/links/"+fixed, nil)
	for _, want := range []string{`data-testid="link-poster"`, `href="/l/` + fixed + `/poster"`, `/console/links/` + fixed + `/qr.png`, `data-testid="link-deactivate"`, "¥15.00"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("link page lacks %s", want)
		}
	}
	// Edit, then deactivate.
	if a := post(admin, "/console/links/"+fixed, "mode", "fixed", "amount", "16", "description", "大杯咖啡", "max_payments", "0"); a.status != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", a.status, a.body)
	}
	if l, _ := e.app.Repo.GetLinkFor(ctx, "shop", fixed); l.Amount != 1600 || l.Description != "大杯咖啡" || l.MaxPayments != 0 {
		t.Errorf("edited: %+v", l)
	}
	e.advance(time.Second) // a link's events are once per change (its update time)
	if a := post(admin, "/console/links/"+fixed+"/deactivate"); a.status != http.StatusSeeOther {
		t.Fatalf("deactivate: %d", a.status)
	}
	if l, _ := e.app.Repo.GetLinkFor(ctx, "shop", fixed); l.Active || l.DeactivatedBy != checkout.DeactivatedByMerchant {
		t.Errorf("deactivated: %+v", l)
	}
	// The code downloads as an attachment.
	req, _ := http.NewRequest("GET", e.srv.URL+"/console/links/"+fixed+"/qr.png", nil)
	resp, err := admin.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("qr.png: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
	}
	// Events as the API emits them, and the audit log.
	recs, _, err := e.app.Webhooks.List(ctx, "shop", webhook.ListQuery{Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for _, r := range recs {
		types[r.Type]++
	}
	if types[webhook.TypePaymentLinkCreated] != 2 || types[webhook.TypePaymentLinkUpdated] != 2 || types[webhook.TypePaymentLinkDeactivated] != 1 {
		t.Errorf("events: %v", types)
	}
	audit := e.do(admin, "GET", "/console/audit", nil).body
	for _, want := range []string{"payment_link.created", "payment_link.updated", "payment_link.deactivated", "owner@shop.example"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %s", want)
		}
	}

	// A viewer sees the links, no form, and its POSTs are refused.
	viewer := e.loginViewer()
	list := e.do(viewer, "GET", "/console/links", nil)
	if strings.Count(list.body, `data-testid="link-row"`) != 2 || strings.Contains(list.body, `data-testid="link-new"`) {
		t.Errorf("viewer's list: %d rows\n%s", strings.Count(list.body, `data-testid="link-row"`), list.body)
	}
	if p := e.do(viewer, "GET", "/console/links/"+entered, nil); p.status != 200 || strings.Contains(p.body, `data-testid="link-form"`) || strings.Contains(p.body, `data-testid="link-deactivate"`) {
		t.Errorf("viewer's link page shows the form: %d", p.status)
	}
	vtoken := e.csrf(viewer, "/console/") // the sign-out form's: a valid token of the session
	for _, path := range []string{"/console/links", "/console/links/" + entered, "/console/links/" + entered + "/deactivate"} {
		if a := e.do(viewer, "POST", path, url.Values{"csrf": {vtoken}, "mode": {"fixed"}, "amount": {"1"}, "description": {"x"}, "store": {"main"}}); a.status != http.StatusForbidden {
			t.Errorf("viewer POST %s: %d, want 403", path, a.status)
		}
	}
	if e.do(viewer, "GET", "/console/links/new", nil).status != http.StatusForbidden {
		t.Error("viewer opens the new link form")
	}
	if l, _ := e.app.Repo.GetLinkFor(ctx, "shop", entered); !l.Active || l.Description != "随意付" {
		t.Errorf("a viewer's POST changed the link: %+v", l)
	}
	// A forged token is refused before anything.
	if a := e.do(admin, "POST", "/console/links/"+entered+"/deactivate", url.Values{"csrf": {"forged"}}); a.status != http.StatusForbidden {
		t.Errorf("forged token: %d", a.status)
	}
	// Another merchant's admin: 404 for shop's link, by page and by POST.
	other := e.browser()
	if a := e.login(other, "clerk@other.example", consolePassword, ""); a.status != http.StatusSeeOther {
		t.Fatal(a.status)
	}
	if a := e.do(other, "GET", "/console/links/"+entered, nil); a.status != http.StatusNotFound || strings.Contains(a.body, "随意付") {
		t.Errorf("other merchant's view: %d", a.status)
	}
	otoken := e.csrf(other, "/console/")
	if a := e.do(other, "POST", "/console/links/"+entered+"/deactivate", url.Values{"csrf": {otoken}}); a.status != http.StatusNotFound {
		t.Errorf("other merchant's deactivate: %d", a.status)
	}
	if l, _ := e.app.Repo.GetLinkFor(ctx, "shop", entered); !l.Active {
		t.Error("another merchant deactivated shop's link")
	}
	for _, lang := range []string{"zh-Hant", "en"} {
		if a := e.do(admin, "GET", "/console/links/"+entered+"?lang="+lang, nil); a.status != 200 {
			t.Errorf("%s: %d", lang, a.status)
		}
	}
}

package e2e

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wallet-checkout/checkout/checkout"
)

// TestConsoleExportPosterIsolation does, in the browser, the e2e
// steps TestConsolePayments and TestConsoleOpsPages leave out: an admin
// creates a link and opens its poster from the link's page, downloads the
// day's CSV through the export form (with the browser's session) and it
// parses with the paid checkout and its partial refund in yuan and fen; a
// second merchant's user who opens the first merchant's payment by its URL
// gets the not-found page, with nothing of the payment on it; the sign-in
// page, the home page and the audit log pass axe too.
func TestConsoleExportPosterIsolation(t *testing.T) {
	const otherEmail = "owner@other.example"
	h, err := consoleHash()
	if err != nil {
		t.Fatal(err)
	}
	s := newStack(t, sandboxOptions{console: true, otherMerchantUsers: []*checkout.ConsoleUser{
		{Email: otherEmail, PasswordHash: h, Role: checkout.RoleAdmin},
	}})
	id, _ := s.createCheckout(map[string]any{"amount": 1000, "reference": "E2E-EXPORT-7", "description": "拿铁"})
	payQR(t, s, id)
	waitStatus(t, s, id, checkout.StatusPaid)
	refund(t, s, id, 300)

	tb := newTab(t, s, desktop)
	tb.open(s.url+"/console/login", "[data-testid=console-login]")
	axeClean(tb, "sign-in page")
	signInConsole(tb, s, consoleAdmin)
	axeClean(tb, "home page")

	// A link, then its poster from the link's page.
	tb.open(s.url+"/console/links/new", "[data-testid=link-form]")
	tb.run("fill the link", chromedp.SendKeys("[data-testid=link-description]", "海报测试"),
		chromedp.SendKeys("[data-testid=link-amount-input]", "15"))
	tb.click("[data-testid=link-save]")
	tb.visible("[data-testid=link-poster]")
	tb.click("[data-testid=link-poster]")
	tb.visible("[data-testid=poster-qr]")
	if !strings.Contains(tb.location(), "/poster") {
		t.Errorf("the poster button led to %s", tb.location())
	}
	if got := tb.text("[data-testid=poster-amount]"); !strings.Contains(got, "15.00") {
		t.Errorf("the poster's amount is %q", got)
	}
	if got := tb.text("[data-testid=poster-description]"); got != "海报测试" {
		t.Errorf("the poster's description is %q", got)
	}
	if ok := eval[bool](tb, `(function(){var i=document.querySelector("[data-testid=poster-qr]");return i.complete && i.naturalWidth > 0})()`); !ok {
		t.Error("the poster's code image did not load")
	}
	posterWhole(tb, "A5")
	tb.screenshot("desktop-link-poster")
	tb.open(tb.location()+"?paper=a4", "[data-testid=poster-qr]")
	posterWhole(tb, "A4")

	// The audit log shows the link created (and the export below).
	tb.open(s.url+"/console/audit", "[data-testid=console-audit]")
	axeClean(tb, "audit log")

	// The export form, sent as the browser sends it, with its session.
	tb.open(s.url+"/console/export", "[data-testid=export-form]")
	today := s.clock.Now().In(time.FixedZone("UTC+8", 8*3600)).Format("2006-01-02")
	for _, sel := range []string{"[data-testid=export-from]", "[data-testid=export-to]"} {
		tb.exec(fmt.Sprintf(`document.querySelector(%q).value = %q`, sel, today))
	}
	type download struct {
		Status      int
		Type        string
		Disposition string
		Bytes       []byte
	}
	raw := eval[struct {
		Status      int    `json:"status"`
		Type        string `json:"type"`
		Disposition string `json:"disposition"`
		Bytes       []int  `json:"bytes"`
	}](tb, `(function(){
		var f = document.querySelector("[data-testid=export-form]");
		var u = f.action + "?" + new URLSearchParams(new FormData(f)).toString();
		return fetch(u).then(function (r) {
			return r.arrayBuffer().then(function (b) {
				return {status: r.status, type: r.headers.get("Content-Type"),
					disposition: r.headers.get("Content-Disposition") || "", bytes: Array.from(new Uint8Array(b))};
			});
		});
	})()`)
	d := download{Status: raw.Status, Type: raw.Type, Disposition: raw.Disposition}
	for _, b := range raw.Bytes {
		d.Bytes = append(d.Bytes, byte(b))
	}
	if d.Status != 200 || !strings.HasPrefix(d.Type, "text/csv") || !strings.Contains(d.Disposition, "attachment") {
		t.Fatalf("export: %d %q %q", d.Status, d.Type, d.Disposition)
	}
	body, ok := bytes.CutPrefix(d.Bytes, []byte("\xef\xbb\xbf"))
	if !ok {
		t.Error("the CSV does not start with a UTF-8 BOM")
	}
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v\n%s", err, body)
	}
	if len(recs) < 3 {
		t.Fatalf("the CSV has %d records, want a header, the payment and the refund:\n%s", len(recs), body)
	}
	col := func(name string) int {
		i := slices.Index(recs[0], name)
		if i < 0 {
			t.Fatalf("the CSV's header %v has no %q", recs[0], name)
		}
		return i
	}
	kind, cid, ref := col("type"), col("checkout_id"), col("reference")
	yuanCol, fenCol := col("amount_yuan"), col("amount_fen")
	want := map[string][2]string{"payment": {"10.00", "1000"}, "refund": {"3.00", "300"}}
	got := map[string][2]string{}
	for _, r := range recs[1:] {
		if len(r) != len(recs[0]) {
			t.Fatalf("a record of %d cells, the header has %d: %v", len(r), len(recs[0]), r)
		}
		if r[cid] != id {
			continue
		}
		if r[ref] != "E2E-EXPORT-7" {
			t.Errorf("%s row: reference %q", r[kind], r[ref])
		}
		got[r[kind]] = [2]string{r[yuanCol], r[fenCol]}
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("the CSV's %s row of %s: %v, want %v", k, id, got[k], w)
		}
	}

	// The second merchant's user, by the first merchant's payment URL.
	ot := newTab(t, s, desktop)
	ot.allow(`404`)
	signInConsole(ot, s, otherEmail)
	ot.open(s.url+"/console/payments/"+id, "[data-testid=error-page]")
	if got := eval[string](ot, `document.querySelector("[data-testid=error-page]").dataset.status`); got != "404" {
		t.Errorf("the other merchant's user: status %s, want 404", got)
	}
	if html := eval[string](ot, `document.documentElement.outerHTML`); strings.Contains(html, "E2E-EXPORT-7") || strings.Contains(html, "拿铁") {
		t.Error("the other merchant's user sees the payment's reference or description")
	}
	if ot.isVisible("[data-testid=console-payment]") {
		t.Error("the other merchant's user sees the payment page")
	}
	// Its own list does not hold it either, even searched by reference.
	ot.open(s.url+"/console/payments?q=E2E-EXPORT-7", "[data-testid=payments-search]")
	if n := eval[int](ot, `document.querySelectorAll("[data-testid=payment-row]").length`); n != 0 {
		t.Errorf("the other merchant's list shows %d rows for the first merchant's reference", n)
	}
	ot.screenshot("desktop-other-merchant-by-url")
}

// posterWhole fails when anything on the open poster's sheet is cut:
// everything on the sheet shows whole (the description is not squeezed
// to nothing, nothing is cut at the sheet's bottom), and its code is
// square and at least 60 mm.
func posterWhole(tb *tab, what string) {
	tb.t.Helper()
	if clipped := eval[string](tb, `(function(){
		var sheet = document.querySelector("[data-testid=poster]").getBoundingClientRect(), out = [];
		document.querySelectorAll("[data-testid=poster] > *").forEach(function (el) {
			var r = el.getBoundingClientRect();
			if ((getComputedStyle(el).overflowY !== "visible" && el.scrollHeight > el.clientHeight + 1) || r.bottom > sheet.bottom + 0.5) {
				out.push((el.getAttribute("data-testid") || el.className) + " " + el.clientHeight + "/" + el.scrollHeight + " bottom " + Math.round(r.bottom) + "/" + Math.round(sheet.bottom));
			}
		});
		return out.join("; ");
	})()`); clipped != "" {
		tb.t.Errorf(what+": the poster cuts: %s", clipped)
	}
	if wh := eval[[]float64](tb, `(function(){var r=document.querySelector("[data-testid=poster-qr]").getBoundingClientRect();return [r.width, r.height]})()`); wh[0] != wh[1] || wh[0] < 60*96/25.4 {
		tb.t.Errorf(what+": the poster's code is %v px, want square and at least 60 mm", wh)
	}
}

package templates

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/web/static"
)

// TestPaidStatusesOneOwner: which statuses count as paid is
// checkout.Status.Paid's to say. The pages render that set (and its
// refunded part) for the page script, the result panel follows it, and
// app.js reads the set from the page instead of naming paid statuses
// itself: if the JS and Go could disagree, this fails.
func TestPaidStatusesOneOwner(t *testing.T) {
	var paid, refundedOnes []string
	for _, s := range checkout.Statuses() {
		if !s.Valid() {
			t.Errorf("Statuses lists %q, which is not Valid", s)
		}
		if s.Paid() {
			paid = append(paid, string(s))
		}
		if s.Paid() && s != checkout.StatusPaid {
			refundedOnes = append(refundedOnes, string(s))
		}
		if got := ResultState(string(s)); (got == "paid") != s.Paid() {
			t.Errorf("ResultState(%q) = %q, Paid() = %v", s, got, s.Paid())
		}
	}
	if !slices.Contains(paid, string(checkout.StatusPaid)) || len(refundedOnes) == 0 {
		t.Fatalf("paid statuses %v, refunded %v", paid, refundedOnes)
	}
	wantPaid, wantRefunded := strings.Join(paid, " "), strings.Join(refundedOnes, " ")

	checkoutMain := parse(t, render(t, CheckoutPage(checkoutView(ActionQR)))).byTestID("checkout-page")
	resultMain := parse(t, render(t, ResultPage(resultView("pending")))).byTestID("result-page")
	for _, tt := range []struct {
		page, attr, want string
	}{
		{"checkout", "data-paid-statuses", wantPaid},
		{"result", "data-paid-statuses", wantPaid},
		{"result", "data-refunded-statuses", wantRefunded},
	} {
		main := checkoutMain
		if tt.page == "result" {
			main = resultMain
		}
		if got, _ := attr(main, tt.attr); got != tt.want {
			t.Errorf("%s page: %s %q, want %q", tt.page, tt.attr, got, tt.want)
		}
	}

	js, ok := static.Bytes("app.js")
	if !ok {
		t.Fatal("no app.js")
	}
	for _, read := range []string{"cfg.paidStatuses", "cfg.refundedStatuses"} {
		if !strings.Contains(string(js), read) {
			t.Errorf("app.js does not read %s", read)
		}
	}
	for _, f := range hardCodedStatuses(string(js), paid) {
		t.Errorf("app.js uses the paid status %s; read the set from data-paid-statuses", f)
	}
}

// hardCodedStatuses finds where src uses one of statuses as a status: an
// object key (a lookup table of statuses), a comparison or a case label.
// A string that only names something else ("paid", the result panel) is
// not a status use.
func hardCodedStatuses(src string, statuses []string) []string {
	var found []string
	for _, s := range statuses {
		q := `["']` + regexp.QuoteMeta(s) + `["']`
		uses := map[string]*regexp.Regexp{
			"as a key":        regexp.MustCompile(`[{,]\s*(` + regexp.QuoteMeta(s) + `|` + q + `)\s*:`),
			"in a comparison": regexp.MustCompile(`[!=]==?\s*` + q + `|` + q + `\s*[!=]==?`),
			"as a case":       regexp.MustCompile(`case\s+` + q + `\s*:`),
		}
		for how, re := range uses {
			if loc := re.FindStringIndex(src); loc != nil {
				found = append(found, s+" "+how+" at byte "+strconv.Itoa(loc[0]))
			}
		}
	}
	slices.Sort(found)
	return found
}

// TestHardCodedStatuses: the finder sees the shapes a paid list takes in
// JS, and leaves other uses of the words alone.
func TestHardCodedStatuses(t *testing.T) {
	paid := []string{"paid", "partially_refunded", "refunded"}
	tests := []struct {
		src  string
		find bool
	}{
		{`var FINAL = { paid: 1, partially_refunded: 1, refunded: 1 };`, true},
		{`var views = { pending: "pending", "refunded": "paid" };`, true},
		{`if (s.status === "paid" || s.status === "refunded") {`, true},
		{`if ("partially_refunded" == st) {`, true},
		{`switch (s.status) { case 'refunded': break; }`, true},
		{`var v = isPaid(s.status) ? "paid" : views[s.status] || "pending";`, false},
		{`live.textContent = cfg.msgPaid; var PAID = statusSet(cfg.paidStatuses);`, false},
	}
	for _, tt := range tests {
		if got := hardCodedStatuses(tt.src, paid); (len(got) > 0) != tt.find {
			t.Errorf("%s: found %v, want found=%v", tt.src, got, tt.find)
		}
	}
}

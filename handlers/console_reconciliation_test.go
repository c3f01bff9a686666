package handlers_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/gateway"
)

// reconEnv is the whole service with a gateway that lists, for each day,
// what the test put in it, and the checkouts the runs compare.
type reconEnv struct {
	*consoleEnv
	gw *listedGateway
}

// list puts a payment order in the gateway's list, created at its
// attempt's time: amount and status as the gateway tells them.
func (r *reconEnv) list(coID string, fen int64, status gateway.Status) {
	r.t.Helper()
	atts, err := r.app.Repo.Attempts(r.t.Context(), coID)
	if err != nil {
		r.t.Fatal(err)
	}
	a := atts[0]
	r.gw.mu.Lock()
	defer r.gw.mu.Unlock()
	r.gw.orders = append(r.gw.orders, gateway.Order{OutNo: gateway.Text(a.OutNo), OrdNo: gateway.Text(a.OrdNo), OrdType: gateway.OrderPayment,
		TradeAmount: gateway.Int(fen), Status: status, AddTime: gateway.Time{Time: a.CreatedAt.In(gateway.ChinaTime())},
		TradePayTime: gateway.Time{Time: a.CreatedAt.In(gateway.ChinaTime())}})
}

var (
	reconRowRe     = regexp.MustCompile(`data-testid="recon-row" data-recon-id="(rc_[0-9A-Za-z]+)"`)
	mismatchLinkRe = regexp.MustCompile(`data-testid="mismatch-row"[^>]*>(?s:.*?)href="/console/payments/(co_[0-9A-Za-z]+)"`)
)

// TestConsoleReconciliation: the reports by store and day, newest first,
// with the gateway's totals and their differences; ?open=1 lists the
// open differences of every report, as many as the overview counts, each
// linking to its payment; a report shows what differs; every role reads
// them and another merchant's report is a 404.
func TestConsoleReconciliation(t *testing.T) {
	gw := &listedGateway{Gateway: gateway.NewClient(gateway.WithRetries(0, 0, 0))}
	support := `        - {email: help@shop.example, password_hash: "` + consoleHash() + `", role: support}
`
	r := &reconEnv{consoleEnv: newOpsEnvUsers(t, "", gw, shopUsers()+support), gw: gw}
	ctx := t.Context()

	viewer := r.loginViewer()
	empty := r.do(viewer, "GET", "/console/reconciliation", nil)
	if empty.status != http.StatusOK || !strings.Contains(empty.body, `data-testid="recon-empty"`) {
		t.Fatalf("no reports yet: %d\n%s", empty.status, empty.body)
	}
	if a := r.do(viewer, "GET", "/console/reconciliation?open=1", nil); a.status != http.StatusOK || !strings.Contains(a.body, `data-testid="recon-open-empty"`) {
		t.Fatalf("no open differences yet: %d\n%s", a.status, a.body)
	}

	// 2026-12-01 (UTC+8): x is paid 10.00 here and 9.00 there; z is paid
	// here and cancelled there; a POS order is foreign (explained).
	day1 := time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)
	// Another merchant's day before, with an open difference of its own
	// (a day of its own: the test's gateway lists every store's orders).
	r.now.Store(day1.Add(-20 * time.Hour).UnixNano())
	o := r.pay(r.mkCheckout("other", "recon-o", 800))
	r.list(o.ID, 1, gateway.StatusPaid)
	r.now.Store(day1.Add(2 * time.Hour).UnixNano())
	x := r.pay(r.mkCheckout("shop", "recon-x", 1000))
	z := r.pay(r.mkCheckout("shop", "recon-z", 500))
	agree := r.pay(r.mkCheckout("shop", "recon-ok", 300))
	r.list(x.ID, 900, gateway.StatusPaid)
	r.list(z.ID, 500, gateway.StatusCanceled)
	r.list(agree.ID, 300, gateway.StatusPaid)
	gw.mu.Lock()
	gw.orders = append(gw.orders, gateway.Order{OutNo: "POS20261201001", OrdNo: "9001", OrdType: gateway.OrderPayment,
		TradeAmount: 4200, Status: gateway.StatusPaid, AddTime: gateway.Time{Time: day1.Add(3 * time.Hour).In(gateway.ChinaTime())}})
	gw.mu.Unlock()
	// 2026-12-02: one payment, in agreement.
	day2 := day1.Add(24 * time.Hour)
	r.now.Store(day2.Add(2 * time.Hour).UnixNano())
	w := r.pay(r.mkCheckout("shop", "recon-w", 700))
	r.list(w.ID, 700, gateway.StatusPaid)

	r.now.Store(day2.Add(30 * time.Hour).UnixNano())
	// The later day first: the list goes by day, not by which ran first.
	run2, err := r.app.Reconciliation.Reconcile(ctx, "shop", "main", "2026-12-02")
	if err != nil {
		t.Fatal(err)
	}
	if run2.Counts.Open != 0 {
		t.Fatalf("day 2: %+v", run2.Counts)
	}
	r.advance(time.Minute)
	run1, err := r.app.Reconciliation.Reconcile(ctx, "shop", "main", "2026-12-01")
	if err != nil {
		t.Fatal(err)
	}
	if run1.Counts.Open != 2 || run1.Counts.Acknowledged != 1 {
		t.Fatalf("day 1: %+v", run1.Counts)
	}
	otherRun, err := r.app.Reconciliation.Reconcile(ctx, "other", "main", "2026-11-30")
	if err != nil || otherRun.Counts.Open != 1 {
		t.Fatalf("other's run: %v %+v", err, otherRun)
	}

	viewer = r.loginViewer() // the clock moved past the session's idle time
	owner := r.loginOwner()
	helper := r.browser()
	if a := r.login(helper, "help@shop.example", consolePassword, ""); a.status != http.StatusSeeOther {
		t.Fatalf("support sign-in: %d", a.status)
	}
	for name, b := range map[string]*http.Client{"viewer": viewer, "support": helper, "admin": owner} {
		// The reports, newest first, with totals and open differences.
		list := r.do(b, "GET", "/console/reconciliation", nil)
		if list.status != http.StatusOK {
			t.Fatalf("%s: list %d\n%s", name, list.status, list.body)
		}
		var ids []string
		for _, m := range reconRowRe.FindAllStringSubmatch(list.body, -1) {
			ids = append(ids, m[1])
		}
		if len(ids) != 2 || ids[0] != run2.ID || ids[1] != run1.ID {
			t.Errorf("%s: reports %v, want [%s %s]", name, ids, run2.ID, run1.ID)
		}
		for _, want := range []string{"2026-12-01", "2026-12-02", "¥54.00", "¥7.00",
			// Ours: x 10.00, z 5.00 and the agreeing 3.00; not the POS's 42.00.
			`data-testid="recon-ours">¥18.00<`, `href="/console/reconciliation/` + run1.ID + `"`, `data-testid="recon-open-count">2<`} {
			if !strings.Contains(list.body, want) {
				t.Errorf("%s: list lacks %s", name, want)
			}
		}
		if strings.Contains(list.body, otherRun.ID) {
			t.Errorf("%s: list shows another merchant's report", name)
		}

		// Open differences across reports: as many rows as the overview counts.
		open := r.do(b, "GET", "/console/reconciliation?open=1", nil)
		rows := strings.Count(open.body, `data-testid="mismatch-row"`)
		var linked []string
		for _, m := range mismatchLinkRe.FindAllStringSubmatch(open.body, -1) {
			linked = append(linked, m[1])
		}
		if open.status != http.StatusOK || rows != 2 || len(linked) != 2 || !strings.Contains(strings.Join(linked, " "), x.ID) || !strings.Contains(strings.Join(linked, " "), z.ID) {
			t.Errorf("%s: open: %d, %d rows, links %v\n%s", name, open.status, rows, linked, open.body)
		}
		figure, href := figureOf(t, r.do(b, "GET", "/console/overview", nil).body, "mismatches")
		if figure != "2" || href != "/console/reconciliation?open=1" {
			t.Errorf("%s: overview says %s (%s), the open list has %d rows", name, figure, href, rows)
		}

		// One report: every difference, what differs, links to payments.
		one := r.do(b, "GET", "/console/reconciliation/"+run1.ID, nil)
		if one.status != http.StatusOK || strings.Count(one.body, `data-testid="mismatch-row"`) != 3 {
			t.Fatalf("%s: report: %d, %d rows\n%s", name, one.status, strings.Count(one.body, `data-testid="mismatch-row"`), one.body)
		}
		for _, want := range []string{`href="/console/payments/` + x.ID + `"`, `href="/console/payments/` + z.ID + `"`, "¥10.00", "¥9.00",
			"POS20261201001", "9001", "cancelled", "amount_differs", "state_differs", `data-testid="recon-ours">¥18.00<`} {
			if !strings.Contains(one.body, want) {
				t.Errorf("%s: report lacks %s", name, want)
			}
		}
		// Another merchant's report, and no report at all, are 404s.
		for _, id := range []string{otherRun.ID, "rc_000000000000000000000000", "nope"} {
			if a := r.do(b, "GET", "/console/reconciliation/"+id, nil); a.status != http.StatusNotFound || strings.Contains(a.body, "recon-o") {
				t.Errorf("%s: report %s: %d, want 404", name, id, a.status)
			}
		}
		for _, lang := range []string{"zh-Hant", "en"} {
			for _, path := range []string{"/console/reconciliation?lang=" + lang, "/console/reconciliation/" + run1.ID + "?lang=" + lang} {
				if a := r.do(b, "GET", path, nil); a.status != 200 || !strings.Contains(a.body, `lang="`+lang) {
					t.Errorf("%s: %s: %d", name, path, a.status)
				}
			}
		}
	}
	// The other merchant sees its own report, and only it.
	other := r.browser()
	if a := r.login(other, "clerk@other.example", consolePassword, ""); a.status != http.StatusSeeOther {
		t.Fatal(a.status)
	}
	if a := r.do(other, "GET", "/console/reconciliation/"+otherRun.ID, nil); a.status != 200 || !strings.Contains(a.body, o.ID) {
		t.Errorf("other's own report: %d", a.status)
	}
	if a := r.do(other, "GET", "/console/reconciliation?open=1", nil); strings.Count(a.body, `data-testid="mismatch-row"`) != 1 || strings.Contains(a.body, x.ID) {
		t.Errorf("other's open list: %d rows", strings.Count(a.body, `data-testid="mismatch-row"`))
	}
	// A cursor that is not a report is a 400; signed out goes to sign-in.
	if a := r.do(viewer, "GET", "/console/reconciliation?after=bogus", nil); a.status != http.StatusBadRequest {
		t.Errorf("bad cursor: %d", a.status)
	}
	if a := r.do(r.browser(), "GET", "/console/reconciliation", nil); a.status != http.StatusSeeOther {
		t.Errorf("signed out: %d", a.status)
	}
}

// TestConsoleReconciliationPaging: 51 days with two open differences
// each. The reports list pages by 50 and the open list by whole reports
// of about 100 differences; over their pages every report and every open
// difference shows once, and the overview counts as many as the open
// list's pages hold.
func TestConsoleReconciliationPaging(t *testing.T) {
	gw := &listedGateway{Gateway: gateway.NewClient(gateway.WithRetries(0, 0, 0))}
	r := &reconEnv{consoleEnv: newOpsEnvWith(t, "", gw), gw: gw}
	ctx := t.Context()
	const days = 51
	first := time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC).AddDate(0, 0, -days) // a midnight UTC+8
	for i := range days {
		r.now.Store(first.AddDate(0, 0, i).Add(2 * time.Hour).UnixNano())
		for j := range 2 {
			co := r.pay(r.mkCheckout("shop", "page-"+strconv.Itoa(i)+"-"+strconv.Itoa(j), 1000))
			r.list(co.ID, 999, gateway.StatusPaid) // amount_differs
		}
	}
	r.now.Store(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC).UnixNano())
	for i := range days {
		run, err := r.app.Reconciliation.Reconcile(ctx, "shop", "main", first.AddDate(0, 0, i).In(gateway.ChinaTime()).Format("2006-01-02"))
		if err != nil || run.Counts.Open != 2 {
			t.Fatalf("day %d: %v %+v", i, err, run)
		}
	}
	b := r.loginViewer()
	walk := func(path, rowRe string) (rows []string, pages int) {
		t.Helper()
		re := regexp.MustCompile(rowRe)
		more := regexp.MustCompile(`href="(/console/reconciliation\?[^"]*)" data-testid="recon-more"`)
		for path != "" {
			pages++
			if pages > 10 {
				t.Fatalf("%s: no end to the pages", path)
			}
			a := r.do(b, "GET", path, nil)
			if a.status != http.StatusOK {
				t.Fatalf("%s: %d", path, a.status)
			}
			for _, m := range re.FindAllStringSubmatch(a.body, -1) {
				rows = append(rows, m[1])
			}
			path = ""
			if m := more.FindStringSubmatch(a.body); m != nil {
				path = strings.ReplaceAll(m[1], "&amp;", "&")
			}
		}
		return rows, pages
	}
	distinct := func(ids []string) int {
		seen := map[string]bool{}
		for _, id := range ids {
			seen[id] = true
		}
		return len(seen)
	}
	reports, pages := walk("/console/reconciliation", `data-testid="recon-row" data-recon-id="([^"]+)"`)
	if len(reports) != days || distinct(reports) != days || pages != 2 {
		t.Errorf("reports: %d (%d distinct) over %d pages, want %d over 2", len(reports), distinct(reports), pages, days)
	}
	diffs, pages := walk("/console/reconciliation?open=1", `data-testid="mismatch-row" data-difference-id="([^"]+)"`)
	if len(diffs) != 2*days || distinct(diffs) != 2*days || pages != 2 {
		t.Errorf("open differences: %d (%d distinct) over %d pages, want %d over 2", len(diffs), distinct(diffs), pages, 2*days)
	}
	if figure, _ := figureOf(t, r.do(b, "GET", "/console/overview", nil).body, "mismatches"); figure != strconv.Itoa(len(diffs)) {
		t.Errorf("the overview counts %s, the open list has %d", figure, len(diffs))
	}
}

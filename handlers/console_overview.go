package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/reconciliation"
	"github.com/wallet-checkout/checkout/web/templates"
)

// consoleOps serves the console's overview, payment links, developers,
// reconciliation, export and counter pages (console_overview.go,
// console_links.go, console_developers.go, console_reconciliation.go,
// console_export.go, console_counter.go).
type consoleOps struct {
	*handler
	recon Reconciliations
}

// consoleOpsRoutes mounts those pages behind the console's sign-in; a
// no-op when the console is not served.
func (h *handler) consoleOpsRoutes(r *gin.Engine, d Deps) {
	if h.console == nil {
		return
	}
	o := &consoleOps{handler: h, recon: d.Reconciliations}
	g := r.Group("/console", h.pageHeaders, h.requireConsole)
	g.GET("/overview", o.showOverview)
	o.linkRoutes(g)
	o.developerRoutes(g)
	o.reconciliationRoutes(g)
	g.GET("/export", o.showExport)
	g.GET("/export.csv", o.exportCSV)
	g.GET("/counter", o.showCounter)
	g.GET("/counter/events", o.streamCounter)
}

// dayLayout is how a day in UTC+8 is written in the console's query
// strings (from, to), inclusive both ends.
const dayLayout = "2006-01-02"

// dayStart is the midnight in UTC+8 that starts t's day there.
func dayStart(t time.Time) time.Time {
	c := t.In(chinaTime)
	return time.Date(c.Year(), c.Month(), c.Day(), 0, 0, 0, 0, chinaTime)
}

// overviewEventScan bounds the events one overview reads per type: a
// figure that reaches it is shown as "at least".
const overviewEventScan = 5000

// periodFigures are one period's numbers on the overview.
type periodFigures struct {
	paid, paidFen, refunds, refundFen, late, duplicates, failing int
	capped                                                       bool
}

// showOverview is GET /console/overview: today's and the last seven
// days' (UTC+8) payments, refunds, late and duplicate payments and
// failing webhook deliveries, and the open reconciliation differences,
// each linking to the list behind it.
func (o *consoleOps) showOverview(c *gin.Context) {
	u := signedInUser(c)
	ctx := c.Request.Context()
	now := o.now()
	today := dayStart(now)
	week := today.AddDate(0, 0, -6)
	var day, seven periodFigures
	add := func(at time.Time, f func(p *periodFigures)) {
		if at.Before(week) || at.After(now) {
			return
		}
		f(&seven)
		if !at.Before(today) {
			f(&day)
		}
	}
	// Payments, late payments and refunds from the day sums kept as they
	// are recorded (checkout.Repo.DaySums): seven keys read, whatever the
	// number of checkouts.
	days := make([]time.Time, 7)
	for i := range days {
		days[i] = week.AddDate(0, 0, i)
	}
	sums, err := o.repo.DaySums(ctx, u.merchant.ID, days)
	if err == nil {
		for i, s := range sums {
			f := func(p *periodFigures) {
				p.paid += int(s.Paid)
				p.paidFen += int(s.PaidFen)
				p.late += int(s.Late)
				p.refunds += int(s.Refunds)
				p.refundFen += int(s.RefundFen)
			}
			f(&seven)
			if i == len(days)-1 {
				f(&day)
			}
		}
	}
	for _, p := range []struct {
		f    *periodFigures
		from time.Time
	}{{&day, today}, {&seven, week}} {
		if err == nil {
			var n int64
			n, err = o.repo.CountDuplicates(ctx, u.merchant.ID, p.from, now)
			p.f.duplicates = int(n)
		}
	}
	if err == nil {
		err = o.eachEventSince(ctx, u.merchant.ID, "", week, func(r *webhook.Record) {
			if failing(r) {
				add(r.CreatedAt, func(p *periodFigures) { p.failing++ })
			}
		}, func() { day.capped, seven.capped = true, true })
	}
	var open int
	if err == nil {
		open, err = o.openDifferences(ctx, u.merchant.ID)
	}
	if err != nil {
		o.logger(c).Error("Console overview not read", "error", err)
		o.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
		return
	}
	v := templates.ConsoleOverviewView{
		Page: o.page(c), MerchantName: u.merchant.Name,
		Today:      figuresView(day, today, today),
		Week:       figuresView(seven, week, today),
		Mismatches: open, MismatchesURL: "/console/reconciliation?open=1",
	}
	o.render(c, http.StatusOK, templates.ConsoleOverviewPage(v))
}

// failing reports whether an event's delivery is failing: given up, or
// retrying after a failed attempt.
func failing(r *webhook.Record) bool {
	switch r.Delivery.State {
	case webhook.StateFailed:
		return true
	case webhook.StateRetrying:
		return len(r.Delivery.Attempts) > 0
	}
	return false
}

// figuresView renders one period's figures, each with the link to the
// list behind it: the payments list's plain query parameters from and to
// (YYYY-MM-DD, UTC+8, inclusive) with paid, refunds, late or duplicate
// set to 1, which list exactly what the figure counts.
func figuresView(p periodFigures, from, to time.Time) templates.ConsoleFigures {
	q := func(kv ...string) string {
		v := url.Values{"from": {from.Format(dayLayout)}, "to": {to.Format(dayLayout)}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return "/console/payments?" + v.Encode()
	}
	return templates.ConsoleFigures{
		From: from.Format(dayLayout), To: to.Format(dayLayout),
		Paid: p.paid, PaidAmount: templates.FormatFen(int64(p.paidFen)), PaidURL: q("paid", "1"),
		Refunds: p.refunds, RefundAmount: templates.FormatFen(int64(p.refundFen)), RefundsURL: q("refunds", "1"),
		Late: p.late, LateURL: q("late", "1"),
		Duplicates: p.duplicates, DuplicatesURL: q("duplicate", "1"),
		Failing: p.failing, FailingURL: "/console/developers#deliveries",
		AtLeast: p.capped,
	}
}

// eachEventSince calls fn with merchantID's events of type typ (every
// type when "") created at or after since, newest first, reading at most
// overviewEventScan; capped is called when it stopped there.
func (o *consoleOps) eachEventSince(ctx context.Context, merchantID, typ string, since time.Time, fn func(*webhook.Record), capped func()) error {
	after := ""
	for read := 0; ; {
		page, next, err := o.events.List(ctx, merchantID, webhook.ListQuery{Type: typ, After: after, Limit: 100})
		if err != nil {
			return fmt.Errorf("events of %s: %w", merchantID, err)
		}
		for _, r := range page {
			if r.CreatedAt.Before(since) {
				return nil
			}
			fn(r)
		}
		read += len(page)
		if next == "" {
			return nil
		}
		if read >= overviewEventScan {
			capped()
			return nil
		}
		after = next
	}
}

// openDifferences sums the open differences of the merchant's kept
// reconciliation runs.
func (o *consoleOps) openDifferences(ctx context.Context, merchantID string) (int, error) {
	open := true
	n, after := 0, ""
	for range 50 { // 50 pages of 100 runs: every store's kept days
		runs, next, err := o.recon.List(ctx, merchantID, reconciliation.ListQuery{Open: &open, After: after, Limit: 100})
		if errors.Is(err, reconciliation.ErrBadCursor) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("reconciliations of %s: %w", merchantID, err)
		}
		for _, r := range runs {
			n += r.Counts.Open
		}
		if next == "" {
			break
		}
		after = next
	}
	return n, nil
}

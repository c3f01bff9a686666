package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sort"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/reconciliation"
	"github.com/wallet-checkout/checkout/web/templates"
)

// reconPageRuns is how many reports one page of the list shows.
const reconPageRuns = 50

// reconOpenRows is about how many open differences one page of
// ?open=1 shows: reports are taken whole, so a page stops at the first
// report that reaches it.
const reconOpenRows = 100

// reconOpenScan bounds the reports one page of ?open=1 reads (only those
// with open differences are listed, see reconciliation.List).
const reconOpenScan = 200

// reconciliationRoutes mounts the reconciliation pages; every role reads
// them.
func (o *consoleOps) reconciliationRoutes(g *gin.RouterGroup) {
	g.GET("/reconciliation", o.showReconciliations)
	g.GET("/reconciliation/:id", o.showReconciliation)
}

// showReconciliations is GET /console/reconciliation: the merchant's
// reconciliation reports by store and day, newest first, 50 a page
// (?after= the last report's id continues), or with ?open=1 the open
// differences of every kept report, as the overview counts them.
func (o *consoleOps) showReconciliations(c *gin.Context) {
	u := signedInUser(c)
	ctx := c.Request.Context()
	open := c.Query("open") == "1"
	v := templates.ConsoleReconView{Page: o.page(c), MerchantName: u.merchant.Name, Open: open}
	fail := func(err error) {
		if errors.Is(err, reconciliation.ErrBadCursor) {
			o.errorPage(c, http.StatusBadRequest, pageNotFound, "/console/reconciliation")
			return
		}
		o.logger(c).Error("Console reconciliation not read", "error", err)
		o.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
	}
	next := func(after string) string {
		q := url.Values{"after": {after}}
		if open {
			q.Set("open", "1")
		}
		return "/console/reconciliation?" + q.Encode()
	}
	if !open {
		runs, after, err := o.recon.List(ctx, u.merchant.ID, reconciliation.ListQuery{After: c.Query("after"), Limit: reconPageRuns})
		if err != nil {
			fail(err)
			return
		}
		// A list leaves the differences out; our side's amounts are read
		// from them, one report at a time (a page is 50).
		for _, r := range runs {
			full, err := o.recon.Get(ctx, u.merchant.ID, r.ID)
			if errors.Is(err, reconciliation.ErrNotFound) {
				continue // outlived its retention since the list
			}
			if err != nil {
				fail(err)
				return
			}
			v.Reports = append(v.Reports, reconRow(u.merchant, full))
		}
		// The list is by when a report was first made; the daily run
		// makes them day by day, but one made by hand for an older day
		// comes later: a page reads by day, newest first, then by store.
		sort.SliceStable(v.Reports, func(i, j int) bool {
			a, b := v.Reports[i], v.Reports[j]
			if a.Date != b.Date {
				return a.Date > b.Date
			}
			return a.StoreID < b.StoreID
		})
		if after != "" {
			v.NextURL = next(after)
		}
		o.render(c, http.StatusOK, templates.ConsoleReconPage(v))
		return
	}
	rows, after, err := o.openMismatches(ctx, u.merchant, c.Query("after"))
	if err != nil {
		fail(err)
		return
	}
	v.Mismatches = rows
	if after != "" {
		v.NextURL = next(after)
	}
	o.render(c, http.StatusOK, templates.ConsoleReconPage(v))
}

// openMismatches reads a page of the open differences of m's reports
// after report cursor: whole reports, until about reconOpenRows
// differences or reconOpenScan reports read, and the report to continue
// after ("" at the end).
func (o *consoleOps) openMismatches(ctx context.Context, m *checkout.Merchant, cursor string) ([]templates.ConsoleMismatchRow, string, error) {
	var rows []templates.ConsoleMismatchRow
	yes := true
	for scanned := 0; ; {
		runs, after, err := o.recon.List(ctx, m.ID, reconciliation.ListQuery{Open: &yes, After: cursor, Limit: 20})
		if err != nil {
			return nil, "", err
		}
		for i, r := range runs {
			full, err := o.recon.Get(ctx, m.ID, r.ID)
			if errors.Is(err, reconciliation.ErrNotFound) {
				continue // outlived its retention since the list
			}
			if err != nil {
				return nil, "", err
			}
			report := reconRow(m, full)
			for _, d := range full.Differences {
				if d.Status == reconciliation.StatusOpen {
					rows = append(rows, mismatchRow(report, d))
				}
			}
			if len(rows) >= reconOpenRows && (i < len(runs)-1 || after != "") {
				return rows, r.ID, nil
			}
		}
		scanned += len(runs)
		if after == "" || scanned >= reconOpenScan {
			return rows, after, nil
		}
		cursor = after
	}
}

// showReconciliation is GET /console/reconciliation/:id: one report with
// every difference it found. Another merchant's report is a 404, exactly
// as an unknown id.
func (o *consoleOps) showReconciliation(c *gin.Context) {
	u := signedInUser(c)
	r, err := o.recon.Get(c.Request.Context(), u.merchant.ID, c.Param("id"))
	switch {
	case errors.Is(err, reconciliation.ErrNotFound):
		o.errorPage(c, http.StatusNotFound, pageNotFound, "/console/reconciliation")
		return
	case err != nil:
		o.logger(c).Error("Console reconciliation not read", "error", err)
		o.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
		return
	}
	report := reconRow(u.merchant, r)
	v := templates.ConsoleReconDetailView{Page: o.page(c), MerchantName: u.merchant.Name, Report: report}
	for _, d := range r.Differences {
		v.Mismatches = append(v.Mismatches, mismatchRow(report, d))
	}
	o.render(c, http.StatusOK, templates.ConsoleReconDetailPage(v))
}

// reconRow is a report as the console shows it: amounts in yuan, times in
// UTC+8, the store by its name, and our side's amounts from its
// differences (r read with them).
func reconRow(m *checkout.Merchant, r *reconciliation.Run) templates.ConsoleReconRow {
	ourPaid, ourRefunded := reconciliation.OurAmounts(r.Gateway, r.Differences)
	row := templates.ConsoleReconRow{
		ID: r.ID, URL: "/console/reconciliation/" + r.ID, Date: r.Date, StoreID: r.StoreID, Store: r.StoreID,
		Runs: r.Runs, Updated: r.UpdatedAt.In(chinaTime).Format("2006-01-02 15:04"),
		Payments: r.Gateway.Payments, PaymentAmount: templates.FormatFen(r.Gateway.PaymentAmount),
		Refunds: r.Gateway.Refunds, RefundAmount: templates.FormatFen(r.Gateway.RefundAmount),
		OurPaymentAmount: templates.FormatFen(ourPaid), OurRefundAmount: templates.FormatFen(ourRefunded),
		PaymentsDiffer: ourPaid != r.Gateway.PaymentAmount, RefundsDiffer: ourRefunded != r.Gateway.RefundAmount,
		Sent: r.Sent, InFlight: r.InFlight,
		Open: r.Counts.Open, AutoFixed: r.Counts.AutoFixed, Acknowledged: r.Counts.Acknowledged, Resolved: r.Counts.Resolved,
	}
	row.Differences = row.Open + row.AutoFixed + row.Acknowledged + row.Resolved
	if st, ok := m.Store(r.StoreID); ok {
		row.Sandbox = st.Sandbox
		if st.Name != "" {
			row.Store = st.Name
		}
	}
	return row
}

// mismatchRow is one difference of report: each side's amount (in yuan,
// "" when that side has none), state and numbers, and its payment's page
// when it belongs to one of the merchant's checkouts.
func mismatchRow(report templates.ConsoleReconRow, d reconciliation.Difference) templates.ConsoleMismatchRow {
	row := templates.ConsoleMismatchRow{
		ID: d.ID, Report: report, Class: string(d.Class), Status: string(d.Status), Explained: d.Explained,
		OutNo: d.OutNo, OrdNo: d.OrdNo, Refund: d.Refund, CheckoutID: d.CheckoutID,
		GatewayState: d.GatewayState, ServiceState: d.ServiceState, Detail: d.Detail, Note: d.Note,
		FirstSeen: d.FirstSeen.In(chinaTime).Format("2006-01-02 15:04"),
	}
	if d.CheckoutID != "" {
		row.PaymentURL = "/console/payments/" + url.PathEscape(d.CheckoutID)
	}
	if d.GatewayAmount != 0 {
		row.GatewayAmount = templates.FormatFen(d.GatewayAmount)
	}
	if d.ServiceAmount != 0 {
		row.ServiceAmount = templates.FormatFen(d.ServiceAmount)
	}
	row.AmountsDiffer = d.GatewayAmount != d.ServiceAmount && d.GatewayAmount != 0 && d.ServiceAmount != 0
	row.StatesDiffer = d.GatewayState != "" && d.ServiceState != "" && d.GatewayState != d.ServiceState
	return row
}

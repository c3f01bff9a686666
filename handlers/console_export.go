package handlers

import (
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/web/templates"
)

// maxExportDays bounds one export's range: a quarter.
const maxExportDays = 92

// utf8BOM starts the CSV so that Excel reads it as UTF-8 (Chinese text).
const utf8BOM = "\ufeff"

// exportHeader is the CSV's first row.
var exportHeader = []string{
	"type", "time_utc8", "checkout_id", "refund_id", "reference", "description", "store", "test_data",
	"wallet", "out_no", "ord_no", "payment_link", "status", "amount_yuan", "amount_fen",
}

// exportRange reads ?from= and ?to= (YYYY-MM-DD in UTC+8, inclusive;
// today when absent) as the half-open [start, end) they cover.
func (o *consoleOps) exportRange(c *gin.Context) (from, to string, start, end time.Time, ok bool) {
	today := dayStart(o.now()).Format(dayLayout)
	from, to = c.DefaultQuery("from", today), c.DefaultQuery("to", today)
	s, err1 := time.ParseInLocation(dayLayout, from, chinaTime)
	t, err2 := time.ParseInLocation(dayLayout, to, chinaTime)
	if err1 != nil || err2 != nil || s.Format(dayLayout) != from || t.Format(dayLayout) != to ||
		t.Before(s) || t.Sub(s) > maxExportDays*24*time.Hour {
		return from, to, s, t, false
	}
	return from, to, s, t.AddDate(0, 0, 1), true
}

// showExport is GET /console/export: the form of the CSV export.
func (o *consoleOps) showExport(c *gin.Context) {
	u := signedInUser(c)
	from, to, _, _, ok := o.exportRange(c)
	v := templates.ConsoleExportView{Page: o.page(c), MerchantName: u.merchant.Name, From: from, To: to, Bad: !ok, MaxDays: maxExportDays}
	status := http.StatusOK
	if !ok {
		status = http.StatusBadRequest
	}
	o.render(c, status, templates.ConsoleExportPage(v))
}

// csvCell escapes a cell a spreadsheet would read as a formula (=, +, -,
// @, and the tab and carriage return that can hide one) with a leading
// apostrophe: a reference or description typed by anyone must not run
// in the accountant's spreadsheet.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// yuan writes fen as yuan with two decimals, without floats.
func yuan(fen int64) string {
	return strconv.FormatInt(fen/100, 10) + "." + strconv.FormatInt(fen%100/10, 10) + strconv.FormatInt(fen%10, 10)
}

// exportCSV is GET /console/export.csv?from=&to=: the payments confirmed
// and the refunds that succeeded in the range (UTC+8 days), one row
// each, streamed as they are read (a batch of checkouts at a time), never
// built in memory. UTF-8 with a BOM; amounts in yuan (two decimals) and
// in fen.
func (o *consoleOps) exportCSV(c *gin.Context) {
	u := signedInUser(c)
	from, to, start, end, ok := o.exportRange(c)
	if !ok {
		o.errorPage(c, http.StatusBadRequest, pageNotFound, "/console/export")
		return
	}
	ctx := c.Request.Context()
	m := u.merchant
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="payments-`+from+`-`+to+`.csv"`)
	c.Header("Cache-Control", "private, no-store")
	c.Status(http.StatusOK)
	_, _ = c.Writer.WriteString(utf8BOM)
	w := csv.NewWriter(c.Writer)
	write := func(rec []string) error {
		for i := range rec {
			rec[i] = csvCell(rec[i])
		}
		return w.Write(rec)
	}
	rows := 0
	err := write(append([]string(nil), exportHeader...))
	sandbox := func(storeID string) string {
		if st, ok := m.Store(storeID); ok && st.Sandbox {
			return "yes"
		}
		return ""
	}
	if err == nil {
		// A checkout is paid up to its TTL after it was created: reading
		// from the range's start minus the longest TTL finds its payments.
		err = o.repo.EachCreated(ctx, m.ID, start.Add(-checkout.MaxTTL), end, func(co *checkout.Checkout) error {
			if !co.Status.Paid() || co.PaidAt.Before(start) || !co.PaidAt.Before(end) {
				return nil
			}
			var wallet, outNo, ordNo string
			if co.PaidAttempt > 0 {
				atts, err := o.repo.Attempts(ctx, co.ID)
				if err != nil {
					return err
				}
				for _, a := range atts {
					if a.Seq == co.PaidAttempt {
						wallet, outNo, ordNo = string(a.Method), a.OutNo, a.OrdNo
					}
				}
			}
			rows++
			if rows%200 == 0 {
				w.Flush()
			}
			return write([]string{
				"payment", co.PaidAt.In(chinaTime).Format("2006-01-02 15:04:05"), co.ID, "", co.Reference, co.Description,
				co.StoreID, sandbox(co.StoreID), wallet, outNo, ordNo, co.PaymentLink, string(co.Status),
				yuan(co.Amounts.Trade), strconv.FormatInt(co.Amounts.Trade, 10),
			})
		})
	}
	if err == nil {
		err = o.eachRefund(ctx, m.ID, start, end, func(r *webhook.Record) error {
			f := r.Data.Refund
			co := r.Data.Checkout
			var ref, desc, store, link, status string
			if co != nil {
				ref, desc, store, link, status = co.Reference, co.Description, co.Store, co.PaymentLink, string(co.Status)
			}
			rows++
			if rows%200 == 0 {
				w.Flush()
			}
			return write([]string{
				"refund", r.CreatedAt.In(chinaTime).Format("2006-01-02 15:04:05"), r.CheckoutID, f.ID, ref, desc,
				store, sandbox(store), "", "", "", link, status + " (" + f.Kind + ")",
				yuan(f.Amount), strconv.FormatInt(f.Amount, 10),
			})
		})
	}
	if err != nil {
		// The status is sent: say so in the file itself, where the
		// accountant will see it, and in the log.
		o.logger(c).Error("Console export cut short", "rows", rows, "error", err)
		_ = w.Write([]string{"ERROR: the export is incomplete; download it again"})
	}
	w.Flush()
	if err == nil {
		o.audit(c, m.ID, u.user.Email, "export", from+".."+to, strconv.Itoa(rows)+" rows")
	}
}

// eachRefund calls fn with each refund of merchantID that succeeded in
// [start, end): the events the refunds emitted (merchant, duplicate and
// late refunds), newest first.
func (o *consoleOps) eachRefund(ctx context.Context, merchantID string, start, end time.Time, fn func(*webhook.Record) error) error {
	for _, typ := range []string{webhook.TypeRefundSucceeded, webhook.TypeDuplicatePaymentRefunded, webhook.TypeLatePaymentRefunded} {
		after := ""
		for {
			page, next, err := o.events.List(ctx, merchantID, webhook.ListQuery{Type: typ, After: after, Limit: 100})
			if err != nil {
				return err
			}
			for _, r := range page {
				if r.CreatedAt.Before(start) {
					next = ""
					break
				}
				if !r.CreatedAt.Before(end) || r.Data.Refund == nil {
					continue
				}
				if err := fn(r); err != nil {
					return err
				}
			}
			if next == "" {
				break
			}
			after = next
		}
	}
	return nil
}

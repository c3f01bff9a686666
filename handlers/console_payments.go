package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/payments"
	"github.com/wallet-checkout/checkout/web/templates"
)

// consolePaymentsPage is how many checkouts one page of the list shows.
const consolePaymentsPage = 50

// showConsolePayments lists the signed-in user's merchant's checkouts,
// newest first, from the repository's per-merchant index
// (checkout.Repo.List): ?status= filters, ?after= pages, ?q= finds one
// checkout by id, only among the merchant's own (another merchant's id
// finds nothing, as an unknown one).
func (h *handler) showConsolePayments(c *gin.Context) {
	u := signedInUser(c)
	v := templates.ConsolePaymentsView{Page: h.page(c), MerchantName: u.merchant.Name}
	for _, s := range checkout.Statuses() {
		v.Statuses = append(v.Statuses, string(s))
	}
	q := checkout.ListQuery{Limit: consolePaymentsPage, After: c.Query("after")}
	if s := c.Query("status"); s != "" {
		q.Status = checkout.Status(s)
		if !q.Status.Valid() {
			h.errorPage(c, http.StatusBadRequest, pageNotFound, "/console/payments")
			return
		}
		v.Status = s
	}
	ctx := c.Request.Context()
	if search := strings.TrimSpace(c.Query("q")); search != "" {
		v.Query = search
		if checkout.ValidID(search) {
			co, err := h.repo.Get(ctx, search)
			switch {
			case err == nil && co.MerchantID == u.merchant.ID:
				v.Rows = append(v.Rows, paymentRow(co))
			case err != nil && !errors.Is(err, checkout.ErrNotFound):
				h.logger(c).Error("Console payment search failed", "error", err)
				h.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
				return
			}
		}
		h.render(c, http.StatusOK, templates.ConsolePaymentsPage(v))
		return
	}
	page, next, err := h.repo.List(ctx, u.merchant.ID, q)
	if errors.Is(err, checkout.ErrBadCursor) {
		h.errorPage(c, http.StatusBadRequest, pageNotFound, "/console/payments")
		return
	}
	if err != nil {
		h.logger(c).Error("Console payments not listed", "error", err)
		h.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
		return
	}
	for _, co := range page {
		v.Rows = append(v.Rows, paymentRow(co))
	}
	if next != "" {
		nq := url.Values{"after": {next}}
		if v.Status != "" {
			nq.Set("status", v.Status)
		}
		v.NextURL = "/console/payments?" + nq.Encode()
	}
	h.render(c, http.StatusOK, templates.ConsolePaymentsPage(v))
}

func paymentRow(co *checkout.Checkout) templates.ConsolePaymentRow {
	return templates.ConsolePaymentRow{
		ID: co.ID, Created: co.CreatedAt.In(chinaTime).Format("2006-01-02 15:04:05"), Reference: co.Reference,
		Amount: templates.FormatFen(co.Amounts.Trade), Status: string(co.Status),
	}
}

// showConsolePayment is one checkout of the signed-in user's merchant:
// another merchant's checkout is not found, exactly as an unknown id.
func (h *handler) showConsolePayment(c *gin.Context) {
	u := signedInUser(c)
	id := c.Param("id")
	ctx := c.Request.Context()
	if !checkout.ValidID(id) {
		h.errorPage(c, http.StatusNotFound, pageNotFound, "/console/payments")
		return
	}
	co, err := h.repo.Get(ctx, id)
	if errors.Is(err, checkout.ErrNotFound) || (err == nil && co.MerchantID != u.merchant.ID) {
		h.errorPage(c, http.StatusNotFound, pageNotFound, "/console/payments")
		return
	}
	var attempts []*checkout.Attempt
	var refunds []payments.Refund
	if err == nil {
		attempts, err = h.repo.Attempts(ctx, id)
	}
	if err == nil {
		refunds, err = h.pay.Refunds(ctx, id)
	}
	if err != nil {
		h.logger(c).Error("Console payment not read", "checkout_id", id, "error", err)
		h.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
		return
	}
	v := templates.ConsolePaymentView{
		Page: h.page(c), MerchantName: u.merchant.Name, ID: co.ID, Reference: co.Reference,
		Amount: templates.FormatFen(co.Amounts.Trade), Refunded: templates.FormatFen(co.Refunded),
		Status: string(co.Status), Created: co.CreatedAt.In(chinaTime).Format("2006-01-02 15:04:05"),
	}
	for _, a := range attempts {
		v.Attempts = append(v.Attempts, templates.ConsoleAttemptRow{
			Seq: strconv.Itoa(a.Seq), Method: string(a.Method), Scenario: string(a.Scenario), OutNo: a.OutNo, OrdNo: a.OrdNo,
			Amount: templates.FormatFen(a.Amount), Status: string(a.Status),
		})
	}
	for _, r := range refunds {
		v.Refunds = append(v.Refunds, templates.ConsoleRefundRow{
			ID: r.ID, Created: r.CreatedAt.In(chinaTime).Format("2006-01-02 15:04:05"), Amount: templates.FormatFen(r.Amount),
			Status: string(r.Status), Reason: r.Reason,
		})
	}
	h.render(c, http.StatusOK, templates.ConsolePaymentPage(v))
}

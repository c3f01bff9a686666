package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
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

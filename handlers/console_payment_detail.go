package handlers

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
	"github.com/wallet-checkout/checkout/web/templates"
)

// consoleEventsMax bounds the events one payment page shows (a checkout
// has a handful: paid, refunds, alerts).
const consoleEventsMax = 100

// consoleTime is how the console writes a time: UTC+8, to the second.
func consoleTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(chinaTime).Format("2006-01-02 15:04:05")
}

// consolePayment is one checkout of the signed-in user's merchant with
// what its page shows.
type consolePayment struct {
	co       *checkout.Checkout
	attempts []*checkout.Attempt
	refunds  []payments.Refund
	events   []*webhook.Record
}

// refundable is what a merchant refund may still take: the paid amount
// less the refunds of the paid attempt that did not fail (pending ones
// included, as the refund path counts them).
func (p *consolePayment) refundable() int64 {
	if p.co.Status != checkout.StatusPaid && p.co.Status != checkout.StatusPartiallyRefunded {
		return 0
	}
	left := p.co.Amounts.Trade
	for _, r := range p.refunds {
		if r.Attempt == p.co.PaidAttempt && r.Status != payments.RefundFailed {
			left -= r.Amount
		}
	}
	return max(left, 0)
}

// loadConsolePayment reads checkout id of the signed-in user's merchant
// with its attempts, refunds and events. It answers the 404 (another
// merchant's checkout is one, exactly as an unknown id) or 503 itself and
// returns nil then.
func (h *handler) loadConsolePayment(c *gin.Context, id string) *consolePayment {
	u := signedInUser(c)
	ctx := c.Request.Context()
	if !checkout.ValidID(id) {
		h.errorPage(c, http.StatusNotFound, pageNotFound, "/console/payments")
		return nil
	}
	co, err := h.repo.GetFor(ctx, u.merchant.ID, id)
	if errors.Is(err, checkout.ErrNotFound) {
		h.errorPage(c, http.StatusNotFound, pageNotFound, "/console/payments")
		return nil
	}
	p := &consolePayment{co: co}
	if err == nil {
		p.attempts, err = h.repo.Attempts(ctx, id)
	}
	if err == nil {
		p.refunds, err = h.pay.Refunds(ctx, id)
	}
	if err == nil && h.events != nil {
		p.events, _, err = h.events.List(ctx, u.merchant.ID, webhook.ListQuery{CheckoutID: id, Limit: consoleEventsMax})
	}
	if err != nil {
		h.logger(c).Error("Console payment not read", "checkout_id", id, "error", err)
		h.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
		return nil
	}
	return p
}

// showConsolePayment is one checkout of the signed-in user's merchant:
// amounts, timeline, attempts, refunds, events with their deliveries,
// metadata, and the actions the user's role allows. ?done= and ?failed=
// are the notice of the action that led here.
func (h *handler) showConsolePayment(c *gin.Context) {
	p := h.loadConsolePayment(c, c.Param("id"))
	if p == nil {
		return
	}
	v := h.consolePaymentView(c, p)
	v.Done = pick(c.Query("done"), "refund", "refund_pending", "cancel", "resend", "paid")
	v.Failed = pick(c.Query("failed"), "gateway")
	h.render(c, http.StatusOK, templates.ConsolePaymentPage(v))
}

// pick is s when it is one of allowed, else "".
func pick(s string, allowed ...string) string {
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	return ""
}

// consolePaymentView shapes p for the page, with the actions the
// signed-in user's role allows.
func (h *handler) consolePaymentView(c *gin.Context, p *consolePayment) templates.ConsolePaymentView {
	u := signedInUser(c)
	m, co := u.merchant, p.co
	v := templates.ConsolePaymentView{
		Page: h.page(c), MerchantName: m.Name, ID: co.ID, Reference: co.Reference, Description: co.Description,
		Store: co.StoreID, Link: co.PaymentLink,
		Original: templates.FormatFen(co.Amounts.Original), Amount: templates.FormatFen(co.Amounts.Trade),
		Refunded: templates.FormatFen(co.Refunded), Refundable: templates.FormatFen(p.refundable()),
		RefundableYuan: checkout.FormatYuan(p.refundable()),
		Status:         string(co.Status), Late: co.Late,
		Created: consoleTime(co.CreatedAt), Expires: consoleTime(co.ExpiresAt), PaidAt: consoleTime(co.PaidAt),
		CSRF: h.pages.CSRF.Token(consoleScope, u.sessionID, h.now()),
	}
	if d := co.Amounts.Discount + co.Amounts.Ignore; d > 0 {
		v.Discount = templates.FormatFen(d)
	}
	st, ok := m.Store(co.StoreID)
	if ok {
		v.Store, v.Test = st.Name, st.Sandbox
	}
	role := u.user.Role
	v.CanRefund = mayRefund(m, role) && p.refundable() > 0
	v.CanCancel = role == checkout.RoleAdmin && (co.Status == checkout.StatusOpen || co.Status == checkout.StatusPending)
	v.CanResend = role.CanRefund() && h.events != nil
	if v.CanRefund && role == checkout.RoleSupport {
		v.PerRefundLimit = templates.FormatFen(m.Console.SupportLimits.PerRefund)
		used, err := h.refundBudget().Used(c.Request.Context(), m.ID)
		if err != nil {
			h.logger(c).Warn("Console refund budget not read", "error", err)
		}
		v.PerDayLeft = templates.FormatFen(max(m.Console.SupportLimits.PerDay-used, 0))
	}
	payable := h.sandbox != nil && v.Test && role == checkout.RoleAdmin && co.Status.Active()
	tl := []templates.ConsoleTimelineRow{}
	type step struct {
		at  time.Time
		row templates.ConsoleTimelineRow
	}
	steps := []step{{co.CreatedAt, templates.ConsoleTimelineRow{Kind: "created", Detail: templates.FormatFen(co.Amounts.Trade)}}}
	for _, a := range p.attempts {
		v.Attempts = append(v.Attempts, templates.ConsoleAttemptRow{
			Seq: strconv.Itoa(a.Seq), Created: consoleTime(a.CreatedAt), Method: string(a.Method), Scenario: string(a.Scenario),
			OutNo: a.OutNo, OrdNo: a.OrdNo, Amount: templates.FormatFen(a.Amount), Status: string(a.Status),
			PayableInSandbox: payable && a.Status == checkout.AttemptPending && a.OrdNo != "",
		})
		steps = append(steps, step{a.CreatedAt, templates.ConsoleTimelineRow{Kind: "attempt", Detail: "#" + strconv.Itoa(a.Seq) + " " + string(a.Method)}})
	}
	if !co.PaidAt.IsZero() {
		steps = append(steps, step{co.PaidAt, templates.ConsoleTimelineRow{Kind: "paid"}})
	}
	for _, r := range p.refunds {
		v.Refunds = append(v.Refunds, templates.ConsoleRefundRow{
			ID: r.ID, Created: consoleTime(r.CreatedAt), Amount: templates.FormatFen(r.Amount),
			Status: string(r.Status), Reason: r.Reason, Failure: r.Failure,
		})
		steps = append(steps, step{r.CreatedAt, templates.ConsoleTimelineRow{Kind: "refund", Detail: templates.FormatFen(r.Amount)}})
	}
	for _, e := range p.events {
		row := templates.ConsoleEventRow{ID: e.ID, Type: e.Type, Created: consoleTime(e.CreatedAt), State: e.Delivery.State}
		if e.Delivery.NextAttempt != nil {
			row.Next = consoleTime(*e.Delivery.NextAttempt)
		}
		for _, a := range e.Delivery.Attempts {
			d := templates.ConsoleDeliveryRow{When: consoleTime(a.At), Error: a.Error, Duration: strconv.FormatInt(a.Duration, 10), Response: a.Response}
			if a.Status != 0 {
				d.Status = strconv.Itoa(a.Status)
			} else {
				d.Status = "—"
			}
			row.Deliveries = append(row.Deliveries, d)
		}
		v.Events = append(v.Events, row)
		steps = append(steps, step{e.CreatedAt, templates.ConsoleTimelineRow{Kind: e.Type}})
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].at.Before(steps[j].at) })
	for _, s := range steps {
		s.row.When = consoleTime(s.at)
		tl = append(tl, s.row)
	}
	v.Timeline = tl
	keys := make([]string, 0, len(co.Metadata))
	for k := range co.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v.Metadata = append(v.Metadata, templates.ConsoleOption{Value: k, Label: co.Metadata[k]})
	}
	return v
}

// mayRefund reports whether role may refund at m at all: admins always,
// support users when the merchant gives them a per-refund limit.
func mayRefund(m *checkout.Merchant, role checkout.Role) bool {
	switch role {
	case checkout.RoleAdmin:
		return true
	case checkout.RoleSupport:
		return m.Console.SupportLimits.PerRefund > 0 && m.Console.SupportLimits.PerDay > 0
	}
	return false
}

// detached is ctx without its cancel: what must finish once started (a
// refund sent, an audit entry) outlives a client that went away.
func detached(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

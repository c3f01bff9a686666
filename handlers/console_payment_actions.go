package handlers

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/console"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
	"github.com/wallet-checkout/checkout/web/templates"
)

// consolePaymentRoutes are the payment detail's actions. Each POST is
// same-origin, carries the session's CSRF token and is refused (403) to a
// role that may not do it, whether or not the page showed its button.
func (h *handler) consolePaymentRoutes(g *gin.RouterGroup) {
	refunders := h.consoleRole(func(m *checkout.Merchant, r checkout.Role) bool { return mayRefund(m, r) })
	resenders := h.consoleRole(func(_ *checkout.Merchant, r checkout.Role) bool { return r.CanRefund() })
	admins := h.consoleRole(func(_ *checkout.Merchant, r checkout.Role) bool { return r == checkout.RoleAdmin })
	post := func(path string, role gin.HandlerFunc, do gin.HandlerFunc) {
		g.POST(path, h.sameOriginConsole, h.requireConsoleCSRF, role, do)
	}
	g.GET("/payments/:id/refund", refunders, h.confirmConsoleRefund)
	post("/payments/:id/refund", refunders, h.consoleRefund)
	post("/payments/:id/cancel", admins, h.consoleCancel)
	post("/payments/:id/events/:event/resend", resenders, h.consoleResend)
	post("/payments/:id/sandbox-pay", admins, h.consoleSandboxPay)
}

// consoleRole refuses (403) a signed-in user whose role may not act.
func (h *handler) consoleRole(may func(*checkout.Merchant, checkout.Role) bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		u := signedInUser(c)
		if u == nil || !may(u.merchant, u.user.Role) {
			h.errorPage(c, http.StatusForbidden, pageForbidden, "")
			return
		}
		c.Next()
	}
}

func (h *handler) refundBudget() *console.RefundBudget {
	return console.NewRefundBudget(h.rdb, h.console.Prefix, h.now)
}

// refundFormKey is the shape of a refund form's own idempotency key.
var refundFormKey = regexp.MustCompile(`^[A-Za-z0-9]{26}$`)

// backToPayment sends the browser to the payment's page with the notice
// of what was done (or why not).
func backToPayment(c *gin.Context, id, param, what string) {
	c.Redirect(http.StatusSeeOther, "/console/payments/"+id+"?"+url.Values{param: {what}}.Encode())
}

// refusePayment shows the payment's page again with why an action was
// refused, under status.
func (h *handler) refusePayment(c *gin.Context, p *consolePayment, status int, why string) {
	v := h.consolePaymentView(c, p)
	v.Failed = why
	h.render(c, status, templates.ConsolePaymentPage(v))
}

// refundAsked reads and checks a refund's amount (fen, or yuan with
// inYuan) and reason against p and the user's limits. It answers the
// refusal itself and reports false then.
func (h *handler) refundAsked(c *gin.Context, p *consolePayment, amount string, inYuan bool, reason string) (int64, bool) {
	u := signedInUser(c)
	var fen int64
	var err error
	if inYuan {
		fen, err = checkout.ParseYuan(amount)
	} else {
		fen, err = strconv.ParseInt(amount, 10, 64)
	}
	why := ""
	switch {
	case p.refundable() == 0:
		why = "not_refundable"
	case err != nil || fen <= 0:
		why = "amount"
	case fen > p.refundable():
		why = "over_refundable"
	case utf8.RuneCountInString(reason) > payments.MaxReasonLen || !utf8.ValidString(reason) || strings.ContainsAny(reason, "\x00\r\n"):
		why = "reason"
	case u.user.Role == checkout.RoleSupport && fen > u.merchant.Console.SupportLimits.PerRefund:
		why = "per_refund"
	}
	if why != "" {
		status := http.StatusUnprocessableEntity
		if why == "per_refund" {
			status = http.StatusForbidden
		}
		h.refusePayment(c, p, status, why)
		return 0, false
	}
	return fen, true
}

// confirmConsoleRefund is the refund's confirmation step (GET: nothing
// changes): what will be refunded, to whom, and what is refunded after;
// its form carries a fresh idempotency key, so that posting it twice
// refunds once.
func (h *handler) confirmConsoleRefund(c *gin.Context) {
	p := h.loadConsolePayment(c, c.Param("id"))
	if p == nil {
		return
	}
	reason := strings.TrimSpace(c.Query("reason"))
	fen, ok := h.refundAsked(c, p, c.Query("amount"), true, reason)
	if !ok {
		return
	}
	u := signedInUser(c)
	wallet := ""
	for _, a := range p.attempts {
		if a.Seq == p.co.PaidAttempt {
			wallet = string(a.Method)
		}
	}
	h.render(c, http.StatusOK, templates.ConsoleRefundConfirmPage(templates.ConsoleRefundConfirmView{
		Page: h.page(c), MerchantName: u.merchant.Name, ID: p.co.ID, Reference: p.co.Reference,
		Amount: templates.FormatFen(p.co.Amounts.Trade), Refunded: templates.FormatFen(p.co.Refunded), Wallet: wallet,
		RefundAmount: templates.FormatFen(fen), AfterRefunded: templates.FormatFen(p.co.Amounts.Trade - p.refundable() + fen),
		Reason: reason, RefundFen: strconv.FormatInt(fen, 10), Key: rand.Text(),
		CSRF: h.pages.CSRF.Token(consoleScope, u.sessionID, h.now()), Full: fen == p.refundable(),
	}))
}

// consoleRefund makes the refund the confirmation posted, through the
// API's refund path (payments.Refund) under the form's idempotency key:
// a double submit is the same refund, audited once. A support user's
// refund is bounded by per_refund and counts against the merchant's
// per_day limit (once per form). The audit entry is written before the
// answer.
func (h *handler) consoleRefund(c *gin.Context) {
	u := signedInUser(c)
	m := u.merchant
	key := c.PostForm("key")
	if !refundFormKey.MatchString(key) {
		h.errorPage(c, http.StatusBadRequest, pageNotFound, "/console/payments")
		return
	}
	p := h.loadConsolePayment(c, c.Param("id"))
	if p == nil {
		return
	}
	id, reason := p.co.ID, c.PostForm("reason")
	fen, err := strconv.ParseInt(c.PostForm("amount"), 10, 64)
	support := u.user.Role == checkout.RoleSupport
	switch {
	case err != nil || fen <= 0:
		h.refusePayment(c, p, http.StatusUnprocessableEntity, "amount")
		return
	case support && fen > m.Console.SupportLimits.PerRefund:
		h.refusePayment(c, p, http.StatusForbidden, "per_refund")
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), refundTimeout)
	defer cancel()
	budget := h.refundBudget()
	first, err := budget.FirstPost(ctx, m.ID, key)
	if err == nil && support {
		err = budget.Reserve(ctx, m.ID, key, fen, m.Console.SupportLimits.PerDay)
		if errors.Is(err, console.ErrOverBudget) {
			h.forgetPost(c, ctx, budget, m.ID, key, first)
			h.refusePayment(c, p, http.StatusForbidden, "per_day")
			return
		}
	}
	if err != nil {
		h.logger(c).Error("Console refund form not recorded", "error", err)
		h.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
		return
	}
	// The refund path answers a replay of the key before anything else:
	// the same refund, whatever is refundable now.
	r, err := h.pay.Refund(ctx, m.ID, id, payments.RefundRequest{Amount: fen, Reason: reason, IdempotencyKey: "console:" + key})
	if r == nil {
		if support {
			if rerr := budget.Release(ctx, m.ID, key); rerr != nil {
				h.logger(c).Warn("Console refund budget not released", "error", rerr)
			}
		}
		h.forgetPost(c, ctx, budget, m.ID, key, first)
		why, status := "gateway", http.StatusServiceUnavailable
		switch {
		case errors.Is(err, payments.ErrExceedsRefundable):
			why, status = "over_refundable", http.StatusConflict
		case errors.Is(err, checkout.ErrNotAllowed):
			why, status = "not_refundable", http.StatusConflict
		case errors.Is(err, checkout.ErrInvalid), errors.Is(err, payments.ErrIdempotencyConflict):
			why, status = "amount", http.StatusUnprocessableEntity
		}
		h.logger(c).Warn("Console refund refused", "checkout_id", id, "error", err)
		h.refusePayment(c, p, status, why)
		return
	}
	if err != nil {
		// Reserved and maybe sent: the reconciler finishes it.
		h.logger(c).Warn("Console refund left pending", "checkout_id", id, "error", err)
	}
	if first {
		h.auditCtx(c, ctx, m.ID, u.user.Email, "refund", id, templates.FormatFen(r.Amount)+" "+r.ID+" "+r.Reason)
	}
	backToPayment(c, id, "done", refundDone(r))
}

// forgetPost forgets a refund form's first post that did nothing, so that
// posting it again is audited.
func (h *handler) forgetPost(c *gin.Context, ctx context.Context, b *console.RefundBudget, merchantID, key string, first bool) {
	if !first {
		return
	}
	if err := b.Forget(ctx, merchantID, key); err != nil {
		h.logger(c).Warn("Console refund form not forgotten", "error", err)
	}
}

// refundDone is the notice of refund r.
func refundDone(r *payments.Refund) string {
	if r.Status == payments.RefundSucceeded {
		return "refund"
	}
	return "refund_pending"
}

// auditCtx writes an audit entry with ctx (detached from the request, so a
// client that went away does not lose the entry of what it did).
func (h *handler) auditCtx(c *gin.Context, ctx context.Context, merchantID, actor, action, target, detail string) {
	err := h.console.Audit.Record(ctx, merchantID, console.AuditEntry{
		Actor: actor, Action: action, Target: target, Detail: detail, Address: c.ClientIP(),
	})
	if err != nil {
		h.logger(c).Error("Console audit entry not written", "merchant", merchantID, "action", action, "error", err)
	}
}

// consoleCancel cancels an open checkout (admin), as the API does.
func (h *handler) consoleCancel(c *gin.Context) {
	u := signedInUser(c)
	p := h.loadConsolePayment(c, c.Param("id"))
	if p == nil {
		return
	}
	if p.co.Status == checkout.StatusCancelled {
		backToPayment(c, p.co.ID, "done", "cancel")
		return
	}
	if !p.co.Status.Active() {
		h.refusePayment(c, p, http.StatusConflict, "not_cancellable")
		return
	}
	tr, err := h.cancelOpen(c, p.co)
	if err != nil {
		var re *requestError
		if errors.As(err, &re) && re.status == http.StatusConflict || errors.Is(err, errPaidNoCancel) {
			h.refusePayment(c, p, http.StatusConflict, "not_cancellable")
			return
		}
		h.logger(c).Error("Console cancel failed", "checkout_id", p.co.ID, "error", err)
		h.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
		return
	}
	if tr.Changed {
		h.auditCtx(c, detached(c.Request.Context()), u.merchant.ID, u.user.Email, "cancel", p.co.ID, "")
	}
	backToPayment(c, p.co.ID, "done", "cancel")
}

// consoleResend delivers one of the checkout's events again now (support,
// admin), as POST /v1/events/:id/resend does.
func (h *handler) consoleResend(c *gin.Context) {
	u := signedInUser(c)
	ctx := c.Request.Context()
	id, eventID := c.Param("id"), c.Param("event")
	if h.events == nil || !checkout.ValidID(id) || !webhook.ValidID(eventID) {
		h.errorPage(c, http.StatusNotFound, pageNotFound, "/console/payments")
		return
	}
	rec, err := h.events.Get(ctx, u.merchant.ID, eventID)
	if errors.Is(err, webhook.ErrNotFound) || (err == nil && rec.CheckoutID != id) {
		h.errorPage(c, http.StatusNotFound, pageNotFound, "/console/payments")
		return
	}
	if err == nil {
		err = h.events.Resend(ctx, u.merchant.ID, eventID)
	}
	if err != nil {
		h.logger(c).Error("Console resend failed", "event_id", eventID, "error", err)
		h.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
		return
	}
	h.auditCtx(c, detached(ctx), u.merchant.ID, u.user.Email, "resend", eventID, rec.Type+" "+id)
	backToPayment(c, id, "done", "resend")
}

// statusWriter is a ResponseWriter that keeps only the status: the
// sandbox's answer to the console's in-process pay.
type statusWriter struct {
	h      http.Header
	status int
}

func (w *statusWriter) Header() http.Header {
	if w.h == nil {
		w.h = http.Header{}
	}
	return w.h
}
func (w *statusWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

// consoleSandboxPay pays a pending order of a sandbox store's checkout
// through the sandbox gateway, exactly as its console's button
// (/sandbox/) does, then asks the gateway at once (paystatus), so the
// payment is confirmed the way a real one is (admin, test mode only).
func (h *handler) consoleSandboxPay(c *gin.Context) {
	u := signedInUser(c)
	p := h.loadConsolePayment(c, c.Param("id"))
	if p == nil {
		return
	}
	st, ok := u.merchant.Store(p.co.StoreID)
	ordNo := c.PostForm("ord_no")
	pending := false
	for _, a := range p.attempts {
		pending = pending || (a.OrdNo == ordNo && ordNo != "" && a.Status == checkout.AttemptPending)
	}
	if h.sandbox == nil || !ok || !st.Sandbox || !pending {
		h.errorPage(c, http.StatusForbidden, pageForbidden, "")
		return
	}
	ctx := c.Request.Context()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/console/pay/"+url.PathEscape(ordNo), nil)
	if err != nil {
		h.errorPage(c, http.StatusBadRequest, pageNotFound, "/console/payments")
		return
	}
	w := &statusWriter{}
	h.sandbox.ServeHTTP(w, req)
	if w.status >= 400 {
		h.logger(c).Warn("Sandbox did not pay the order", "checkout_id", p.co.ID, "status", w.status)
		backToPayment(c, p.co.ID, "failed", "gateway")
		return
	}
	if _, err := h.pay.CheckNow(ctx, p.co.ID); err != nil && !errors.Is(err, payments.ErrRateLimited) {
		// The sandbox's notify still confirms it.
		h.logger(c).Warn("Console sandbox payment not checked at once", "checkout_id", p.co.ID, "error", err)
	}
	h.auditCtx(c, detached(ctx), u.merchant.ID, u.user.Email, "sandbox_pay", p.co.ID, ordNo)
	backToPayment(c, p.co.ID, "done", "paid")
}

package handlers

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
)

// cancelCheckout is POST /v1/checkouts/:id/cancel. A paid checkout cannot be
// cancelled. Pending barcode orders are closed upstream with paycancel; the
// gateway cannot close the others, so they stay watched and a payment that
// still arrives makes the checkout paid (late). The use cases
// (payments.Service.Cancelled) do what follows.
func (h *handler) cancelCheckout(c *gin.Context) {
	co, ok := h.loadOwn(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	switch co.Status {
	case checkout.StatusCancelled:
		// Cancelling twice is harmless: answer with the checkout as it is.
		c.JSON(http.StatusOK, h.checkoutView(co))
		return
	case checkout.StatusOpen, checkout.StatusPending:
	default:
		h.notCancellable(c, co.Status)
		return
	}
	// The follow-up (event, watching the attempts) must survive a crash
	// right after the cancel is stored: record that it is owed first.
	if err := h.pay.CancelIntent(ctx, co.ID); err != nil {
		h.unavailable(c, "cancel checkout", err)
		return
	}
	tr, err := h.repo.Cancel(ctx, co.ID)
	if err != nil {
		h.unavailable(c, "cancel checkout", err)
		return
	}
	if !tr.Changed && tr.To != checkout.StatusCancelled {
		// It moved (paid, expired) between the read and the cancel.
		h.notCancellable(c, tr.To)
		return
	}
	if tr.Changed {
		h.logger(c).Info("Checkout cancelled", slog.String("checkout_id", co.ID), slog.String("merchant_id", co.MerchantID))
		h.afterCancel(context.WithoutCancel(ctx), tr.Checkout)
	}
	c.JSON(http.StatusOK, h.checkoutView(tr.Checkout))
}

// afterCancel runs once per real cancel transition; ctx is the request's,
// detached, and carries its logger.
func (h *handler) afterCancel(ctx context.Context, co *checkout.Checkout) {
	if err := h.pay.Cancelled(ctx, co); err != nil {
		// The cancel stands; the reconciler still watches the attempts.
		h.logFrom(ctx).Warn("Follow-up of a cancel failed", slog.String("checkout_id", co.ID), slog.Any("error", err))
	}
}

func (h *handler) notCancellable(c *gin.Context, s checkout.Status) {
	code, msg := "checkout_not_cancellable", "a "+string(s)+" checkout cannot be cancelled"
	if s.Paid() {
		code, msg = "checkout_paid", "the checkout is paid; refund it instead"
	}
	abortError(c, http.StatusConflict, code, msg, "")
}

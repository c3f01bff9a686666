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
	switch co.Status {
	case checkout.StatusCancelled:
		// Cancelling twice is harmless: answer with the checkout as it is.
		c.JSON(http.StatusOK, h.checkoutView(co))
		return
	case checkout.StatusOpen, checkout.StatusPending:
	default:
		h.fail(c, notCancellable(co.Status))
		return
	}
	tr, err := h.cancelOpen(c, co)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, h.checkoutView(tr.Checkout))
}

// cancelOpen cancels an open or pending checkout and does what follows,
// for the API and the console alike. The error is notCancellable when it
// moved (paid, expired) meanwhile, else unavailable.
func (h *handler) cancelOpen(c *gin.Context, co *checkout.Checkout) (*checkout.Transition, error) {
	ctx := c.Request.Context()
	// The follow-up (event, watching the attempts) must survive a crash
	// right after the cancel is stored: record that it is owed first.
	if err := h.pay.CancelIntent(ctx, co.ID); err != nil {
		return nil, unavailable("record the cancel's follow-up", err)
	}
	tr, err := h.repo.Cancel(ctx, co.ID)
	if err != nil {
		return nil, unavailable("cancel checkout", err)
	}
	if !tr.Changed && tr.To != checkout.StatusCancelled {
		// It moved (paid, expired) between the read and the cancel.
		return nil, notCancellable(tr.To)
	}
	if tr.Changed {
		h.logger(c).Info("Checkout cancelled", slog.String("checkout_id", co.ID), slog.String("merchant_id", co.MerchantID))
		h.afterCancel(context.WithoutCancel(ctx), tr.Checkout)
	}
	return tr, nil
}

// afterCancel runs once per real cancel transition; ctx is the request's,
// detached, and carries its logger.
func (h *handler) afterCancel(ctx context.Context, co *checkout.Checkout) {
	if err := h.pay.Cancelled(ctx, co); err != nil {
		// The cancel stands; the reconciler still watches the attempts.
		h.logFrom(ctx).Warn("Follow-up of a cancel failed", slog.String("checkout_id", co.ID), slog.Any("error", err))
	}
}

// notCancellable is the refusal to cancel a checkout in state s.
func notCancellable(s checkout.Status) error {
	if s.Paid() {
		return errPaidNoCancel
	}
	return refusal(http.StatusConflict, "checkout_not_cancellable", "a "+string(s)+" checkout cannot be cancelled", "")
}

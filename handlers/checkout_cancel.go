package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
)

// upstreamCancelTimeout bounds the paycancel calls of one cancel request.
const upstreamCancelTimeout = 10 * time.Second

// cancelCheckout is POST /v1/checkouts/:id/cancel. A paid checkout cannot be
// cancelled. Pending barcode orders are closed upstream with paycancel; the
// gateway cannot close the others, so they stay watched and a payment that
// still arrives makes the checkout paid (late).
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
		h.fail(c, notCancellable(co.Status))
		return
	}
	// The follow-up (event, watching the attempts) must survive a crash
	// right after the cancel is stored: record that it is owed first.
	if p, ok := h.notifier.(CancelPlanner); ok {
		if err := p.CancelIntent(ctx, co.ID); err != nil {
			h.fail(c, unavailable("record the cancel's follow-up", err))
			return
		}
	}
	tr, err := h.repo.Cancel(ctx, co.ID)
	if err != nil {
		h.fail(c, unavailable("cancel checkout", err))
		return
	}
	if !tr.Changed && tr.To != checkout.StatusCancelled {
		// It moved (paid, expired) between the read and the cancel.
		h.fail(c, notCancellable(tr.To))
		return
	}
	if tr.Changed {
		h.logger(c).Info("Checkout cancelled", slog.String("checkout_id", co.ID), slog.String("merchant_id", co.MerchantID))
		h.afterCancel(context.WithoutCancel(ctx), tr.Checkout)
	}
	c.JSON(http.StatusOK, h.checkoutView(tr.Checkout))
}

// CancelFollower does what follows a merchant's cancel, once: the
// checkout.cancelled event and a prompt look at the unsettled attempts
// (barcode orders cancelled upstream, the others watched). *notify.Service
// implements it; when Deps.Notifier does, the cancel handler hands over to it.
type CancelFollower interface {
	Cancelled(ctx context.Context, c *checkout.Checkout) error
}

// CancelPlanner records before a cancel is stored that its follow-up is
// owed, so that a crash between the two does not lose it. *notify.Service
// implements it.
type CancelPlanner interface {
	CancelIntent(ctx context.Context, id string) error
}

// afterCancel runs once per real cancel transition; ctx is the request's,
// detached, and carries its logger.
func (h *handler) afterCancel(ctx context.Context, co *checkout.Checkout) {
	if f, ok := h.notifier.(CancelFollower); ok {
		if err := f.Cancelled(ctx, co); err != nil {
			// The cancel stands; the reconciler still watches the attempts.
			h.logFrom(ctx).Warn("Follow-up of a cancel failed", slog.String("checkout_id", co.ID), slog.Any("error", err))
		}
		return
	}
	// Without the confirmation component, close what the gateway can close.
	h.cancelUpstream(ctx, co)
}

// notCancellable is the refusal to cancel a checkout in state s.
func notCancellable(s checkout.Status) error {
	if s.Paid() {
		return errPaidNoCancel
	}
	return refusal(http.StatusConflict, "checkout_not_cancellable", "a "+string(s)+" checkout cannot be cancelled", "")
}

// cancelUpstream closes the attempts the gateway can close. Failures are
// logged: such attempts stay pending and the reconciler keeps watching them.
func (h *handler) cancelUpstream(ctx context.Context, co *checkout.Checkout) {
	attempts, err := h.repo.Attempts(ctx, co.ID)
	if err != nil {
		h.logFrom(ctx).Warn("Cannot read attempts to cancel upstream", slog.String("checkout_id", co.ID), slog.Any("error", err))
		return
	}
	ctx, cancel := context.WithTimeout(ctx, upstreamCancelTimeout)
	defer cancel()
	for _, a := range attempts {
		if a.Status != checkout.AttemptPending && a.Status != checkout.AttemptUnknown {
			continue
		}
		log := h.logFrom(ctx).With(slog.String("checkout_id", co.ID), slog.String("out_no", a.OutNo), slog.String("scenario", string(a.Scenario)))
		if !a.Scenario.Cancellable() {
			log.Info("Attempt cannot be closed at the gateway; it stays watched")
			continue
		}
		st, ok := h.dir.Store(co.MerchantID, co.StoreID)
		if h.gw == nil || !ok || st.Gateway == nil {
			log.Warn("No gateway to cancel the attempt; it stays watched")
			continue
		}
		if _, err := h.gw.PayCancel(ctx, st.Gateway, gateway.ByOutNo(a.OutNo)); err != nil {
			log.Warn("paycancel failed; the attempt stays watched", slog.Any("error", err))
			continue
		}
		if _, err := h.repo.UpdateAttempt(ctx, co.ID, a.Seq, checkout.AttemptCancelled, ""); err != nil {
			log.Warn("Cannot record the cancelled attempt", slog.Any("error", err))
			continue
		}
		log.Info("Attempt cancelled at the gateway")
	}
}

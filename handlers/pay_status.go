package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/payments"
)

// payStatus is the state a waiting page shows: GET /c/:id/status, each
// event of /c/:id/events and the answer of POST /c/:id/check.
type payStatus struct {
	// Status is the checkout's status as the payer should see it, or
	// "failed" while it is still payable but its last attempt failed.
	Status string `json:"status"`
	Late   bool   `json:"late"`
	// Amount is in fen.
	Amount int64  `json:"amount"`
	PaidAt string `json:"paid_at,omitempty"`
}

// final reports whether the status can no longer change for the payer.
func (s payStatus) final() bool {
	st := checkout.Status(s.Status)
	return st.Paid() || st == checkout.StatusExpired || st == checkout.StatusCancelled
}

// payStatusOf computes the payer's view of ck (one more round trip only
// when the last attempt matters).
func (h *handler) payStatusOf(ctx context.Context, ck *checkout.Checkout) (payStatus, error) {
	s := payStatus{Status: string(displayStatus(ck, h.now())), Late: ck.Late, Amount: ck.Amounts.Trade}
	if !ck.PaidAt.IsZero() {
		s.PaidAt = ck.PaidAt.UTC().Format(time.RFC3339)
	}
	if ck.Status.Active() && s.Status != string(checkout.StatusExpired) && ck.Attempts > 0 {
		atts, err := h.repo.Attempts(ctx, ck.ID)
		if err != nil {
			return s, unavailable("load the attempts of "+ck.ID, err)
		}
		if n := len(atts); n > 0 && atts[n-1].Status == checkout.AttemptFailed {
			s.Status = "failed"
		}
	}
	return s, nil
}

// showPayStatus answers GET /c/:id/status, the event stream's fallback.
func (h *handler) showPayStatus(c *gin.Context) {
	ck := pageCheckoutOf(c)
	s, err := h.payStatusOf(c.Request.Context(), ck)
	if err != nil {
		h.failPage(c, err, payerLang(c))
		return
	}
	c.JSON(http.StatusOK, s)
}

// checkPayment answers POST /c/:id/check: a waiting page saw no news for a
// few seconds and asks us to query the gateway. The reconciler lets at most
// one check per checkout through every couple of seconds, whoever asks;
// the answer is the state either way.
func (h *handler) checkPayment(c *gin.Context) {
	ck := pageCheckoutOf(c)
	if ck.Status.Active() || ck.Status == checkout.StatusExpired || ck.Status == checkout.StatusCancelled {
		if fresh := h.requestCheck(c.Request.Context(), ck.ID, true); fresh != nil {
			ck = fresh
		}
	}
	s, err := h.payStatusOf(c.Request.Context(), ck)
	if err != nil {
		h.failPage(c, err, payerLang(c))
		return
	}
	c.JSON(http.StatusOK, s)
}

// checkTimeout bounds one "please check now".
const checkTimeout = 8 * time.Second

// requestCheck asks the reconciler to query the checkout's orders now. With
// wait it returns the checkout as it is after (nil when nothing was
// checked); without, the query runs in the background.
func (h *handler) requestCheck(ctx context.Context, id string, wait bool) *checkout.Checkout {
	run := func(ctx context.Context) *checkout.Checkout {
		ctx, cancel := detach(ctx, checkTimeout)
		defer cancel()
		ck, err := h.pay.CheckNow(ctx, id)
		if err != nil {
			if !errors.Is(err, payments.ErrRateLimited) && !errors.Is(err, context.Canceled) {
				h.logFrom(ctx).Warn("Check now failed", slog.String("checkout_id", id), slog.Any("error", err))
			}
			return nil
		}
		return ck
	}
	if !wait {
		go run(context.WithoutCancel(ctx))
		return nil
	}
	return run(ctx)
}

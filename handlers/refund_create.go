package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/payments"
)

// refundTimeout bounds a refund request: payrefund and its paystatus.
const refundTimeout = 30 * time.Second

// refundRequest is the body of POST /v1/checkouts/:id/refunds.
type refundRequest struct {
	Amount *int64 `json:"amount"`
	Reason string `json:"reason"`
}

func refundView(r *payments.Refund) refundJSON { return payments.RefundObject(r) }

// refundsView is the "refunds" list of a checkout's JSON.
func refundsView(rs []payments.Refund) []refundJSON {
	out := make([]refundJSON, len(rs))
	for i := range rs {
		out[i] = refundView(&rs[i])
	}
	return out
}

// createRefund is POST /v1/checkouts/:id/refunds {amount, reason} with a
// required Idempotency-Key: the same key answers the same refund and never
// refunds twice. 201 when the gateway decided (status succeeded or failed),
// 202 while its outcome is being resolved or a refusal waits for its retry
// (status pending). A replay answers with the first answer's status code
// and the refund's current state.
func (h *handler) createRefund(c *gin.Context) {
	id := c.Param("id")
	if !checkout.ValidID(id) {
		h.fail(c, errNoCheckout)
		return
	}
	key := c.GetHeader("Idempotency-Key")
	if !validIdempotencyKey(key) {
		h.fail(c, invalid("Idempotency-Key", fmt.Sprintf("a refund needs an Idempotency-Key of 1-%d printable ASCII characters", maxIdempotencyKeyLen)))
		return
	}
	body, err := readJSON(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	var req refundRequest
	if err := decodeStrict(body, &req); err != nil {
		h.fail(c, err)
		return
	}
	if req.Amount == nil || *req.Amount <= 0 {
		h.fail(c, invalid("amount", "amount must be a positive integer number of fen"))
		return
	}
	m := merchantOf(c)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), refundTimeout)
	defer cancel()
	r, err := h.pay.Refund(ctx, m.ID, id, payments.RefundRequest{Amount: *req.Amount, Reason: req.Reason, IdempotencyKey: key})
	if errors.Is(err, payments.ErrAnswerNotRecorded) {
		// No answer without its record: a replay must answer the same.
		h.fail(c, unavailableWith("the refund's answer could not be recorded; retry with the same Idempotency-Key", "refund", err))
		return
	}
	if err != nil {
		// A refund reserved and possibly sent comes back with the error: the
		// reconciler finishes it, and the answer is the pending refund.
		if _, refused := answerFor(err, refundRules...); refused || r == nil {
			h.fail(c, unavailable("refund", err), refundRules...)
			return
		}
		h.logger(c).Warn("Refund left pending", slog.String("checkout_id", id), slog.Any("error", err))
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(refundStatusCode(r), refundView(r))
}

// refundStatusCode is the status code of an answer about r: the one the
// first answer had (recorded with the refund), else what its state says.
func refundStatusCode(r *payments.Refund) int {
	st := r.FirstStatus
	if st == "" {
		st = r.Status
	}
	if st == payments.RefundPending {
		return http.StatusAccepted
	}
	return http.StatusCreated
}

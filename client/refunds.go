package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Refund is a refund of a checkout (schema Refund). Status is "pending"
// while the outcome is being resolved (the service finishes it and sends a
// webhook), then "succeeded" or "failed" (Failure says why).
type Refund struct {
	ID         string `json:"id"`
	Object     string `json:"object"`
	CheckoutID string `json:"checkout_id"`
	Amount     int64  `json:"amount"`
	Currency   string `json:"currency"`
	Reason     string `json:"reason,omitempty"`
	// Kind is "merchant" (asked through the API), "duplicate" or "late"
	// (automatic refunds).
	Kind          string     `json:"kind"`
	Status        string     `json:"status"`
	Failure       string     `json:"failure,omitempty"`
	Attempt       int        `json:"attempt"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
}

// RefundCreateParams is the body of CreateRefund (schema RefundCreate).
type RefundCreateParams struct {
	// Amount in fen; all refunds together never exceed what was paid.
	Amount int64 `json:"amount"`
	// Reason is optional, at most 80 characters on one line.
	Reason string `json:"reason,omitempty"`
}

// CreateRefund refunds part or all of a paid checkout (POST
// /v1/checkouts/{id}/refunds). The API requires an Idempotency-Key: the
// client generates one per call and sends it on every retry, so a retry
// after a lost answer returns the same refund and never refunds twice.
// To make a refund safe across restarts of your own process, give a key
// of your own: WithIdempotencyKey("refund-order-1042-1").
func (c *Client) CreateRefund(ctx context.Context, checkoutID string, p *RefundCreateParams, opts ...RequestOption) (*Refund, error) {
	var out Refund
	r := request{method: http.MethodPost, path: "/v1/checkouts/" + url.PathEscape(checkoutID) + "/refunds", body: p, idem: true}
	if err := c.do(ctx, r, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// PaymentLink is the API's payment link object (schema PaymentLink): a
// reusable payment whose URL (/l/{id}) gives every payer who taps "pay" a
// checkout of their own. Amounts are in fen.
type PaymentLink struct {
	ID     string `json:"id"`
	Object string `json:"object"`
	// URL is the payers' page: share it, or print it as a code.
	URL             string `json:"url"`
	Active          bool   `json:"active"`
	DeactivatedBy   string `json:"deactivated_by,omitempty"` // "merchant" or "limit"
	InactiveMessage string `json:"inactive_message,omitempty"`
	Store           string `json:"store"`
	Currency        string `json:"currency"`
	// AmountType is "fixed" (Amount) or "entered" (MinAmount to MaxAmount,
	// Presets as buttons).
	AmountType  string            `json:"amount_type"`
	Amount      int64             `json:"amount,omitempty"`
	MinAmount   int64             `json:"min_amount,omitempty"`
	MaxAmount   int64             `json:"max_amount,omitempty"`
	Presets     []int64           `json:"presets,omitempty"`
	Description string            `json:"description"`
	Reference   string            `json:"reference,omitempty"`
	Metadata    map[string]string `json:"metadata"`
	Wallets     []string          `json:"wallets"`
	SuccessURL  string            `json:"success_url,omitempty"`
	CancelURL   string            `json:"cancel_url,omitempty"`
	LatePolicy  string            `json:"late_policy"`
	ActiveUntil *time.Time        `json:"active_until,omitempty"`
	MaxPayments int               `json:"max_payments,omitempty"`
	// Payments counts completed payments against MaxPayments; a refund
	// does not give one back.
	Payments int `json:"payments"`
	// AmountLocked is set once a checkout used the amount terms: they can
	// no longer change.
	AmountLocked bool      `json:"amount_locked"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// PaymentLinkCreateParams is the body of CreatePaymentLink (schema
// PaymentLinkCreate): Amount for a fixed amount, or MinAmount and
// MaxAmount (and Presets) for one the payer enters. Zero fields are left
// out and take the API's default.
type PaymentLinkCreateParams struct {
	Amount      int64             `json:"amount,omitempty"`
	MinAmount   int64             `json:"min_amount,omitempty"`
	MaxAmount   int64             `json:"max_amount,omitempty"`
	Presets     []int64           `json:"presets,omitempty"`
	Description string            `json:"description,omitempty"`
	Reference   string            `json:"reference,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Store       string            `json:"store,omitempty"`
	Wallets     []string          `json:"wallets,omitempty"`
	SuccessURL  string            `json:"success_url,omitempty"`
	CancelURL   string            `json:"cancel_url,omitempty"`
	LatePolicy  string            `json:"late_policy,omitempty"`
	// ActiveUntil, when set, ends the link for new payers (RFC 3339).
	ActiveUntil string `json:"active_until,omitempty"`
	MaxPayments int    `json:"max_payments,omitempty"`
	// Active false makes the link switched off from the start.
	Active          *bool  `json:"active,omitempty"`
	InactiveMessage string `json:"inactive_message,omitempty"`
}

// PaymentLinkUpdateParams is the body of UpdatePaymentLink (schema
// PaymentLinkUpdate): nil fields stay as they are. The amount terms change
// only while no checkout used the link (ErrAmountLocked otherwise).
type PaymentLinkUpdateParams struct {
	Amount          *int64   `json:"amount,omitempty"`
	MinAmount       *int64   `json:"min_amount,omitempty"`
	MaxAmount       *int64   `json:"max_amount,omitempty"`
	Presets         *[]int64 `json:"presets,omitempty"`
	Description     *string  `json:"description,omitempty"`
	Active          *bool    `json:"active,omitempty"`
	InactiveMessage *string  `json:"inactive_message,omitempty"`
	// ActiveUntil is an RFC 3339 time; "" removes the end.
	ActiveUntil *string `json:"active_until,omitempty"`
	// MaxPayments 0 removes the limit.
	MaxPayments *int `json:"max_payments,omitempty"`
}

// PaymentLinkListParams pages ListPaymentLinks.
type PaymentLinkListParams struct {
	Limit         int    // page size, 1-100 (0: the API's 20)
	StartingAfter string // the previous page's NextCursor
}

// PaymentLinkList is a page of payment links, newest first (schema
// PaymentLinkList).
type PaymentLinkList struct {
	Object     string        `json:"object"`
	Data       []PaymentLink `json:"data"`
	HasMore    bool          `json:"has_more"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// CreatePaymentLink creates a payment link (POST /v1/payment-links), with
// an Idempotency-Key (generated, or WithIdempotencyKey) that is the same on
// every retry, so a retry never creates a second link.
func (c *Client) CreatePaymentLink(ctx context.Context, p *PaymentLinkCreateParams, opts ...RequestOption) (*PaymentLink, error) {
	var out PaymentLink
	if err := c.do(ctx, request{method: http.MethodPost, path: "/v1/payment-links", body: p, idem: true}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetPaymentLink reads one payment link (GET /v1/payment-links/{id}).
// Another merchant's link is ErrNotFound, like a missing one.
func (c *Client) GetPaymentLink(ctx context.Context, id string, opts ...RequestOption) (*PaymentLink, error) {
	var out PaymentLink
	if err := c.do(ctx, request{method: http.MethodGet, path: "/v1/payment-links/" + url.PathEscape(id)}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdatePaymentLink changes what p names (POST /v1/payment-links/{id}),
// with an Idempotency-Key like CreatePaymentLink, so it is retried safely.
func (c *Client) UpdatePaymentLink(ctx context.Context, id string, p *PaymentLinkUpdateParams, opts ...RequestOption) (*PaymentLink, error) {
	var out PaymentLink
	if err := c.do(ctx, request{method: http.MethodPost, path: "/v1/payment-links/" + url.PathEscape(id), body: p, idem: true}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// PaymentLinkDeleted is the answer of DeletePaymentLink.
type PaymentLinkDeleted struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Deleted bool   `json:"deleted"`
}

// DeletePaymentLink deletes a payment link for good (DELETE
// /v1/payment-links/{id}): its page and codes stop working, its open
// checkouts finish, and payment_link.deleted is sent. To pause a link,
// update Active instead. A link that is not there (deleted already, or
// another merchant's) is ErrNotFound. It is not retried after a failure
// in transit, whose outcome is unknown: call it again, and read
// ErrNotFound as deleted.
func (c *Client) DeletePaymentLink(ctx context.Context, id string, opts ...RequestOption) (*PaymentLinkDeleted, error) {
	var out PaymentLinkDeleted
	if err := c.do(ctx, request{method: http.MethodDelete, path: "/v1/payment-links/" + url.PathEscape(id)}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListPaymentLinks reads one page of payment links, newest first (GET
// /v1/payment-links). IterPaymentLinks follows the pages for you.
func (c *Client) ListPaymentLinks(ctx context.Context, p *PaymentLinkListParams, opts ...RequestOption) (*PaymentLinkList, error) {
	q := url.Values{}
	if p != nil {
		setLimit(q, p.Limit)
		setString(q, "starting_after", p.StartingAfter)
	}
	var out PaymentLinkList
	if err := c.do(ctx, request{method: http.MethodGet, path: "/v1/payment-links", query: q}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// IterPaymentLinks iterates over every payment link, newest first, reading
// pages as needed.
func (c *Client) IterPaymentLinks(ctx context.Context, p *PaymentLinkListParams, opts ...RequestOption) *Iter[PaymentLink] {
	var params PaymentLinkListParams
	if p != nil {
		params = *p
	}
	return newIter(func(cursor string) ([]PaymentLink, string, bool, error) {
		params.StartingAfter = cursor
		page, err := c.ListPaymentLinks(ctx, &params, opts...)
		if err != nil {
			return nil, "", false, err
		}
		return page.Data, page.NextCursor, page.HasMore, nil
	}, params.StartingAfter)
}

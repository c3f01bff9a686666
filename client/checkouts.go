package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Checkout statuses.
const (
	StatusOpen              = "open"
	StatusPending           = "pending"
	StatusPaid              = "paid"
	StatusPartiallyRefunded = "partially_refunded"
	StatusRefunded          = "refunded"
	StatusExpired           = "expired"
	StatusCancelled         = "cancelled"
)

// Checkout is the API's checkout object (schema Checkout). Amounts are in
// fen (¥19.99 is 1999).
type Checkout struct {
	ID     string `json:"id"`
	Object string `json:"object"`
	// URL is the payer's page: send the payer there.
	URL string `json:"url"`
	// ClientSecret is for a mini-program front end; keep it out of logs.
	ClientSecret   string            `json:"client_secret"`
	Status         string            `json:"status"`
	Late           bool              `json:"late"`
	Store          string            `json:"store"`
	Currency       string            `json:"currency"`
	Amount         int64             `json:"amount"`
	OriginalAmount int64             `json:"original_amount"`
	DiscountAmount int64             `json:"discount_amount"`
	IgnoreAmount   int64             `json:"ignore_amount"`
	RefundedAmount int64             `json:"refunded_amount"`
	Description    string            `json:"description"`
	Reference      string            `json:"reference,omitempty"`
	SuccessURL     string            `json:"success_url,omitempty"`
	CancelURL      string            `json:"cancel_url,omitempty"`
	LatePolicy     string            `json:"late_policy"`
	WebhookURL     string            `json:"webhook_url,omitempty"`
	Wallets        []string          `json:"wallets"`
	Metadata       map[string]string `json:"metadata"`
	ExpiresAt      time.Time         `json:"expires_at"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	PaidAt         *time.Time        `json:"paid_at,omitempty"`
	// PaymentLink is the payment link the checkout was made from.
	PaymentLink string `json:"payment_link,omitempty"`
	// Refunds are the checkout's refunds, oldest first (GetCheckout only).
	Refunds []Refund `json:"refunds,omitempty"`
}

// CheckoutCreateParams is the body of CreateCheckout (schema
// CheckoutCreate). Zero fields are left out and take the API's default.
type CheckoutCreateParams struct {
	Amount         int64  `json:"amount"`
	OriginalAmount int64  `json:"original_amount,omitempty"`
	DiscountAmount int64  `json:"discount_amount,omitempty"`
	IgnoreAmount   int64  `json:"ignore_amount,omitempty"`
	Description    string `json:"description,omitempty"`
	Reference      string `json:"reference,omitempty"`
	// SuccessURL and CancelURL must be on one of the merchant's
	// redirect_hosts; "{CHECKOUT_ID}" is replaced by the checkout's id.
	SuccessURL string `json:"success_url,omitempty"`
	CancelURL  string `json:"cancel_url,omitempty"`
	// LatePolicy is "accept" or "refund".
	LatePolicy string `json:"late_policy,omitempty"`
	WebhookURL string `json:"webhook_url,omitempty"`
	// ExpiresIn is in seconds, 60 to 86400 (default 1800).
	ExpiresIn int               `json:"expires_in,omitempty"`
	Wallets   []string          `json:"wallets,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Store     string            `json:"store,omitempty"`
}

// CheckoutListParams filters ListCheckouts.
type CheckoutListParams struct {
	Status        string // one of the Status constants, or "" for all
	PaymentLink   string // only the checkouts of this payment link
	Limit         int    // page size, 1-100 (0: the API's 20)
	StartingAfter string // the previous page's NextCursor
}

// CheckoutList is a page of checkouts, newest first (schema CheckoutList).
type CheckoutList struct {
	Object     string     `json:"object"`
	Data       []Checkout `json:"data"`
	HasMore    bool       `json:"has_more"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// CreateCheckout creates a checkout (POST /v1/checkouts). It is sent with
// an Idempotency-Key (generated, or WithIdempotencyKey), the same on every
// retry, so a retry never creates a second checkout.
func (c *Client) CreateCheckout(ctx context.Context, p *CheckoutCreateParams, opts ...RequestOption) (*Checkout, error) {
	var out Checkout
	if err := c.do(ctx, request{method: http.MethodPost, path: "/v1/checkouts", body: p, idem: true}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetCheckout reads one checkout, with its refunds (GET /v1/checkouts/{id}).
// Another merchant's checkout is ErrNotFound, like a missing one.
func (c *Client) GetCheckout(ctx context.Context, id string, opts ...RequestOption) (*Checkout, error) {
	var out Checkout
	if err := c.do(ctx, request{method: http.MethodGet, path: "/v1/checkouts/" + url.PathEscape(id)}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListCheckouts reads one page of checkouts, newest first (GET
// /v1/checkouts). IterCheckouts follows the pages for you.
func (c *Client) ListCheckouts(ctx context.Context, p *CheckoutListParams, opts ...RequestOption) (*CheckoutList, error) {
	q := url.Values{}
	if p != nil {
		setString(q, "status", p.Status)
		setString(q, "payment_link", p.PaymentLink)
		setLimit(q, p.Limit)
		setString(q, "starting_after", p.StartingAfter)
	}
	var out CheckoutList
	if err := c.do(ctx, request{method: http.MethodGet, path: "/v1/checkouts", query: q}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// IterCheckouts iterates over every checkout p selects, newest first,
// reading pages as needed (with a status filter a page may be short while
// more follow: the iterator follows next_cursor until it is absent).
func (c *Client) IterCheckouts(ctx context.Context, p *CheckoutListParams, opts ...RequestOption) *Iter[Checkout] {
	var params CheckoutListParams
	if p != nil {
		params = *p
	}
	return newIter(func(cursor string) ([]Checkout, string, bool, error) {
		params.StartingAfter = cursor
		page, err := c.ListCheckouts(ctx, &params, opts...)
		if err != nil {
			return nil, "", false, err
		}
		return page.Data, page.NextCursor, page.HasMore, nil
	}, params.StartingAfter)
}

// CancelCheckout cancels an open or pending checkout (POST
// /v1/checkouts/{id}/cancel); cancelling it again answers the same. A paid
// checkout is ErrCheckoutPaid (refund it instead). It takes no
// idempotency key, so it is not retried automatically.
func (c *Client) CancelCheckout(ctx context.Context, id string, opts ...RequestOption) (*Checkout, error) {
	var out Checkout
	if err := c.do(ctx, request{method: http.MethodPost, path: "/v1/checkouts/" + url.PathEscape(id) + "/cancel"}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

func setString(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

func setLimit(q url.Values, n int) {
	if n > 0 {
		q.Set("limit", strconv.Itoa(n))
	}
}

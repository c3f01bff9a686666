package apiobject

import (
	"strings"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
)

// APIVersion names the shape of the objects and of the event envelope.
// Every event carries it (api_version); it changes when a field is
// renamed, removed or changes meaning, never for an added field.
const APIVersion = "2026-12-01"

// Currency is the one currency the service charges in.
const Currency = "CNY"

// Checkout is a checkout as the merchant API shows it. Amounts are in fen,
// times are RFC 3339 in UTC to the second.
type Checkout struct {
	ID             string            `json:"id"`
	Object         string            `json:"object"`
	URL            string            `json:"url"`
	ClientSecret   string            `json:"client_secret"`
	Status         checkout.Status   `json:"status"`
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
	Wallets        []checkout.Method `json:"wallets"`
	Metadata       map[string]string `json:"metadata"`
	ExpiresAt      string            `json:"expires_at"`
	CreatedAt      string            `json:"created_at"`
	UpdatedAt      string            `json:"updated_at"`
	PaidAt         string            `json:"paid_at,omitempty"`
	// Refunds lists the checkout's refunds, oldest first (GET of one
	// checkout only; never in an event, whose refund is its own member).
	Refunds []Refund `json:"refunds,omitempty"`
}

// Refund is a refund as the merchant API shows it. Amounts are in fen.
type Refund struct {
	ID         string `json:"id"`
	Object     string `json:"object"`
	CheckoutID string `json:"checkout_id"`
	Amount     int64  `json:"amount"`
	Currency   string `json:"currency"`
	Reason     string `json:"reason,omitempty"`
	// Kind is merchant, duplicate or late.
	Kind string `json:"kind"`
	// Status is pending, succeeded or failed.
	Status string `json:"status"`
	// Failure says why it failed or, while pending, the gateway's last
	// refusal.
	Failure   string `json:"failure,omitempty"`
	Attempt   int    `json:"attempt"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	// NextAttemptAt is when a refund the gateway refused is sent again.
	NextAttemptAt string `json:"next_attempt_at,omitempty"`
}

// Time is t as the objects show times: RFC 3339 in UTC to the second, ""
// for the zero time.
func Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// PageURL is the payer's page of checkout id under publicURL.
func PageURL(publicURL, id string) string {
	return strings.TrimRight(publicURL, "/") + "/c/" + id
}

// CheckoutOf renders c, whose payer's page is under publicURL. Empty
// wallets and metadata are shown as [] and {}, never null.
func CheckoutOf(c *checkout.Checkout, publicURL string) Checkout {
	wallets := c.Wallets
	if wallets == nil {
		wallets = []checkout.Method{}
	}
	meta := c.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	return Checkout{
		ID:             c.ID,
		Object:         "checkout",
		URL:            PageURL(publicURL, c.ID),
		ClientSecret:   c.ClientSecret,
		Status:         c.Status,
		Late:           c.Late,
		Store:          c.StoreID,
		Currency:       Currency,
		Amount:         c.Amounts.Trade,
		OriginalAmount: c.Amounts.Original,
		DiscountAmount: c.Amounts.Discount,
		IgnoreAmount:   c.Amounts.Ignore,
		RefundedAmount: c.Refunded,
		Description:    c.Description,
		Reference:      c.Reference,
		SuccessURL:     c.SuccessURL,
		CancelURL:      c.CancelURL,
		LatePolicy:     string(c.LatePolicy),
		WebhookURL:     c.WebhookURL,
		Wallets:        wallets,
		Metadata:       meta,
		ExpiresAt:      Time(c.ExpiresAt),
		CreatedAt:      Time(c.CreatedAt),
		UpdatedAt:      Time(c.UpdatedAt),
		PaidAt:         Time(c.PaidAt),
	}
}

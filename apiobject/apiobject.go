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
	// PaymentLink is the payment link the checkout was made from.
	PaymentLink string `json:"payment_link,omitempty"`
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
		PaymentLink:    c.PaymentLink,
	}
}

// PaymentLink is a payment link as the merchant API shows it. Amounts are
// in fen; AmountType is fixed (Amount) or entered (MinAmount to MaxAmount,
// Presets offered).
type PaymentLink struct {
	ID              string            `json:"id"`
	Object          string            `json:"object"`
	URL             string            `json:"url"`
	Active          bool              `json:"active"`
	DeactivatedBy   string            `json:"deactivated_by,omitempty"`
	InactiveMessage string            `json:"inactive_message,omitempty"`
	Store           string            `json:"store"`
	Currency        string            `json:"currency"`
	AmountType      string            `json:"amount_type"`
	Amount          int64             `json:"amount,omitempty"`
	MinAmount       int64             `json:"min_amount,omitempty"`
	MaxAmount       int64             `json:"max_amount,omitempty"`
	Presets         []int64           `json:"presets,omitempty"`
	Description     string            `json:"description"`
	Reference       string            `json:"reference,omitempty"`
	Metadata        map[string]string `json:"metadata"`
	Wallets         []checkout.Method `json:"wallets"`
	SuccessURL      string            `json:"success_url,omitempty"`
	CancelURL       string            `json:"cancel_url,omitempty"`
	LatePolicy      string            `json:"late_policy"`
	ActiveUntil     string            `json:"active_until,omitempty"`
	MaxPayments     int               `json:"max_payments,omitempty"`
	Payments        int               `json:"payments"`
	AmountLocked    bool              `json:"amount_locked"`
	CreatedAt       string            `json:"created_at"`
	UpdatedAt       string            `json:"updated_at"`
}

// LinkURL is the payer's page of payment link id under publicURL.
func LinkURL(publicURL, id string) string {
	return strings.TrimRight(publicURL, "/") + "/l/" + id
}

// PaymentLinkOf renders l, whose payer's page is under publicURL. Empty
// wallets and metadata are shown as [] and {}, never null.
func PaymentLinkOf(l *checkout.PaymentLink, publicURL string) PaymentLink {
	wallets := l.Wallets
	if wallets == nil {
		wallets = []checkout.Method{}
	}
	meta := l.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	v := PaymentLink{
		ID: l.ID, Object: "payment_link", URL: LinkURL(publicURL, l.ID),
		Active: l.Active, DeactivatedBy: l.DeactivatedBy, InactiveMessage: l.InactiveMessage,
		Store: l.StoreID, Currency: Currency, AmountType: "fixed", Amount: l.Amount,
		Description: l.Description, Reference: l.Reference, Metadata: meta, Wallets: wallets,
		SuccessURL: l.SuccessURL, CancelURL: l.CancelURL, LatePolicy: string(l.LatePolicy),
		ActiveUntil: Time(l.ActiveUntil), MaxPayments: l.MaxPayments, Payments: l.Payments,
		AmountLocked: l.Used, CreatedAt: Time(l.CreatedAt), UpdatedAt: Time(l.UpdatedAt),
	}
	if l.EnteredAmount() {
		v.AmountType, v.MinAmount, v.MaxAmount, v.Presets = "entered", l.MinAmount, l.MaxAmount, l.Presets
	}
	return v
}

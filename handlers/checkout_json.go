package handlers

import (
	"time"

	"github.com/wallet-checkout/checkout/checkout"
)

// checkoutJSON is a checkout as the merchant API shows it. Amounts are in fen.
type checkoutJSON struct {
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
	// checkout only).
	Refunds []refundJSON `json:"refunds,omitempty"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (h *handler) checkoutView(c *checkout.Checkout) checkoutJSON {
	wallets := c.Wallets
	if wallets == nil {
		wallets = []checkout.Method{}
	}
	meta := c.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	return checkoutJSON{
		ID:             c.ID,
		Object:         "checkout",
		URL:            h.publicURL + "/c/" + c.ID,
		ClientSecret:   c.ClientSecret,
		Status:         c.Status,
		Late:           c.Late,
		Store:          c.StoreID,
		Currency:       "CNY",
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
		ExpiresAt:      rfc3339(c.ExpiresAt),
		CreatedAt:      rfc3339(c.CreatedAt),
		UpdatedAt:      rfc3339(c.UpdatedAt),
		PaidAt:         rfc3339(c.PaidAt),
		PaymentLink:    c.PaymentLink,
	}
}

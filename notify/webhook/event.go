package webhook

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
)

// The event types.
const (
	// TypePaid: the checkout is paid (Late in the snapshot when the money
	// came after it expired or was cancelled and the policy kept it).
	TypePaid = "checkout.paid"
	// TypeExpired: the checkout expired unpaid.
	TypeExpired = "checkout.expired"
	// TypeCancelled: the checkout was cancelled unpaid.
	TypeCancelled = "checkout.cancelled"
	// TypeRefundSucceeded: a refund the merchant asked for went through.
	TypeRefundSucceeded = "checkout.refund.succeeded"
	// TypeRefundFailed: a refund the merchant asked for was refused.
	TypeRefundFailed = "checkout.refund.failed"
	// TypeRefundDeferred: the gateway refused a refund (for example 8040,
	// not enough takings today); it stays pending and is sent again, under
	// the same number, until it goes through or its retry window ends with
	// TypeRefundFailed. Sent once per refund, at its first refusal.
	TypeRefundDeferred = "checkout.refund.deferred"
	// TypeDuplicatePaymentRefunded: a second payment of an already paid
	// checkout was refunded automatically.
	TypeDuplicatePaymentRefunded = "checkout.duplicate_payment.refunded"
	// TypeLatePaymentRefunded: a payment that arrived after expiry or
	// cancellation was refunded automatically (late policy "refund").
	TypeLatePaymentRefunded = "checkout.late_payment.refunded"
	// TypeAmountMismatch is an alert: the gateway reported an order of
	// ours with another amount than the attempt's; nothing was marked paid.
	TypeAmountMismatch = "checkout.amount_mismatch"
	// TypeReconciliationMismatch is an alert of the daily reconciliation: the
	// gateway's order list and the service disagree about an order or a
	// refund (Data.Reconciliation says how). It belongs to a store's day,
	// not to a checkout: CheckoutID is set only when the order is one of ours.
	TypeReconciliationMismatch = "reconciliation.mismatch"
	// TypePaymentLinkCreated: the merchant made a payment link.
	TypePaymentLinkCreated = "payment_link.created"
	// TypePaymentLinkUpdated: the merchant changed a payment link.
	TypePaymentLinkUpdated = "payment_link.updated"
	// TypePaymentLinkDeactivated: a payment link stopped taking payers,
	// switched off by the merchant or by reaching max_payments
	// (Data.PaymentLink.DeactivatedBy says which).
	TypePaymentLinkDeactivated = "payment_link.deactivated"
)

// LinkType reports whether t is about a payment link rather than a
// checkout.
func LinkType(t string) bool {
	return t == TypePaymentLinkCreated || t == TypePaymentLinkUpdated || t == TypePaymentLinkDeactivated
}

// Types lists every event type, in documentation order.
var Types = []string{
	TypePaid, TypeExpired, TypeCancelled, TypeRefundSucceeded, TypeRefundFailed, TypeRefundDeferred,
	TypeDuplicatePaymentRefunded, TypeLatePaymentRefunded, TypeAmountMismatch,
	TypeReconciliationMismatch, TypePaymentLinkCreated, TypePaymentLinkUpdated, TypePaymentLinkDeactivated,
}

// ValidType reports whether t is a known event type.
func ValidType(t string) bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

// IDPrefix starts every event id.
const IDPrefix = "evt_"

// idRandomLen is the random part of an event id: 24 base62 characters,
// about 143 bits.
const idRandomLen = 24

// Event is one thing that happened to a checkout (or, for reconciliation
// alerts, to a store's day at the gateway), as the merchant receives it.
// Its JSON form is the webhook body.
type Event struct {
	// ID is unique (evt_ and 24 random base62 characters). A retried or
	// resent delivery carries the same id, so merchants deduplicate on it.
	ID         string `json:"id"`
	Type       string `json:"type"`
	MerchantID string `json:"merchant_id"`
	// CheckoutID is the checkout the event is about; empty for events that
	// belong to no checkout (a reconciliation of an order we never made).
	CheckoutID string    `json:"checkout_id,omitempty"`
	Created    time.Time `json:"created"`
	Data       Data      `json:"data"`
	// WebhookURL overrides the merchant's webhook URL for this event (the
	// checkout's own webhook_url). It is not part of the body.
	WebhookURL string `json:"-"`
}

// Data is the payload of an event: the checkout as it is after the change
// (nil for events about no checkout), and the refund or the alert details
// for the types that have them.
type Data struct {
	Checkout       *Snapshot       `json:"checkout,omitempty"`
	Refund         *Refund         `json:"refund,omitempty"`
	Mismatch       *Mismatch       `json:"mismatch,omitempty"`
	Reconciliation *Reconciliation `json:"reconciliation,omitempty"`
	PaymentLink    *LinkSnapshot   `json:"payment_link,omitempty"`
}

// LinkSnapshot is the merchant-facing view of a payment link inside an
// event.
type LinkSnapshot struct {
	ID              string            `json:"id"`
	Active          bool              `json:"active"`
	DeactivatedBy   string            `json:"deactivated_by,omitempty"`
	Amount          int64             `json:"amount,omitempty"`
	MinAmount       int64             `json:"min_amount,omitempty"`
	MaxAmount       int64             `json:"max_amount,omitempty"`
	Currency        string            `json:"currency"`
	Description     string            `json:"description,omitempty"`
	Reference       string            `json:"reference,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	StoreID         string            `json:"store_id"`
	MaxPayments     int               `json:"max_payments,omitempty"`
	Payments        int               `json:"payments"`
	InactiveMessage string            `json:"inactive_message,omitempty"`
	ActiveUntil     *time.Time        `json:"active_until,omitempty"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
}

// NewLinkEvent makes an event of a payment link type about l as it is now.
func NewLinkEvent(typ string, l *checkout.PaymentLink, now time.Time) (Event, error) {
	if !LinkType(typ) {
		return Event{}, fmt.Errorf("webhook: %q is not a payment link event", typ)
	}
	if l == nil {
		return Event{}, fmt.Errorf("webhook: %s event without a link", typ)
	}
	id, err := NewID()
	if err != nil {
		return Event{}, err
	}
	s := &LinkSnapshot{
		ID: l.ID, Active: l.Active, DeactivatedBy: l.DeactivatedBy,
		Amount: l.Amount, MinAmount: l.MinAmount, MaxAmount: l.MaxAmount, Currency: "CNY",
		Description: l.Description, Reference: l.Reference, Metadata: l.Metadata, StoreID: l.StoreID,
		MaxPayments: l.MaxPayments, Payments: l.Payments, InactiveMessage: l.InactiveMessage,
		CreatedAt: l.CreatedAt.UTC(), UpdatedAt: l.UpdatedAt.UTC(),
	}
	if !l.ActiveUntil.IsZero() {
		s.ActiveUntil = new(l.ActiveUntil.UTC())
	}
	return Event{
		ID: id, Type: typ, MerchantID: l.MerchantID,
		Created: now.UTC().Truncate(time.Millisecond),
		Data:    Data{PaymentLink: s},
	}, nil
}

// Snapshot is the merchant-facing view of a checkout inside an event.
type Snapshot struct {
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Amount      int64             `json:"amount"` // fen the payer is charged
	Currency    string            `json:"currency"`
	Amounts     Amounts           `json:"amounts"`
	Late        bool              `json:"late"`
	Refunded    int64             `json:"refunded"`
	Reference   string            `json:"reference,omitempty"`
	Description string            `json:"description,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	StoreID     string            `json:"store_id,omitempty"`
	// PaymentLink is the link the checkout was made from, if any.
	PaymentLink string     `json:"payment_link,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	PaidAt      *time.Time `json:"paid_at,omitempty"`
}

// Amounts is the breakdown of a checkout's amount, in fen.
type Amounts struct {
	Original int64 `json:"original"`
	Discount int64 `json:"discount"`
	Ignore   int64 `json:"ignore"`
	Trade    int64 `json:"trade"`
}

// Refund describes the refund of a refund event.
type Refund struct {
	// ID is the service's id of the refund (its gateway out_no for
	// automatic refunds).
	ID     string `json:"id"`
	Amount int64  `json:"amount"` // fen
	Reason string `json:"reason,omitempty"`
	// Attempt is the payment attempt refunded (automatic refunds).
	Attempt int `json:"attempt,omitempty"`
	// Failure says why a refund failed (checkout.refund.failed).
	Failure string `json:"failure,omitempty"`
}

// Mismatch describes a checkout.amount_mismatch alert.
type Mismatch struct {
	Attempt  int    `json:"attempt"`
	OutNo    string `json:"out_no"`
	Expected int64  `json:"expected"` // fen, the attempt's amount
	Reported int64  `json:"reported"` // fen, what the gateway said
}

// SnapshotOf returns the merchant-facing view of c.
func SnapshotOf(c *checkout.Checkout) Snapshot {
	s := Snapshot{
		ID:          c.ID,
		Status:      string(c.Status),
		Amount:      c.Amounts.Trade,
		Currency:    "CNY",
		Amounts:     Amounts(c.Amounts),
		Late:        c.Late,
		Refunded:    c.Refunded,
		Reference:   c.Reference,
		Description: c.Description,
		Metadata:    c.Metadata,
		StoreID:     c.StoreID,
		PaymentLink: c.PaymentLink,
		CreatedAt:   c.CreatedAt.UTC(),
		ExpiresAt:   c.ExpiresAt.UTC(),
	}
	if !c.PaidAt.IsZero() {
		p := c.PaidAt.UTC()
		s.PaidAt = &p
	}
	return s
}

// NewEvent makes an event of type typ about checkout c as it is now: a fresh
// id, the checkout's merchant and webhook URL override, and its snapshot.
// Set Data.Refund or Data.Mismatch for the types that carry them, then Emit.
func NewEvent(typ string, c *checkout.Checkout, now time.Time) (Event, error) {
	if !ValidType(typ) || LinkType(typ) {
		return Event{}, fmt.Errorf("webhook: unknown checkout event type %q", typ)
	}
	if c == nil {
		return Event{}, fmt.Errorf("webhook: %s event without a checkout", typ)
	}
	id, err := NewID()
	if err != nil {
		return Event{}, err
	}
	return Event{
		ID:         id,
		Type:       typ,
		MerchantID: c.MerchantID,
		CheckoutID: c.ID,
		Created:    now.UTC().Truncate(time.Millisecond),
		Data:       Data{Checkout: new(SnapshotOf(c))},
		WebhookURL: c.WebhookURL,
	}, nil
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewID returns a fresh event id.
func NewID() (string, error) {
	// Rejection sampling keeps every character uniform: 62*4 = 248.
	out := make([]byte, 0, len(IDPrefix)+idRandomLen)
	out = append(out, IDPrefix...)
	var buf [48]byte
	for len(out) < cap(out) {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("webhook: event id: %w", err)
		}
		for _, b := range buf {
			if b < 248 && len(out) < cap(out) {
				out = append(out, base62[b%62])
			}
		}
	}
	return string(out), nil
}

// ValidID reports whether s has the shape of an event id. Handlers check it
// before touching Redis so garbage never becomes a key.
func ValidID(s string) bool {
	if len(s) != len(IDPrefix)+idRandomLen || s[:len(IDPrefix)] != IDPrefix {
		return false
	}
	for i := len(IDPrefix); i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

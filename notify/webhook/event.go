package webhook

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/wallet-checkout/checkout/apiobject"
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
	// TypePaymentLinkDeleted: the merchant deleted a payment link
	// (DELETE /v1/payment-links/{id}); Data.PaymentLink is the link as it
	// was. Unlike a deactivated link, which can be switched on again, it
	// is gone: its URL and API answer 404 from now on.
	TypePaymentLinkDeleted = "payment_link.deleted"
	// TypePing is a test event the merchant asked for (the console's
	// "send test event"): about nothing, signed and delivered like every
	// other, so the merchant's endpoint and its signature check can be
	// tried without moving money.
	TypePing = "ping"
)

// LinkType reports whether t is about a payment link rather than a
// checkout.
func LinkType(t string) bool {
	return t == TypePaymentLinkCreated || t == TypePaymentLinkUpdated || t == TypePaymentLinkDeactivated || t == TypePaymentLinkDeleted
}

// Types lists every event type, in documentation order.
var Types = []string{
	TypePaid, TypeExpired, TypeCancelled, TypeRefundSucceeded, TypeRefundFailed, TypeRefundDeferred,
	TypeDuplicatePaymentRefunded, TypeLatePaymentRefunded, TypeAmountMismatch,
	TypeReconciliationMismatch, TypePaymentLinkCreated, TypePaymentLinkUpdated, TypePaymentLinkDeactivated,
	TypePaymentLinkDeleted,
	TypePing,
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

// APIVersion is the shape of the events this service writes now: the
// envelope below and the API's checkout and refund objects inside it
// (apiobject.APIVersion, one constant for both).
const APIVersion = apiobject.APIVersion

// Event is one thing that happened to a checkout (or, for reconciliation
// alerts, to a store's day at the gateway), as the merchant receives it.
// Its JSON form is the webhook body.
type Event struct {
	// ID is unique (evt_ and 24 random base62 characters). A retried or
	// resent delivery carries the same id, so merchants deduplicate on it.
	ID     string `json:"id"`
	Object string `json:"object"`
	Type   string `json:"type"`
	// APIVersion is the shape of this event's body (APIVersion when it was
	// written). An event keeps the shape it was written with: a delivery,
	// retry or resend sends the stored body, byte for byte. Empty for the
	// events written before versions (see Record.Legacy).
	APIVersion string `json:"api_version"`
	MerchantID string `json:"merchant_id"`
	// CheckoutID is the checkout the event is about; empty for events that
	// belong to no checkout (a reconciliation of an order we never made).
	CheckoutID string `json:"checkout_id,omitempty"`
	// CreatedAt is when the event happened, RFC 3339 in UTC to the
	// millisecond.
	CreatedAt time.Time `json:"created_at"`
	Data      Data      `json:"data"`
	// WebhookURL overrides the merchant's webhook URL for this event (the
	// checkout's own webhook_url). It is not part of the body.
	WebhookURL string `json:"-"`
}

// Data is the payload of an event: the checkout as it is after the change
// (nil for events about no checkout), and the refund or the alert details
// for the types that have them. Checkout and Refund are exactly the
// objects the merchant API answers (apiobject).
type Data struct {
	Checkout       *apiobject.Checkout    `json:"checkout,omitempty"`
	Refund         *apiobject.Refund      `json:"refund,omitempty"`
	Mismatch       *Mismatch              `json:"mismatch,omitempty"`
	Reconciliation *Reconciliation        `json:"reconciliation,omitempty"`
	PaymentLink    *apiobject.PaymentLink `json:"payment_link,omitempty"`
}

// Mismatch describes a checkout.amount_mismatch alert.
type Mismatch struct {
	Attempt  int    `json:"attempt"`
	OutNo    string `json:"out_no"`
	Expected int64  `json:"expected"` // fen, the attempt's amount
	Reported int64  `json:"reported"` // fen, what the gateway said
}

// NewLinkEvent makes an event of a payment link type about l as it is now:
// the link as the API shows it (its page under publicURL).
func NewLinkEvent(typ string, l *checkout.PaymentLink, publicURL string, now time.Time) (Event, error) {
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
	obj := apiobject.PaymentLinkOf(l, publicURL)
	return Event{
		ID:         id,
		Object:     "event",
		Type:       typ,
		APIVersion: APIVersion,
		MerchantID: l.MerchantID,
		CreatedAt:  now.UTC().Truncate(time.Millisecond),
		Data:       Data{PaymentLink: &obj},
	}, nil
}

// NewPingEvent makes a ping event for merchantID: a fresh id, no checkout
// and empty data. Emit it like any other.
func NewPingEvent(merchantID string, now time.Time) (Event, error) {
	id, err := NewID()
	if err != nil {
		return Event{}, err
	}
	return Event{
		ID: id, Object: "event", Type: TypePing, APIVersion: APIVersion,
		MerchantID: merchantID, CreatedAt: now.UTC().Truncate(time.Millisecond),
	}, nil
}

// NewEvent makes an event of type typ about checkout c as it is now: a fresh
// id, the checkout's merchant and webhook URL override, and the checkout as
// the API shows it (its page under publicURL). Set Data.Refund or
// Data.Mismatch for the types that carry them, then Emit.
func NewEvent(typ string, c *checkout.Checkout, publicURL string, now time.Time) (Event, error) {
	if !ValidType(typ) || LinkType(typ) || typ == TypePing {
		return Event{}, fmt.Errorf("webhook: unknown checkout event type %q", typ)
	}
	if c == nil {
		return Event{}, fmt.Errorf("webhook: %s event without a checkout", typ)
	}
	id, err := NewID()
	if err != nil {
		return Event{}, err
	}
	obj := apiobject.CheckoutOf(c, publicURL)
	return Event{
		ID:         id,
		Object:     "event",
		Type:       typ,
		APIVersion: APIVersion,
		MerchantID: c.MerchantID,
		CheckoutID: c.ID,
		CreatedAt:  now.UTC().Truncate(time.Millisecond),
		Data:       Data{Checkout: &obj},
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

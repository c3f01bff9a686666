package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/wallet-checkout/checkout/client/webhook"
)

// Event types; ignore the ones you do not know, new ones may be added.
const (
	EventCheckoutPaid             = "checkout.paid"
	EventCheckoutExpired          = "checkout.expired"
	EventCheckoutCancelled        = "checkout.cancelled"
	EventRefundSucceeded          = "checkout.refund.succeeded"
	EventRefundFailed             = "checkout.refund.failed"
	EventRefundDeferred           = "checkout.refund.deferred"
	EventDuplicatePaymentRefunded = "checkout.duplicate_payment.refunded"
	EventLatePaymentRefunded      = "checkout.late_payment.refunded"
	EventAmountMismatch           = "checkout.amount_mismatch"
	EventReconciliationMismatch   = "reconciliation.mismatch"
	EventPaymentLinkCreated       = "payment_link.created"
	EventPaymentLinkUpdated       = "payment_link.updated"
	EventPaymentLinkDeactivated   = "payment_link.deactivated"
	EventPaymentLinkDeleted       = "payment_link.deleted"
	// EventPing is a test event sent from the console: no checkout, empty
	// data; answer it 2xx.
	EventPing = "ping"
)

// APIVersion is the shape of the events these types describe (an event's
// api_version): its checkout and refund are Checkout and Refund, the same
// types the API calls return.
const APIVersion = "2026-12-01"

// Event is an event: the body of a webhook delivery and an item of
// ListEvents (schemas Event and EventRecord). Which member of Data is set
// depends on Type.
type Event struct {
	ID     string `json:"id"`
	Object string `json:"object"` // "event"
	Type   string `json:"type"`
	// APIVersion is the shape of this event (APIVersion). Empty for an
	// event written before versions (an old event resent or listed, schema
	// LegacyEventRecord): its checkout had other names, so Data.Checkout
	// is then only partly filled; read the checkout with GetCheckout.
	APIVersion string    `json:"api_version"`
	MerchantID string    `json:"merchant_id"`
	CheckoutID string    `json:"checkout_id,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	Data       EventData `json:"data"`
	// Delivery is the event's delivery to your webhook (the events API
	// only; absent in a webhook's body).
	Delivery *Delivery `json:"delivery,omitempty"`
}

// EventData is an event's data.
type EventData struct {
	// Checkout is the checkout right after the change (every checkout.*
	// event), exactly as GetCheckout returns it (without Refunds).
	Checkout *Checkout `json:"checkout,omitempty"`
	// Refund is set on the refund events, exactly as CreateRefund returns
	// it.
	Refund *Refund `json:"refund,omitempty"`
	// Mismatch is set on checkout.amount_mismatch.
	Mismatch *EventMismatch `json:"mismatch,omitempty"`
	// Reconciliation is set on reconciliation.mismatch.
	Reconciliation *EventReconciliation `json:"reconciliation,omitempty"`
	// PaymentLink is set on the payment_link.* events.
	PaymentLink *PaymentLink `json:"payment_link,omitempty"`
}

// EventMismatch is a checkout.amount_mismatch's detail (schema
// EventMismatch).
type EventMismatch struct {
	Attempt  int    `json:"attempt"`
	OutNo    string `json:"out_no"`
	Expected int64  `json:"expected"`
	Reported int64  `json:"reported"`
}

// EventReconciliation is a reconciliation.mismatch's detail (schema
// EventReconciliation).
type EventReconciliation struct {
	ID         string `json:"id"`
	StoreID    string `json:"store_id"`
	Date       string `json:"date"`
	Difference struct {
		ID            string `json:"id"`
		Class         string `json:"class"`
		OutNo         string `json:"out_no"`
		OrdNo         string `json:"ord_no,omitempty"`
		Refund        bool   `json:"refund,omitempty"`
		GatewayAmount *int64 `json:"gateway_amount,omitempty"`
		ServiceAmount *int64 `json:"service_amount,omitempty"`
		GatewayState  string `json:"gateway_state,omitempty"`
		ServiceState  string `json:"service_state,omitempty"`
		Detail        string `json:"detail,omitempty"`
	} `json:"difference"`
}

// Delivery is an event's delivery to the merchant's webhook (schema
// Delivery). State is pending, retrying, delivered, failed or not_sent
// (no webhook URL or secret).
type Delivery struct {
	State         string            `json:"state"`
	NextAttemptAt *time.Time        `json:"next_attempt_at,omitempty"`
	Attempts      []DeliveryAttempt `json:"attempts"`
}

// DeliveryAttempt is one POST to the webhook.
type DeliveryAttempt struct {
	At         time.Time `json:"at"`
	Status     int       `json:"status,omitempty"` // 0: no answer
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"duration_ms"`
	Response   string    `json:"response,omitempty"` // the start of your answer
}

// EventListParams filters ListEvents.
type EventListParams struct {
	Type          string
	CheckoutID    string
	Limit         int
	StartingAfter string
}

// EventList is a page of events, newest first (schema EventList).
type EventList struct {
	Object     string  `json:"object"`
	Data       []Event `json:"data"`
	HasMore    bool    `json:"has_more"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

// ListEvents reads one page of events, newest first, each with its
// delivery (GET /v1/events).
func (c *Client) ListEvents(ctx context.Context, p *EventListParams, opts ...RequestOption) (*EventList, error) {
	q := url.Values{}
	if p != nil {
		setString(q, "type", p.Type)
		setString(q, "checkout_id", p.CheckoutID)
		setLimit(q, p.Limit)
		setString(q, "starting_after", p.StartingAfter)
	}
	var out EventList
	if err := c.do(ctx, request{method: http.MethodGet, path: "/v1/events", query: q}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// IterEvents iterates over every event p selects, newest first.
func (c *Client) IterEvents(ctx context.Context, p *EventListParams, opts ...RequestOption) *Iter[Event] {
	var params EventListParams
	if p != nil {
		params = *p
	}
	return newIter(func(cursor string) ([]Event, string, bool, error) {
		params.StartingAfter = cursor
		page, err := c.ListEvents(ctx, &params, opts...)
		if err != nil {
			return nil, "", false, err
		}
		return page.Data, page.NextCursor, page.HasMore, nil
	}, params.StartingAfter)
}

// GetEvent reads one event with its delivery (GET /v1/events/{id}).
func (c *Client) GetEvent(ctx context.Context, id string, opts ...RequestOption) (*Event, error) {
	var out Event
	if err := c.do(ctx, request{method: http.MethodGet, path: "/v1/events/" + url.PathEscape(id)}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// ResendEvent delivers an event again now, with the same id and body and a
// fresh retry window (POST /v1/events/{id}/resend). Not retried
// automatically (a retry would deliver it once more).
func (c *Client) ResendEvent(ctx context.Context, id string, opts ...RequestOption) (*Event, error) {
	var out Event
	if err := c.do(ctx, request{method: http.MethodPost, path: "/v1/events/" + url.PathEscape(id) + "/resend"}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// ParseEvent verifies a webhook delivery (its raw body and its
// Checkout-Signature header) with webhook.Verify and decodes its event.
// Pass every secret active during a rotation; a tolerance of 0 means
// webhook.DefaultTolerance. Deduplicate on the event's ID.
func ParseEvent(payload []byte, signatureHeader string, secrets []string, tolerance time.Duration) (*Event, error) {
	if err := webhook.Verify(payload, signatureHeader, secrets, tolerance, time.Now()); err != nil {
		return nil, err
	}
	var ev Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("client: decoding the event: %w", err)
	}
	return &ev, nil
}

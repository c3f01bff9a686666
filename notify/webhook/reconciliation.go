package webhook

import (
	"fmt"
	"time"
)

// Reconciliation describes a reconciliation.mismatch alert: one difference
// the daily reconciliation found between the gateway's order list of a
// store's day and the service's own records.
type Reconciliation struct {
	// ID is the reconciliation run (GET /v1/reconciliations/{id}).
	ID      string `json:"id"`
	StoreID string `json:"store_id"`
	// Date is the gateway day (UTC+8), YYYY-MM-DD.
	Date       string     `json:"date"`
	Difference Difference `json:"difference"`
}

// Difference is one disagreement between the gateway and the service.
type Difference struct {
	// ID is stable: a re-run of the same day finds the same difference
	// under the same id.
	ID string `json:"id"`
	// Class says what disagrees (unknown_to_us, unknown_to_gateway,
	// amount_differs, state_differs, refund_missing_ours,
	// refund_missing_gateway, …).
	Class string `json:"class"`
	// OutNo is the order's out_no (or refund_out_no) at the gateway.
	OutNo string `json:"out_no"`
	// OrdNo is the gateway's order number, when it has the order.
	OrdNo string `json:"ord_no,omitempty"`
	// Refund is true when the order is a refund (ord_type 2).
	Refund bool `json:"refund,omitempty"`
	// Amounts in fen, as the gateway and the service see them (0: none).
	GatewayAmount int64 `json:"gateway_amount,omitempty"`
	ServiceAmount int64 `json:"service_amount,omitempty"`
	// States as the gateway and the service see them.
	GatewayState string `json:"gateway_state,omitempty"`
	ServiceState string `json:"service_state,omitempty"`
	Detail       string `json:"detail,omitempty"`
}

// NewReconciliationEvent makes a reconciliation.mismatch event for merchant
// merchantID. checkoutID is the checkout the order belongs to, or empty when
// it is none of ours. Set ID to one derived from the difference before Emit,
// so that the alert is sent once per difference.
func NewReconciliationEvent(merchantID, checkoutID string, r Reconciliation, now time.Time) (Event, error) {
	if r.ID == "" || r.Difference.ID == "" {
		return Event{}, fmt.Errorf("%w: reconciliation event without run or difference id", ErrInvalidEvent)
	}
	id, err := NewID()
	if err != nil {
		return Event{}, err
	}
	return Event{
		ID:         id,
		Object:     "event",
		Type:       TypeReconciliationMismatch,
		APIVersion: APIVersion,
		MerchantID: merchantID,
		CheckoutID: checkoutID,
		CreatedAt:  now.UTC().Truncate(time.Millisecond),
		Data:       Data{Reconciliation: &r},
	}, nil
}

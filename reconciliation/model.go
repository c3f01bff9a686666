package reconciliation

import (
	"errors"
	"fmt"
	"time"

	"github.com/wallet-checkout/checkout/gateway"
)

// Class says what a difference is.
type Class string

// The classes of differences. The explained ones (Explained) are known and
// harmless: they are listed, acknowledged from the start, and raise no alert.
const (
	// ClassUnknownToUs: the gateway lists an order with one of our out_nos
	// (checkout.ParseOutNo reads it) that the service does not know.
	ClassUnknownToUs Class = "unknown_to_us"
	// ClassForeign: an order whose out_no is not of our making (the store's
	// own POS, another system): listed, not an error.
	ClassForeign Class = "foreign"
	// ClassUnknownToGateway: the service sent an order or a refund that the
	// gateway does not have, and counts on it (paid, pending, cancelled).
	ClassUnknownToGateway Class = "unknown_to_gateway"
	// ClassAmountDiffers: both know the order, with other amounts.
	ClassAmountDiffers Class = "amount_differs"
	// ClassStateDiffers: both know the order, in other final states.
	ClassStateDiffers Class = "state_differs"
	// ClassRefundMissingOurs: the gateway has a refund of one of our
	// payments that the service has no record of (made from the gateway's
	// console, or a record lost).
	ClassRefundMissingOurs Class = "refund_missing_ours"
	// ClassRefundMissingGateway: the service counts a refund as made that
	// the gateway does not have.
	ClassRefundMissingGateway Class = "refund_missing_gateway"
	// ClassDayBoundary: an order on either side of midnight UTC+8: paid just
	// after midnight but created before, or sent by us on this day and dated
	// the next (or previous) one by the gateway. Explained.
	ClassDayBoundary Class = "day_boundary"
	// ClassLatePayment: money arrived for a checkout that had expired or
	// been cancelled, and the service had not seen it yet.
	ClassLatePayment Class = "late_payment"
	// ClassRefundDeferred: a refund the service still has pending (waiting
	// to be sent again after a refusal such as 8040, or in flight) and the
	// gateway does not have yet. Explained.
	ClassRefundDeferred Class = "refund_deferred"
)

// Explained reports whether differences of class c are known and harmless.
func (c Class) Explained() bool {
	return c == ClassForeign || c == ClassDayBoundary || c == ClassRefundDeferred
}

// Status is where a difference stands.
type Status string

// The statuses of a difference. open → auto_fixed | acknowledged | resolved,
// acknowledged → resolved. A re-run resolves open differences it no longer
// finds and reopens resolved ones it finds again.
const (
	StatusOpen         Status = "open"
	StatusAutoFixed    Status = "auto_fixed"
	StatusAcknowledged Status = "acknowledged"
	StatusResolved     Status = "resolved"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusOpen, StatusAutoFixed, StatusAcknowledged, StatusResolved:
		return true
	}
	return false
}

// Difference is one disagreement found by a run.
type Difference struct {
	// ID is stable: derived from the run, the class and the number.
	ID     string `json:"id"`
	Class  Class  `json:"class"`
	Status Status `json:"status"`
	// Explained is true for classes that are known and harmless.
	Explained bool `json:"explained,omitempty"`
	// OutNo is the out_no (refund_out_no for refunds) at the gateway.
	OutNo string `json:"out_no"`
	OrdNo string `json:"ord_no,omitempty"`
	// Refund is true when the order is a refund (ord_type 2).
	Refund bool `json:"refund,omitempty"`
	// CheckoutID is our checkout the order belongs to, when there is one.
	CheckoutID string `json:"checkout_id,omitempty"`
	// Amounts in fen as each side sees them (0: that side has none).
	GatewayAmount int64 `json:"gateway_amount,omitempty"`
	ServiceAmount int64 `json:"service_amount,omitempty"`
	// States as each side sees them: the gateway's status (paid, awaiting,
	// password, cancelled) and the attempt's or the refund's.
	GatewayState string `json:"gateway_state,omitempty"`
	ServiceState string `json:"service_state,omitempty"`
	Detail       string `json:"detail,omitempty"`
	// Note is the merchant's, given when acknowledging or resolving.
	Note string `json:"note,omitempty"`
	// EventID is the reconciliation.mismatch event raised for it.
	EventID   string    `json:"event_id,omitempty"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Totals sums the gateway's list of the day.
type Totals struct {
	Payments      int   `json:"payments"`
	PaymentAmount int64 `json:"payment_amount"` // fen, paid payments only
	Refunds       int   `json:"refunds"`
	RefundAmount  int64 `json:"refund_amount"` // fen, succeeded refunds only
}

// Counts counts a run's differences.
type Counts struct {
	Open         int           `json:"open"`
	AutoFixed    int           `json:"auto_fixed"`
	Acknowledged int           `json:"acknowledged"`
	Resolved     int           `json:"resolved"`
	ByClass      map[Class]int `json:"by_class"`
}

// Run is the reconciliation of one store's day. Re-running it updates it.
type Run struct {
	ID         string `json:"id"`
	MerchantID string `json:"-"`
	StoreID    string `json:"store_id"`
	// Date is the gateway day, YYYY-MM-DD in UTC+8.
	Date string `json:"date"`
	// Runs is how many times it ran (1 + re-runs).
	Runs      int       `json:"runs"`
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is when it last ran (or a difference changed status).
	UpdatedAt time.Time `json:"updated_at"`
	Gateway   Totals    `json:"gateway"`
	// Sent is how many numbers the service sent that day.
	Sent int `json:"sent"`
	// InFlight is how many numbers of the day were sent less than
	// InFlight before the run (today so far): not compared yet, a later
	// run does.
	InFlight int    `json:"in_flight,omitempty"`
	Counts   Counts `json:"counts"`
	// Differences is filled by Get, oldest first; lists leave it nil.
	Differences []Difference `json:"differences,omitempty"`
}

// count recomputes the run's counts from its differences.
func count(diffs []Difference) Counts {
	c := Counts{ByClass: map[Class]int{}}
	for _, d := range diffs {
		c.ByClass[d.Class]++
		switch d.Status {
		case StatusOpen:
			c.Open++
		case StatusAutoFixed:
			c.AutoFixed++
		case StatusAcknowledged:
			c.Acknowledged++
		case StatusResolved:
			c.Resolved++
		}
	}
	return c
}

// Errors of the package; check them with errors.Is.
var (
	// ErrInvalid means bad input (store, date, status): nothing changed.
	ErrInvalid = errors.New("reconciliation: invalid")
	// ErrNotFound means no such run or difference for this merchant.
	ErrNotFound = errors.New("reconciliation: not found")
	// ErrBusy means another process is running this store's day now.
	ErrBusy = errors.New("reconciliation: running elsewhere")
	// ErrTransition means the difference cannot move to that status.
	ErrTransition = errors.New("reconciliation: status change not allowed")
	// ErrGateway means the gateway could not be asked: nothing was stored,
	// try again later.
	ErrGateway = errors.New("reconciliation: gateway unavailable")
	// ErrBadCursor means a list cursor is not a run of that list.
	ErrBadCursor = errors.New("reconciliation: unknown cursor")
)

// dateLayout is how days are written in the API and the keys' tails.
const dateLayout = "2006-01-02"

// ParseDate reads a gateway day, YYYY-MM-DD, as its midnight in UTC+8.
func ParseDate(s string) (time.Time, error) {
	t, err := time.ParseInLocation(dateLayout, s, gateway.ChinaTime())
	if err != nil || t.Format(dateLayout) != s {
		return time.Time{}, fmt.Errorf("%w: date %.20q is not YYYY-MM-DD", ErrInvalid, s)
	}
	return t, nil
}

// dayOf is the gateway day of t, at its midnight in UTC+8.
func dayOf(t time.Time) time.Time {
	c := t.In(gateway.ChinaTime())
	return time.Date(c.Year(), c.Month(), c.Day(), 0, 0, 0, 0, gateway.ChinaTime())
}

// stateOf names a gateway status.
func stateOf(s gateway.Status) string {
	switch s {
	case gateway.StatusPaid:
		return "paid"
	case gateway.StatusAwaiting:
		return "awaiting"
	case gateway.StatusPassword:
		return "password"
	case gateway.StatusCanceled:
		return "cancelled"
	}
	return fmt.Sprintf("status_%d", int(s))
}

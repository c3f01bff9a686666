package reconciliation

import (
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/payments"
)

// OurAmounts is what the service's own records add up to for a run's day,
// in the terms of the gateway's totals: the paid payments' and the
// succeeded refunds' amounts, in fen. A run compares every order of the day
// and records each disagreement as a difference, so ours is the gateway's
// figure with every difference still standing (open or acknowledged) put
// back to our side: an order whose sides agree counts the same on both,
// one fixed automatically or resolved agrees now. Orders in flight (too
// recent to compare) are taken as agreeing until a later run compares
// them. A day_boundary difference repeats an order the run judges on its
// own (or one of another day's list), so it adds nothing.
func OurAmounts(gw Totals, diffs []Difference) (paid, refunded int64) {
	paid, refunded = gw.PaymentAmount, gw.RefundAmount
	for _, d := range diffs {
		if d.Status != StatusOpen && d.Status != StatusAcknowledged || d.Class == ClassDayBoundary {
			continue
		}
		var theirs, ours int64
		if d.GatewayState == stateOf(gateway.StatusPaid) { // a payment paid, or a refund made
			theirs = d.GatewayAmount
		}
		switch d.Class {
		case ClassUnknownToUs, ClassForeign, ClassRefundMissingOurs:
			// Not ours: an attempt it names belongs to another store.
		default:
			if (!d.Refund && d.ServiceState == string(checkout.AttemptPaid)) ||
				(d.Refund && d.ServiceState == string(payments.RefundSucceeded)) {
				ours = d.ServiceAmount
			}
		}
		if d.Refund {
			refunded += ours - theirs
		} else {
			paid += ours - theirs
		}
	}
	return paid, refunded
}

package reconciliation

import "testing"

// TestOurAmounts: the gateway's amounts with each standing difference put
// back to our side give what our records add up to; fixed and resolved
// differences, and the copy a day_boundary difference is, change nothing.
func TestOurAmounts(t *testing.T) {
	gw := Totals{Payments: 5, PaymentAmount: 5400, Refunds: 2, RefundAmount: 300}
	pay := func(c Class, s Status, gwFen int64, gwState string, ourFen int64, ourState string) Difference {
		return Difference{Class: c, Status: s, GatewayAmount: gwFen, GatewayState: gwState, ServiceAmount: ourFen, ServiceState: ourState}
	}
	refund := func(c Class, s Status, gwFen int64, gwState string, ourFen int64, ourState string) Difference {
		d := pay(c, s, gwFen, gwState, ourFen, ourState)
		d.Refund = true
		return d
	}
	for _, c := range []struct {
		name           string
		diffs          []Difference
		wantPay, wantR int64
	}{
		{"agree", nil, 5400, 300},
		{"amount differs", []Difference{pay(ClassAmountDiffers, StatusOpen, 900, "paid", 1000, "paid")}, 5500, 300},
		{"paid here, cancelled there", []Difference{pay(ClassStateDiffers, StatusOpen, 500, "cancelled", 500, "paid")}, 5900, 300},
		{"paid there, failed here", []Difference{pay(ClassStateDiffers, StatusOpen, 500, "paid", 500, "failed")}, 4900, 300},
		{"foreign, acknowledged", []Difference{pay(ClassForeign, StatusAcknowledged, 4200, "paid", 0, "")}, 1200, 300},
		{"unknown to us", []Difference{pay(ClassUnknownToUs, StatusOpen, 700, "paid", 0, "")}, 4700, 300},
		{"another store's attempt", []Difference{pay(ClassUnknownToUs, StatusOpen, 700, "paid", 700, "paid")}, 4700, 300},
		{"unknown to the gateway", []Difference{pay(ClassUnknownToGateway, StatusOpen, 0, "", 800, "paid")}, 6200, 300},
		{"auto-fixed agrees now", []Difference{pay(ClassLatePayment, StatusAutoFixed, 500, "paid", 500, "paid"), pay(ClassStateDiffers, StatusAutoFixed, 500, "paid", 500, "pending")}, 5400, 300},
		{"resolved agrees now", []Difference{pay(ClassAmountDiffers, StatusResolved, 900, "paid", 1000, "paid")}, 5400, 300},
		{"day boundary copy", []Difference{pay(ClassDayBoundary, StatusAcknowledged, 900, "paid", 1000, "paid"), pay(ClassAmountDiffers, StatusOpen, 900, "paid", 1000, "paid")}, 5500, 300},
		{"refund missing here", []Difference{refund(ClassRefundMissingOurs, StatusOpen, 100, "paid", 0, "")}, 5400, 200},
		{"refund missing there", []Difference{refund(ClassRefundMissingGateway, StatusOpen, 0, "", 250, "succeeded")}, 5400, 550},
		{"refund deferred", []Difference{refund(ClassRefundDeferred, StatusAcknowledged, 0, "", 250, "retrying")}, 5400, 300},
		{"refund amounts", []Difference{refund(ClassAmountDiffers, StatusAcknowledged, 100, "paid", 120, "succeeded")}, 5400, 320},
	} {
		t.Run(c.name, func(t *testing.T) {
			if p, r := OurAmounts(gw, c.diffs); p != c.wantPay || r != c.wantR {
				t.Errorf("ours %d, %d; want %d, %d", p, r, c.wantPay, c.wantR)
			}
		})
	}
}

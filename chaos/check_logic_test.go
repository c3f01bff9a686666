package chaos

import (
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/apiobject"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// The checks themselves, on made-up states: each case is a defect the
// invariants must report (so that a passing run means something), and the
// last a healthy checkout they must not.

const fakeID = "co_abcdefghijklmnopqrstuvwx"

type fake struct {
	led *ledger
	st  *state
	p   *planned
	v   *checkoutView
	ev  int
}

// newFake is a checkout of 1000 fen paid by attempt 1 at the gateway and
// in the service, with its checkout.paid delivered.
func newFake(policy string) *fake {
	f := &fake{led: newLedger(), st: &state{journal: &sandbox.Journal{}, views: map[string]*checkoutView{}}}
	f.p = &planned{ID: fakeID, Store: storeNative, Amount: 1000, LatePolicy: policy, Journey: "qr"}
	f.led.add(f.p)
	exp := time.Now().Add(-time.Hour).Truncate(time.Second)
	f.v = &checkoutView{ID: fakeID, Status: "paid", Amount: 1000, LatePolicy: policy, ExpiresAt: exp}
	f.st.views[fakeID] = f.v
	f.pay(1, exp.Add(-time.Minute))
	f.event(webhook.TypePaid, "paid", 0, nil)
	return f
}

func (f *fake) pay(seq int, at time.Time) {
	f.st.journal.Orders = append(f.st.journal.Orders, sandbox.OrderSnapshot{OpenID: "o", OrdNo: "P" + string(rune('0'+seq)),
		OutNo: checkout.OutNo(fakeID, seq), OrdType: gateway.OrderPayment, Status: gateway.StatusPaid,
		TradeAmount: 1000, PaidAmount: 1000, PayTime: at})
}

// refund adds refund record n (kind, of attempt seq) succeeded at the
// gateway and in the service.
func (f *fake) refund(n int, kind string, seq int, amount int64) refundView {
	no := fakeID[3:] + "R" + string(rune('0'+n))
	f.st.journal.Orders = append(f.st.journal.Orders, sandbox.OrderSnapshot{OpenID: "o", OrdNo: "F" + no, OutNo: no,
		OrdType: gateway.OrderRefund, Status: gateway.StatusPaid, TradeAmount: amount, PaidAmount: amount,
		OriginalOrdNo: "P" + string(rune('0'+seq))})
	for i := range f.st.journal.Orders {
		if f.st.journal.Orders[i].OrdNo == "P"+string(rune('0'+seq)) {
			f.st.journal.Orders[i].Refunded += amount
		}
	}
	r := refundView{ID: "re_" + no, Amount: amount, Kind: kind, Status: "succeeded", Attempt: seq}
	f.v.Refunds = append(f.v.Refunds, r)
	return r
}

func (f *fake) event(typ, status string, refunded int64, r *refundView) {
	f.ev++
	e := webhook.Event{ID: "evt_" + string(rune('a'+f.ev)), Type: typ, MerchantID: merchantID, CheckoutID: fakeID,
		Data: webhook.Data{Checkout: &apiobject.Checkout{ID: fakeID, Status: checkout.Status(status), Amount: 1000, RefundedAmount: refunded}}}
	if r != nil {
		e.Data.Refund = &apiobject.Refund{ID: r.ID, Amount: r.Amount}
	}
	f.st.delivers = append(f.st.delivers, delivery{ID: e.ID, Type: typ, Event: e})
}

func TestCheckReportsDefects(t *testing.T) {
	cases := []struct {
		name, inv string
		build     func() *fake
	}{
		{"late payment under accept refunded anyway", invAutoRefund, func() *fake {
			f := newFake("accept")
			f.p.Cancelled = true
			f.v.Late = true
			r := f.refund(1, "late", 1, 1000)
			f.v.Status, f.v.RefundedAmount = "refunded", 1000
			f.event(webhook.TypeLatePaymentRefunded, "refunded", 1000, &r)
			return f
		}},
		{"the service ignored the checkout's late policy refund", invAutoRefund, func() *fake {
			f := newFake("refund")
			f.p.Cancelled = true
			f.v.Late, f.v.LatePolicy = true, "accept"
			return f
		}},
		{"a payment after the merchant's cancel kept as in time", invAutoRefund, func() *fake {
			f := newFake("refund")
			f.p.Cancelled = true
			return f
		}},
		{"the only payment refunded as a double payment", invAutoRefund, func() *fake {
			f := newFake("accept")
			r := f.refund(1, "duplicate", 1, 1000)
			f.event(webhook.TypeDuplicatePaymentRefunded, "paid", 0, &r)
			return f
		}},
		{"checkout.paid beside a late refund that succeeded", invEvents, func() *fake {
			f := newFake("refund")
			f.p.Cancelled = true
			f.v.Late = true
			r := f.refund(1, "late", 1, 1000)
			f.v.Status, f.v.RefundedAmount = "refunded", 1000
			f.event(webhook.TypeLatePaymentRefunded, "refunded", 1000, &r)
			return f
		}},
		{"two merchant refunds made under one Idempotency-Key", invContents, func() *fake {
			f := newFake("accept")
			key := "chaos-refund-" + fakeID[3:] + "-1"
			f.p.RefundKeys = []string{key}
			f.p.Asked = map[string]bool{key: true}
			r1 := f.refund(1, "merchant", 1, 300)
			r2 := f.refund(2, "merchant", 1, 300)
			f.v.Status, f.v.RefundedAmount = "partially_refunded", 600
			f.event(webhook.TypeRefundSucceeded, "partially_refunded", 300, &r1)
			f.event(webhook.TypeRefundSucceeded, "partially_refunded", 600, &r2)
			f.led.refunds[key] = []keyedAnswer{{Asked: 300, Code: 201, ID: r1.ID, Amount: 300, Status: "succeeded", At: time.Now()}}
			return f
		}},
		{"a replay answered 201 where the first answer was 202", invReplays, func() *fake {
			f := newFake("accept")
			r := f.refund(1, "merchant", 1, 400)
			f.v.Status, f.v.RefundedAmount = "partially_refunded", 400
			f.event(webhook.TypeRefundSucceeded, "partially_refunded", 400, &r)
			key := "chaos-refund-" + fakeID[3:] + "-1"
			now := time.Now()
			f.led.refunds[key] = []keyedAnswer{
				{Asked: 400, Code: 202, ID: r.ID, Amount: 400, Status: "pending", At: now},
				{Asked: 400, Code: 201, ID: r.ID, Amount: 400, Status: "succeeded", At: now.Add(time.Second)},
			}
			return f
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := c.build()
			got, _ := check(f.led, f.st)
			if len(got[c.inv]) == 0 {
				t.Errorf("not reported under %q; findings: %s", c.inv, got)
			}
		})
	}
	t.Run("cancelled, never paid", func(t *testing.T) {
		f := newFake("refund")
		f.p.Cancelled = true
		f.st.journal.Orders[0].Status, f.st.journal.Orders[0].PaidAmount = gateway.StatusAwaiting, 0
		f.v.Status = "cancelled"
		f.st.delivers = nil
		f.event(webhook.TypeCancelled, "cancelled", 0, nil)
		if got, _ := check(f.led, f.st); got.count() > 0 {
			t.Errorf("a cancelled checkout reported: %s", got)
		}
	})
	t.Run("healthy", func(t *testing.T) {
		f := newFake("refund")
		f.p.Cancelled = true
		f.v.Late = true
		r := f.refund(1, "late", 1, 1000)
		f.v.Status, f.v.RefundedAmount = "refunded", 1000
		f.st.delivers = nil
		f.event(webhook.TypeLatePaymentRefunded, "refunded", 1000, &r)
		f.pay(2, time.Now().Add(-2*time.Hour))
		d := f.refund(2, "duplicate", 2, 1000)
		f.event(webhook.TypeDuplicatePaymentRefunded, "refunded", 1000, &d)
		if got, _ := check(f.led, f.st); got.count() > 0 {
			t.Errorf("a healthy checkout reported: %s", got)
		}
	})
}

// The gateway proxy reads the checkout of a payrefund from its encrypted
// data, to hold an automatic refund's back from the gateway.
func TestCheckoutOfRequest(t *testing.T) {
	key := gateway.MustParseKey(strings.Repeat("k", 32))
	payload := []byte(`{"out_no":"` + checkout.OutNo(fakeID, 2) + `","refund_out_no":"` + fakeID[3:] + `R1"}`)
	body := gateway.SealRequest(key, "store1", time.Now().Unix(), payload).Encode()
	if got := checkoutOfRequest([]byte(body), map[string]gateway.Key{"store1": key}); got != fakeID {
		t.Fatalf("got %q, want %s", got, fakeID)
	}
	if got := checkoutOfRequest([]byte(body), map[string]gateway.Key{"other": key}); got != "" {
		t.Fatalf("unknown store: got %q", got)
	}
}

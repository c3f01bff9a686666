package handlers

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
)

// The status poll's hand-written JSON is what encoding/json writes, for
// every shape a status takes and for strings encoding/json escapes.
func TestPayStatusJSON(t *testing.T) {
	for _, s := range []payStatus{
		{Status: "open", Amount: 1234},
		{Status: "failed", Amount: 1},
		{Status: "paid", Late: true, Amount: 99_999_999, PaidAt: "2026-11-25T08:00:00Z", Method: "wechat"},
		{Status: "expired", Amount: 0},
		{Status: `a"b\c<d>e&f` + "\n\x00é\u2028", Amount: -5, PaidAt: "x"},
		{},
	} {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.appendJSON(nil); string(got) != string(want) {
			t.Errorf("%+v:\n got %s\nwant %s", s, got, want)
		}
	}
}

// The payer sees "failed" while the checkout is payable and the last
// attempt it counts failed, "open" when it was cancelled or left unpaid at
// the cashier; an attempt the checkout does not count yet
// (added between the two reads of GetWithAttempts) does not decide.
func TestPayStatusFromAttempts(t *testing.T) {
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	h := &handler{now: func() time.Time { return now }}
	att := func(seq int, st checkout.AttemptStatus) *checkout.Attempt {
		return &checkout.Attempt{Seq: seq, Status: st}
	}
	pending := &checkout.Checkout{Status: checkout.StatusPending, Attempts: 1, ExpiresAt: now.Add(time.Hour), Amounts: checkout.Amounts{Trade: 5}}
	expired := &checkout.Checkout{Status: checkout.StatusPending, Attempts: 1, ExpiresAt: now, Amounts: checkout.Amounts{Trade: 5}}
	for _, tc := range []struct {
		name string
		ck   *checkout.Checkout
		atts []*checkout.Attempt
		want string
	}{
		{"last failed", pending, []*checkout.Attempt{att(1, checkout.AttemptFailed)}, "failed"},
		{"last pending", pending, []*checkout.Attempt{att(1, checkout.AttemptPending)}, "pending"},
		{"one not counted yet", pending, []*checkout.Attempt{att(1, checkout.AttemptPending), att(2, checkout.AttemptFailed)}, "pending"},
		{"counted one failed, newer pending", pending, []*checkout.Attempt{att(1, checkout.AttemptFailed), att(2, checkout.AttemptPending)}, "failed"},
		{"past its expiry", expired, []*checkout.Attempt{att(1, checkout.AttemptFailed)}, "expired"},
		{"no attempts read", pending, nil, "pending"},
		// Not paid by the gateway's word: payable again (issue 12).
		{"last cancelled at the gateway", pending, []*checkout.Attempt{att(1, checkout.AttemptCancelled)}, "open"},
		{"payer back from the cashier unpaid", pending, []*checkout.Attempt{{Seq: 1, Status: checkout.AttemptPending, ReturnedUnpaid: now}}, "open"},
	} {
		if got := h.payStatusFrom(tc.ck, tc.atts); got.Status != tc.want || got.Amount != 5 {
			t.Errorf("%s: %+v, want status %s", tc.name, got, tc.want)
		}
	}
}

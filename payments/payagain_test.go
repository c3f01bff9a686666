package payments

import (
	"testing"
	"time"
)

// After a wallet's OK, the invitation to pay again waits a minute and a
// fresh answer of the gateway; until then the page learns how long is left.
func TestPayAgainAfterWalletOK(t *testing.T) {
	ok := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		now   time.Time
		fresh bool
		want  PayAgain
	}{
		{"at the OK", ok, true, PayAgain{Wait: time.Minute}},
		{"four seconds later, checked", ok.Add(4 * time.Second), true, PayAgain{Wait: 56 * time.Second}},
		{"a moment before the minute", ok.Add(WalletOKGrace - time.Millisecond), true, PayAgain{Wait: time.Millisecond}},
		{"at the minute, checked", ok.Add(WalletOKGrace), true, PayAgain{IfUnpaid: true}},
		{"later, checked", ok.Add(10 * time.Minute), true, PayAgain{IfUnpaid: true}},
		{"later, not checked", ok.Add(10 * time.Minute), false, PayAgain{Wait: checkNowEvery}},
		{"a stamp from the future", ok.Add(-time.Hour), true, PayAgain{Wait: time.Hour + WalletOKGrace}},
	} {
		if got := PayAgainAfterWalletOK(ok, tc.now, tc.fresh); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

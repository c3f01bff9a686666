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
		name    string
		now     time.Time
		checked Checked
		want    PayAgain
	}{
		{"at the OK", ok, CheckFresh, PayAgain{Wait: time.Minute}},
		{"four seconds later, checked", ok.Add(4 * time.Second), CheckFresh, PayAgain{Wait: 56 * time.Second}},
		{"a moment before the minute", ok.Add(WalletOKGrace - time.Millisecond), CheckFresh, PayAgain{Wait: time.Millisecond}},
		{"at the minute, checked", ok.Add(WalletOKGrace), CheckFresh, PayAgain{IfUnpaid: true}},
		{"later, checked", ok.Add(10 * time.Minute), CheckFresh, PayAgain{IfUnpaid: true}},
		{"later, rate-limited", ok.Add(10 * time.Minute), CheckLimited, PayAgain{Wait: checkNowEvery}},
		{"later, the gateway not asked", ok.Add(10 * time.Minute), CheckFailed, PayAgain{}},
		{"four seconds later, rate-limited", ok.Add(4 * time.Second), CheckLimited, PayAgain{Wait: 56 * time.Second}},
		{"a stamp from the future", ok.Add(-time.Hour), CheckFresh, PayAgain{Wait: time.Hour + WalletOKGrace}},
	} {
		if got := PayAgainAfterWalletOK(ok, tc.now, tc.checked); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

package payments_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
)

// FuzzNotifyQuery feeds arbitrary notify queries to the intake: it never
// panics, never accepts one (nobody can forge the sign), and never moves
// the checkout. Seeds: testdata/fuzz/FuzzNotifyQuery.
func FuzzNotifyQuery(f *testing.F) {
	e := newEnv(f, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	c := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	e.pay(a)
	f.Add("ord_no=" + a.OrdNo + "&out_no=" + a.OutNo + "&status=1&timestamp=1&rand_str=x&sign=00")
	// Validly signed, but refused for their timestamp: stale, ahead, and
	// not a plausible time at all.
	f.Add(notifyAt(e, a, gateway.StatusPaid, -24*time.Hour-time.Second).Encode())
	f.Add(notifyAt(e, a, gateway.StatusPaid, 601*time.Second).Encode())
	for _, ts := range []string{"-1", "0", "abc", "", "9223372036854775807", "-9223372036854775808", "99999999999999999999"} {
		f.Add(signedNotify(e, a, gateway.StatusPaid, ts).Encode())
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		// Point the fuzzer's orders at ours half the time.
		if q.Get("out_no") == "" && len(raw)%2 == 0 {
			q.Set("out_no", a.OutNo)
		}
		if err := e.svc.Notify(ctx, e.gs.OpenID, q); err == nil {
			t.Fatalf("accepted a notify nobody signed: %q", raw)
		}
		if err := e.svc.Notify(ctx, raw, q); err == nil {
			t.Fatalf("accepted a notify for store %q", raw)
		}
		if got, err := e.repo.Get(ctx, c.ID); err != nil || got.Status != checkout.StatusPending {
			t.Fatalf("checkout moved: %v %v", got, err)
		}
	})
}

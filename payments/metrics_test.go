package payments_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/metrics"
)

// sample is the value of the series of family name whose labels include
// want, 0 when there is none.
func sample(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue next
				}
			}
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return 0
}

// TestMetricsDoubleAndLatePayments: a double payment and a late one move
// the confirmation, duplicate, late, automatic refund and refund counters
// once each, however many notifies repeat them.
func TestMetricsDoubleAndLatePayments(t *testing.T) {
	m := metrics.New(metrics.Options{})
	reg := m.Registry()
	ctx := context.Background()
	e := newEnv(t, envConfig{latePolicy: checkout.LatePolicyRefund, sandbox: sandbox.Config{DropNotifies: true}, metrics: m})

	// Double: two attempts paid, notified twice each.
	c := e.newCheckout(1000, 30*time.Minute)
	a1 := e.order(c, checkout.ScenarioQR, "")
	a2 := e.order(c, checkout.ScenarioJump, "")
	e.pay(a1)
	e.pay(a2)
	for _, a := range []*checkout.Attempt{a1, a2, a2, a1} {
		if code, body := e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode()); code != 200 || body != gateway.NotifySuccess {
			t.Fatalf("notify %s: %d %q", a.OutNo, code, body)
		}
	}
	for name, want := range map[string]float64{
		metrics.NameDuplicatePayments: 1,
		metrics.NameLatePayments:      0,
	} {
		if got := sample(t, reg, name, nil); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{metrics.NameConfirmations, map[string]string{"source": "notify"}, 2},
		{metrics.NameAutoRefunds, map[string]string{"kind": "duplicate"}, 1},
		{metrics.NameRefunds, map[string]string{"result": "succeeded"}, 1},
		{metrics.NameTransitions, map[string]string{"from": "pending", "to": "paid"}, 1},
		{metrics.NameNotifies, map[string]string{"result": "success"}, 4},
	} {
		if got := sample(t, reg, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}

	// Late: expired by the reconciler, paid after, refunded by the policy.
	c = e.newCheckout(1000, time.Minute)
	a := e.order(c, checkout.ScenarioJump, "")
	e.clk.Advance(2 * time.Minute)
	if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	e.pay(a)
	for range 2 {
		if code, body := e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode()); code != 200 || body != gateway.NotifySuccess {
			t.Fatalf("late notify: %d %q", code, body)
		}
	}
	if got := e.get(c.ID); got.Status != checkout.StatusRefunded || !got.Late {
		t.Fatalf("late checkout %s late=%v", got.Status, got.Late)
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{metrics.NameLatePayments, nil, 1},
		{metrics.NameAutoRefunds, map[string]string{"kind": "late"}, 1},
		{metrics.NameRefunds, map[string]string{"result": "succeeded"}, 2},
		{metrics.NameTransitions, map[string]string{"from": "pending", "to": "expired"}, 1},
		{metrics.NameTransitions, map[string]string{"from": "expired", "to": "paid"}, 1},
		{metrics.NameTransitions, map[string]string{"from": "paid", "to": "refunded"}, 1},
		{metrics.NameConfirmations, map[string]string{"source": "notify"}, 3},
	} {
		if got := sample(t, reg, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}

// TestMetricsConfirmationSources: a payment without a notify is confirmed
// by the reconciler, another by the result page's check; each counts
// under its source.
func TestMetricsConfirmationSources(t *testing.T) {
	m := metrics.New(metrics.Options{})
	ctx := context.Background()
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}, metrics: m})
	byReconciler := e.newCheckout(1000, 30*time.Minute)
	a := e.order(byReconciler, checkout.ScenarioQR, "")
	e.pay(a)
	e.clk.Advance(10 * time.Second)
	if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	byCheck := e.newCheckout(1000, 30*time.Minute)
	b := e.order(byCheck, checkout.ScenarioQR, "")
	e.pay(b)
	if _, err := e.svc.CheckNow(ctx, byCheck.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*checkout.Checkout{byReconciler, byCheck} {
		if got := e.get(c.ID); got.Status != checkout.StatusPaid {
			t.Fatalf("checkout %s", got.Status)
		}
	}
	for src, want := range map[string]float64{"reconciler": 1, "check_now": 1, "notify": 0} {
		if got := sample(t, m.Registry(), metrics.NameConfirmations, map[string]string{"source": src}); got != want {
			t.Errorf("confirmations by %s = %v, want %v", src, got, want)
		}
	}
}

// TestReconcilerOldest: the reconciler's oldest work item is the pending
// attempt's next check; left unprocessed, it falls behind the clock by
// what the lag metric reports; once settled nothing is left.
func TestReconcilerOldest(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	if due, err := e.svc.ReconcilerOldest(ctx); err != nil || !due.IsZero() {
		t.Fatalf("empty: %v %v", due, err)
	}
	c := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	due, err := e.svc.ReconcilerOldest(ctx)
	if err != nil || due.IsZero() || due.Before(e.clk.Now().Add(-time.Second)) {
		t.Fatalf("after Watch: oldest %v (%v), want the attempt's next check, not before now %v", due, err, e.clk.Now())
	}
	e.clk.Advance(10 * time.Minute)
	if lag := e.clk.Now().Sub(due); lag < 9*time.Minute {
		t.Fatalf("lag %v after 10 min unprocessed", lag)
	}
	e.pay(a)
	if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	// Settled: the attempt left the watch set; the checkout's expiry is
	// not in it (the expiry queue is the repository's).
	if due, err := e.svc.ReconcilerOldest(ctx); err != nil || !due.IsZero() {
		t.Fatalf("after the payment: oldest %v (%v), want none", due, err)
	}
}

package payments_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
)

// TestReconcilerAlone: the sandbox drops every notify; the reconciler's
// schedule alone brings the checkout to paid, with one event.
func TestReconcilerAlone(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	c := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	if _, ok := e.watched()["a:"+a.OutNo]; !ok {
		t.Fatal("attempt not watched after Watch")
	}
	// Not due yet: nothing is asked.
	if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	e.pay(a)
	e.clk.Advance(6 * time.Second)
	if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if got := e.get(c.ID); got.Status != checkout.StatusPaid {
		t.Fatalf("checkout %s after the 5 s check", got.Status)
	}
	if evs := e.events.of(c.ID, webhook.TypePaid); len(evs) != 1 {
		t.Fatalf("%d paid events", len(evs))
	}
	if _, ok := e.watched()["a:"+a.OutNo]; ok {
		t.Fatal("a settled attempt is still watched")
	}
}

// TestWatchSchedule: a pending attempt is asked at 5 s, 15 s, 30 s, 1 min,
// then every 5 min.
func TestWatchSchedule(t *testing.T) {
	spy := &gwSpy{}
	e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	c := e.newCheckout(1000, 2*time.Hour)
	a := e.order(c, checkout.ScenarioQR, "")
	start := e.clk.Now()
	for _, tc := range []struct {
		at    time.Duration
		calls int
	}{{4 * time.Second, 0}, {5 * time.Second, 1}, {14 * time.Second, 1}, {15 * time.Second, 2}, {30 * time.Second, 3},
		{59 * time.Second, 3}, {60 * time.Second, 4}, {4 * time.Minute, 4}, {6 * time.Minute, 5}, {10 * time.Minute, 5}, {11 * time.Minute, 6}} {
		e.clk.ns.Store(start.Add(tc.at).UnixNano())
		if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		if got := spy.statusCalls(a.OutNo); got != tc.calls {
			t.Fatalf("at %s: %d paystatus calls, want %d", tc.at, got, tc.calls)
		}
	}
}

// TestExpiry: at expiry the checkout expires once (one event), its barcode
// order is cancelled upstream, and its jump, JSAPI and QR orders stay watched, less
// often; paid later, the checkout becomes paid (late).
func TestExpiry(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	c := e.newCheckout(1000, time.Minute)
	bar := e.order(c, checkout.ScenarioBarcode, "134567890123459002") // the payer never types the password
	jump := e.order(c, checkout.ScenarioJump, "")
	jsapi := e.order(c, checkout.ScenarioJSAPI, "")
	qr := e.order(c, checkout.ScenarioQR, "")
	e.clk.Advance(61 * time.Second)
	for range 2 {
		if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.get(c.ID); got.Status != checkout.StatusExpired {
		t.Fatalf("checkout %s", got.Status)
	}
	if evs := e.events.of(c.ID, webhook.TypeExpired); len(evs) != 1 {
		t.Fatalf("%d expired events", len(evs))
	}
	if o, _ := e.sb.Order(e.sbStore.OpenID, bar.OrdNo); o.Status != gateway.StatusCanceled {
		t.Fatalf("barcode order at the gateway: %s", o.Status)
	}
	if a := e.attempt(c.ID, bar.Seq); a.Status != checkout.AttemptCancelled {
		t.Fatalf("barcode attempt %s", a.Status)
	}
	for _, a := range []*checkout.Attempt{jump, jsapi, qr} {
		if got := e.attempt(c.ID, a.Seq); got.Status != checkout.AttemptPending {
			t.Fatalf("%s attempt %s", a.Scenario, got.Status)
		}
		if o, _ := e.sb.Order(e.sbStore.OpenID, a.OrdNo); o.Status != gateway.StatusAwaiting {
			t.Fatalf("%s order at the gateway: %s", a.Scenario, o.Status)
		}
		due, ok := e.watched()["a:"+a.OutNo]
		if !ok {
			t.Fatalf("%s attempt no longer watched", a.Scenario)
		}
		if d := due.Sub(e.clk.Now()); d < 10*time.Minute {
			t.Fatalf("expired %s attempt due again in %s, want the slower schedule", a.Scenario, d)
		}
	}
	// More ticks change nothing and emit nothing.
	if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	// The payer pays the jump order an hour later.
	e.clk.Advance(time.Hour)
	e.pay(jump)
	if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	got := e.get(c.ID)
	if got.Status != checkout.StatusPaid || !got.Late {
		t.Fatalf("checkout %s late=%v", got.Status, got.Late)
	}
	evs := e.events.of(c.ID, webhook.TypePaid)
	if len(evs) != 1 || !evs[0].Data.Checkout.Late {
		t.Fatalf("paid events %+v", evs)
	}
	if n := len(e.events.of(c.ID, webhook.TypeExpired)); n != 1 {
		t.Fatalf("%d expired events", n)
	}
}

// TestWatchEndsAfterExpiry: an order nobody pays is watched until 24 h
// after expiry, then dropped.
func TestWatchEndsAfterExpiry(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	c := e.newCheckout(1000, time.Minute)
	jump := e.order(c, checkout.ScenarioJump, "")
	for range 100 {
		e.clk.Advance(20 * time.Minute)
		if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := e.watched()["a:"+jump.OutNo]; ok {
		t.Fatal("still watched 33 h after expiry")
	}
}

// TestLatePolicy: money confirmed long after expiry is kept (accept: paid,
// late, one paid event) or refunded (refund: refunded, one late refund event).
func TestLatePolicy(t *testing.T) {
	for _, policy := range []checkout.LatePolicy{checkout.LatePolicyAccept, checkout.LatePolicyRefund} {
		t.Run(string(policy), func(t *testing.T) {
			e := newEnv(t, envConfig{latePolicy: policy, sandbox: sandbox.Config{DropNotifies: true}})
			ctx := context.Background()
			c := e.newCheckout(1000, time.Minute)
			a := e.order(c, checkout.ScenarioJump, "")
			e.clk.Advance(2 * time.Minute)
			if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
				t.Fatal(err)
			}
			if got := e.get(c.ID); got.Status != checkout.StatusExpired {
				t.Fatalf("checkout %s", got.Status)
			}
			e.clk.Advance(2 * time.Hour)
			e.pay(a)
			code, body := e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode())
			if code != 200 || body != gateway.NotifySuccess {
				t.Fatalf("notify: %d %q", code, body)
			}
			got := e.get(c.ID)
			o, _ := e.sb.Order(e.sbStore.OpenID, a.OrdNo)
			switch policy {
			case checkout.LatePolicyAccept:
				if got.Status != checkout.StatusPaid || !got.Late || o.Refunded != 0 {
					t.Fatalf("checkout %s late=%v refunded upstream %d", got.Status, got.Late, o.Refunded)
				}
				if evs := e.events.of(c.ID, webhook.TypePaid); len(evs) != 1 || !evs[0].Data.Checkout.Late {
					t.Fatalf("paid events %+v", evs)
				}
			case checkout.LatePolicyRefund:
				if got.Status != checkout.StatusRefunded || !got.Late || got.Refunded != 1000 || o.Refunded != 1000 {
					t.Fatalf("checkout %s late=%v refunded %d, upstream %d", got.Status, got.Late, got.Refunded, o.Refunded)
				}
				if n := len(e.events.of(c.ID, webhook.TypeLatePaymentRefunded)); n != 1 {
					t.Fatalf("%d late refund events; all %v", n, e.events.all(c.ID))
				}
				if n := len(e.events.of(c.ID, webhook.TypePaid)); n != 0 {
					t.Fatalf("%d paid events for refunded late money", n)
				}
			}
			// A retried notify changes nothing.
			e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode())
			if n := len(e.events.all(c.ID)); n != 2 {
				t.Fatalf("events after a duplicate: %v", e.events.all(c.ID))
			}
		})
	}
}

// TestPaymentRacesExpiry: the payer pays just before expiry while the
// reconciler expires the checkout: it ends paid (money paid in time is kept
// even under the refund policy), with one paid event.
func TestPaymentRacesExpiry(t *testing.T) {
	for i := range 20 {
		e := newEnv(t, envConfig{latePolicy: checkout.LatePolicyRefund, sandbox: sandbox.Config{DropNotifies: true}})
		ctx := context.Background()
		c := e.newCheckout(1000, time.Minute)
		a := e.order(c, checkout.ScenarioQR, "")
		e.clk.Advance(59 * time.Second)
		e.pay(a)
		e.clk.Advance(2 * time.Second)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := e.svc.Confirm(ctx, a.OutNo); err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
		if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		got := e.get(c.ID)
		if got.Status != checkout.StatusPaid {
			t.Fatalf("run %d: checkout %s (late=%v), events %v", i, got.Status, got.Late, e.events.all(c.ID))
		}
		if n := len(e.events.of(c.ID, webhook.TypePaid)); n != 1 {
			t.Fatalf("run %d: %d paid events", i, n)
		}
	}
}

// TestAmountMismatch: paystatus reports another amount than the attempt's
// (sandbox magic amount ..24): never paid, one alert, the notify is
// acknowledged (retrying cannot help).
func TestAmountMismatch(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	amount := int64(1000 + sandbox.MagicAmountDiffers)
	c := e.newCheckout(amount, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	e.pay(a)
	for range 3 {
		code, body := e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode())
		if code != 200 || body != gateway.NotifySuccess {
			t.Fatalf("notify: %d %q", code, body)
		}
	}
	e.clk.Advance(10 * time.Second)
	if err := e.rec.Tick(context.Background(), e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if got := e.get(c.ID); got.Status == checkout.StatusPaid {
		t.Fatal("checkout paid with the wrong amount")
	}
	if at := e.attempt(c.ID, a.Seq); at.Status == checkout.AttemptPaid {
		t.Fatal("attempt paid with the wrong amount")
	}
	alerts := e.events.of(c.ID, webhook.TypeAmountMismatch)
	if len(alerts) != 1 {
		t.Fatalf("%d alerts", len(alerts))
	}
	m := alerts[0].Data.Mismatch
	if m == nil || m.Expected != amount || m.Reported == amount || m.OutNo != a.OutNo {
		t.Fatalf("alert %+v", m)
	}
	if n := len(e.events.of(c.ID, webhook.TypePaid)); n != 0 {
		t.Fatalf("%d paid events", n)
	}
}

// TestDoublePayment: two attempts of one checkout both paid: the first pays
// the checkout, the second is refunded automatically and reported once.
func TestDoublePayment(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
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
	got := e.get(c.ID)
	if got.Status != checkout.StatusPaid || got.PaidAttempt != a1.Seq || got.Refunded != 0 {
		t.Fatalf("checkout %s paid_attempt=%d refunded=%d", got.Status, got.PaidAttempt, got.Refunded)
	}
	o2, _ := e.sb.Order(e.sbStore.OpenID, a2.OrdNo)
	o1, _ := e.sb.Order(e.sbStore.OpenID, a1.OrdNo)
	if o2.Refunded != 1000 || o1.Refunded != 0 {
		t.Fatalf("upstream refunds: first %d, second %d", o1.Refunded, o2.Refunded)
	}
	dups := e.events.of(c.ID, webhook.TypeDuplicatePaymentRefunded)
	if len(dups) != 1 || dups[0].Data.Refund == nil || dups[0].Data.Refund.Attempt != a2.Seq || dups[0].Data.Refund.Amount != 1000 {
		t.Fatalf("duplicate events %+v", dups)
	}
	if n := len(e.events.of(c.ID, webhook.TypePaid)); n != 1 {
		t.Fatalf("%d paid events", n)
	}
	rs, err := e.svc.Refunds(ctx, c.ID)
	if err != nil || len(rs) != 1 || rs[0].Kind != payments.KindDuplicate || rs[0].Status != payments.RefundSucceeded {
		t.Fatalf("refunds %+v %v", rs, err)
	}
}

// TestUnknownAttempt: a payorder that timed out is resolved by querying
// its out_no: never created (8002) → failed; created → pending, then paid.
func TestUnknownAttempt(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	c := e.newCheckout(1000, 30*time.Minute)
	lost, _, err := e.repo.AddAttempt(ctx, c.ID, checkout.MethodWeChat, checkout.ScenarioQR)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.repo.UpdateAttempt(ctx, c.ID, lost.Seq, checkout.AttemptUnknown, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Watch(ctx, lost.OutNo); err != nil {
		t.Fatal(err)
	}
	made := e.order(c, checkout.ScenarioQR, "")
	if _, err := e.repo.UpdateAttempt(ctx, c.ID, made.Seq, checkout.AttemptUnknown, ""); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(6 * time.Second)
	if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if a := e.attempt(c.ID, lost.Seq); a.Status != checkout.AttemptFailed {
		t.Fatalf("never-created attempt %s", a.Status)
	}
	if a := e.attempt(c.ID, made.Seq); a.Status != checkout.AttemptPending {
		t.Fatalf("created attempt %s", a.Status)
	}
	e.pay(made)
	e.clk.Advance(10 * time.Second)
	if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if got := e.get(c.ID); got.Status != checkout.StatusPaid || got.PaidAttempt != made.Seq {
		t.Fatalf("checkout %s paid_attempt %d", got.Status, got.PaidAttempt)
	}
}

// TestCheckNow: the result page's check asks at once, and at most once per
// two seconds per checkout.
func TestCheckNow(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	c := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	got, err := e.svc.CheckNow(ctx, c.ID)
	if err != nil || got.Status != checkout.StatusPending {
		t.Fatalf("first check: %v %v", got, err)
	}
	e.pay(a)
	if _, err := e.svc.CheckNow(ctx, c.ID); !errors.Is(err, payments.ErrRateLimited) {
		t.Fatalf("second check at once: %v", err)
	}
	e.clk.Advance(2 * time.Second)
	if got, err = e.svc.CheckNow(ctx, c.ID); err != nil {
		t.Fatalf("check two seconds later: %v", err)
	}
	if got.Status != checkout.StatusPaid {
		t.Fatalf("checkout %s", got.Status)
	}
	if _, err := e.svc.CheckNow(ctx, "garbage"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("garbage id: %v", err)
	}
}

// TestReplicasShareWork: two replicas tick at once over 20 due attempts:
// each attempt is asked exactly once. A replica that fails mid-work leaves
// its claims to the other once the lease runs out.
func TestReplicasShareWork(t *testing.T) {
	spy := &gwSpy{}
	e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	var as []*checkout.Attempt
	var cs []*checkout.Checkout
	for range 20 {
		c := e.newCheckout(1000, 30*time.Minute)
		a := e.order(c, checkout.ScenarioQR, "")
		e.pay(a)
		as, cs = append(as, a), append(cs, c)
	}
	other := payments.NewReconciler(e.svc, payments.WithBatch(5, 2))
	e.clk.Advance(6 * time.Second)
	var wg sync.WaitGroup
	for _, r := range []*payments.Reconciler{e.rec, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if err := r.Tick(ctx, e.clk.Now()); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	for i, a := range as {
		if n := spy.statusCalls(a.OutNo); n != 1 {
			t.Errorf("attempt %d asked %d times", i, n)
		}
		if got := e.get(cs[i].ID); got.Status != checkout.StatusPaid {
			t.Errorf("checkout %d %s", i, got.Status)
		}
	}

	// A replica whose gateway calls fail (as if it died holding claims).
	c := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	e.pay(a)
	e.clk.Advance(6 * time.Second)
	spy.statusDown.Store(true)
	if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	spy.statusDown.Store(false)
	e.clk.Advance(time.Second)
	if err := other.Tick(ctx, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if n := spy.statusCalls(a.OutNo); n != 1 {
		t.Fatalf("claimed work redone within its lease: %d calls", n)
	}
	e.clk.Advance(6 * time.Second) // past the 5 s lease
	if err := other.Tick(ctx, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if got := e.get(c.ID); got.Status != checkout.StatusPaid {
		t.Fatalf("checkout %s after the lease ran out", got.Status)
	}
}

// TestReconcilerRun: Run ticks on its own until its context ends.
func TestReconcilerRun(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	c := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	e.pay(a)
	e.clk.Advance(6 * time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		payments.NewReconciler(e.svc, payments.WithInterval(10*time.Millisecond)).Run(ctx)
	}()
	waitFor(t, 5*time.Second, "paid by the running reconciler", func() bool { return e.get(c.ID).Status == checkout.StatusPaid })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// TestCancelled: a merchant's cancel emits one cancelled event and puts the
// pending barcode order up for cancellation upstream.
func TestCancelled(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	c := e.newCheckout(1000, 30*time.Minute)
	bar := e.order(c, checkout.ScenarioBarcode, "134567890123459002")
	tr, err := e.repo.Cancel(ctx, c.ID)
	if err != nil || !tr.Changed {
		t.Fatalf("cancel: %v %v", tr, err)
	}
	for range 2 {
		if err := e.svc.Cancelled(ctx, tr.Checkout); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.events.of(c.ID, webhook.TypeCancelled)); n != 1 {
		t.Fatalf("%d cancelled events", n)
	}
	if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if o, _ := e.sb.Order(e.sbStore.OpenID, bar.OrdNo); o.Status != gateway.StatusCanceled {
		t.Fatalf("barcode order at the gateway: %s", o.Status)
	}
	if err := e.svc.Cancelled(ctx, e.newCheckout(1, time.Hour)); err == nil {
		t.Fatal("Cancelled accepted an open checkout")
	}
}

// TestPaidAfterCancel: money that arrives after the merchant cancelled is
// late even before the expiry: under the refund policy it goes back.
func TestPaidAfterCancel(t *testing.T) {
	e := newEnv(t, envConfig{latePolicy: checkout.LatePolicyRefund, sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	c := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioJump, "")
	tr, err := e.repo.Cancel(ctx, c.ID)
	if err != nil || !tr.Changed {
		t.Fatalf("cancel: %v %v", tr, err)
	}
	if err := e.svc.Cancelled(ctx, tr.Checkout); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Minute)
	e.pay(a)
	if code, body := e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode()); code != 200 || body != gateway.NotifySuccess {
		t.Fatalf("notify: %d %q", code, body)
	}
	got := e.get(c.ID)
	if got.Status != checkout.StatusRefunded || !got.Late {
		t.Fatalf("checkout %s late=%v; events %v", got.Status, got.Late, e.events.all(c.ID))
	}
	if n := len(e.events.of(c.ID, webhook.TypeLatePaymentRefunded)); n != 1 {
		t.Fatalf("%d late refund events", n)
	}
}

// TestCancelledEventOwed: the cancel was stored but its follow-up never ran
// (the process died, or Redis failed, right after the transition): the
// reconciler, watching the checkout's pending order, emits the owed
// checkout.cancelled event, once.
func TestCancelledEventOwed(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	c := e.newCheckout(1000, 30*time.Minute)
	e.order(c, checkout.ScenarioJump, "")
	if tr, err := e.repo.Cancel(ctx, c.ID); err != nil || !tr.Changed {
		t.Fatalf("cancel: %v %v", tr, err)
	}
	for range 4 {
		e.clk.Advance(6 * time.Minute)
		if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.events.of(c.ID, webhook.TypeCancelled)); n != 1 {
		t.Fatalf("%d cancelled events; all %v", n, e.events.all(c.ID))
	}
	// A late Cancelled (the handler's own follow-up) adds nothing.
	if err := e.svc.Cancelled(ctx, e.get(c.ID)); err != nil {
		t.Fatal(err)
	}
	if n := len(e.events.all(c.ID)); n != 1 {
		t.Fatalf("events %v", e.events.all(c.ID))
	}
}

// TestCancelIntent: the process dies after a merchant's cancel of a
// checkout with no attempt was stored and before its follow-up ran. The
// intent recorded first brings the checkout.cancelled event, once; an
// intent whose cancel never happened is dropped without an event.
func TestCancelIntent(t *testing.T) {
	e := newEnv(t, envConfig{})
	ctx := context.Background()
	crashed := e.newCheckout(1000, 30*time.Minute)
	if err := e.svc.CancelIntent(ctx, crashed.ID); err != nil {
		t.Fatal(err)
	}
	if tr, err := e.repo.Cancel(ctx, crashed.ID); err != nil || !tr.Changed {
		t.Fatalf("cancel: %v %v", tr, err)
	}
	never := e.newCheckout(1000, 30*time.Minute)
	if err := e.svc.CancelIntent(ctx, never.ID); err != nil {
		t.Fatal(err)
	}
	// Nothing before the lease: the request that recorded it may still run.
	if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if n := len(e.events.all(crashed.ID)); n != 0 {
		t.Fatalf("events before the lease: %v", e.events.all(crashed.ID))
	}
	for range 2 {
		e.clk.Advance(time.Minute)
		if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.events.of(crashed.ID, webhook.TypeCancelled)); n != 1 {
		t.Fatalf("%d cancelled events; all %v", n, e.events.all(crashed.ID))
	}
	if got := e.get(never.ID); got.Status != checkout.StatusOpen || len(e.events.all(never.ID)) != 0 {
		t.Fatalf("never cancelled: %s, events %v", got.Status, e.events.all(never.ID))
	}
	w := e.watched()
	if _, ok := w["c:"+crashed.ID]; ok {
		t.Error("intent of the crashed cancel still watched")
	}
	if _, ok := w["c:"+never.ID]; ok {
		t.Error("intent of the cancel that never happened still watched")
	}
	// The handler's own follow-up arriving late adds nothing.
	if err := e.svc.Cancelled(ctx, e.get(crashed.ID)); err != nil {
		t.Fatal(err)
	}
	if n := len(e.events.all(crashed.ID)); n != 1 {
		t.Fatalf("events %v", e.events.all(crashed.ID))
	}
}

// TestExpiryCancelRacesPayment: at expiry the barcode order is paid between
// our paystatus and our paycancel; the gateway answers 8012 (already paid
// or cancelled) and paystatus decides: paid (late, accepted), never
// cancelled, one paid event.
func TestExpiryCancelRacesPayment(t *testing.T) {
	spy := &gwSpy{}
	e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	c := e.newCheckout(1000, time.Minute)
	bar := e.order(c, checkout.ScenarioBarcode, "134567890123459002") // waits for the payer's password
	spy.beforeCancel = func(gateway.OrderRef) { e.pay(bar) }          // the payer types it just now
	e.clk.Advance(61 * time.Second)
	for range 2 {
		if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if spy.cancels.Load() == 0 {
		t.Fatal("paycancel never tried")
	}
	if o, _ := e.sb.Order(e.sbStore.OpenID, bar.OrdNo); o.Status != gateway.StatusPaid {
		t.Fatalf("barcode order at the gateway: %s", o.Status)
	}
	// Paid, never cancelled. Whether it counts as late depends on which of
	// the expiry and the confirmation the reconciler's claims order first:
	// both are right, as the payment and the expiry really did race.
	got := e.get(c.ID)
	if got.Status != checkout.StatusPaid {
		t.Fatalf("checkout %s late=%v; events %v", got.Status, got.Late, e.events.all(c.ID))
	}
	if a := e.attempt(c.ID, bar.Seq); a.Status != checkout.AttemptPaid {
		t.Fatalf("attempt %s", a.Status)
	}
	if n := len(e.events.of(c.ID, webhook.TypePaid)); n != 1 {
		t.Fatalf("%d paid events; all %v", n, e.events.all(c.ID))
	}
	if _, ok := e.watched()["a:"+bar.OutNo]; ok {
		t.Fatal("a paid attempt is still watched")
	}
}

// TestExpiryClaimHonoured: an expiry another replica has claimed (its lease
// is the member's due time) is left to it until the lease runs out, then
// taken over: never done by two replicas at once.
func TestExpiryClaimHonoured(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	c := e.newCheckout(1000, time.Minute)
	e.clk.Advance(61 * time.Second)
	// Another replica claimed it just now, with a 5 s lease, and died.
	lease := e.clk.Now().Add(5 * time.Second)
	if err := e.rdb.ZAdd(ctx, payments.WatchKey(e.svc, "x:"+c.ID), redis.Z{Score: float64(lease.UnixMilli()), Member: "x:" + c.ID}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if got := e.get(c.ID); got.Status != checkout.StatusOpen {
		t.Fatalf("checkout %s while another replica's claim holds", got.Status)
	}
	e.clk.Advance(6 * time.Second)
	if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if got := e.get(c.ID); got.Status != checkout.StatusExpired {
		t.Fatalf("checkout %s after the claim ran out", got.Status)
	}
	if n := len(e.events.of(c.ID, webhook.TypeExpired)); n != 1 {
		t.Fatalf("%d expired events", n)
	}
}

// TestReconcilerDrainsEveryShard: work spread over the watch list's and
// the expiry queue's shards is all done, by ticks that each claim at most
// their batch (3 here) from the shards in turn, and each item once: twenty
// checkouts past expiry expire once each, with one event each.
func TestReconcilerDrainsEveryShard(t *testing.T) {
	e := newEnv(t, envConfig{})
	ctx := context.Background()
	rec := payments.NewReconciler(e.svc, payments.WithBatch(3, 2))
	var ids []string
	shards := map[int]bool{}
	for range 20 {
		c := e.newCheckout(1000, 30*time.Minute)
		ids = append(ids, c.ID)
		shards[checkout.ShardOf(c.ID)] = true
	}
	if len(shards) < 5 {
		t.Fatalf("twenty checkouts in %d shards", len(shards))
	}
	e.clk.Advance(31 * time.Minute)
	ticks := 0
	for ; ticks < 100; ticks++ {
		if err := rec.Tick(ctx, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		if len(e.watched()) == 0 {
			if due, err := e.repo.DueForExpiry(ctx, e.clk.Now(), 100); err == nil && len(due) == 0 {
				break
			}
		}
	}
	if ticks < 20/3 {
		t.Errorf("drained in %d ticks: a tick took more than its batch", ticks)
	}
	for _, id := range ids {
		if got := e.get(id); got.Status != checkout.StatusExpired {
			t.Errorf("%s is %s after %d ticks", id, got.Status, ticks)
		}
		if evs := e.events.of(id, webhook.TypeExpired); len(evs) != 1 {
			t.Errorf("%s: %d expired events", id, len(evs))
		}
	}
}

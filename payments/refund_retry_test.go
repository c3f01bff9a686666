package payments_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
)

// serviceWith builds another Service and Reconciler on the env's Redis,
// prefix, clock, gateway and event recorder, with cfg changed by mod.
func (e *env) serviceWith(mod func(*payments.Config)) (*payments.Service, *payments.Reconciler) {
	e.t.Helper()
	var gw payments.Gateway = e.gw
	if e.cfg.spy != nil {
		gw = e.cfg.spy
	}
	cfg := payments.Config{
		Redis: e.rdb, Repo: e.repo, Directory: e.dir, Accounts: e.accounts, Gateway: gw, Events: e.events,
		Logger: quietLogger(), Clock: e.clk.Now, Prefix: e.prefix + "notify:", EffectLease: 5 * time.Second, PublicURL: "https://pay.example",
	}
	mod(&cfg)
	svc, err := payments.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return svc, payments.NewReconciler(svc)
}

// TestRefundRetryConfig: the schedule and the window are the Config's. A
// late payment refunded under the refund policy is refused every time: it
// is tried at 0, 1, 3 and 5 minutes (waits 1 min, then 2 min; window 5
// min), then fails; the merchant gets checkout.refund.deferred at the first
// refusal, and checkout.paid and checkout.refund.failed at the last.
func TestRefundRetryConfig(t *testing.T) {
	e, g := newGateEnv(t, envConfig{latePolicy: checkout.LatePolicyRefund, sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	svc, rec := e.serviceWith(func(c *payments.Config) {
		c.RefundRetry = []time.Duration{time.Minute, 2 * time.Minute}
		c.RefundRetryFor = 5 * time.Minute
	})
	c := e.newCheckout(1000+sandbox.MagicAmountRefundFails, time.Minute)
	a := e.order(c, checkout.ScenarioJump, "")
	e.clk.Advance(2 * time.Minute)
	if err := rec.Tick(ctx, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Hour)
	e.pay(a)
	if _, err := svc.Confirm(ctx, a.OutNo); err != nil {
		t.Fatal(err)
	}
	r := e.onlyRefund(c.ID)
	if r.Kind != payments.KindLate || r.Status != payments.RefundPending || !strings.Contains(r.Failure, "8040") {
		t.Fatalf("late refund: %+v", r)
	}
	start := e.clk.Now()
	if !r.NextAttemptAt.Equal(start.Add(time.Minute).Truncate(time.Millisecond)) {
		t.Fatalf("next attempt at %s, want a minute after %s", r.NextAttemptAt, start)
	}
	if got := e.events.all(c.ID); len(got) != 2 || got[0] != webhook.TypeExpired || got[1] != webhook.TypeRefundDeferred {
		t.Fatalf("events after the first refusal: %v", got)
	}
	for i, at := range []time.Duration{time.Minute, 3 * time.Minute, 5 * time.Minute} {
		e.clk.Advance(start.Add(at).Sub(e.clk.Now()))
		if err := rec.Tick(ctx, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		if calls, _ := g.count(r.OutNo); calls != i+2 {
			t.Fatalf("at %s: %d payrefund calls", at, calls)
		}
	}
	r = e.onlyRefund(c.ID)
	if r.Status != payments.RefundFailed || !strings.Contains(r.Failure, "8040") || !r.NextAttemptAt.IsZero() {
		t.Fatalf("after the window: %+v", r)
	}
	want := []string{webhook.TypeExpired, webhook.TypeRefundDeferred, webhook.TypePaid, webhook.TypeRefundFailed}
	if got := e.events.all(c.ID); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("events %v, want %v", got, want)
	}
	if f := e.events.of(c.ID, webhook.TypeRefundFailed)[0]; f.Data.Refund == nil || f.Data.Refund.Attempt != a.Seq ||
		!strings.Contains(f.Data.Refund.Failure, "8040") {
		t.Fatalf("failed event %+v", f.Data.Refund)
	}
	if got := e.get(c.ID); got.Status != checkout.StatusPaid || !got.Late || got.Refunded != 0 {
		t.Fatalf("checkout %s late=%v refunded %d", got.Status, got.Late, got.Refunded)
	}
	if _, ok := e.watched()["r:"+c.ID+":1"]; ok {
		t.Fatal("a failed refund is still watched")
	}
	e.clk.Advance(time.Hour)
	if err := rec.Tick(ctx, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if calls, _ := g.count(r.OutNo); calls != 4 {
		t.Fatalf("%d payrefund calls in all", calls)
	}
}

// TestRefundRetryConfigInvalid: a wait that is not positive, or a negative
// window, is refused when the Service is built.
func TestRefundRetryConfigInvalid(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	for name, mod := range map[string]func(*payments.Config){
		"zero wait":       func(c *payments.Config) { c.RefundRetry = []time.Duration{time.Minute, 0} },
		"negative wait":   func(c *payments.Config) { c.RefundRetry = []time.Duration{-time.Minute} },
		"negative window": func(c *payments.Config) { c.RefundRetryFor = -time.Hour },
	} {
		cfg := payments.Config{Redis: e.rdb, Repo: e.repo, Directory: e.dir, Accounts: e.accounts, Gateway: e.gw, Events: e.events, PublicURL: "https://pay.example"}
		mod(&cfg)
		if _, err := payments.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestRefundDeferredEventOwed: the process dies between recording a
// refusal and telling the merchant (the event store fails here): the next
// look at the refund sends checkout.refund.deferred, once.
func TestRefundDeferredEventOwed(t *testing.T) {
	e, g := newGateEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	c, _ := e.paidCheckout(1000)
	g.script(gateRefuse, gateRefuse)
	e.events.fail.Store(true)
	first := e.postRefund(c.ID, "k1", `{"amount":300}`)
	if first.status != http.StatusAccepted || first.Status != "pending" {
		t.Fatalf("refused refund: %+v", first)
	}
	e.events.fail.Store(false)
	if n := len(e.events.of(c.ID, webhook.TypeRefundDeferred)); n != 0 {
		t.Fatalf("%d deferred events with the event store down", n)
	}
	// A replay looks at it: the event is owed.
	if again := e.postRefund(c.ID, "k1", `{"amount":300}`); again.status != http.StatusAccepted || again.ID != first.ID {
		t.Fatalf("replay: %+v", again)
	}
	if n := len(e.events.of(c.ID, webhook.TypeRefundDeferred)); n != 1 {
		t.Fatalf("%d deferred events after the replay", n)
	}
	// Refused again five minutes later, accepted at the third try: no
	// second deferred event.
	e.clk.Advance(5 * time.Minute)
	e.tick()
	e.clk.Advance(15 * time.Minute)
	e.tick()
	r := e.onlyRefund(c.ID)
	if calls, reached := g.count(r.OutNo); r.Status != payments.RefundSucceeded || calls != 3 || reached != 1 {
		t.Fatalf("refund %+v after %d calls (%d reached)", r, calls, reached)
	}
	if n := len(e.events.of(c.ID, webhook.TypeRefundDeferred)); n != 1 {
		t.Fatalf("%d deferred events", n)
	}
	if n := len(e.events.of(c.ID, webhook.TypeRefundSucceeded)); n != 1 {
		t.Fatalf("%d succeeded events", n)
	}
}

// TestRefundDeferredEventAfterCrash: the process dies between recording a
// refusal and telling the merchant, and nobody asks about the refund again:
// the reconciler still sends checkout.refund.deferred within a lease, not
// only at the refund's next try minutes later, and does not send the refund
// again before that try.
func TestRefundDeferredEventAfterCrash(t *testing.T) {
	e, g := newGateEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	c, _ := e.paidCheckout(1000)
	g.script(gateRefuse, gateRefuse)
	e.events.fail.Store(true)
	first := e.postRefund(c.ID, "k1", `{"amount":300}`)
	if first.status != http.StatusAccepted || first.Status != "pending" {
		t.Fatalf("refused refund: %+v", first)
	}
	e.events.fail.Store(false)
	e.clk.Advance(payments.DefaultEffectLease + time.Second)
	e.tick()
	if n := len(e.events.of(c.ID, webhook.TypeRefundDeferred)); n != 1 {
		t.Fatalf("%d deferred events a lease after the refusal", n)
	}
	r := e.onlyRefund(c.ID)
	if calls, _ := g.count(r.OutNo); calls != 1 || r.Status != payments.RefundPending {
		t.Fatalf("refund %+v after %d calls, want one call and still pending", r, calls)
	}
	// It is looked at again at its next try, not every lease.
	if at, ok := e.watched()["r:"+c.ID+":1"]; !ok || !at.Equal(r.NextAttemptAt) {
		t.Fatalf("watched at %v (%v), want its next try %v", at, ok, r.NextAttemptAt)
	}
}

package payments_test

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
)

// gateMode is what refundGate does with one payrefund call.
type gateMode int

const (
	// gatePass sends the call to the gateway.
	gatePass gateMode = iota
	// gateRefuse answers 8040 (not enough takings today) without sending.
	gateRefuse
	// gateLoseRequest never reaches the gateway and reports an unknown
	// outcome (a connection that broke before the request went out).
	gateLoseRequest
	// gateLoseAnswer reaches the gateway and reports an unknown outcome
	// (the answer was lost).
	gateLoseAnswer
	// gateCrash ends the calling goroutine before anything is sent, with
	// no error returned and no deferred cleanup of ours skipped: what a
	// kill of the process leaves behind.
	gateCrash
)

// refundGate wraps the env's gateway and scripts payrefund: each call takes
// the next mode of its queue (gatePass once the queue is empty). It counts
// every payrefund call and those that reached the gateway, by
// refund_out_no.
type refundGate struct {
	app.Gateway
	mu      sync.Mutex
	modes   []gateMode
	calls   map[string]int
	reached map[string]int
}

// newGateEnv builds an env whose gateway is a refundGate.
func newGateEnv(t *testing.T, cfg envConfig) (*env, *refundGate) {
	t.Helper()
	g := &refundGate{calls: map[string]int{}, reached: map[string]int{}}
	cfg.spy = &gwSpy{Gateway: g}
	e := newEnv(t, cfg)
	g.Gateway = e.gw
	return e, g
}

// script queues modes for the next payrefund calls.
func (g *refundGate) script(modes ...gateMode) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.modes = append(g.modes, modes...)
}

func (g *refundGate) PayRefund(ctx context.Context, st *gateway.Store, r *gateway.RefundRequest) (*gateway.RefundResult, error) {
	g.mu.Lock()
	mode := gatePass
	if len(g.modes) > 0 {
		mode, g.modes = g.modes[0], g.modes[1:]
	}
	g.calls[r.RefundOutNo]++
	if mode == gatePass || mode == gateLoseAnswer {
		g.reached[r.RefundOutNo]++
	}
	g.mu.Unlock()
	switch mode {
	case gateRefuse:
		return nil, &gateway.APIError{Endpoint: gateway.EndpointPayRefund, Code: gateway.CodeRefundExceedsTakings, Msg: "退款金额超过当日交易额"}
	case gateLoseRequest:
		return nil, &gateway.UnknownOutcomeError{Endpoint: gateway.EndpointPayRefund, OutNo: r.RefundOutNo, Err: errors.New("gate: connection reset")}
	case gateCrash:
		runtime.Goexit()
	}
	res, err := g.Gateway.PayRefund(ctx, st, r)
	if mode == gateLoseAnswer {
		return nil, &gateway.UnknownOutcomeError{Endpoint: gateway.EndpointPayRefund, OutNo: r.RefundOutNo, Err: errors.New("gate: timeout")}
	}
	return res, err
}

// count returns how many payrefund calls were made for refund_out_no, and
// how many of them reached the gateway.
func (g *refundGate) count(outNo string) (calls, reached int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[outNo], g.reached[outNo]
}

// total returns how many payrefund calls were made in all.
func (g *refundGate) total() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, c := range g.calls {
		n += c
	}
	return n
}

// crashed runs f in a goroutine of its own (the gate may end it, as a kill
// would end the process) and waits until that goroutine is gone.
func crashed(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

// refundOrders counts the refund orders the sandbox holds under
// refundOutNo.
func (e *env) refundOrders(refundOutNo string) int {
	n := 0
	for _, o := range e.sb.Orders(e.sbStore.OpenID) {
		if o.OrdType == gateway.OrderRefund && o.OutNo == refundOutNo {
			n++
		}
	}
	return n
}

// onlyRefund returns the checkout's one refund.
func (e *env) onlyRefund(id string) payments.Refund {
	e.t.Helper()
	rs, err := e.svc.Refunds(context.Background(), id)
	if err != nil || len(rs) != 1 {
		e.t.Fatalf("refunds of %s: %+v %v", id, rs, err)
	}
	return rs[0]
}

// tick runs one reconciler tick at the env's clock.
func (e *env) tick() {
	e.t.Helper()
	if err := e.rec.Tick(context.Background(), e.clk.Now()); err != nil {
		e.t.Fatal(err)
	}
}

// distinctIDs counts the distinct event ids of evs (the webhook store keeps
// one event per id).
func distinctIDs(evs []webhook.Event) int {
	ids := map[string]bool{}
	for _, ev := range evs {
		ids[ev.ID] = true
	}
	return len(ids)
}

// TestRefundTotalOnceAfterCrash (issue 9, first defect): the refunded
// total is added and then the process stops before the effect is marked
// done, either because the event store failed (the claim is dropped) or
// because the process was killed (the claim's lease runs out). The
// reconciler finishes the refund: the total counts the refund once, the
// event says so, and a follow-up refund of the rest goes through.
func TestRefundTotalOnceAfterCrash(t *testing.T) {
	for _, how := range []string{"emit failed", "killed before the done mark"} {
		t.Run(how, func(t *testing.T) {
			e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
			ctx := context.Background()
			c, a := e.paidCheckout(1000)
			if how == "emit failed" {
				e.events.fail.Store(true)
			}
			first := e.postRefund(c.ID, "k1", `{"amount":300}`)
			if first.Status != "succeeded" {
				t.Fatalf("refund: %+v", first)
			}
			e.events.fail.Store(false)
			if how == "killed before the done mark" {
				// The dead process's claim, its lease over, and its work
				// item, never removed.
				claim := "run:" + strconv.FormatInt(e.clk.Now().UnixMilli(), 10)
				if err := e.rdb.Set(ctx, e.prefix+"notify:fx:{"+c.ID+"}:refund:1", claim, time.Hour).Err(); err != nil {
					t.Fatal(err)
				}
				due := e.clk.Now().Add(time.Second).UnixMilli()
				if err := e.rdb.ZAdd(ctx, payments.WatchKey(e.svc, "r:"+c.ID+":1"), redis.Z{Score: float64(due), Member: "r:" + c.ID + ":1"}).Err(); err != nil {
					t.Fatal(err)
				}
			}
			e.clk.Advance(10 * time.Second)
			e.tick()
			got := e.get(c.ID)
			if got.Refunded != 300 || got.Status != checkout.StatusPartiallyRefunded {
				t.Fatalf("after the crash: checkout %s refunded %d, want partially_refunded 300", got.Status, got.Refunded)
			}
			evs := e.events.of(c.ID, webhook.TypeRefundSucceeded)
			if distinctIDs(evs) != 1 {
				t.Fatalf("%d distinct refund events", distinctIDs(evs))
			}
			for _, ev := range evs {
				if ev.Data.Checkout.RefundedAmount != 300 {
					t.Fatalf("refund event says refunded %d", ev.Data.Checkout.RefundedAmount)
				}
			}
			rest := e.postRefund(c.ID, "k2", `{"amount":700}`)
			if rest.Status != "succeeded" {
				t.Fatalf("follow-up refund: %+v", rest)
			}
			got = e.get(c.ID)
			if got.Refunded != 1000 || got.Status != checkout.StatusRefunded {
				t.Fatalf("after the follow-up: checkout %s refunded %d", got.Status, got.Refunded)
			}
			if o, _ := e.sb.Order(e.sbStore.OpenID, a.OrdNo); o.Refunded != 1000 {
				t.Fatalf("gateway refunded %d", o.Refunded)
			}
		})
	}
}

// TestRefundLostWhileSending (issue 9, second defect): the process dies
// while it sends an automatic refund (of a double or a late payment): the
// record stays in "sending" and no payrefund was made. After a restart and
// the lease, paystatus says the gateway never created it, and it is sent
// again under the same refund_out_no: exactly one refund at the gateway,
// recorded once, reported once.
func TestRefundLostWhileSending(t *testing.T) {
	for _, kind := range []payments.RefundKind{payments.KindDuplicate, payments.KindLate} {
		t.Run(string(kind), func(t *testing.T) {
			cfg := envConfig{sandbox: sandbox.Config{DropNotifies: true}}
			if kind == payments.KindLate {
				cfg.latePolicy = checkout.LatePolicyRefund
			}
			e, g := newGateEnv(t, cfg)
			ctx := context.Background()
			var c *checkout.Checkout
			var refunded *checkout.Attempt
			if kind == payments.KindDuplicate {
				c = e.newCheckout(1000, 30*time.Minute)
				a1 := e.order(c, checkout.ScenarioQR, "")
				a2 := e.order(c, checkout.ScenarioJump, "")
				e.pay(a1)
				e.pay(a2)
				if _, err := e.svc.Confirm(ctx, a1.OutNo); err != nil {
					t.Fatal(err)
				}
				refunded = a2
			} else {
				c = e.newCheckout(1000, time.Minute)
				refunded = e.order(c, checkout.ScenarioJump, "")
				e.clk.Advance(2 * time.Minute)
				e.tick()
				e.clk.Advance(time.Hour)
				e.pay(refunded)
			}
			g.script(gateCrash)
			crashed(func() { _, _ = e.svc.Confirm(ctx, refunded.OutNo) })
			r := e.onlyRefund(c.ID)
			if r.Status != payments.RefundPending {
				t.Fatalf("refund after the crash: %+v", r)
			}
			if n := e.refundOrders(r.OutNo); n != 0 {
				t.Fatalf("%d refunds at the gateway before the restart", n)
			}

			e.start()
			e.clk.Advance(10 * time.Second)
			e.tick()
			e.clk.Advance(10 * time.Second)
			e.tick()

			r = e.onlyRefund(c.ID)
			if r.Status != payments.RefundSucceeded {
				t.Fatalf("refund after the restart: %+v", r)
			}
			if n := e.refundOrders(r.OutNo); n != 1 {
				t.Fatalf("%d refunds at the gateway under %s", n, r.OutNo)
			}
			if o, _ := e.sb.Order(e.sbStore.OpenID, refunded.OrdNo); o.Refunded != 1000 {
				t.Fatalf("gateway refunded %d of the payment", o.Refunded)
			}
			if calls, _ := g.count(r.OutNo); calls != 2 || g.total() != 2 {
				t.Fatalf("payrefund calls: %d under %s, %d in all; want the lost one and one resend", calls, r.OutNo, g.total())
			}
			typ := webhook.TypeDuplicatePaymentRefunded
			if kind == payments.KindLate {
				typ = webhook.TypeLatePaymentRefunded
				if got := e.get(c.ID); got.Status != checkout.StatusRefunded || got.Refunded != 1000 {
					t.Fatalf("checkout %s refunded %d", got.Status, got.Refunded)
				}
			} else if got := e.get(c.ID); got.Status != checkout.StatusPaid || got.Refunded != 0 {
				t.Fatalf("checkout %s refunded %d", got.Status, got.Refunded)
			}
			if n := distinctIDs(e.events.of(c.ID, typ)); n != 1 {
				t.Fatalf("%d %s events; all %v", n, typ, e.events.all(c.ID))
			}
			if n := len(e.events.of(c.ID, webhook.TypeRefundFailed)); n != 0 {
				t.Fatalf("%d failed events", n)
			}
		})
	}
}

// TestRefundUnknownNeverCreated: payrefund's request never reached the
// gateway (the outcome is unknown). Resolving it finds no refund under its
// refund_out_no and sends it again at once, under the same number.
func TestRefundUnknownNeverCreated(t *testing.T) {
	e, g := newGateEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	c, _ := e.paidCheckout(1000)
	g.script(gateLoseRequest)
	first := e.postRefund(c.ID, "k1", `{"amount":400}`)
	if first.status != http.StatusAccepted || first.Status != "pending" {
		t.Fatalf("refund with a lost request: %+v", first)
	}
	r := e.onlyRefund(c.ID)
	got, err := e.svc.ResolveRefund(context.Background(), c.ID, 1)
	if err != nil || got.Status != payments.RefundSucceeded {
		t.Fatalf("resolved: %+v %v", got, err)
	}
	if calls, reached := g.count(r.OutNo); calls != 2 || reached != 1 || e.refundOrders(r.OutNo) != 1 {
		t.Fatalf("payrefund %d calls, %d reached; %d refunds at the gateway", calls, reached, e.refundOrders(r.OutNo))
	}
	if c := e.get(c.ID); c.Refunded != 400 {
		t.Fatalf("refunded %d", c.Refunded)
	}
	if n := len(e.events.of(c.ID, webhook.TypeRefundSucceeded)); n != 1 {
		t.Fatalf("%d refund events", n)
	}
}

// TestRefundRefusedThenRetried: the gateway refuses a refund once (8040);
// the refund stays pending with the refusal in failure, the merchant hears
// of it once, and the retry five minutes later, under the same number,
// goes through.
func TestRefundRefusedThenRetried(t *testing.T) {
	e, g := newGateEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	c, _ := e.paidCheckout(1000)
	g.script(gateRefuse)
	first := e.postRefund(c.ID, "k1", `{"amount":300}`)
	if first.status != http.StatusAccepted || first.Status != "pending" || !strings.Contains(first.Failure, "8040") {
		t.Fatalf("refused refund: %+v", first)
	}
	if n := len(e.events.of(c.ID, webhook.TypeRefundDeferred)); n != 1 {
		t.Fatalf("%d deferred events", n)
	}
	if n := len(e.events.of(c.ID, webhook.TypeRefundFailed)); n != 0 {
		t.Fatalf("%d failed events", n)
	}
	// Nothing happens before the retry is due.
	e.clk.Advance(4 * time.Minute)
	e.tick()
	r := e.onlyRefund(c.ID)
	if calls, _ := g.count(r.OutNo); calls != 1 || r.Status != payments.RefundPending {
		t.Fatalf("before the retry: %d calls, %+v", calls, r)
	}
	e.clk.Advance(time.Minute + time.Second)
	e.tick()
	r = e.onlyRefund(c.ID)
	if r.Status != payments.RefundSucceeded || r.Failure != "" {
		t.Fatalf("after the retry: %+v", r)
	}
	if calls, reached := g.count(r.OutNo); calls != 2 || reached != 1 || e.refundOrders(r.OutNo) != 1 {
		t.Fatalf("payrefund %d calls, %d reached", calls, reached)
	}
	if got := e.get(c.ID); got.Refunded != 300 {
		t.Fatalf("refunded %d", got.Refunded)
	}
	if n := len(e.events.of(c.ID, webhook.TypeRefundSucceeded)); n != 1 {
		t.Fatalf("%d succeeded events", n)
	}
	if n := len(e.events.of(c.ID, webhook.TypeRefundDeferred)); n != 1 {
		t.Fatalf("%d deferred events", n)
	}
	// Both sends were noted for the daily reconciliation beforehand.
	sent, err := e.repo.SentOn(ctx, e.merchant.ID, e.store.ID, e.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range sent {
		found = found || s.OutNo == r.OutNo
	}
	if !found {
		t.Fatalf("refund_out_no %s not in the sent index %+v", r.OutNo, sent)
	}
	// A replay answers as the first time: 202.
	if again := e.postRefund(c.ID, "k1", `{"amount":300}`); again.status != http.StatusAccepted || again.ID != first.ID ||
		again.Status != "succeeded" {
		t.Fatalf("replay: %+v", again)
	}
}

// TestRefundRefusedForSevenDays: the gateway refuses a refund every time
// (sandbox magic amount ..40). It is retried on the schedule (5 min, 15
// min, 30 min, 1 h, then every 2 h) for 7 days, then fails: the merchant
// hears at the first refusal and at the last only, and the reserved amount
// is given back.
func TestRefundRefusedForSevenDays(t *testing.T) {
	e, g := newGateEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	c, _ := e.paidCheckout(1000 + sandbox.MagicAmountRefundFails)
	start := e.clk.Now()
	first := e.postRefund(c.ID, "k1", `{"amount":1040}`)
	if first.status != http.StatusAccepted || first.Status != "pending" {
		t.Fatalf("refused refund: %+v", first)
	}
	// Before it is final, no other refund fits.
	if r := e.postRefund(c.ID, "k2", `{"amount":1}`); r.status != http.StatusConflict || r.Error == nil ||
		r.Error.Code != "refund_exceeds_refundable" {
		t.Fatalf("second refund while the first waits: %+v", r)
	}
	out := e.onlyRefund(c.ID).OutNo
	want := []time.Duration{5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour}
	at := start
	for i := 0; i < 200 && e.onlyRefund(c.ID).Status == payments.RefundPending; i++ {
		step := 2 * time.Hour
		if i < len(want) {
			step = want[i]
		}
		at = at.Add(step)
		e.clk.Advance(at.Sub(e.clk.Now()) - time.Second)
		e.tick()
		if calls, _ := g.count(out); calls != i+1 {
			t.Fatalf("a second before retry %d: %d calls", i+1, calls)
		}
		e.clk.Advance(time.Second)
		e.tick()
		if calls, _ := g.count(out); calls != i+2 {
			t.Fatalf("retry %d at %s: %d calls", i+1, at.Sub(start), calls)
		}
		if n := len(e.events.of(c.ID, webhook.TypeRefundFailed)); n != 0 && e.onlyRefund(c.ID).Status == payments.RefundPending {
			t.Fatalf("failed event while still retrying")
		}
	}
	r := e.onlyRefund(c.ID)
	if r.Status != payments.RefundFailed || !strings.Contains(r.Failure, "8040") {
		t.Fatalf("after the retries: %+v", r)
	}
	if took := at.Sub(start); took > 7*24*time.Hour || took < 7*24*time.Hour-2*time.Hour {
		t.Fatalf("failed after %s", took)
	}
	if n := len(e.events.of(c.ID, webhook.TypeRefundDeferred)); n != 1 {
		t.Fatalf("%d deferred events", n)
	}
	if n := len(e.events.of(c.ID, webhook.TypeRefundFailed)); n != 1 {
		t.Fatalf("%d failed events", n)
	}
	if got := e.events.all(c.ID); len(got) != 3 {
		t.Fatalf("events %v", got)
	}
	if got := e.get(c.ID); got.Status != checkout.StatusPaid || got.Refunded != 0 {
		t.Fatalf("checkout %s refunded %d", got.Status, got.Refunded)
	}
	// The reservation is back: a new refund of the whole is accepted (and
	// refused by the gateway in its turn).
	if again := e.postRefund(c.ID, "k3", `{"amount":1040}`); again.status != http.StatusAccepted || again.Status != "pending" {
		t.Fatalf("refund after the failure: %+v", again)
	}
	// Nothing more is sent for the failed one.
	calls, _ := g.count(out)
	e.clk.Advance(3 * time.Hour)
	e.tick()
	if now, _ := g.count(out); now != calls {
		t.Fatalf("%d more sends of a failed refund", now-calls)
	}
}

// TestConcurrentResolversAfterCrash: a merchant refund's sender dies while
// sending; after the lease, reconcilers of four replicas, two direct
// resolutions and two replays of the request race over it. Exactly one
// payrefund goes out, the total counts it once, one event.
func TestConcurrentResolversAfterCrash(t *testing.T) {
	e, g := newGateEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	c, _ := e.paidCheckout(1000)
	req := payments.RefundRequest{Amount: 300, Reason: "退货", IdempotencyKey: "k1"}
	g.script(gateCrash)
	crashed(func() { _, _ = e.svc.Refund(ctx, e.merchant.ID, c.ID, req) })
	r := e.onlyRefund(c.ID)
	if r.Status != payments.RefundPending {
		t.Fatalf("after the crash: %+v", r)
	}
	e.start()
	e.clk.Advance(10 * time.Second)
	recs := []*payments.Reconciler{e.rec}
	for range 3 {
		recs = append(recs, payments.NewReconciler(e.svc))
	}
	var wg sync.WaitGroup
	run := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	for _, rec := range recs {
		run(func() { _ = rec.Tick(ctx, e.clk.Now()) })
	}
	for range 2 {
		run(func() { _, _ = e.svc.ResolveRefund(ctx, c.ID, 1) })
		run(func() { _, _ = e.svc.Refund(ctx, e.merchant.ID, c.ID, req) })
	}
	wg.Wait()
	// Whatever a loser left claimed comes back after the lease.
	e.clk.Advance(10 * time.Second)
	e.tick()
	r = e.onlyRefund(c.ID)
	if r.Status != payments.RefundSucceeded {
		t.Fatalf("after the race: %+v", r)
	}
	if calls, reached := g.count(r.OutNo); calls != 2 || reached != 1 {
		t.Fatalf("payrefund: %d calls (with the lost one), %d reached the gateway; want 2 and 1", calls, reached)
	}
	if n := e.refundOrders(r.OutNo); n != 1 {
		t.Fatalf("%d refunds at the gateway", n)
	}
	if got := e.get(c.ID); got.Refunded != 300 || got.Status != checkout.StatusPartiallyRefunded {
		t.Fatalf("checkout %s refunded %d", got.Status, got.Refunded)
	}
	if evs := e.events.of(c.ID, webhook.TypeRefundSucceeded); len(evs) != 1 {
		t.Fatalf("%d refund events", len(evs))
	}
}

// TestRefundReplayAfterFullRefund (issue 9, third defect): a full refund is
// replayed with its Idempotency-Key after the checkout became refunded: the
// answer is the same refund, with the first answer's HTTP status (201 when
// the gateway had decided, 202 when it was still being resolved) and the
// refund's current state. Another amount under the key is still a conflict.
func TestRefundReplayAfterFullRefund(t *testing.T) {
	for _, status := range []int{http.StatusCreated, http.StatusAccepted} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			e, g := newGateEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
			c, _ := e.paidCheckout(1000)
			if status == http.StatusAccepted {
				g.script(gateLoseAnswer)
			}
			first := e.postRefund(c.ID, "k1", `{"amount":1000,"reason":"整单退款"}`)
			if first.status != status {
				t.Fatalf("first answer: %+v", first)
			}
			e.clk.Advance(10 * time.Second)
			e.tick()
			if got := e.get(c.ID); got.Status != checkout.StatusRefunded {
				t.Fatalf("checkout %s", got.Status)
			}
			for range 2 {
				again := e.postRefund(c.ID, "k1", `{"amount":1000,"reason":"整单退款"}`)
				if again.status != status || again.ID != first.ID || again.Amount != 1000 || again.Status != "succeeded" {
					t.Fatalf("replay: %+v (error %+v), want %d %s", again, again.Error, status, first.ID)
				}
			}
			if other := e.postRefund(c.ID, "k1", `{"amount":999,"reason":"整单退款"}`); other.status != http.StatusConflict ||
				other.Error == nil || other.Error.Code != "idempotency_conflict" {
				t.Fatalf("replay with another amount: %+v", other)
			}
			if r := e.postRefund(c.ID, "k2", `{"amount":1}`); r.status != http.StatusConflict || r.Error == nil ||
				r.Error.Code != "checkout_not_refundable" {
				t.Fatalf("new refund of a refunded checkout: %+v", r)
			}
			if g.total() != 1 {
				t.Fatalf("%d payrefund calls", g.total())
			}
		})
	}
}

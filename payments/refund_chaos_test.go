package payments_test

// Defects found by the 20-minute chaos runs (seeds 851621876 and 53267149),
// each reproduced at the crash point or interleaving the logs show.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
)

// cmdHook acts on the Redis commands of a client: it may end the goroutine
// that issues a command before the command is sent (a kill of the process
// between two Redis writes), or hold it there until released (a process
// that stalls). Each rule fires once.
type cmdHook struct {
	mu    sync.Mutex
	rules []*cmdRule
	// count, when >= 0, kills at the count-th command from now.
	left, seen int
	// dead is set by that kill: the process is gone, so no command goes
	// out until stop, not even from the killed goroutine's deferred calls
	// (runtime.Goexit runs them; a real crash does not).
	dead bool
}

type cmdRule struct {
	match func(args []any) bool
	// hold, when set, is closed by the rule when the command arrives; the
	// command then waits for release.
	hold, release chan struct{}
	// do, when set, runs before the command, which then goes on.
	do    func()
	fired bool
}

func newCmdHook() *cmdHook { return &cmdHook{left: -1} }

// killAt kills at the n-th command from now and counts the commands seen.
func (h *cmdHook) killAt(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.left, h.seen = n, 0
}

// stop disarms every rule and returns how many commands were seen.
func (h *cmdHook) stop() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.left, h.rules, h.dead = -1, nil, false
	return h.seen
}

// killWhen kills before the first command match accepts.
func (h *cmdHook) killWhen(match func(args []any) bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rules = append(h.rules, &cmdRule{match: match})
}

// holdWhen holds the first command match accepts: held is closed when it
// arrives, and it goes on when release is closed.
func (h *cmdHook) holdWhen(match func(args []any) bool) (held, release chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := &cmdRule{match: match, hold: make(chan struct{}), release: make(chan struct{})}
	h.rules = append(h.rules, r)
	return r.hold, r.release
}

// onWhen runs do before the first command match accepts.
func (h *cmdHook) onWhen(match func(args []any) bool, do func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rules = append(h.rules, &cmdRule{match: match, do: do})
}

func (h *cmdHook) before(cmd redis.Cmder) {
	h.mu.Lock()
	if h.left >= 0 {
		h.seen++
		if h.left == 0 {
			h.left, h.dead = -1, true
			h.mu.Unlock()
			runtime.Goexit()
		}
		h.left--
	}
	var rule *cmdRule
	for _, r := range h.rules {
		if !r.fired && r.match(cmd.Args()) {
			r.fired, rule = true, r
			break
		}
	}
	h.mu.Unlock()
	switch {
	case rule == nil:
	case rule.do != nil:
		rule.do()
	case rule.hold != nil:
		close(rule.hold)
		<-rule.release
	default:
		runtime.Goexit()
	}
}

// gone answers an error once the process was killed (killAt), until stop.
func (h *cmdHook) gone() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dead {
		return errors.New("test: process killed")
	}
	return nil
}

func (h *cmdHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *cmdHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if err := h.gone(); err != nil {
			cmd.SetErr(err)
			return err
		}
		h.before(cmd)
		return next(ctx, cmd)
	}
}

func (h *cmdHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if err := h.gone(); err != nil {
			for _, c := range cmds {
				c.SetErr(err)
			}
			return err
		}
		for _, c := range cmds {
			h.before(c)
		}
		return next(ctx, cmds)
	}
}

// watchAdd matches the command that puts refund member r:<id>:<n> in the
// watch set.
func watchAdd(id string) func(args []any) bool {
	return func(args []any) bool {
		if len(args) == 0 || !strings.EqualFold(fmt.Sprint(args[0]), "zadd") {
			return false
		}
		for _, a := range args[1:] {
			if s, ok := a.(string); ok && strings.HasPrefix(s, "r:"+id+":") {
				return true
			}
		}
		return false
	}
}

// reserveScript matches the script call that reserves a refund of kind.
func reserveScript(kind payments.RefundKind) func(args []any) bool {
	return func(args []any) bool {
		if len(args) == 0 {
			return false
		}
		name := strings.ToLower(fmt.Sprint(args[0]))
		if name != "evalsha" && name != "eval" {
			return false
		}
		for _, a := range args[1:] {
			if s, ok := a.(string); ok && s == string(kind) {
				return true
			}
		}
		return false
	}
}

// dieAfterSend passes payrefund to the gateway and, when armed, ends the
// calling goroutine once the gateway has accepted it: a process killed
// right after the refund was made, before it stored anything of the answer.
type dieAfterSend struct {
	app.Gateway
	armed atomic.Bool
}

func (g *dieAfterSend) PayRefund(ctx context.Context, st *gateway.Store, r *gateway.RefundRequest) (*gateway.RefundResult, error) {
	res, err := g.Gateway.PayRefund(ctx, st, r)
	if g.armed.CompareAndSwap(true, false) {
		runtime.Goexit()
	}
	return res, err
}

// settleRefunds runs the reconciler for a while, as restarted processes do.
func (e *env) settleRefunds() {
	e.t.Helper()
	for _, step := range []time.Duration{10 * time.Second, 10 * time.Second, 10 * time.Second, 10 * time.Second,
		time.Minute, 10 * time.Second, 10 * time.Second, 5 * time.Minute, 10 * time.Second, 10 * time.Second} {
		e.clk.Advance(step)
		e.tick()
	}
}

// wantRefundedOnce checks that checkout c has exactly one refund, succeeded,
// made once at the gateway, counted once (amount), reported once with typ,
// and no longer watched.
func (e *env) wantRefundedOnce(c *checkout.Checkout, amount int64, typ string) {
	e.t.Helper()
	rs, err := e.svc.Refunds(context.Background(), c.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Status != payments.RefundSucceeded {
		e.t.Fatalf("refunds of %s: %+v", c.ID, rs)
	}
	if n := e.refundOrders(rs[0].OutNo); n != 1 {
		e.t.Fatalf("%d refunds at the gateway under %s", n, rs[0].OutNo)
	}
	if got := e.get(c.ID); got.Refunded != amount {
		e.t.Fatalf("checkout %s refunded %d, want %d", got.Status, got.Refunded, amount)
	}
	if n := distinctIDs(e.events.of(c.ID, typ)); n != 1 {
		e.t.Fatalf("%d %s events; all %v", n, typ, e.events.all(c.ID))
	}
	for m := range e.watched() {
		if strings.HasPrefix(m, "r") && strings.Contains(m, c.ID) {
			e.t.Fatalf("still watched: %s", m)
		}
	}
}

// TestLateRefundAfterCancelKilledAnywhere (chaos seed 851621876,
// co_bAURBI4k8StNs4cjaKMkM6rb): a merchant cancels (the process that stored
// the cancel dies before its follow-up, so the cancel's effect marker is
// not there), then the payer's money arrives, before the checkout's expiry.
// The confirmation decides "late payment, policy refund" and dies at any
// Redis command after. Whoever confirms it again after the restart (the
// gateway's notify, the reconciler) must come to the same decision: one
// late refund, made once; never checkout.paid.
func TestLateRefundAfterCancelKilledAnywhere(t *testing.T) {
	run := func(t *testing.T, killAt int) (commands int) {
		rdb := redistest.New(t)
		h := newCmdHook()
		rdb.AddHook(h)
		e, _ := newGateEnv(t, envConfig{rdb: rdb, latePolicy: checkout.LatePolicyRefund,
			sandbox: sandbox.Config{DropNotifies: true}})
		ctx := context.Background()
		c := e.newCheckout(1000, time.Hour)
		a := e.order(c, checkout.ScenarioJump, "")
		if err := e.svc.CancelIntent(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if tr, err := e.repo.Cancel(ctx, c.ID); err != nil || !tr.Changed {
			t.Fatalf("cancel: %+v %v", tr, err)
		}
		e.clk.Advance(time.Second)
		e.pay(a)
		h.killAt(killAt)
		crashed(func() { _, _ = e.svc.Confirm(ctx, a.OutNo) })
		commands = h.stop()
		e.start()
		e.clk.Advance(10 * time.Second)
		e.tick()
		// The gateway's notify comes again.
		_, _ = e.svc.Confirm(ctx, a.OutNo)
		e.settleRefunds()
		if evs := e.events.of(c.ID, webhook.TypePaid); len(evs) != 0 {
			t.Fatalf("checkout.paid for a late payment the policy refunds; events %v", e.events.all(c.ID))
		}
		e.wantRefundedOnce(c, 1000, webhook.TypeLatePaymentRefunded)
		if got := e.get(c.ID); got.Status != checkout.StatusRefunded {
			t.Fatalf("checkout %s", got.Status)
		}
		return commands
	}
	var total int
	t.Run("no kill", func(t *testing.T) { total = run(t, 1<<30) })
	if total == 0 {
		t.Fatal("no Redis command")
	}
	for n := range total {
		t.Run(fmt.Sprintf("killed before command %02d", n), func(t *testing.T) { run(t, n) })
	}
}

// TestRefundKilledBeforeItsWatchThenSentAndKilled (chaos seed 53267149,
// co_CmkVQToHc0gvWqmMSOKmN2Ks and co_Bydalzsy2cMXc0o8ba0bV3EL): the first
// maker of a refund dies right after the reservation, before the refund's
// watch member; the next one (the merchant's retry, or the automatic
// refund's next owner) finds the record, sends it, and dies as soon as the
// gateway has made it. Nobody asks again. The refund must still end
// succeeded, counted once: the reconciler has to know of it.
func TestRefundKilledBeforeItsWatchThenSentAndKilled(t *testing.T) {
	for _, kind := range []payments.RefundKind{payments.KindMerchant, payments.KindLate} {
		t.Run(string(kind), func(t *testing.T) {
			rdb := redistest.New(t)
			h := newCmdHook()
			rdb.AddHook(h)
			gate := &dieAfterSend{}
			cfg := envConfig{rdb: rdb, spy: &gwSpy{Gateway: gate}, sandbox: sandbox.Config{DropNotifies: true}}
			if kind == payments.KindLate {
				cfg.latePolicy = checkout.LatePolicyRefund
			}
			e := newEnv(t, cfg)
			gate.Gateway = e.gw
			ctx := context.Background()
			var c *checkout.Checkout
			var act func()
			amount, typ := int64(300), webhook.TypeRefundSucceeded
			switch kind {
			case payments.KindLate:
				amount, typ = 1000, webhook.TypeLatePaymentRefunded
				c = e.newCheckout(1000, time.Minute)
				a := e.order(c, checkout.ScenarioJump, "")
				e.clk.Advance(2 * time.Minute)
				e.tick()
				e.pay(a)
				act = func() { _, _ = e.svc.Confirm(ctx, a.OutNo) }
			default:
				c, _ = e.paidCheckout(1000)
				req := payments.RefundRequest{Amount: 300, Reason: "退货", IdempotencyKey: "k1"}
				act = func() { _, _ = e.svc.Refund(ctx, e.merchant.ID, c.ID, req) }
			}
			// First maker: killed between the reservation and the watch.
			h.killWhen(watchAdd(c.ID))
			crashed(act)
			h.stop()
			e.start()
			if kind == payments.KindLate {
				// The paid effect's claim runs out before its next owner.
				e.clk.Advance(6 * time.Second)
			}
			// Second: finds the record, sends it, killed once it is made.
			// (The late refund's owner claims the paid effect, then, a
			// moment later, the refund's send.)
			if kind == payments.KindLate {
				h.onWhen(reserveScript(payments.KindLate), func() { e.clk.Advance(3 * time.Second) })
			}
			gate.armed.Store(true)
			crashed(act)
			if gate.armed.Load() {
				t.Fatal("the second maker did not send the refund")
			}
			h.stop()
			e.start()
			// Third, once the paid effect's claim ran out but within the
			// sending claim's lease: the refund as it is, pending.
			e.clk.Advance(2500 * time.Millisecond)
			act()
			e.settleRefunds()
			e.wantRefundedOnce(c, amount, typ)
		})
	}
}

// TestRefundIntentRetiredWhileItsMakerStalls: the refund's maker watches
// its cause, then stalls (a GC pause, a Redis that answers late) for longer
// than a lease before its reservation reaches Redis. The reconciler finds
// the cause with no refund made, and retires it. Then the reservation lands
// and the maker dies before the refund's own watch member. No refund may be
// left reserved and unattended: either it was never made, or the reconciler
// still finishes it.
func TestRefundIntentRetiredWhileItsMakerStalls(t *testing.T) {
	rdb := redistest.New(t)
	h := newCmdHook()
	rdb.AddHook(h)
	e, g := newGateEnv(t, envConfig{rdb: rdb, sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	c, _ := e.paidCheckout(1000)
	req := payments.RefundRequest{Amount: 300, Reason: "退货", IdempotencyKey: "k1"}
	held, release := h.holdWhen(reserveScript(payments.KindMerchant))
	h.killWhen(watchAdd(c.ID))
	done := make(chan error, 1)
	go func() {
		var err error
		crashed(func() { _, err = e.svc.Refund(ctx, e.merchant.ID, c.ID, req) })
		done <- err
	}()
	<-held
	// Past the intent's lease, another replica's reconciler looks at it.
	e.clk.Advance(6 * time.Second)
	e.tick()
	close(release)
	err := <-done
	h.stop()
	t.Logf("the stalled maker's answer: %v", err)
	e.start()
	e.settleRefunds()
	rs, rerr := e.svc.Refunds(ctx, c.ID)
	if rerr != nil {
		t.Fatal(rerr)
	}
	switch {
	case len(rs) == 0:
		if g.total() != 0 || e.get(c.ID).Refunded != 0 {
			t.Fatalf("no refund record, yet %d payrefund calls", g.total())
		}
		if res, _ := e.rdb.HGet(ctx, e.prefix+"notify:rf:{"+c.ID+"}", "res:1").Int64(); res != 0 {
			t.Fatalf("no refund record, yet %d fen reserved", res)
		}
		// The merchant's retry makes it.
		if _, err := e.svc.Refund(ctx, e.merchant.ID, c.ID, req); err != nil {
			t.Fatal(err)
		}
		e.settleRefunds()
		e.wantRefundedOnce(c, 300, webhook.TypeRefundSucceeded)
	default:
		e.wantRefundedOnce(c, 300, webhook.TypeRefundSucceeded)
	}
}

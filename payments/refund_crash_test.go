package payments_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
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

// killHook ends the goroutine that issues the armed Redis command, before
// the command is sent: what a kill of the process between two Redis writes
// leaves behind. Armed with a count, it kills at the count-th command from
// now; it counts the commands it sees while armed.
type killHook struct {
	mu    sync.Mutex
	left  int // commands to let through before the kill; -1 disarmed
	count int
}

func (k *killHook) arm(n int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.left, k.count = n, 0
}

// disarm stops killing and returns how many commands were seen.
func (k *killHook) disarm() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.left = -1
	return k.count
}

func (k *killHook) kill() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.left < 0 {
		return false
	}
	k.count++
	if k.left == 0 {
		k.left = -1
		return true
	}
	k.left--
	return false
}

func (k *killHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (k *killHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if k.kill() {
			runtime.Goexit()
		}
		return next(ctx, cmd)
	}
}

func (k *killHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if k.kill() {
			runtime.Goexit()
		}
		return next(ctx, cmds)
	}
}

// TestRefundKilledAtEveryRedisCommand: a refund's request is killed before
// each Redis command it issues in turn (reserve, watch, claim, the sent
// index, the phase, the refusal's deferral, the total, the event, the done
// mark, the unwatch), and nobody replays it. After a restart the reconciler
// alone finishes it: the refund either never existed (killed before its
// reservation) or succeeded exactly once at the gateway, under its one
// number, counted once in the total, reported once (a refused one with one
// checkout.refund.deferred), no longer watched, its reservation kept. The
// same for a late payment's automatic refund, killed anywhere in the
// confirmation that makes it.
func TestRefundKilledAtEveryRedisCommand(t *testing.T) {
	req := payments.RefundRequest{Amount: 300, Reason: "退货", IdempotencyKey: "k1"}
	run := func(t *testing.T, scenario string, killAt int) (commands int) {
		rdb := redistest.New(t)
		k := &killHook{left: -1}
		rdb.AddHook(k)
		cfg := envConfig{rdb: rdb, sandbox: sandbox.Config{DropNotifies: true}}
		if scenario == "late" {
			cfg.latePolicy = checkout.LatePolicyRefund
		}
		e, g := newGateEnv(t, cfg)
		ctx := context.Background()
		var c *checkout.Checkout
		amount, typ := int64(300), webhook.TypeRefundSucceeded
		var act func()
		switch scenario {
		case "late":
			amount, typ = 1000, webhook.TypeLatePaymentRefunded
			c = e.newCheckout(1000, time.Minute)
			a := e.order(c, checkout.ScenarioJump, "")
			e.clk.Advance(2 * time.Minute)
			e.tick()
			e.clk.Advance(time.Hour)
			e.pay(a)
			act = func() { _, _ = e.svc.Confirm(ctx, a.OutNo) }
		default:
			c, _ = e.paidCheckout(1000)
			if scenario == "refused once" {
				g.script(gateRefuse)
			}
			act = func() { _, _ = e.svc.Refund(ctx, e.merchant.ID, c.ID, req) }
		}
		k.arm(killAt)
		crashed(act)
		commands = k.disarm()
		e.start()
		for _, step := range []time.Duration{10 * time.Second, 10 * time.Second, 10 * time.Second, 10 * time.Second,
			5 * time.Minute, 10 * time.Second, 10 * time.Second, 15 * time.Minute, 10 * time.Second, 10 * time.Second,
			15 * time.Minute, 10 * time.Second, 10 * time.Second} {
			e.clk.Advance(step)
			e.tick()
		}
		rs, err := e.svc.Refunds(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := e.get(c.ID)
		if len(rs) == 0 {
			if scenario == "late" || g.total() != 0 || got.Refunded != 0 || got.Status != checkout.StatusPaid {
				t.Fatalf("no refund record, yet %d payrefund calls, checkout %s refunded %d", g.total(), got.Status, got.Refunded)
			}
			return commands
		}
		r := rs[0]
		if len(rs) != 1 || r.Status != payments.RefundSucceeded {
			t.Fatalf("after the restart: %+v (payrefund calls %d)", rs, g.total())
		}
		if n := e.refundOrders(r.OutNo); n != 1 {
			t.Fatalf("%d refunds at the gateway under %s", n, r.OutNo)
		}
		want := checkout.StatusPartiallyRefunded
		if amount == 1000 {
			want = checkout.StatusRefunded
		}
		if got.Refunded != amount || got.Status != want {
			t.Fatalf("checkout %s refunded %d", got.Status, got.Refunded)
		}
		if n := distinctIDs(e.events.of(c.ID, typ)); n != 1 {
			t.Fatalf("%d %s events; all %v", n, typ, e.events.all(c.ID))
		}
		// A refusal lost with the process (killed before it was recorded)
		// is unknown to anyone: the resend goes through without it.
		deferred, _ := e.rdb.HGet(ctx, e.prefix+"notify:rf:{"+c.ID+"}", "1.refusals").Int()
		if n := distinctIDs(e.events.of(c.ID, webhook.TypeRefundDeferred)); n != deferred {
			t.Fatalf("%d deferred events; all %v", n, e.events.all(c.ID))
		}
		paid := 1
		if scenario == "late" {
			paid = 0
		}
		if len(e.events.of(c.ID, webhook.TypePaid)) != paid || len(e.events.of(c.ID, webhook.TypeRefundFailed)) != 0 {
			t.Fatalf("events %v", e.events.all(c.ID))
		}
		for m := range e.watched() {
			if strings.HasPrefix(m, "r") && strings.Contains(m, c.ID) {
				t.Fatalf("still watched: %s", m)
			}
		}
		if res, err := e.rdb.HGet(ctx, e.prefix+"notify:rf:{"+c.ID+"}", "res:1").Int64(); err != nil || res != amount {
			t.Fatalf("reservation %d %v", res, err)
		}
		return commands
	}
	for _, scenario := range []string{"merchant", "refused once", "late"} {
		t.Run(scenario, func(t *testing.T) {
			// A run without a kill counts the Redis commands.
			var total int
			t.Run("no kill", func(t *testing.T) { total = run(t, scenario, 1<<30) })
			if total == 0 {
				t.Fatal("no Redis command")
			}
			for n := range total {
				t.Run(fmt.Sprintf("killed before command %02d", n), func(t *testing.T) { run(t, scenario, n) })
			}
		})
	}
}

// slowRefusalGate makes the first payrefund slow and refused: while it
// hangs, past its sending claim's lease, during runs (another process
// taking the refund over); then the gateway's refusal comes back.
type slowRefusalGate struct {
	app.Gateway
	mu     sync.Mutex
	calls  int
	during func()
}

func (g *slowRefusalGate) PayRefund(ctx context.Context, st *gateway.Store, r *gateway.RefundRequest) (*gateway.RefundResult, error) {
	g.mu.Lock()
	g.calls++
	first := g.calls == 1
	g.mu.Unlock()
	if !first {
		return g.Gateway.PayRefund(ctx, st, r)
	}
	g.during()
	return nil, &gateway.APIError{Endpoint: gateway.EndpointPayRefund, Code: gateway.CodeRefundExceedsTakings, Msg: "退款金额超过当日交易额"}
}

// TestRefundRefusedAfterTakeover: a merchant refund's first send hangs past
// its claim's lease; the reconciler takes it over, sends it again under the
// same number, and the gateway takes that one. Then the first send's
// refusal arrives. The request still answers its refund (never 409
// checkout_not_refundable), as it is now, and a replay answers the same
// status; the refund counts once.
func TestRefundRefusedAfterTakeover(t *testing.T) {
	g := &slowRefusalGate{}
	e := newEnv(t, envConfig{spy: &gwSpy{Gateway: g}, sandbox: sandbox.Config{DropNotifies: true}})
	g.Gateway = e.gw
	ctx := context.Background()
	c, _ := e.paidCheckout(1000)
	g.during = func() {
		e.clk.Advance(10 * time.Second)
		if r, err := e.svc.ResolveRefund(ctx, c.ID, 1); err != nil || r.Status != payments.RefundSucceeded {
			t.Errorf("takeover: %+v %v", r, err)
		}
	}
	first := e.postRefund(c.ID, "k1", `{"amount":300}`)
	if first.Error != nil || first.ID == "" || first.Status != "succeeded" {
		t.Fatalf("first answer: %d %+v (error %+v)", first.status, first, first.Error)
	}
	again := e.postRefund(c.ID, "k1", `{"amount":300}`)
	if again.status != first.status || again.ID != first.ID || again.Status != "succeeded" {
		t.Fatalf("replay: %d %+v, first %d", again.status, again, first.status)
	}
	r := e.onlyRefund(c.ID)
	if r.Status != payments.RefundSucceeded || e.refundOrders(r.OutNo) != 1 {
		t.Fatalf("refund %+v, %d at the gateway", r, e.refundOrders(r.OutNo))
	}
	if got := e.get(c.ID); got.Refunded != 300 {
		t.Fatalf("refunded %d", got.Refunded)
	}
	if n := distinctIDs(e.events.of(c.ID, webhook.TypeRefundSucceeded)); n != 1 {
		t.Fatalf("%d refund events; all %v", n, e.events.all(c.ID))
	}
}

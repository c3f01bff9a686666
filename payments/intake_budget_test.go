package payments_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// countedKey marks the context whose Redis round trips a tripCounter
// counts, so that the service's background loops are not counted.
type countedKey struct{}

// tripCounter counts the Redis round trips made with a marked context: one
// per command, one per pipeline or transaction (a script is one command).
type tripCounter struct{ n atomic.Int64 }

func (c *tripCounter) count(ctx context.Context) {
	if ctx.Value(countedKey{}) != nil {
		c.n.Add(1)
	}
}

func (c *tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.count(ctx)
		return next(ctx, cmd)
	}
}
func (c *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.count(ctx)
		return next(ctx, cmds)
	}
}

// TestNotifyRoundTrips holds notify intake to its budget (issue 11): a
// first notify of a paid order costs at most 4 Redis round trips besides
// its one paystatus (the webhook event's storage included), and a duplicate
// of the settled order exactly 1 and no paystatus. Scripts are loaded by a
// first order beforehand, as in a running service.
func TestNotifyRoundTrips(t *testing.T) {
	spy := &gwSpy{}
	e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	rt := &tripCounter{}
	e.rdb.AddHook(rt)
	ctx := context.WithValue(context.Background(), countedKey{}, true)

	notify := func(a *checkout.Attempt) (trips int64, paystatus int) {
		t.Helper()
		before, calls := rt.n.Load(), spy.statusCalls(a.OutNo)
		if err := e.svc.Notify(ctx, e.gs.OpenID, e.notifyQuery(a, gateway.StatusPaid)); err != nil {
			t.Fatalf("notify %s: %v", a.OutNo, err)
		}
		return rt.n.Load() - before, spy.statusCalls(a.OutNo) - calls
	}
	paidOrder := func() (*checkout.Checkout, *checkout.Attempt) {
		c := e.newCheckout(1000, 30*time.Minute)
		a := e.order(c, checkout.ScenarioQR, "")
		e.pay(a)
		return c, a
	}
	// Warm the scripts as a running service has them: on a Cluster, each
	// primary caches its own, so warm one order on every primary.
	masters, primaries := map[string]bool{}, int64(1)
	if cc, ok := e.rdb.(*redis.ClusterClient); ok {
		var n atomic.Int64
		if err := cc.ForEachMaster(context.Background(), func(context.Context, *redis.Client) error { n.Add(1); return nil }); err != nil {
			t.Fatal(err)
		}
		primaries = n.Load()
	}
	for i := 0; i < 200 && int64(len(masters)) < primaries; i++ {
		wc, warm := paidOrder()
		notify(warm)
		notify(warm)
		cc, ok := e.rdb.(*redis.ClusterClient)
		if !ok {
			break
		}
		n, err := cc.MasterForKey(context.Background(), "{"+wc.ID+"}")
		if err != nil {
			t.Fatal(err)
		}
		masters[n.Options().Addr] = true
	}

	c, a := paidOrder()
	for _, tc := range []struct {
		name      string
		maxTrips  int64
		minTrips  int64
		paystatus int
	}{
		{"first notify of a paid order", 4, 1, 1},
		{"duplicate of the settled order", 1, 1, 0},
		{"another duplicate", 1, 1, 0},
	} {
		trips, calls := notify(a)
		t.Logf("%s: %d round trips, %d paystatus", tc.name, trips, calls)
		if trips > tc.maxTrips || trips < tc.minTrips || calls != tc.paystatus {
			t.Errorf("%s: %d Redis round trips and %d paystatus calls, want %d..%d and %d",
				tc.name, trips, calls, tc.minTrips, tc.maxTrips, tc.paystatus)
		}
		if got := e.get(c.ID); got.Status != checkout.StatusPaid || got.PaidAttempt != a.Seq {
			t.Fatalf("%s: checkout %s, paid attempt %d", tc.name, got.Status, got.PaidAttempt)
		}
		if evs := e.events.of(c.ID, webhook.TypePaid); len(evs) != 1 {
			t.Fatalf("%s: %d paid events, want 1", tc.name, len(evs))
		}
		if n, err := e.hooks.Pending(context.Background()); err != nil || n < 1 {
			t.Fatalf("%s: %d webhook events pending (%v), want the paid event stored", tc.name, n, err)
		}
	}
}

// TestFirstNotifyKilledAnywhere: the process handling a first notify of a
// paid order dies before any one of its Redis commands (a pipeline dies
// whole); a new process gets the gateway's retry once the claims' leases
// and the paystatus window have passed. The retry is answered success, the
// checkout is paid once, the merchant's paid event is stored once (one
// event id), and the next duplicate is answered from the store, without
// paystatus.
func TestFirstNotifyKilledAnywhere(t *testing.T) {
	run := func(t *testing.T, killAt int) (commands int) {
		rdb := redistest.New(t)
		h := newCmdHook()
		rdb.AddHook(h)
		spy := &gwSpy{}
		e := newEnv(t, envConfig{rdb: rdb, spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
		ctx := context.Background()
		c := e.newCheckout(1000, 30*time.Minute)
		a := e.order(c, checkout.ScenarioQR, "")
		e.pay(a)
		q := e.notifyQuery(a, gateway.StatusPaid)
		h.killAt(killAt)
		var first error
		crashed(func() { first = e.svc.Notify(ctx, e.gs.OpenID, q) })
		commands = h.stop()
		if killAt >= commands && first != nil {
			t.Fatalf("notify, not killed: %v", first)
		}
		e.start()
		e.clk.Advance(10 * time.Second) // past the effect lease (5 s) and the window (2 s)
		if err := e.svc.Notify(ctx, e.gs.OpenID, e.notifyQuery(a, gateway.StatusPaid)); err != nil {
			t.Fatalf("the gateway's retry: %v", err)
		}
		if got := e.get(c.ID); got.Status != checkout.StatusPaid || got.PaidAttempt != a.Seq || got.Late {
			t.Fatalf("checkout %s, paid attempt %d, late %v", got.Status, got.PaidAttempt, got.Late)
		}
		if n := distinctIDs(e.events.of(c.ID, webhook.TypePaid)); n != 1 {
			t.Fatalf("%d paid event ids; events %v", n, e.events.all(c.ID))
		}
		calls := spy.statusCalls(a.OutNo)
		if err := e.svc.Notify(ctx, e.gs.OpenID, e.notifyQuery(a, gateway.StatusPaid)); err != nil {
			t.Fatalf("duplicate: %v", err)
		}
		if n := spy.statusCalls(a.OutNo); n != calls {
			t.Fatalf("a duplicate of the settled order asked paystatus (%d calls, %d before)", n, calls)
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

package payments_test

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/notify"
	"github.com/wallet-checkout/checkout/payments"
)

// roundTrips counts Redis round trips: one per command, one per pipeline
// or transaction.
type roundTrips struct{ n atomic.Int64 }

func (c *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}
func (c *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// paidOrders prepares n attempts paid at the sandbox and not yet known to
// us, with the notify query the gateway would send for each.
func paidOrders(b *testing.B, e *env, n int) []string {
	b.Helper()
	qs := make([]string, n)
	for i := range n {
		c := e.newCheckout(1000, 30*time.Minute)
		a := e.order(c, checkout.ScenarioQR, "")
		e.pay(a)
		qs[i] = e.notifyQuery(a, gateway.StatusPaid).Encode()
	}
	return qs
}

// cannedStatus answers paystatus from answers recorded beforehand, without
// a call: with it a benchmark measures the service's own share of a notify.
type cannedStatus struct {
	app.Gateway
	orders sync.Map // out_no → *gateway.Order
}

func (g *cannedStatus) PayStatus(ctx context.Context, st *gateway.Store, ref gateway.OrderRef) (*gateway.Order, error) {
	if o, ok := g.orders.Load(ref.OutNo); ok {
		c := *o.(*gateway.Order)
		return &c, nil
	}
	return g.Gateway.PayStatus(ctx, st, ref)
}

// BenchmarkNotify measures notify handling against real Redis (when
// reachable) and an in-process sandbox on its own httptest server:
// "service" is Service.Notify of a first-time notify (verify, look up,
// paystatus over HTTP to the sandbox, MarkPaid, paid event, publish);
// "service-canned" the same with paystatus answered from a recorded copy
// (the service's own share: no gateway call at all); "paystatus" the
// gateway call alone, as the service makes it; "duplicate" Service.Notify of
// an order settled already (no paystatus); "http" adds our HTTP handler and
// the gateway's GET to "service". Each op of the first-notify kinds is a
// distinct order.
func BenchmarkNotify(b *testing.B) {
	for _, mode := range []string{"service", "service-canned", "paystatus", "duplicate", "http"} {
		b.Run(mode, func(b *testing.B) {
			canned := &cannedStatus{}
			e := newEnv(b, envConfig{spy: &gwSpy{Gateway: canned}, sandbox: sandbox.Config{DropNotifies: true}})
			canned.Gateway = e.gw
			rt := &roundTrips{}
			e.rdb.AddHook(rt)
			n := b.N
			if mode == "duplicate" {
				n = 1
			}
			qs := paidOrders(b, e, n)
			parsed := make([]map[string][]string, n)
			outNos := make([]string, n)
			for i, q := range qs {
				v, _ := parseQuery(q)
				parsed[i] = v
				outNos[i] = v.Get("out_no")
				if mode == "service-canned" {
					o, err := e.gw.PayStatus(context.Background(), e.gs, gateway.ByOutNo(outNos[i]))
					if err != nil {
						b.Fatal(err)
					}
					canned.orders.Store(outNos[i], o)
				}
			}
			if mode == "duplicate" {
				if err := e.svc.Notify(context.Background(), e.gs.OpenID, parsed[0]); err != nil {
					b.Fatal(err)
				}
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			url := payments.NotifyURL(e.api.URL, e.gs.OpenID) + "?"
			ctx := context.Background()
			var next atomic.Int64
			b.ReportAllocs()
			rt.n.Store(0)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1) - 1
					switch mode {
					case "service", "service-canned":
						if err := e.svc.Notify(ctx, e.gs.OpenID, parsed[i]); err != nil {
							b.Error(err)
						}
					case "duplicate":
						if err := e.svc.Notify(ctx, e.gs.OpenID, parsed[0]); err != nil {
							b.Error(err)
						}
					case "paystatus":
						if _, err := e.gw.PayStatus(ctx, e.gs, gateway.ByOutNo(outNos[i])); err != nil {
							b.Error(err)
						}
					case "http":
						res, err := client.Get(url + qs[i])
						if err != nil {
							b.Error(err)
							continue
						}
						res.Body.Close()
						if res.StatusCode != 200 {
							b.Errorf("status %d", res.StatusCode)
						}
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(rt.n.Load())/float64(b.N), "redis-rt/op")
		})
	}
}

// BenchmarkFanout measures the time from a transition's publish to its
// delivery to 10,000 waiters of one checkout in one process (each waiter a
// goroutine reading its channel, as an SSE stream does), and the memory a
// waiter costs: the hub's part (channel and map entry) and the stack of
// the goroutine serving it.
func BenchmarkFanout(b *testing.B) {
	const waiters = 10_000
	e := newEnv(b, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	h := startHub(b, e)
	id := mustID(b)
	chans := make([]<-chan notify.Update, waiters)
	stops := make([]func(), waiters)
	var m0, m1, m2 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for i := range waiters {
		chans[i], stops[i] = h.Subscribe(id)
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	var wg sync.WaitGroup
	quit := make(chan struct{})
	for _, ch := range chans {
		go func() {
			for {
				select {
				case <-ch:
					wg.Done()
				case <-quit:
					return
				}
			}
		}()
	}
	runtime.GC()
	runtime.ReadMemStats(&m2)
	defer func() {
		close(quit)
		for _, s := range stops {
			s()
		}
	}()
	ctx := context.Background()
	payload := id + " paid 0"
	b.ResetTimer()
	for range b.N {
		wg.Add(waiters)
		if err := e.rdb.Publish(ctx, e.svc.Channel(), payload).Err(); err != nil {
			b.Fatal(err)
		}
		wg.Wait()
	}
	b.StopTimer()
	b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/waiters, "hub-B/waiter")
	b.ReportMetric(float64(int64(m2.StackInuse)-int64(m1.StackInuse))/waiters, "stack-B/waiter")
}

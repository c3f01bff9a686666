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

// BenchmarkNotify measures notify handling against real Redis (when
// reachable) and an in-process sandbox: "service" is Service.Notify (verify,
// look up, paystatus over HTTP to the sandbox, MarkPaid, paid event,
// publish); "http" adds our HTTP handler and the gateway's GET. Each op is
// a distinct, first-time notify, the expensive case.
func BenchmarkNotify(b *testing.B) {
	for _, mode := range []string{"service", "http"} {
		b.Run(mode, func(b *testing.B) {
			e := newEnv(b, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
			rt := &roundTrips{}
			e.rdb.AddHook(rt)
			qs := paidOrders(b, e, b.N)
			parsed := make([]map[string][]string, b.N)
			for i, q := range qs {
				v, _ := parseQuery(q)
				parsed[i] = v
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
					case "service":
						if err := e.svc.Notify(ctx, e.gs.OpenID, parsed[i]); err != nil {
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

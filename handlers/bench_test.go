package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
)

// roundTrips counts what go-redis sends: one per command, one per pipeline
// or MULTI/EXEC block.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// BenchmarkCreateCheckout drives POST /v1/checkouts through the real router
// and Redis (real when reachable) and reports Redis round trips per request.
// The per-key limit stays on, far above what the benchmark sends (as in
// the load harness): its cost is part of a create's.
func BenchmarkCreateCheckout(b *testing.B) {
	high := rates(b, "1000000/s", "", "")
	body := `{"amount":1000,"description":"bench","success_url":"https://shop.example/ok/{CHECKOUT_ID}","metadata":{"k":"v"}}`
	for _, mode := range []string{"plain", "idempotency_key"} {
		b.Run(mode, func(b *testing.B) {
			e := newEnv(b, high)
			rt := &roundTrips{}
			e.rdb.AddHook(rt)
			send := func(i int) {
				req := httptest.NewRequest("POST", "/v1/checkouts", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+e.keyA)
				req.Header.Set("Content-Type", "application/json")
				if mode == "idempotency_key" {
					req.Header.Set("Idempotency-Key", "bench-"+strconv.Itoa(i))
				}
				w := httptest.NewRecorder()
				e.handler.ServeHTTP(w, req)
				if w.Code != http.StatusCreated {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			send(-1) // loads the scripts
			rt.n.Store(0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				send(i)
			}
			b.StopTimer()
			b.ReportMetric(float64(rt.n.Load())/float64(b.N), "redis_rt/op")
		})
	}
	// 64 requests in flight, as the load harness sends them: one key's
	// limiter calls coalesce.
	b.Run("parallel", func(b *testing.B) {
		e := newEnv(b, high)
		rt := &roundTrips{}
		e.rdb.AddHook(rt)
		b.ReportAllocs()
		b.SetParallelism(32)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req := httptest.NewRequest("POST", "/v1/checkouts", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+e.keyA)
				w := httptest.NewRecorder()
				e.handler.ServeHTTP(w, req)
				if w.Code != http.StatusCreated {
					b.Errorf("status %d", w.Code)
					return
				}
			}
		})
		b.StopTimer()
		b.ReportMetric(float64(rt.n.Load())/float64(b.N), "redis_rt/op")
	})
}

// TestCreateRoundTrips pins the budget: a lone create takes at most 3 Redis
// round trips (2 without an Idempotency-Key), one of them the API key's
// rate limit (one EVALSHA). Concurrent creates of one key share the
// limiter's calls (TestCoalescerBatchesAKeysRequests) and their writes'
// pipelines (checkout/batch.go): about 0.2 round trips a create in
// BenchmarkCreateCheckout/parallel.
func TestCreateRoundTrips(t *testing.T) {
	e := newEnv(t)
	rt := &roundTrips{}
	e.rdb.AddHook(rt)
	e.create(e.keyA, `{"amount":1}`) // warm: script loading
	e.do("POST", "/v1/checkouts", e.keyA, `{"amount":1}`, "Idempotency-Key", "warm")
	for _, tc := range []struct {
		hdr  []string
		want int64
	}{{nil, 2}, {[]string{"Idempotency-Key", "rt-1"}, 3}} {
		rt.n.Store(0)
		if r := e.do("POST", "/v1/checkouts", e.keyA, `{"amount":1}`, tc.hdr...); r.status != 201 {
			t.Fatal(r.status)
		}
		if got := rt.n.Load(); got != tc.want {
			t.Fatalf("headers %v: %d round trips, want %d", tc.hdr, got, tc.want)
		}
	}
}

// BenchmarkPayStatusServer is GET /c/{id}/status through the real router
// and Redis without a client (BenchmarkPayStatus has one): what the
// server alone allocates, and its Redis round trips.
func BenchmarkPayStatusServer(b *testing.B) {
	e := newEnv(b)
	id := e.create(e.keyA, `{"amount":1234,"description":"bench"}`)["id"].(string)
	rt := &roundTrips{}
	e.rdb.AddHook(rt)
	req := httptest.NewRequest("GET", "/c/"+id+"/status", nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		e.handler.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	b.ReportMetric(float64(rt.n.Load())/float64(b.N), "redis_rt/op")
}

// BenchmarkPayStatusServerParallel polls one checkout's status from 32
// goroutines per CPU: CPU-bound, as under the load harness.
func BenchmarkPayStatusServerParallel(b *testing.B) {
	e := newEnv(b)
	id := e.create(e.keyA, `{"amount":1234,"description":"bench"}`)["id"].(string)
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "/c/"+id+"/status", nil)
			w := httptest.NewRecorder()
			e.handler.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("status %d", w.Code)
				return
			}
		}
	})
}

// TestPayStatusRoundTrips pins the status poll to one Redis round trip,
// also for what a waiting page polls: a checkout with attempts, whose
// last one decides (here it failed).
func TestPayStatusRoundTrips(t *testing.T) {
	e := newEnv(t)
	rt := &roundTrips{}
	e.rdb.AddHook(rt)
	ctx := context.Background()
	fresh := e.create(e.keyA, `{"amount":1}`)["id"].(string)
	tried := e.create(e.keyA, `{"amount":1}`)["id"].(string)
	a, _, err := e.repo.AddAttempt(ctx, tried, checkout.MethodWeChat, checkout.ScenarioQR)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.repo.UpdateAttempt(ctx, tried, a.Seq, checkout.AttemptFailed, ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ id, want string }{{fresh, `{"status":"open","late":false,"amount":1}`}, {tried, `{"status":"failed","late":false,"amount":1}`}} {
		rt.n.Store(0)
		r := e.do("GET", "/c/"+tc.id+"/status", "", "")
		if r.status != http.StatusOK || string(r.body) != tc.want {
			t.Fatalf("%s: %d %s, want %s", tc.id, r.status, r.body, tc.want)
		}
		if r.header.Get("Content-Length") != strconv.Itoa(len(tc.want)) || r.header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("headers %v", r.header)
		}
		if got := rt.n.Load(); got != 1 {
			t.Errorf("%s: %d round trips, want 1", tc.want, got)
		}
	}
}

package handlers

import (
	"context"
	"crypto/rand"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/wallet-checkout/checkout/internal/redistest"
)

// heldCalls is redis_rate on a real Redis whose first call waits until
// released, so that a test can gather requests behind it.
type heldCalls struct {
	rl      *redis_rate.Limiter
	n       atomic.Int64
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	asked   []int
}

func (h *heldCalls) AllowAtMost(ctx context.Context, key string, limit redis_rate.Limit, n int) (*redis_rate.Result, error) {
	if h.n.Add(1) == 1 {
		close(h.entered)
		<-h.release
	}
	h.mu.Lock()
	h.asked = append(h.asked, n)
	h.mu.Unlock()
	return h.rl.AllowAtMost(ctx, key, limit, n)
}

// waiting is how many requests of key gathered behind its call in flight.
func (co *coalescer) waiting(key string) int {
	co.mu.Lock()
	defer co.mu.Unlock()
	if st := co.keys[key]; st != nil && st.next != nil {
		return st.next.n
	}
	return 0
}

// Requests that arrive while their key's call is in flight go to Redis
// together in one call, and get what one-by-one calls would have given
// them: here a budget of 5, one taken by the first request, 4 of the 9
// that waited allowed (remaining 3, 2, 1, 0), the other 5 refused. The
// refusal is remembered: the next request costs no call.
func TestCoalescerBatchesAKeysRequests(t *testing.T) {
	rdb := redistest.New(t)
	key := "test:" + rand.Text() + ":api"
	t.Cleanup(func() { rdb.Del(context.Background(), "rate:"+key) })
	calls := &heldCalls{rl: redis_rate.NewLimiter(rdb), entered: make(chan struct{}), release: make(chan struct{})}
	co := newCoalescer(calls)
	limit := redis_rate.PerHour(5)
	ctx := context.Background()

	first := make(chan rateVerdict)
	go func() {
		v, err := co.allow(ctx, key, limit)
		if err != nil {
			t.Error(err)
		}
		first <- v
	}()
	<-calls.entered
	const waiters = 9
	verdicts := make([]rateVerdict, waiters)
	var wg sync.WaitGroup
	for i := range waiters {
		wg.Go(func() {
			v, err := co.allow(ctx, key, limit)
			if err != nil {
				t.Error(err)
			}
			verdicts[i] = v
		})
	}
	// The first call is held: the waiters can only gather.
	for co.waiting(key) < waiters {
		time.Sleep(time.Millisecond)
	}
	close(calls.release)
	wg.Wait()
	if v := <-first; !v.allowed || v.remaining != 4 || v.limit != 5 {
		t.Errorf("first request: %+v, want allowed with 4 remaining", v)
	}
	if len(calls.asked) != 2 || calls.asked[1] != waiters {
		t.Fatalf("calls asked for %v, want [1 %d]", calls.asked, waiters)
	}
	remaining := map[int]bool{}
	refused := 0
	for _, v := range verdicts {
		switch {
		case v.allowed:
			remaining[v.remaining] = true
		case v.remaining != 0 || v.retryAfter <= 0 || v.retryAfter > 12*time.Minute || v.resetAfter <= 0:
			t.Errorf("refusal %+v: want 0 remaining, a retry within one interval (12 min), a reset ahead", v)
		default:
			refused++
		}
	}
	if len(remaining) != 4 || !remaining[0] || !remaining[1] || !remaining[2] || !remaining[3] || refused != 5 {
		t.Errorf("allowed with remaining %v and %d refused; want remaining 3, 2, 1, 0 and 5 refused", remaining, refused)
	}

	v, err := co.allow(ctx, key, limit)
	if err != nil || v.allowed || v.retryAfter <= 0 {
		t.Fatalf("after the budget: %+v %v, want a refusal", v, err)
	}
	if n := calls.n.Load(); n != 2 {
		t.Errorf("%d calls, want 2: a remembered refusal costs none", n)
	}
}

// A remembered refusal lasts no longer than Redis's: once its time has
// come, the next request goes to Redis and is allowed.
func TestCoalescerRefusalLapses(t *testing.T) {
	rdb := redistest.New(t)
	key := "test:" + rand.Text() + ":api"
	t.Cleanup(func() { rdb.Del(context.Background(), "rate:"+key) })
	co := newCoalescer(redis_rate.NewLimiter(rdb))
	limit := redis_rate.Limit{Rate: 10, Period: time.Second, Burst: 1}
	ctx := context.Background()
	if v, err := co.allow(ctx, key, limit); err != nil || !v.allowed {
		t.Fatalf("first: %+v %v", v, err)
	}
	v, err := co.allow(ctx, key, limit)
	if err != nil || v.allowed {
		t.Fatalf("second at once: %+v %v, want refused", v, err)
	}
	// The budget only grows while nobody spends it: after the refusal's
	// retry time one more request fits. A margin well under the next
	// emission (100 ms) absorbs the rounding of Redis's clock (miniredis's
	// TIME) against ours.
	time.Sleep(v.retryAfter + 20*time.Millisecond)
	if v, err := co.allow(ctx, key, limit); err != nil || !v.allowed {
		t.Fatalf("after %v: %+v %v, want allowed", v.retryAfter, v, err)
	}
}

// The coalescer keeps no state for idle keys, and never more than
// maxLimiterKeys: beyond, requests go to Redis one by one.
func TestCoalescerStateIsBounded(t *testing.T) {
	rdb := redistest.New(t)
	prefix := "test:" + rand.Text() + ":"
	co := newCoalescer(redis_rate.NewLimiter(rdb))
	ctx := context.Background()
	t.Cleanup(func() {
		for _, k := range []string{"idle", "refused"} {
			rdb.Del(ctx, "rate:"+prefix+k)
		}
	})
	if v, err := co.allow(ctx, prefix+"idle", redis_rate.PerHour(5)); err != nil || !v.allowed {
		t.Fatalf("%+v %v", v, err)
	}
	if len(co.keys) != 0 {
		t.Fatalf("%d keys held after an allowed request, want 0", len(co.keys))
	}
	for range 2 {
		_, _ = co.allow(ctx, prefix+"refused", redis_rate.PerHour(1))
	}
	if len(co.keys) != 1 {
		t.Fatalf("%d keys held after a refusal, want 1", len(co.keys))
	}
	co.mu.Lock()
	for i := range maxLimiterKeys {
		co.keys["k"+strconv.Itoa(i)] = &keyState{refusedUntil: time.Now().Add(time.Hour)}
	}
	co.mu.Unlock()
	if v, err := co.allow(ctx, prefix+"idle", redis_rate.PerHour(5)); err != nil || !v.allowed || v.remaining != 3 {
		t.Fatalf("with the state full: %+v %v, want allowed with 3 remaining", v, err)
	}
	if len(co.keys) > maxLimiterKeys+1 {
		t.Fatalf("%d keys held", len(co.keys))
	}
}

// panicCalls is a limiter whose calls panic, as redis_rate does on a
// reply of an unexpected shape.
type panicCalls struct{}

func (panicCalls) AllowAtMost(context.Context, string, redis_rate.Limit, int) (*redis_rate.Result, error) {
	panic("unexpected reply")
}

// A call that panics is an error for its requests (the limiter fails
// open), and leaves the key idle for the next request, not stuck busy.
func TestCoalescerCallPanics(t *testing.T) {
	co := newCoalescer(panicCalls{})
	for i := range 2 {
		if _, err := co.allow(context.Background(), "k", redis_rate.PerHour(5)); err == nil {
			t.Fatalf("request %d: no error", i)
		}
	}
	if len(co.keys) != 0 {
		t.Errorf("%d keys held after failed calls, want 0", len(co.keys))
	}
}

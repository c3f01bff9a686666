package handlers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

// The limiter's Redis call is a round trip in front of every /v1 request:
// for a create it doubled what the request costs Redis. Two things win
// it back without weakening any limit (docs/performance.md, "create"):
//
//   - Coalescing. Requests of one key that arrive while that key's call is
//     in flight wait for it, then go to Redis together in one call that
//     asks for as many requests as there are waiters (redis_rate's
//     AllowAtMost). Redis decides every request, before it runs, exactly
//     as it would have one by one at that moment: the first m of a batch
//     that got m go on, the rest are refused. Under load a key's requests
//     share one round trip; a lone request costs what it did.
//   - Remembered refusals. When Redis refuses (or gives a batch less than
//     it asked for), no request of that key fits before the time it said,
//     whatever the other replicas do: they can only use the budget, never
//     add to it. Until then this process refuses locally, with no round
//     trip. The time counts from when the call was sent, which is no
//     later than Redis's own "now", so a local refusal never outlives the
//     real one.
//
// Nothing is allowed locally: every request that goes on was counted in
// Redis before it did, so the limit holds across replicas and on every
// topology (each call is still one key, one script). A reserve-ahead
// design (a process takes n requests at once and spends them locally)
// would win the round trip even for a lone request, but lets a process
// spend a request well after Redis counted it, and what it took and did
// not spend is lost to the other replicas; optimistically writing the
// checkout in the same pipeline as the limiter would store (then delete)
// checkouts the limit refuses. Both were rejected.

// maxLimiterKeys bounds the keys whose state the limiter keeps (calls in
// flight, remembered refusals). Beyond it, after dropping what has
// lapsed, a new key's requests go to Redis one by one as before.
const maxLimiterKeys = 10_000

// rateVerdict is the limiter's answer to one request.
type rateVerdict struct {
	allowed bool
	// limit is the requests allowed at once (the burst), remaining those
	// left after this one.
	limit, remaining int
	// retryAfter is how long until one more request fits (refusals only);
	// resetAfter how long until the budget is whole again.
	retryAfter, resetAfter time.Duration
}

// limiterCalls makes the limiter's Redis calls: redis_rate's AllowAtMost
// (tests wrap it to hold a call in flight).
type limiterCalls interface {
	AllowAtMost(ctx context.Context, key string, limit redis_rate.Limit, n int) (*redis_rate.Result, error)
}

// coalescer runs the limiter's calls, one in flight per key at a time,
// and remembers refusals (see above). It is safe for concurrent use.
type coalescer struct {
	calls limiterCalls
	now   func() time.Time

	mu   sync.Mutex
	keys map[string]*keyState
}

func newCoalescer(calls limiterCalls) *coalescer {
	return &coalescer{calls: calls, now: time.Now, keys: map[string]*keyState{}}
}

// keyState is what the coalescer holds for one key.
type keyState struct {
	// busy is set while a call for the key is in flight.
	busy bool
	// next collects the requests that arrived during that call; they go
	// together in the call after it.
	next *rateBatch
	// Until refusedUntil, no request of the key fits: refuse locally.
	// resetAt is when the budget is whole again, as of the same answer.
	refusedUntil, resetAt time.Time
}

// rateBatch is the requests of one call.
type rateBatch struct {
	n    int
	done chan struct{}
	// Set before done is closed.
	sent time.Time
	res  *redis_rate.Result
	err  error
}

// allow decides one request of key under limit. A failed call is
// returned as is (the caller fails open); a request whose context ends
// while it waits for its batch gets the context's error.
func (co *coalescer) allow(ctx context.Context, key string, limit redis_rate.Limit) (rateVerdict, error) {
	now := co.now()
	co.mu.Lock()
	st := co.keys[key]
	if st != nil && now.Before(st.refusedUntil) {
		// Read under the lock: a chained call's finish may change them.
		v := rateVerdict{limit: limit.Burst, retryAfter: st.refusedUntil.Sub(now), resetAfter: st.resetAt.Sub(now)}
		co.mu.Unlock()
		return v, nil
	}
	if st == nil {
		if len(co.keys) >= maxLimiterKeys {
			co.sweep(now)
		}
		if len(co.keys) >= maxLimiterKeys {
			co.mu.Unlock()
			b := &rateBatch{n: 1}
			co.call(ctx, key, limit, b)
			return b.verdict(0, co.now())
		}
		st = &keyState{}
		co.keys[key] = st
	}
	if st.busy {
		b := st.next
		if b == nil {
			b = &rateBatch{done: make(chan struct{})}
			st.next = b
		}
		i := b.n
		b.n++
		co.mu.Unlock()
		select {
		case <-b.done:
			return b.verdict(i, co.now())
		case <-ctx.Done():
			return rateVerdict{}, ctx.Err()
		}
	}
	st.busy = true
	co.mu.Unlock()
	b := &rateBatch{n: 1}
	co.call(ctx, key, limit, b)
	if next := co.finish(key, st, limit, b); next != nil {
		go co.chain(ctx, key, st, limit, next)
	}
	return b.verdict(0, co.now())
}

// call makes b's Redis call. It does not end with ctx: the call decides
// other requests too, and one that gives up must not let them through. A
// panic in it (redis_rate asserts the reply's types) is its error: the
// key's state must be finished, and a chained call has no recovery
// middleware above it.
func (co *coalescer) call(ctx context.Context, key string, limit redis_rate.Limit, b *rateBatch) {
	b.sent = co.now()
	defer func() {
		if v := recover(); v != nil {
			b.res, b.err = nil, fmt.Errorf("rate limiter call for %d requests: panic: %v", b.n, v)
		}
	}()
	b.res, b.err = co.calls.AllowAtMost(context.WithoutCancel(ctx), key, limit, b.n)
}

// chain makes the calls of the batches that gathered behind a call, one
// after the other, until no request waits.
func (co *coalescer) chain(ctx context.Context, key string, st *keyState, limit redis_rate.Limit, b *rateBatch) {
	for b != nil {
		co.call(ctx, key, limit, b)
		next := co.finish(key, st, limit, b)
		close(b.done)
		b = next
	}
}

// finish records b's answer in st and hands over the batch that gathered
// behind it (nil when none: the key is then idle).
func (co *coalescer) finish(key string, st *keyState, limit redis_rate.Limit, b *rateBatch) *rateBatch {
	co.mu.Lock()
	defer co.mu.Unlock()
	if b.err == nil {
		switch res := b.res; {
		case res.Allowed == 0 && res.RetryAfter > 0:
			st.refusedUntil = b.sent.Add(res.RetryAfter)
			st.resetAt = b.sent.Add(res.ResetAfter)
		case res.Allowed > 0 && res.Allowed < b.n:
			// The batch took what was left: one more fits after one
			// emission interval.
			st.refusedUntil = b.sent.Add(emissionInterval(limit))
			st.resetAt = b.sent.Add(res.ResetAfter)
		}
	}
	next := st.next
	st.next = nil
	if next == nil {
		st.busy = false
		if !co.now().Before(st.refusedUntil) && co.keys[key] == st {
			delete(co.keys, key)
		}
	}
	return next
}

// sweep drops the state of idle keys whose refusal has lapsed.
func (co *coalescer) sweep(now time.Time) {
	for k, st := range co.keys {
		if !st.busy && !now.Before(st.refusedUntil) {
			delete(co.keys, k)
		}
	}
}

// emissionInterval is the time one request's share of limit takes to
// come back.
func emissionInterval(limit redis_rate.Limit) time.Duration {
	return limit.Period / time.Duration(limit.Rate)
}

// verdict is the answer of the i-th request of b, as if the batch's
// requests had gone to Redis one by one in that order at the moment of
// the call: the first Allowed go on, each leaving one fewer remaining
// and the budget's reset one interval later; the others are refused.
func (b *rateBatch) verdict(i int, now time.Time) (rateVerdict, error) {
	if b.err != nil {
		return rateVerdict{}, b.err
	}
	res := b.res
	age := now.Sub(b.sent)
	v := rateVerdict{limit: res.Limit.Burst, resetAfter: res.ResetAfter - age}
	if i < res.Allowed {
		later := res.Allowed - 1 - i
		v.allowed = true
		v.remaining = res.Remaining + later
		v.resetAfter -= time.Duration(later) * emissionInterval(res.Limit)
		return v, nil
	}
	v.retryAfter = res.RetryAfter
	if res.Allowed > 0 {
		v.retryAfter = emissionInterval(res.Limit)
	}
	v.retryAfter -= age
	return v, nil
}

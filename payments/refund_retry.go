package payments

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/apiobject"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// A refund the gateway refuses (an errcode such as 8040, "refund exceeds
// today's takings") is not given up at once: the refusal is often gone the
// next hour or day. It waits in phase retrying and is sent again, under the
// same refund_out_no, on a schedule, until the gateway takes it or the retry
// window (counted from the first refusal) is over; only then it fails.

// DefaultRefundRetry is the wait after each refusal of a refund: 5 min, 15
// min, 30 min, 1 h, then every 2 h.
var DefaultRefundRetry = []time.Duration{5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour}

// DefaultRefundRetryFor is how long after its first refusal a refund is
// still retried.
const DefaultRefundRetryFor = 7 * 24 * time.Hour

// refundRetry is the schedule of a refused refund's retries.
type refundRetry struct {
	steps  []time.Duration
	window time.Duration
}

// newRefundRetry checks a retry schedule; empty or zero means the default.
func newRefundRetry(steps []time.Duration, window time.Duration) (refundRetry, error) {
	for _, d := range steps {
		if d <= 0 {
			return refundRetry{}, errors.New("notify: RefundRetry waits must be positive")
		}
	}
	if window < 0 {
		return refundRetry{}, errors.New("notify: RefundRetryFor must not be negative")
	}
	if len(steps) == 0 {
		steps = DefaultRefundRetry
	}
	if window == 0 {
		window = DefaultRefundRetryFor
	}
	return refundRetry{steps: append([]time.Duration(nil), steps...), window: window}, nil
}

// wait is the wait after refusal number k (1 for the first); the last step
// repeats.
func (p refundRetry) wait(k int) time.Duration {
	return p.steps[min(max(k, 1), len(p.steps))-1]
}

// scriptDefer moves refund ARGV[1] of KEYS[1] from sending to retrying at
// ARGV[2], due again at ARGV[3], with the refusal ARGV[4]; it counts the
// refusal, keeps the time of the first one, and makes the record live at
// least ARGV[5] ms more. Returns -1 missing, 0 not sending, 1 moved.
var scriptDefer = redis.NewScript(`
local p = ARGV[1] .. '.'
local st = redis.call('HGET', KEYS[1], p .. 'status')
if not st then return -1 end
if st ~= 'sending' then return 0 end
redis.call('HSET', KEYS[1], p .. 'status', 'retrying', p .. 'updated', ARGV[2], p .. 'next', ARGV[3], p .. 'failure', ARGV[4])
redis.call('HINCRBY', KEYS[1], p .. 'refusals', 1)
redis.call('HSETNX', KEYS[1], p .. 'refused_at', ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return 1
`)

// refused handles the gateway's refusal of refund r, whose sending claim
// the caller holds: it waits for its next try, or fails when that try
// would fall outside the retry window.
func (s *Service) refused(ctx context.Context, c *checkout.Checkout, r *Refund, apiErr *gateway.APIError) error {
	msg := fmt.Sprintf("gateway error %d: %s", int(apiErr.Code), apiErr.Code.Meaning())
	// In the record's precision, so the window's end is the same whoever
	// computes it.
	now := time.UnixMilli(s.now().UnixMilli())
	first := r.refusedAt
	if first.IsZero() {
		first = now
	}
	next := now.Add(s.retry.wait(r.refusals + 1))
	if next.After(first.Add(s.retry.window)) {
		s.log.Error("Refund refused by the gateway until the end of its retry window; it failed",
			"checkout_id", r.CheckoutID, "refund_out_no", r.OutNo, "refusals", r.refusals+1, "error", apiErr)
		_, err := s.setPhase(ctx, r, []string{phaseSending}, phaseFailed, "", msg)
		return err
	}
	s.log.Warn("Refund refused by the gateway; it will be sent again under the same refund_out_no",
		"checkout_id", r.CheckoutID, "refund_out_no", r.OutNo, "next_attempt_at", next, "error", apiErr)
	keep := next.Sub(now) + s.retention
	v, err := scriptDefer.Run(ctx, s.rdb, []string{s.keyRefunds(r.CheckoutID)}, r.n, now.UnixMilli(), next.UnixMilli(), msg,
		keep.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("refund %s: defer: %w", r.OutNo, err)
	}
	if v < 0 {
		return fmt.Errorf("refund %s: defer: %w", r.OutNo, checkout.ErrNotFound)
	}
	if v == 0 {
		// Another process took it over (its sender's lease ran out) and
		// moved it on: the refusal of this send is stale. As it is now.
		fresh, err := s.refund(ctx, r.CheckoutID, r.n)
		if err != nil {
			return err
		}
		*r = *fresh
		return nil
	}
	r.phase, r.Status, r.Failure, r.UpdatedAt, r.NextAttemptAt = phaseRetrying, RefundPending, msg, now, next
	r.refusals++
	if r.refusedAt.IsZero() {
		r.refusedAt = now
	}
	// The merchant is told before the refund's next look moves to its next
	// try: until then the watch member keeps its claim's lease (or the
	// reservation's first check), so a crash here delays the event by a
	// lease, not by the whole wait.
	if err := s.deferredEffect(ctx, c, r); err != nil {
		return err
	}
	// Exactly at its next try (not the earlier-wins of schedule), or
	// sooner while another process holds the event. Should this fail, the
	// member comes back after its lease and the reconciler reschedules it.
	at := nextRefundCheck(r, now, s.lease)
	m := refundMember(r.CheckoutID, r.n)
	if err := s.rdb.ZAdd(ctx, s.keyWatch(m), redis.Z{Score: float64(at.UnixMilli()), Member: m}).Err(); err != nil {
		return fmt.Errorf("refund %s: schedule its next try: %w", r.OutNo, err)
	}
	return nil
}

// deferredEffect tells the merchant, once per refund, that the gateway
// refused it and that it will be tried again (checkout.refund.deferred).
// It runs at the first refusal and again whenever a waiting refund is
// looked at, so an event lost to a crash is still sent. When another
// process holds the event, r is marked to be looked at again within a
// lease, in case that process dies.
func (s *Service) deferredEffect(ctx context.Context, c *checkout.Checkout, r *Refund) error {
	effect := "refund:" + strconv.Itoa(r.n) + ":deferred"
	err := s.runEffect(ctx, r.CheckoutID, effect, func(ctx context.Context) error {
		after := c
		if fresh, err := s.repo.Get(ctx, r.CheckoutID); err == nil {
			after = fresh
		}
		return s.emit(ctx, webhook.TypeRefundDeferred, effect, after, func(e *webhook.Event) { e.Data.Refund = refundInfo(r) })
	})
	if errors.Is(err, ErrBusy) {
		r.eventBusy = true
		return nil
	}
	return err
}

// refundInfo is refund r as the refund events carry it: the API's refund
// object, as the refund calls answer it.
func refundInfo(r *Refund) *apiobject.Refund {
	o := RefundObject(r)
	return &o
}

// nextRefundCheck is when the reconciler looks again at pending refund r:
// at its next try when the gateway refused it (sooner, after step, while
// its deferred event is another process's), else after step.
func nextRefundCheck(r *Refund, now time.Time, step time.Duration) time.Time {
	if r.phase == phaseRetrying && r.NextAttemptAt.After(now) {
		if soon := now.Add(step); r.eventBusy && soon.Before(r.NextAttemptAt) {
			return soon
		}
		return r.NextAttemptAt
	}
	return now.Add(step)
}

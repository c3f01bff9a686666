package payments

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// The watch schedule of a pending attempt, from its creation: checks at
// 5 s, 15 s, 30 s and 1 min, then every 5 min; once its checkout is past
// expiry, every 15 min until 24 h after expiry (the gateway cannot close
// JSAPI, jump and QR orders, and stops notifying after 3 h).
var watchSteps = []time.Duration{5 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute}

const (
	watchEvery       = 5 * time.Minute
	watchLateEvery   = 15 * time.Minute
	watchAfterExpiry = 24 * time.Hour
	// checkNowEvery rate-limits "please check now" per checkout.
	checkNowEvery = 2 * time.Second
)

// Work members of the watch set.
func attemptMember(outNo string) string    { return "a:" + outNo }
func expiryMember(id string) string        { return "x:" + id }
func refundMember(id string, n int) string { return "r:" + id + ":" + strconv.Itoa(n) }
func cancelMember(id string) string        { return "c:" + id }

// memberCheckout is the checkout id a work member is about: every member
// names one ("a:" an out_no of it, the others the id first).
func memberCheckout(m string) string {
	kind, rest, _ := strings.Cut(m, ":")
	if kind == "a" {
		if id, _, ok := checkout.ParseOutNo(rest); ok {
			return id
		}
		return rest
	}
	id, _, _ := strings.Cut(rest, ":")
	return id
}

// MigrateLegacy moves the watch list of the earlier layout (one sorted
// set) into its shards, keeping each member's due time. Safe at every
// start and from several replicas at once (checkout.MoveQueue); a member
// moved after its work was done is stale and is dropped when processed.
func (s *Service) MigrateLegacy(ctx context.Context) (int, error) {
	return checkout.MoveQueue(ctx, s.rdb, s.keyLegacyWatch(), s.keyWatch)
}

// refundIntentMember is a refund's cause (its idempotency field) watched
// before its record is made, with the fence nonce of the request that made
// it (base32: never "idem" or "auto", the start of a cause).
func refundIntentMember(id, nonce, idem string) string { return "ri:" + id + ":" + nonce + ":" + idem }

// intentFence is the refund hash's field that retires the intent with
// nonce: a reservation under that intent is refused once it is set.
func intentFence(nonce string) string { return "fence:" + nonce }

// scriptRetireIntent looks at the cause ARGV[1] of refund hash KEYS[1] for a
// due intent: it returns the refund's number if one was made; else it sets
// the intent's fence ARGV[2] (at ARGV[3], the hash kept at least ARGV[4] ms)
// so that the intent's maker, should it be alive and late, can no longer
// make one, and returns false.
var scriptRetireIntent = redis.NewScript(`
local n = redis.call('HGET', KEYS[1], ARGV[1])
if n then return n end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
end
return false
`)

// schedule puts a work member in the watch set, due at t (an earlier due
// time already there wins).
func (s *Service) schedule(ctx context.Context, member string, t time.Time) error {
	err := s.rdb.ZAddLT(ctx, s.keyWatch(member), redis.Z{Score: float64(t.UnixMilli()), Member: member}).Err()
	if err != nil {
		return fmt.Errorf("schedule %s: %w", member, err)
	}
	return nil
}

// Watch makes the reconciler follow an attempt until it settles. The pages
// call it right after each payorder (and after a payorder timed out).
func (s *Service) Watch(ctx context.Context, outNo string) error {
	if _, _, ok := checkout.ParseOutNo(outNo); !ok {
		return fmt.Errorf("watch %.64q: %w", outNo, ErrUnknownOrder)
	}
	return s.schedule(ctx, attemptMember(outNo), s.now().Add(watchSteps[0]))
}

// CheckNow is the result page's "please check now": it asks the gateway
// about every unsettled attempt of the checkout at once, at most once per
// two seconds per checkout (ErrRateLimited otherwise), and returns the
// checkout as it is after.
func (s *Service) CheckNow(ctx context.Context, checkoutID string) (*checkout.Checkout, error) {
	if !checkout.ValidID(checkoutID) {
		return nil, fmt.Errorf("check %.40q: %w", checkoutID, checkout.ErrNotFound)
	}
	// One check per window of the service's clock (not a TTL: the clock of
	// an embedded Redis may stand still).
	window := s.now().UnixMilli() / checkNowEvery.Milliseconds()
	ok, err := s.rdb.SetNX(ctx, s.keyCheckNow(checkoutID)+":"+strconv.FormatInt(window, 10), "1", 2*checkNowEvery).Result()
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", checkoutID, err)
	}
	if !ok {
		return nil, fmt.Errorf("check %s: %w", checkoutID, ErrRateLimited)
	}
	c, err := s.repo.Get(ctx, checkoutID)
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", checkoutID, err)
	}
	st, err := s.storeOf(c)
	if err != nil {
		return nil, err
	}
	as, err := s.repo.Attempts(ctx, checkoutID)
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", checkoutID, err)
	}
	for _, a := range as {
		if a.Status != checkout.AttemptPending && a.Status != checkout.AttemptUnknown {
			continue
		}
		if _, err := s.confirm(ctx, st, c, a, notifyWait, nil, SourceCheckNow); err != nil && !errors.Is(err, ErrAmountMismatch) {
			return nil, fmt.Errorf("check %s: %w", checkoutID, err)
		}
	}
	if c.Status.Active() && !s.now().Before(c.ExpiresAt) {
		if err := s.expire(ctx, checkoutID); err != nil {
			return nil, err
		}
	}
	return s.repo.Get(ctx, checkoutID)
}

// nextCheck is when attempt a of c is next due, zero when it is no longer
// worth watching.
func nextCheck(c *checkout.Checkout, a *checkout.Attempt, now time.Time) time.Time {
	if !now.Before(c.ExpiresAt) {
		if now.After(c.ExpiresAt.Add(watchAfterExpiry)) {
			return time.Time{}
		}
		return now.Add(watchLateEvery)
	}
	for _, d := range watchSteps {
		if t := a.CreatedAt.Add(d); t.After(now) {
			return t
		}
	}
	return now.Add(watchEvery)
}

// Reconciler runs the periodic work: expiring checkouts, watching pending
// attempts, cancelling what the gateway lets us cancel, resolving refunds.
// Any number of replicas may run one on the same Redis: work is claimed by
// pushing its deadline forward by a lease, so a crashed replica's work is
// due again once the lease runs out.
type Reconciler struct {
	s           *Service
	interval    time.Duration
	batch       int
	concurrency int
	// ticks turns the shard a claim starts from.
	ticks atomic.Uint64
}

// ReconcilerOption configures a Reconciler.
type ReconcilerOption func(*Reconciler)

// WithInterval sets how often Run ticks (default 1 s).
func WithInterval(d time.Duration) ReconcilerOption {
	return func(r *Reconciler) {
		if d > 0 {
			r.interval = d
		}
	}
}

// WithBatch sets how many work items one tick claims (default 100) and how
// many run at once (default 8).
func WithBatch(n, concurrency int) ReconcilerOption {
	return func(r *Reconciler) {
		if n > 0 {
			r.batch = n
		}
		if concurrency > 0 {
			r.concurrency = concurrency
		}
	}
}

// NewReconciler returns a Reconciler for s.
func NewReconciler(s *Service, opts ...ReconcilerOption) *Reconciler {
	r := &Reconciler{s: s, interval: time.Second, batch: 100, concurrency: 8}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Run ticks until ctx ends.
func (r *Reconciler) Run(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		if err := r.Tick(ctx, r.s.now()); err != nil && ctx.Err() == nil {
			r.s.log.Warn("Reconciler tick failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scriptClaim takes up to ARGV[2] members of KEYS[1] due at or before
// ARGV[1] and pushes each one's deadline to ARGV[3]: the claim's lease.
var scriptClaim = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[3], m) end
return due
`)

// claim takes up to the batch of due members from the watch list's
// shards, one shard after another from a shard that turns with each tick
// (so that a backlog in one shard does not starve the others), until the
// batch is full.
func (r *Reconciler) claim(ctx context.Context, now time.Time) ([]string, error) {
	s := r.s
	first := int(r.ticks.Add(1) % checkout.QueueShards)
	var due []string
	for i := 0; i < checkout.QueueShards && len(due) < r.batch; i++ {
		n := (first + i) % checkout.QueueShards
		got, err := scriptClaim.Run(ctx, s.rdb, []string{s.keyWatchShard(n)}, now.UnixMilli(), r.batch-len(due),
			now.Add(s.lease).UnixMilli()).StringSlice()
		if err != nil {
			return due, fmt.Errorf("claim work in shard %d: %w", n, err)
		}
		due = append(due, got...)
	}
	return due, nil
}

// Tick does the work due at now: expires checkouts past their expiry, then
// claims and processes due watch items. Tests drive it with their clock.
func (r *Reconciler) Tick(ctx context.Context, now time.Time) error {
	s := r.s
	ids, err := s.repo.DueForExpiry(ctx, now, r.batch)
	if err != nil {
		return err
	}
	for _, id := range ids {
		// NX, not the earlier-wins of schedule: a member already there is
		// due now or claimed by a replica (its lease is its score), and
		// pulling a claim forward would have two replicas expire it at once.
		err := s.rdb.ZAddNX(ctx, s.keyWatch(expiryMember(id)), redis.Z{Score: float64(now.UnixMilli()), Member: expiryMember(id)}).Err()
		if err != nil {
			return fmt.Errorf("schedule expiry of %s: %w", id, err)
		}
	}
	// What was claimed before a shard failed is done now all the same;
	// the failure is reported after.
	due, claimErr := r.claim(ctx, now)
	sem := make(chan struct{}, r.concurrency)
	var wg sync.WaitGroup
	for _, m := range due {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := r.process(ctx, m, now); err != nil {
				s.log.Warn("Reconciler work failed; retried after its lease", "work", m, "error", err)
			}
		}()
	}
	wg.Wait()
	return claimErr
}

// process does one claimed work item. On success the item is removed or
// rescheduled; on error it stays claimed and comes back after the lease.
func (r *Reconciler) process(ctx context.Context, m string, now time.Time) error {
	s := r.s
	kind, rest, _ := strings.Cut(m, ":")
	switch kind {
	case "a":
		next, err := s.checkAttempt(ctx, rest, now)
		if err != nil {
			return err
		}
		if next.IsZero() {
			return s.rdb.ZRem(ctx, s.keyWatch(m), m).Err()
		}
		return s.rdb.ZAdd(ctx, s.keyWatch(m), redis.Z{Score: float64(next.UnixMilli()), Member: m}).Err()
	case "x":
		if err := s.expire(ctx, rest); err != nil {
			return err
		}
		return s.rdb.ZRem(ctx, s.keyWatch(m), m).Err()
	case "c":
		c, err := s.repo.Get(ctx, rest)
		if errors.Is(err, checkout.ErrNotFound) {
			return s.rdb.ZRem(ctx, s.keyWatch(m), m).Err()
		}
		if err != nil {
			return err
		}
		if c.Status == checkout.StatusCancelled {
			if err := s.cancelledEffect(ctx, c); err != nil {
				return err
			}
		}
		return s.rdb.ZRem(ctx, s.keyWatch(m), m).Err()
	case "r":
		id, ns, _ := strings.Cut(rest, ":")
		n, err := strconv.Atoi(ns)
		if err != nil || !checkout.ValidID(id) {
			return s.rdb.ZRem(ctx, s.keyWatch(m), m).Err()
		}
		rf, err := s.ResolveRefund(ctx, id, n)
		if errors.Is(err, checkout.ErrNotFound) {
			return s.rdb.ZRem(ctx, s.keyWatch(m), m).Err()
		}
		if err != nil {
			return err
		}
		if rf.Status == RefundPending {
			// Ask again in a while, or at the next try of one the gateway
			// refused (finishRefund removes it once final). Set, not the
			// earlier-wins of schedule: the score is this claim's lease.
			next := nextRefundCheck(rf, now, watchSteps[1])
			return s.rdb.ZAdd(ctx, s.keyWatch(m), redis.Z{Score: float64(next.UnixMilli()), Member: m}).Err()
		}
		return nil
	case "li":
		// A payment link's change whose writer did not send its events
		// (died, or the emit failed), or stalled before the change.
		return s.retireLinkIntent(ctx, m, rest)
	case "ri":
		// A refund's maker died between its reservation and its watch
		// member (or stalls before its reservation): watch the refund its
		// cause names, if one was made; else fence the intent off, in the
		// refund hash's slot, before dropping it.
		id, tail, _ := strings.Cut(rest, ":")
		nonce, idem, _ := strings.Cut(tail, ":")
		if nonce == "idem" || nonce == "auto" {
			// Written before intents had a fence.
			nonce, idem = "", tail
		}
		if !checkout.ValidID(id) || idem == "" {
			return s.rdb.ZRem(ctx, s.keyWatch(m), m).Err()
		}
		fence := ""
		if nonce != "" {
			fence = intentFence(nonce)
		}
		v, err := scriptRetireIntent.Run(ctx, s.rdb, []string{s.keyRefunds(id)}, idem, fence, now.UnixMilli(),
			s.retention.Milliseconds()).Text()
		if errors.Is(err, redis.Nil) {
			return s.rdb.ZRem(ctx, s.keyWatch(m), m).Err()
		}
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return s.rdb.ZRem(ctx, s.keyWatch(m), m).Err()
		}
		err = s.rdb.ZAddNX(ctx, s.keyWatch(refundMember(id, n)), redis.Z{Score: float64(now.UnixMilli()), Member: refundMember(id, n)}).Err()
		if err != nil {
			return err
		}
		return s.rdb.ZRem(ctx, s.keyWatch(m), m).Err()
	}
	return s.rdb.ZRem(ctx, s.keyWatch(m), m).Err()
}

// expire expires checkout id if it is due, and does once what follows: the
// event, and a prompt look at its unsettled attempts (cancelling barcode
// orders upstream, watching the others).
func (s *Service) expire(ctx context.Context, id string) error {
	t, err := s.repo.Expire(ctx, id)
	if errors.Is(err, checkout.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if t.Changed {
		s.log.Info("Checkout expired", "checkout_id", id)
		s.publish(ctx, t.Checkout)
	}
	if !t.Changed && t.To != checkout.StatusExpired {
		return nil
	}
	c := t.Checkout
	return s.runEffect(ctx, id, "expired", func(ctx context.Context) error {
		as, err := s.repo.Attempts(ctx, id)
		if err != nil {
			return err
		}
		for _, a := range as {
			if a.Status == checkout.AttemptPending || a.Status == checkout.AttemptUnknown {
				if err := s.schedule(ctx, attemptMember(a.OutNo), s.now()); err != nil {
					return err
				}
			}
		}
		if err := s.releaseLinkSlot(ctx, c); err != nil {
			return err
		}
		return s.emit(ctx, webhook.TypeExpired, "expired", c, nil)
	})
}

// checkAttempt confirms one watched attempt and, when its checkout is no
// longer active, cancels it upstream where the gateway allows (barcode).
// It returns when to look again (zero: stop watching).
func (s *Service) checkAttempt(ctx context.Context, outNo string, now time.Time) (time.Time, error) {
	c, a, err := s.repo.AttemptByOutNo(ctx, outNo)
	if errors.Is(err, checkout.ErrNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	if a.Status == checkout.AttemptFailed || a.Status == checkout.AttemptCancelled {
		return time.Time{}, nil
	}
	st, err := s.storeOf(c)
	if err != nil {
		return time.Time{}, err
	}
	res, err := s.confirm(ctx, st, c, a, 0, nil, SourceReconciler)
	if errors.Is(err, ErrAmountMismatch) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	if res.Settled {
		return time.Time{}, nil
	}
	a = res.Attempt
	if c.Status == checkout.StatusCancelled {
		// The cancel's follow-up may have been cut short (a crash or a Redis
		// error after the transition): its event is owed. Free once done.
		if err := s.cancelledEffect(ctx, c); err != nil {
			return time.Time{}, err
		}
	}
	// A checkout that expired, was cancelled or was paid by another attempt
	// no longer wants this order.
	if !c.Status.Active() || !now.Before(c.ExpiresAt) {
		if a.Scenario.Cancellable() && a.Status == checkout.AttemptPending {
			done, err := s.cancelUpstream(ctx, st, c, a)
			if err != nil {
				return time.Time{}, err
			}
			if done {
				return time.Time{}, nil
			}
		}
	}
	return nextCheck(c, a, now), nil
}

// cancelUpstream closes a barcode order the checkout no longer wants. 8012
// means it is already paid or cancelled: paystatus says which.
func (s *Service) cancelUpstream(ctx context.Context, st *store, c *checkout.Checkout, a *checkout.Attempt) (bool, error) {
	_, err := s.gw.PayCancel(ctx, st.Gateway, gateway.ByOutNo(a.OutNo))
	switch {
	case err == nil:
		if _, err := s.repo.UpdateAttempt(ctx, c.ID, a.Seq, checkout.AttemptCancelled, ""); err != nil &&
			!errors.Is(err, checkout.ErrNotAllowed) {
			return false, err
		}
		s.log.Info("Barcode order cancelled at the gateway", "checkout_id", c.ID, "out_no", a.OutNo)
		s.publish(ctx, c)
		return true, nil
	case errors.Is(err, gateway.ErrNotCancellable):
		res, err := s.confirm(ctx, st, c, a, 0, nil, SourceReconciler)
		if errors.Is(err, ErrAmountMismatch) {
			return true, nil
		}
		return res.Settled, err
	case errors.Is(err, gateway.ErrOutcomeUnknown):
		// Maybe cancelled: the next check's paystatus tells.
		return false, nil
	}
	s.log.Warn("Gateway refused to cancel an order; still watching it", "checkout_id", c.ID, "out_no", a.OutNo, "error", err)
	return false, nil
}

// Cancelled does, once, what follows a merchant's cancel: the
// checkout.cancelled event, and a prompt look at the checkout's unsettled
// attempts (barcode orders are cancelled upstream, the others stay watched
// and, if paid anyway, apply the late policy). The cancel handler calls it
// after checkout.Repo.Cancel reported Changed.
func (s *Service) Cancelled(ctx context.Context, c *checkout.Checkout) error {
	if c == nil || c.Status != checkout.StatusCancelled {
		return fmt.Errorf("cancelled: %w: checkout is not cancelled", checkout.ErrInvalid)
	}
	s.publish(ctx, c)
	if err := s.cancelledEffect(ctx, c); err != nil {
		return err
	}
	return s.rdb.ZRem(ctx, s.keyWatch(cancelMember(c.ID)), cancelMember(c.ID)).Err()
}

// CancelIntent records, before a merchant's cancel is stored, that its
// follow-up is owed. Should the process die between storing the cancel and
// running Cancelled, the reconciler finds the intent after a lease and runs
// the follow-up itself (a checkout without unsettled attempts would
// otherwise never get its checkout.cancelled event); if the cancel was
// never stored, the intent is dropped.
func (s *Service) CancelIntent(ctx context.Context, id string) error {
	return s.schedule(ctx, cancelMember(id), s.now().Add(s.lease))
}

// cancelledEffect is Cancelled's once-only part: the event and a prompt
// look at the unsettled attempts.
func (s *Service) cancelledEffect(ctx context.Context, c *checkout.Checkout) error {
	return s.runEffect(ctx, c.ID, "cancelled", func(ctx context.Context) error {
		as, err := s.repo.Attempts(ctx, c.ID)
		if err != nil {
			return err
		}
		for _, a := range as {
			if a.Status == checkout.AttemptPending || a.Status == checkout.AttemptUnknown {
				if err := s.schedule(ctx, attemptMember(a.OutNo), s.now()); err != nil {
					return err
				}
			}
		}
		if err := s.releaseLinkSlot(ctx, c); err != nil {
			return err
		}
		return s.emit(ctx, webhook.TypeCancelled, "cancelled", c, nil)
	})
}

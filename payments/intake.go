package payments

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
)

// NotifyPath is where the gateway's async notifies arrive: NotifyPath and
// the store's open_id.
const NotifyPath = "/notify/"

const (
	// notifyMaxAge is how old a notify's signed timestamp may be. The
	// gateway retries a notify for 3 hours; a day leaves room for its
	// queue backing up, and anything older is a replay, not a retry.
	notifyMaxAge = 24 * time.Hour
	// notifyMaxAhead is how far ahead of our clock a signed timestamp may
	// be: the gateway's clock may run a little fast, a notify from the
	// future is forged or replayed with a broken clock.
	notifyMaxAhead = 600 * time.Second
	// notifyCheckEvery is the least time between two paystatus calls that
	// notifies make for one order, whatever their number: the gateway may
	// send many copies at once, and each one must not become a query.
	notifyCheckEvery = 2 * time.Second
	// notifyCheckKeep is the lifetime of a window key. It only cleans up:
	// the window itself is the time stored in the key, on the service's
	// clock, because a Redis TTL follows Redis's clock (miniredis's stands
	// still). It also bounds how long a replica whose clock lags another's
	// can be refused.
	notifyCheckKeep = time.Minute
)

var (
	// ErrStaleNotify means a notify's signed timestamp is more than a day
	// old or more than ten minutes ahead of the service's clock: it was
	// refused and changed nothing. Retrying the same notify cannot help
	// (its timestamp only ages), so it is a client error, not a 5xx.
	ErrStaleNotify = errors.New("notify: timestamp outside the accepted window")
	// ErrRecentlyChecked means another notify for the same order asked
	// paystatus moments ago and the stored state is not final (yet):
	// answer a retryable error (503, never 429), the gateway comes back.
	ErrRecentlyChecked = errors.New("notify: order checked moments ago; state not final yet")
)

// NotifySuccess is the exact answer that tells the gateway a notify was
// taken; anything else makes it retry.
const NotifySuccess = gateway.NotifySuccess

// Returned takes the gateway cashier's front-end jump back to checkout c
// (jump_url): it verifies the query with the store's key and checks that it
// names one of c's attempts. It never marks anything paid: only a confirmed
// notify or paystatus does. ErrBadSignature or ErrUnknownOrder mean a forged
// or foreign jump.
func (s *Service) Returned(ctx context.Context, c *checkout.Checkout, q url.Values) error {
	st, err := s.storeOf(c)
	if err != nil {
		return err
	}
	cb, err := gateway.VerifyCallback(st.Gateway.Key, q)
	if err != nil {
		return fmt.Errorf("return to %s: %w: %w", c.ID, ErrBadSignature, err)
	}
	id, seq, ok := checkout.ParseOutNo(cb.OutNo)
	if !ok || id != c.ID || seq > c.Attempts {
		return fmt.Errorf("return to %s: out_no %.64q: %w", c.ID, cb.OutNo, ErrUnknownOrder)
	}
	return nil
}

// NotifyURL is the notify_url to give payorder for a store: the store is in
// the path, because the gateway signs every query field it sends and our
// own query parameters would break the signature.
func NotifyURL(publicURL, openID string) string {
	return strings.TrimRight(publicURL, "/") + NotifyPath + url.PathEscape(openID)
}

// Notify handles one async notify for the store whose open_id is storeToken:
// it verifies the signature with the store's open_key, finds our attempt,
// and confirms it with paystatus (the notify's own status is never trusted:
// a notify saying cancelled for an order paystatus calls paid makes it paid).
// It returns nil only once the gateway's final word is stored and its
// effects are done: then, and only then, answer notify_success.
// ErrUnknownStore and ErrUnknownOrder mean 404, ErrBadSignature 400 (and the
// gateway.ErrCallback of a malformed query), ErrStaleNotify 400 (a signed
// timestamp outside [-24 h, +600 s] of the service clock); anything else,
// ErrRecentlyChecked included, is a temporary failure, to be answered 5xx so
// the gateway retries.
//
// Notifies ask paystatus at most once per notifyCheckEvery per order: a
// notify arriving within another's window is answered from the stored state
// (see awaitSettled), and one whose order is settled in the store is
// answered without asking at all.
func (s *Service) Notify(ctx context.Context, storeToken string, q url.Values) error {
	merchantID, storeID, _, ok := s.accounts.ByOpenID(storeToken)
	st, known := s.accounts.store(s.dir, merchantID, storeID)
	if !ok || !known {
		return fmt.Errorf("notify for store %.40q: %w", storeToken, ErrUnknownStore)
	}
	cb, err := gateway.VerifyCallback(st.Gateway.Key, q)
	if err != nil {
		if errors.Is(err, gateway.ErrCallback) {
			return fmt.Errorf("notify for store %s: %w: %w", st.ID, ErrBadSignature, err)
		}
		return fmt.Errorf("notify for store %s: %w", st.ID, ErrBadSignature)
	}
	if err := s.checkNotifyTime(cb); err != nil {
		return fmt.Errorf("notify for store %s, out_no %.64q: %w", st.ID, cb.OutNo, err)
	}
	c, a, err := s.repo.AttemptByOutNo(ctx, cb.OutNo)
	if errors.Is(err, checkout.ErrNotFound) {
		s.log.Warn("Notify for an order we do not know", "store_id", st.ID, "out_no", cb.OutNo, "ord_no", cb.OrdNo)
		return fmt.Errorf("notify %.64q: %w", cb.OutNo, ErrUnknownOrder)
	}
	if err != nil {
		return fmt.Errorf("notify %s: %w", cb.OutNo, err)
	}
	if c.MerchantID != merchantID || c.StoreID != st.ID || (a.OrdNo != "" && a.OrdNo != cb.OrdNo) {
		s.log.Error("Notify names an order of ours for another store or gateway order",
			"store_id", st.ID, "out_no", cb.OutNo, "ord_no", cb.OrdNo, "checkout_store_id", c.StoreID)
		return fmt.Errorf("notify %s: %w", cb.OutNo, ErrUnknownOrder)
	}
	return s.confirmThrottled(ctx, st, c, a, cb)
}

// confirmThrottled answers a verified notify for attempt a: from the store
// when it is settled there (no paystatus), from the store after a bounded
// wait when another notify asked paystatus within the last
// notifyCheckEvery, and otherwise by asking paystatus itself, with the
// window held until its outcome is stored.
func (s *Service) confirmThrottled(ctx context.Context, st *store, c *checkout.Checkout, a *checkout.Attempt,
	cb gateway.Callback,
) error {
	settled, err := s.settledInStore(ctx, c, a)
	if err != nil {
		return fmt.Errorf("notify %s: %w", cb.OutNo, err)
	}
	if settled && !claimsNewPayment(cb, a) {
		return nil
	}
	key := s.keyNotifyCheck(c.ID, a.OutNo)
	claim, err := s.claimNotifyCheck(ctx, key)
	if err != nil {
		return fmt.Errorf("notify %s: %w", cb.OutNo, err)
	}
	if claim == "" {
		return s.awaitSettled(ctx, cb.OutNo, key)
	}
	defer s.endNotifyCheck(ctx, key, claim)
	return s.confirmNotify(ctx, st, c, a, cb)
}

// confirmNotify asks paystatus about the notified attempt and maps the
// outcome to Notify's answer.
func (s *Service) confirmNotify(ctx context.Context, st *store, c *checkout.Checkout, a *checkout.Attempt,
	cb gateway.Callback,
) error {
	res, err := s.confirm(ctx, st, c, a, notifyWait)
	switch {
	case errors.Is(err, ErrAmountMismatch):
		// Alert raised and the attempt taken out of play: retrying cannot
		// change anything.
		return nil
	case errors.Is(err, ErrNotOurs):
		return fmt.Errorf("notify %s: %w", cb.OutNo, ErrUnknownOrder)
	case err != nil:
		return fmt.Errorf("notify %s: %w", cb.OutNo, err)
	case res.NotFound:
		return fmt.Errorf("notify %s: paystatus does not know it: %w", cb.OutNo, ErrUnknownOrder)
	case !res.Settled:
		return fmt.Errorf("notify %s: %w (status %s)", cb.OutNo, ErrNotSettled, res.Gateway)
	}
	return nil
}

// checkNotifyTime refuses a notify whose signed timestamp is more than
// notifyMaxAge behind the service's clock or more than notifyMaxAhead ahead
// of it. A late retry within the gateway's 3 hours passes. It compares whole
// seconds, as signed, and never subtracts the timestamp, so no value (a
// negative or huge one) can overflow.
func (s *Service) checkNotifyTime(cb gateway.Callback) error {
	ts, now := cb.Timestamp.Unix(), s.now().Unix()
	switch {
	case ts < now-int64(notifyMaxAge/time.Second):
		return fmt.Errorf("%w: signed at %d, more than %s before our clock (%d)", ErrStaleNotify, ts, notifyMaxAge, now)
	case ts > now+int64(notifyMaxAhead/time.Second):
		return fmt.Errorf("%w: signed at %d, more than %s after our clock (%d)", ErrStaleNotify, ts, notifyMaxAhead, now)
	}
	return nil
}

// claimsNewPayment reports whether the notify says paid for an attempt we
// hold cancelled or failed. Such a claim is still worth one paystatus per
// window: the repository records money that arrives after all (and confirm
// then keeps or refunds it by policy), so answering it from the store alone
// could hide a real payment.
func claimsNewPayment(cb gateway.Callback, a *checkout.Attempt) bool {
	return cb.Status == gateway.StatusPaid && a.Status != checkout.AttemptPaid
}

// settledInStore reports whether the stored state of attempt a of c is
// final: paid with what follows done, cancelled, or failed with no amount
// mismatch alert still being raised.
func (s *Service) settledInStore(ctx context.Context, c *checkout.Checkout, a *checkout.Attempt) (bool, error) {
	var effect string
	switch a.Status {
	case checkout.AttemptCancelled:
		return true, nil
	case checkout.AttemptPaid:
		effect = paidEffect(c, a)
	case checkout.AttemptFailed:
		effect = mismatchEffect(a.Seq)
	default:
		return false, nil
	}
	v, err := s.rdb.Get(ctx, s.keyEffect(c.ID, effect)).Result()
	if errors.Is(err, redis.Nil) {
		// No marker: a failed attempt had no alert to raise; a paid one's
		// effect has not started.
		return a.Status == checkout.AttemptFailed, nil
	}
	if err != nil {
		return false, fmt.Errorf("state of %s: %w", a.OutNo, err)
	}
	return v == "done", nil
}

// keyNotifyCheck is the paystatus window of one order's notifies; it shares
// the checkout's hash slot.
func (s *Service) keyNotifyCheck(id, outNo string) string {
	return s.prefix + "nchk:{" + id + "}:" + outNo
}

// scriptClaimNotifyCheck opens a paystatus window for KEYS[1] at ARGV[1]
// (unix ms of the service's clock) unless one opened less than ARGV[2] ms
// before (or later, by a replica whose clock runs ahead). The value is
// "<ms>:run" until the check ends, then "<ms>:end". ARGV[3] is the TTL in
// ms, for cleanup only. Returns 1 opened, 0 refused.
var scriptClaimNotifyCheck = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then
  local last = tonumber(string.match(v, '^%-?%d+'))
  if last and tonumber(ARGV[1]) - last < tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ':run', 'PX', ARGV[3])
return 1
`)

// scriptEndNotifyCheck marks the window KEYS[1] ended if it is still the
// one opened as ARGV[1] (a later window is left alone).
var scriptEndNotifyCheck = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 0
`)

// claimNotifyCheck opens the paystatus window of key on the service's
// clock. It returns the window's running value, or "" when another notify
// holds the window. One script, so it holds across processes.
func (s *Service) claimNotifyCheck(ctx context.Context, key string) (string, error) {
	ms := strconv.FormatInt(s.now().UnixMilli(), 10)
	ok, err := scriptClaimNotifyCheck.Run(ctx, s.rdb, []string{key}, ms, notifyCheckEvery.Milliseconds(),
		notifyCheckKeep.Milliseconds()).Int()
	if err != nil {
		return "", fmt.Errorf("paystatus window: %w", err)
	}
	if ok == 0 {
		return "", nil
	}
	return ms + ":run", nil
}

// endNotifyCheck tells notifies waiting in the window that its check is
// over. On failure they wait out notifyWait and answer 503: safe.
func (s *Service) endNotifyCheck(ctx context.Context, key, claim string) {
	// A fresh context: the caller's may be what failed.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	ended := strings.TrimSuffix(claim, ":run") + ":end"
	if err := scriptEndNotifyCheck.Run(ctx, s.rdb, []string{key}, claim, ended, notifyCheckKeep.Milliseconds()).Err(); err != nil {
		s.log.Warn("Could not end a notify's paystatus window; duplicates answer 503 until it passes",
			"key", key, "error", err)
	}
}

// notifyCheckEnded reports whether no notify is checking the order of key
// right now (the window's check ended, or there is no window).
func (s *Service) notifyCheckEnded(ctx context.Context, key string) (bool, error) {
	v, err := s.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("paystatus window: %w", err)
	}
	return !strings.HasSuffix(v, ":run"), nil
}

// awaitSettled answers a notify that arrived within another notify's
// paystatus window, without asking paystatus itself: nil once that check
// has ended and the stored state is final; ErrRecentlyChecked when it ended
// with the state not final, or when it is still running after notifyWait
// (the gateway retries; by then the window has passed).
func (s *Service) awaitSettled(ctx context.Context, outNo, key string) error {
	deadline := time.Now().Add(notifyWait)
	delay := 10 * time.Millisecond
	for {
		// The window first: a state read after seeing the check ended
		// includes everything that check stored.
		ended, err := s.notifyCheckEnded(ctx, key)
		if err != nil {
			return fmt.Errorf("notify %s: %w", outNo, err)
		}
		c, a, err := s.repo.AttemptByOutNo(ctx, outNo)
		if err != nil {
			return fmt.Errorf("notify %s: %w", outNo, err)
		}
		settled, err := s.settledInStore(ctx, c, a)
		switch {
		case err != nil:
			return fmt.Errorf("notify %s: %w", outNo, err)
		case ended && settled:
			return nil
		case ended:
			return fmt.Errorf("notify %s: %w (attempt %s)", outNo, ErrRecentlyChecked, a.Status)
		case time.Now().After(deadline):
			return fmt.Errorf("notify %s: %w (still being checked)", outNo, ErrRecentlyChecked)
		}
		if err := sleepCtx(ctx, delay); err != nil {
			return fmt.Errorf("notify %s: %w: %w", outNo, ErrRecentlyChecked, err)
		}
		delay = min(delay*2, 200*time.Millisecond)
	}
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

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
// notify or paystatus does. When the signed query says the payer cancelled
// at the cashier, the attempt is marked returned unpaid
// (checkout.Attempt.ReturnedUnpaid), so the payer's page says at once that
// the payment was not completed instead of waiting for a confirmation
// that never comes: the order usually stays payable at the gateway
// (closing the cashier does not cancel it), so paystatus alone would leave
// it pending until the checkout expires. The attempt itself stays pending
// and watched: a payment that lands on it later still counts. Any other
// status (paid, or still awaiting payment while the money is on its way)
// removes such a mark of an earlier return: the payer went back to the
// same order, which may be being paid. saidPaid reports a signed "paid":
// the payer's wallet paid at the cashier, which is the wallet's OK of the
// JS bridges (the result page then never offers a bare "pay again",
// PayAgainAfterWalletOK), still not a payment until confirmed.
// ErrBadSignature or ErrUnknownOrder mean a forged or foreign jump.
func (s *Service) Returned(ctx context.Context, c *checkout.Checkout, q url.Values) (saidPaid bool, err error) {
	st, err := s.storeOf(c)
	if err != nil {
		return false, err
	}
	cb, err := gateway.VerifyCallback(st.Gateway.Key, q)
	if err != nil {
		return false, fmt.Errorf("return to %s: %w: %w", c.ID, ErrBadSignature, err)
	}
	id, seq, ok := checkout.ParseOutNo(cb.OutNo)
	if !ok || id != c.ID || seq > c.Attempts {
		return false, fmt.Errorf("return to %s: out_no %.64q: %w", c.ID, cb.OutNo, ErrUnknownOrder)
	}
	saidPaid = cb.Status == gateway.StatusPaid
	mark := s.repo.ClearReturnedUnpaid
	if cb.Status == gateway.StatusCanceled {
		mark = s.repo.MarkReturnedUnpaid
	}
	changed, err := mark(ctx, c.ID, seq)
	if err != nil {
		// The jump is genuine: the payer only waits for the reconciler
		// instead of seeing "not completed" at once.
		s.log.Warn("Could not record the payer's return from the cashier", "checkout_id", c.ID, "out_no", cb.OutNo, "error", err)
		return saidPaid, nil
	}
	if changed {
		s.publish(ctx, c)
	}
	return saidPaid, nil
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
	return s.intake(ctx, st, merchantID, cb)
}

// intake answers a verified notify in one look at the store (scriptIntake):
// from the store when the order is settled there (no paystatus), from the
// store after a bounded wait when another notify asked paystatus within the
// last notifyCheckEvery, and otherwise by asking paystatus itself, with the
// window held until its outcome is stored.
func (s *Service) intake(ctx context.Context, st *store, merchantID string, cb gateway.Callback) error {
	id, seq, ok := checkout.ParseOutNo(cb.OutNo)
	if !ok {
		s.log.Warn("Notify for an order we do not know", "store_id", st.ID, "out_no", cb.OutNo, "ord_no", cb.OrdNo)
		return fmt.Errorf("notify %.64q: %w", cb.OutNo, ErrUnknownOrder)
	}
	keys := s.intakeKeys(id, seq, cb.OutNo)
	says := "0"
	if cb.Status == gateway.StatusPaid {
		says = "1"
	}
	ms := strconv.FormatInt(s.now().UnixMilli(), 10)
	c, a, v, err := s.repo.ReadAttempt(ctx, scriptIntake, cb.OutNo, keys, "claim", merchantID, st.ID, cb.OrdNo, says,
		ms, notifyCheckEvery.Milliseconds(), notifyCheckKeep.Milliseconds())
	if errors.Is(err, checkout.ErrNotFound) {
		s.log.Warn("Notify for an order we do not know", "store_id", st.ID, "out_no", cb.OutNo, "ord_no", cb.OrdNo)
		return fmt.Errorf("notify %.64q: %w", cb.OutNo, ErrUnknownOrder)
	}
	if err != nil {
		return fmt.Errorf("notify %s: %w", cb.OutNo, err)
	}
	settled, window, err := intakeAnswer(v)
	if err != nil {
		return fmt.Errorf("notify %s: %w", cb.OutNo, err)
	}
	if c == nil {
		// The script checked the store and found the order settled: it
		// sent no records, as this answer needs none.
		if settled && window < 0 {
			return nil
		}
		return fmt.Errorf("notify %s: intake script sent no records (settled %v, window %d)", cb.OutNo, settled, window)
	}
	t := &tail{}
	if window == 1 {
		t.window, t.claim = keys[0], ms+":run"
	}
	defer s.flushTail(ctx, t)
	if c.MerchantID != merchantID || c.StoreID != st.ID || (a.OrdNo != "" && a.OrdNo != cb.OrdNo) {
		s.log.Error("Notify names an order of ours for another store or gateway order",
			"store_id", st.ID, "out_no", cb.OutNo, "ord_no", cb.OrdNo, "checkout_store_id", c.StoreID)
		return fmt.Errorf("notify %s: %w", cb.OutNo, ErrUnknownOrder)
	}
	switch window {
	case 1:
		err := s.confirmNotify(ctx, st, c, a, cb, t)
		// A window still held here ends with its outcome: copies of a
		// notify claiming a new payment are answered from the store only
		// after a check that went through.
		t.failed = err != nil
		return err
	case 0:
		return s.awaitSettled(ctx, cb.OutNo, keys, says)
	}
	if !settled {
		// The script asks for the window whenever the order is not
		// settled: this cannot happen, and must not be answered success.
		return fmt.Errorf("notify %s: %w (no paystatus window asked)", cb.OutNo, ErrRecentlyChecked)
	}
	return nil
}

// intakeKeys are the keys scriptIntake reads besides the checkout's: the
// order's paystatus window and the effect markers that say whether it is
// settled (paidEffect, mismatchEffect).
func (s *Service) intakeKeys(id string, seq int, outNo string) []string {
	return []string{s.keyNotifyCheck(id, outNo), s.keyEffect(id, "paid"), s.keyEffect(id, dupEffect(seq)),
		s.keyEffect(id, mismatchEffect(seq))}
}

// scriptIntake is a notify's one look at the store, run by
// checkout.Repo.ReadAttempt with the checkout and attempt read in the same
// step. keys: 1 the paystatus window, 2 the "paid" effect marker, 3 the
// attempt's "dup:<seq>" marker, 4 its "mismatch:<seq>" marker (intakeKeys).
// args: 1 "claim" or "look"; for "claim", 2 the store's merchant, 3 the
// store, 4 the notify's ord_no, 5 "1" when the notify says paid, 6 now (unix
// ms of the service's clock), 7 notifyCheckEvery, 8 notifyCheckKeep (ms).
//
// It answers {settled, window}, without the records when that answer says
// all (a settled order, this store's). settled is 1 when the stored state of the
// attempt is final: paid with what follows done (the marker paidEffect
// names), cancelled, or failed with no amount-mismatch alert still being
// raised. In "claim" mode, window is 1 when this notify opened the
// paystatus window, 0 when another notify's window is open, and -1 when none
// was asked: the order is settled and the notify claims no new payment, or
// the order is another store's or another gateway order's (Notify refuses
// it; a foreign notify must not hold the window). A notify saying paid for
// an attempt we hold cancelled or failed claims a new payment: it is still
// worth one paystatus per window, as the repository records money that
// arrives after all (and confirm then keeps or refunds it by policy), so
// answering it from the store alone could hide a real payment.
// In "look" mode (args: 2 "1" when the notify says paid) nothing is
// written, and window is 1 when no check is running (it ended, or there is
// no window) and 0 when one is. A notify claiming a new payment is settled
// there only once a check ended that went through ("<ms>:end"): after one
// that failed ("<ms>:fail", paystatus unreachable, say) nothing confirmed
// the claim, and answering it success would let the gateway stop sending
// a payment nobody recorded.
//
// A window opens at now unless one opened less than notifyCheckEvery
// before (or later, by a replica whose clock runs ahead); its value is
// "<ms>:run" until its check ends (scriptEndNotifyCheck), then "<ms>:end",
// or "<ms>:fail" when the check failed.
// The window is a time in the value, on the service's clock, because a
// Redis TTL follows Redis's clock (miniredis's stands still); the TTL only
// cleans up.
var scriptIntake = checkout.NewAttemptScript(`
local settled = 0
local st = attempt.status
if st == 'cancelled' then
  settled = 1
elseif st == 'paid' then
  local marker = keys[3]
  if checkout.paid_attempt == attempt.seq then marker = keys[2] end
  if redis.call('GET', marker) == 'done' then settled = 1 end
elseif st == 'failed' then
  local v = redis.call('GET', keys[4])
  if not v or v == 'done' then settled = 1 end
end
local w = redis.call('GET', keys[1])
if args[1] == 'look' then
  if w and string.sub(w, -4) == ':run' then return {settled, 0} end
  if args[2] == '1' and st ~= 'paid' and not (w and string.sub(w, -4) == ':end') then settled = 0 end
  return {settled, 1}
end
if checkout.merchant ~= args[2] or checkout.store ~= args[3] or (attempt.ord_no ~= '' and attempt.ord_no ~= args[4]) then
  return {settled, -1}
end
if settled == 1 and not (args[5] == '1' and st ~= 'paid') then return {settled, -1}, true end
if w then
  local last = tonumber(string.match(w, '^%-?%d+'))
  if last and tonumber(args[6]) - last < tonumber(args[7]) then return {settled, 0} end
end
redis.call('SET', keys[1], args[6] .. ':run', 'PX', args[8])
return {settled, 1}
`)

// intakeAnswer reads scriptIntake's answer.
func intakeAnswer(v any) (settled bool, window int64, err error) {
	a, _ := v.([]any)
	if len(a) != 2 {
		return false, 0, fmt.Errorf("intake script answered %v", v)
	}
	s, ok1 := a[0].(int64)
	w, ok2 := a[1].(int64)
	if !ok1 || !ok2 {
		return false, 0, fmt.Errorf("intake script answered %v", v)
	}
	return s == 1, w, nil
}

// confirmNotify asks paystatus about the notified attempt and maps the
// outcome to Notify's answer.
func (s *Service) confirmNotify(ctx context.Context, st *store, c *checkout.Checkout, a *checkout.Attempt,
	cb gateway.Callback, t *tail,
) error {
	res, err := s.confirm(ctx, st, c, a, notifyWait, t, SourceNotify)
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

// keyNotifyCheck is the paystatus window of one order's notifies; it shares
// the checkout's hash slot.
func (s *Service) keyNotifyCheck(id, outNo string) string {
	return s.prefix + "nchk:{" + id + "}:" + outNo
}

// scriptEndNotifyCheck marks the window KEYS[1] ended if it is still the
// one opened as ARGV[1] (a later window is left alone).
var scriptEndNotifyCheck = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 0
`)

// awaitSettled answers a notify that arrived within another notify's
// paystatus window, without asking paystatus itself: nil once that check
// has ended and the stored state is final; ErrRecentlyChecked when it ended
// with the state not final, or when it is still running after notifyWait
// (the gateway retries; by then the window has passed). Each look reads
// the window and the state in one step, so a check seen ended is seen with
// everything it stored. says is "1" when the notify says paid: such a claim
// on an attempt not paid is final only after a check that went through.
func (s *Service) awaitSettled(ctx context.Context, outNo string, keys []string, says string) error {
	deadline := time.Now().Add(notifyWait)
	delay := 10 * time.Millisecond
	for {
		_, a, v, err := s.repo.ReadAttempt(ctx, scriptIntake, outNo, keys, "look", says)
		if err != nil {
			return fmt.Errorf("notify %s: %w", outNo, err)
		}
		settled, ended, err := intakeAnswer(v)
		switch {
		case err != nil:
			return fmt.Errorf("notify %s: %w", outNo, err)
		case ended == 1 && settled:
			return nil
		case ended == 1:
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

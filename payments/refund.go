package payments

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/apiobject"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// RefundKind says why a refund was made.
type RefundKind string

// The refund kinds.
const (
	// KindMerchant is a refund the merchant asked for.
	KindMerchant RefundKind = "merchant"
	// KindDuplicate refunds a second payment of an already paid checkout.
	KindDuplicate RefundKind = "duplicate"
	// KindLate refunds a payment that came after expiry or cancellation
	// (late policy refund).
	KindLate RefundKind = "late"
)

// RefundStatus is where a refund is, as the merchant sees it.
type RefundStatus string

// The refund statuses.
const (
	RefundPending   RefundStatus = "pending"
	RefundSucceeded RefundStatus = "succeeded"
	RefundFailed    RefundStatus = "failed"
)

// Internal phases of a refund record (docs/money.md). created: reserved,
// not yet sent; sending: one process is calling payrefund (a claim with a
// lease from updated); unknown: the call's outcome is unknown and paystatus
// on refund_out_no will tell; retrying: the gateway refused it and it is
// sent again at next. A refund the gateway proves it never created is sent
// again, always under the same refund_out_no.
const (
	phaseCreated   = "created"
	phaseSending   = "sending"
	phaseUnknown   = "unknown"
	phaseRetrying  = "retrying"
	phaseSucceeded = "succeeded"
	phaseFailed    = "failed"
)

// MaxReasonLen bounds a refund's reason, in characters (payrefund's remark
// takes 100; we keep room).
const MaxReasonLen = 80

// Errors of refunds.
var (
	// ErrExceedsRefundable means the amount is more than what is left to
	// refund (counting refunds still in progress).
	ErrExceedsRefundable = errors.New("refund exceeds the amount left to refund")
	// ErrIdempotencyConflict means the Idempotency-Key was used for another
	// refund request.
	ErrIdempotencyConflict = errors.New("idempotency key reused with a different refund request")
	// ErrRefundInterrupted means the request stalled so long that the
	// reconciler gave its intent up: nothing was reserved or sent; asking
	// again is safe.
	ErrRefundInterrupted = errors.New("refund interrupted before its reservation; nothing was reserved, try again")
	// ErrAnswerNotRecorded means the refund exists (and may have been
	// sent) but the status of this first answer could not be recorded:
	// the request must fail retryably, and its retry with the same
	// Idempotency-Key answers the refund.
	ErrAnswerNotRecorded = errors.New("the refund's first answer could not be recorded; try again with the same Idempotency-Key")
)

// Refund is one refund of a checkout.
type Refund struct {
	// ID is the refund's public id: re_ and its gateway refund_out_no.
	ID         string
	CheckoutID string
	// Attempt is the payment attempt refunded.
	Attempt int
	// OutNo is the refund's refund_out_no at the gateway.
	OutNo  string
	OrdNo  string
	Amount int64
	Reason string
	Kind   RefundKind
	Status RefundStatus
	// Failure says why it failed or, while it is pending, the gateway's
	// last refusal.
	Failure   string
	CreatedAt time.Time
	UpdatedAt time.Time
	// NextAttemptAt is when a refund the gateway refused is sent again
	// (zero unless it waits for that).
	NextAttemptAt time.Time
	// FirstStatus is the status the first answer to the merchant's request
	// reported (empty until answered): a replay of the request answers the
	// way the first answer did (201 or 202), with the current state.
	FirstStatus RefundStatus

	n         int
	phase     string
	sends     int       // payrefund claims so far
	refusals  int       // refusals by the gateway so far
	refusedAt time.Time // the first refusal
	eventBusy bool      // its deferred event was another process's at the last look
}

// RefundRequest is a merchant's refund.
type RefundRequest struct {
	Amount int64 // fen
	Reason string
	// IdempotencyKey makes retries safe: the same key returns the same
	// refund (and sends nothing again).
	IdempotencyKey string
}

// refundOutNo is the gateway refund_out_no of refund n of a checkout: the
// id's random part, R and n (letters and digits only, unlike any attempt's
// out_no, which ends in digits after the random part).
func refundOutNo(checkoutID string, n int) string {
	base := checkout.OutNo(checkoutID, 1)
	return base[:len(base)-1] + "R" + strconv.Itoa(n)
}

// scriptReserve creates refund record n of KEYS[1] unless the idempotency
// field ARGV[1] names one already, reserving ARGV[4] fen of attempt ARGV[2]
// whose paid amount is ARGV[3] (ARGV[4] = 0: all that is left of it, {-1,
// reserved} when nothing is). ARGV[9] is the fence of the caller's
// intent: the reconciler sets it when it retires that intent with no refund
// made, and a record is then never made under it. Returns {0, n} existing,
// {-1, reserved} exceeds, {-2, empty} fenced, {1, n} created.
var scriptReserve = redis.NewScript(`
local n = redis.call('HGET', KEYS[1], ARGV[1])
if n then return {0, n} end
if ARGV[9] ~= '' and redis.call('HEXISTS', KEYS[1], ARGV[9]) == 1 then return {-2, ''} end
local rk = 'res:' .. ARGV[2]
local res = tonumber(redis.call('HGET', KEYS[1], rk) or '0')
local amount = tonumber(ARGV[4])
if amount == 0 then amount = tonumber(ARGV[3]) - res end
if amount <= 0 or res + amount > tonumber(ARGV[3]) then return {-1, tostring(res)} end
n = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HINCRBY', KEYS[1], rk, amount)
local p = n .. '.'
redis.call('HSET', KEYS[1], ARGV[1], n, p .. 'seq', ARGV[2], p .. 'amount', tostring(amount), p .. 'reason', ARGV[5],
  p .. 'kind', ARGV[6], p .. 'status', 'created', p .. 'created', ARGV[7], p .. 'updated', ARGV[7], p .. 'ord_no', '', p .. 'failure', '')
redis.call('PEXPIRE', KEYS[1], ARGV[8])
return {1, tostring(n)}
`)

// scriptPhase moves refund ARGV[1] of KEYS[1] from one of the phases ARGV[2]
// (",a,b,") to ARGV[3] at ARGV[4], setting ord_no ARGV[5] and failure ARGV[6]
// when not empty. A failed refund gives its reservation back; a succeeded
// one forgets the refusals it had. Returns -1 missing, 0 refused, 1 moved.
var scriptPhase = redis.NewScript(`
local p = ARGV[1] .. '.'
local st = redis.call('HGET', KEYS[1], p .. 'status')
if not st then return -1 end
if not string.find(ARGV[2], ',' .. st .. ',', 1, true) then return 0 end
redis.call('HSET', KEYS[1], p .. 'status', ARGV[3], p .. 'updated', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], p .. 'ord_no', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], p .. 'failure', ARGV[6]) end
if ARGV[3] == 'succeeded' then redis.call('HSET', KEYS[1], p .. 'failure', '') end
if ARGV[3] == 'failed' then
  local seq = redis.call('HGET', KEYS[1], p .. 'seq')
  redis.call('HINCRBY', KEYS[1], 'res:' .. seq, -tonumber(redis.call('HGET', KEYS[1], p .. 'amount')))
end
return 1
`)

// scriptClaimSend gives refund ARGV[1] of KEYS[1] to one sender: it moves it
// from one of the phases ARGV[2] (",a,b,") to sending at ARGV[4], only if
// it was sent ARGV[3] times so far, and counts the send. Of any number of
// callers that read the same record, one wins. Returns -1 missing, 0
// taken by another, 1 claimed.
var scriptClaimSend = redis.NewScript(`
local p = ARGV[1] .. '.'
local st = redis.call('HGET', KEYS[1], p .. 'status')
if not st then return -1 end
if not string.find(ARGV[2], ',' .. st .. ',', 1, true) then return 0 end
local sends = tonumber(redis.call('HGET', KEYS[1], p .. 'sends') or '0')
if sends ~= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], p .. 'status', 'sending', p .. 'updated', ARGV[4], p .. 'sends', sends + 1)
return 1
`)

// scriptAnswered records ARGV[2] as the status of the first answer about
// refund ARGV[1] of KEYS[1], unless one is recorded, and returns the
// recorded one.
var scriptAnswered = redis.NewScript(`
local f = ARGV[1] .. '.first'
redis.call('HSETNX', KEYS[1], f, ARGV[2])
return redis.call('HGET', KEYS[1], f)
`)

// Refund refunds amount fen of a paid checkout of merchantID. The amount is
// reserved atomically in Redis before payrefund is called, so concurrent
// refunds can never add up to more than was paid; a definite failure gives
// the reservation back. The refund comes back succeeded, failed or pending:
// while the gateway's answer is uncertain (the reconciler asks paystatus
// about its refund_out_no, and sends it again under that same number only
// when the gateway proves it never created it), or while a refusal by the
// gateway waits for its retry. A request with an Idempotency-Key already
// used answers that refund, in its current state, whatever the checkout's
// state is now (ErrIdempotencyConflict when the amount or reason differ).
func (s *Service) Refund(ctx context.Context, merchantID, checkoutID string, req RefundRequest) (*Refund, error) {
	if req.Amount <= 0 {
		return nil, fmt.Errorf("refund %s: %w: amount must be a positive number of fen", checkoutID, checkout.ErrInvalid)
	}
	if utf8.RuneCountInString(req.Reason) > MaxReasonLen || !utf8.ValidString(req.Reason) || strings.ContainsAny(req.Reason, "\x00\r\n") {
		return nil, fmt.Errorf("refund %s: %w: reason must be at most %d characters on one line", checkoutID, checkout.ErrInvalid, MaxReasonLen)
	}
	c, err := s.repo.GetFor(ctx, merchantID, checkoutID)
	if err != nil {
		return nil, fmt.Errorf("refund %s: %w", checkoutID, err)
	}
	key := req.IdempotencyKey
	if key != "" {
		// A replay before anything else: the checkout may be refunded by
		// now, and the answer is still the refund this key made.
		r, found, err := s.refundByIdem(ctx, checkoutID, idemField(key))
		if err != nil {
			return nil, err
		}
		if found {
			return s.replay(ctx, c, r, req)
		}
	} else {
		key = "nokey:" + strconv.FormatInt(s.now().UnixNano(), 36) + ":" + rand.Text()
	}
	if c.Status != checkout.StatusPaid && c.Status != checkout.StatusPartiallyRefunded {
		return nil, fmt.Errorf("refund %s: %w: checkout is %s", checkoutID, checkout.ErrNotAllowed, c.Status)
	}
	if c.PaidAttempt <= 0 {
		return nil, fmt.Errorf("refund %s: %w: no paid attempt", checkoutID, checkout.ErrNotAllowed)
	}
	st, err := s.storeOf(c)
	if err != nil {
		return nil, fmt.Errorf("refund %s: %w", checkoutID, err)
	}
	r, created, err := s.reserve(ctx, c, c.PaidAttempt, c.Amounts.Trade, req.Amount, req.Reason, KindMerchant, idemField(key))
	if err != nil {
		return nil, err
	}
	if !created && !sameRequest(r, req) {
		return nil, fmt.Errorf("refund %s: %w", checkoutID, ErrIdempotencyConflict)
	}
	r, err = s.advance(ctx, st, c, r)
	return s.answered(ctx, r, err)
}

// idemField is the refund hash's field that maps an Idempotency-Key to its
// refund record.
func idemField(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "idem:" + hex.EncodeToString(sum[:16])
}

// sameRequest reports whether req asks for merchant refund r.
func sameRequest(r *Refund, req RefundRequest) bool {
	return r.Amount == req.Amount && r.Reason == req.Reason && r.Kind == KindMerchant
}

// refundByIdem finds the refund an idempotency field names.
func (s *Service) refundByIdem(ctx context.Context, checkoutID, field string) (*Refund, bool, error) {
	v, err := s.rdb.HGet(ctx, s.keyRefunds(checkoutID), field).Result()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("refund %s: idempotency: %w", checkoutID, err)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return nil, false, fmt.Errorf("refund %s: idempotency: bad record number %.20q", checkoutID, v)
	}
	r, err := s.refund(ctx, checkoutID, n)
	if err != nil {
		return nil, false, err
	}
	return r, true, nil
}

// replay answers a merchant's request again with the refund its key made,
// driving it on where it can go now.
func (s *Service) replay(ctx context.Context, c *checkout.Checkout, r *Refund, req RefundRequest) (*Refund, error) {
	if !sameRequest(r, req) {
		return nil, fmt.Errorf("refund %s: %w", c.ID, ErrIdempotencyConflict)
	}
	st, err := s.storeOf(c)
	if err != nil {
		// The store left the configuration: the refund as it stands.
		s.log.Warn("Refund replayed without its store", "checkout_id", c.ID, "refund_out_no", r.OutNo, "error", err)
		return s.answered(ctx, r, nil)
	}
	r, err = s.advance(ctx, st, c, r)
	return s.answered(ctx, r, err)
}

// answered records, once, the status the first answer about merchant
// refund r reports, and sets r.FirstStatus to the recorded one; it passes
// err (the refund's own) through. Concurrent first requests with one key
// all answer as the first recorded. When the record fails, the error is
// ErrAnswerNotRecorded: an answer given now could differ from what a
// replay answers later, so the request must fail and be retried (with its
// key it finds the same refund, and records its answer then).
func (s *Service) answered(ctx context.Context, r *Refund, err error) (*Refund, error) {
	if r.FirstStatus != "" {
		return r, err
	}
	v, rerr := scriptAnswered.Run(ctx, s.rdb, []string{s.keyRefunds(r.CheckoutID)}, r.n, string(r.Status)).Text()
	if rerr != nil {
		return r, errors.Join(fmt.Errorf("refund %s: %w: %w", r.OutNo, ErrAnswerNotRecorded, rerr), err)
	}
	r.FirstStatus = RefundStatus(v)
	return r, err
}

// autoRefund refunds the whole of attempt a (a double or late payment),
// once: its idempotency field is derived from the attempt.
func (s *Service) autoRefund(ctx context.Context, st *store, c *checkout.Checkout, a *checkout.Attempt, kind RefundKind) (*Refund, error) {
	reason := "自动退款：重复支付"
	if kind == KindLate {
		reason = "自动退款：超时支付"
	}
	amount := a.Amount
	if kind == KindLate {
		// A late payment is the checkout's paid attempt, which the merchant
		// may have refunded in part before the policy got to it: the policy
		// returns what is left (ErrExceedsRefundable when nothing is).
		amount = 0
	}
	r, made, err := s.reserve(ctx, c, a.Seq, a.Amount, amount, reason, kind, autoRefundCause(kind, a.Seq))
	if err != nil {
		return nil, err
	}
	if made {
		s.obs.AutoRefund(string(kind))
	}
	return s.advance(ctx, st, c, r)
}

// autoRefundCause is the idempotency field of the automatic refund of kind
// for attempt seq.
func autoRefundCause(kind RefundKind, seq int) string {
	return "auto:" + string(kind) + ":" + strconv.Itoa(seq)
}

// lateRefundCause is the idempotency field of attempt seq's late refund.
func lateRefundCause(seq int) string { return autoRefundCause(KindLate, seq) }

// reserve creates (or finds, by idem) a refund record and schedules its
// resolution, so a crash right after leaves it to the reconciler.
func (s *Service) reserve(ctx context.Context, c *checkout.Checkout, seq int, limit, amount int64, reason string,
	kind RefundKind, idem string,
) (*Refund, bool, error) {
	now := s.now()
	// The cause is watched before its record exists: a kill between the
	// reservation and the refund's own watch member would leave it reserved
	// and never sent. The reconciler turns a leftover intent into the
	// refund's member, or drops it when no refund was made.
	// The intent carries a fence of its own: should this process stall past
	// the intent's lease, the reconciler retires it (no refund made yet)
	// and sets the fence in the refund hash, and the reservation below is
	// then refused, so no record can appear after its intent is gone.
	nonce := rand.Text()[:16]
	intent := refundIntentMember(c.ID, nonce, idem)
	if err := s.schedule(ctx, intent, now.Add(s.lease)); err != nil {
		return nil, false, fmt.Errorf("refund %s: %w", c.ID, err)
	}
	v, err := scriptReserve.Run(ctx, s.rdb, []string{s.keyRefunds(c.ID)}, idem, seq, limit, amount, reason, string(kind),
		now.UnixMilli(), s.retention.Milliseconds(), intentFence(nonce)).Slice()
	if err != nil {
		return nil, false, fmt.Errorf("refund %s: reserve: %w", c.ID, err)
	}
	if len(v) != 2 {
		return nil, false, fmt.Errorf("refund %s: reserve: unexpected answer", c.ID)
	}
	code, _ := v[0].(int64)
	arg, _ := v[1].(string)
	if code == -2 {
		s.unwatchIntent(ctx, intent)
		return nil, false, fmt.Errorf("refund %s: %w", c.ID, ErrRefundInterrupted)
	}
	if code < 0 {
		s.unwatchIntent(ctx, intent)
		return nil, false, fmt.Errorf("refund %s: %w (%s fen of %d already refunded or in progress)", c.ID, ErrExceedsRefundable, arg, limit)
	}
	n, err := strconv.Atoi(arg)
	if err != nil {
		return nil, false, fmt.Errorf("refund %s: reserve: bad record number", c.ID)
	}
	if code == 1 {
		// Due after one lease: the request path normally finishes (and
		// removes it) long before.
		if err := s.schedule(ctx, refundMember(c.ID, n), now.Add(s.lease)); err != nil {
			return nil, false, fmt.Errorf("refund %s: %w", c.ID, err)
		}
	}
	r, err := s.refund(ctx, c.ID, n)
	if err != nil {
		return nil, false, err
	}
	if code != 1 && r.phase != phaseSucceeded && r.phase != phaseFailed {
		// Its creator may have died before watching it: watch it unless
		// it is watched (NX: a member's score may be a claim or a retry).
		err := s.rdb.ZAddNX(ctx, s.keyWatch(refundMember(c.ID, n)), redis.Z{Score: float64(now.Add(s.lease).UnixMilli()), Member: refundMember(c.ID, n)}).Err()
		if err != nil {
			return nil, false, fmt.Errorf("refund %s: watch: %w", c.ID, err)
		}
	}
	s.unwatchIntent(ctx, intent)
	return r, code == 1, nil
}

// unwatchIntent drops a refund intent whose refund is watched (or was never
// made). Should that fail, the reconciler drops it after its lease.
func (s *Service) unwatchIntent(ctx context.Context, intent string) {
	if err := s.rdb.ZRem(ctx, s.keyWatch(intent), intent).Err(); err != nil {
		s.log.Warn("Could not unschedule a refund intent", "work", intent, "error", err)
	}
}

// setPhase moves refund r between phases; it reports whether it moved.
// When another process moved it first, r is reloaded as it is now.
func (s *Service) setPhase(ctx context.Context, r *Refund, from []string, to, ordNo, failure string) (bool, error) {
	now := s.now()
	v, err := scriptPhase.Run(ctx, s.rdb, []string{s.keyRefunds(r.CheckoutID)}, r.n, ","+strings.Join(from, ",")+",", to,
		now.UnixMilli(), ordNo, failure).Int()
	if err != nil {
		return false, fmt.Errorf("refund %s: %w", r.OutNo, err)
	}
	if v < 0 {
		return false, fmt.Errorf("refund %s: %w", r.OutNo, checkout.ErrNotFound)
	}
	if v == 0 {
		fresh, err := s.refund(ctx, r.CheckoutID, r.n)
		if err != nil {
			return false, err
		}
		*r = *fresh
		return false, nil
	}
	r.phase, r.Status, r.UpdatedAt = to, statusOf(to), now
	if ordNo != "" {
		r.OrdNo = ordNo
	}
	if failure != "" {
		r.Failure = failure
	}
	if to == phaseSucceeded {
		r.Failure = ""
	}
	return true, nil
}

// advance drives refund r as far as it can go now: send it if nobody has,
// resolve it if its outcome is unknown (sending it again, under the same
// refund_out_no, when the gateway proves it never got it), send it again
// once a refusal's wait is over, and finish it (record, event) once it
// succeeded or failed.
func (s *Service) advance(ctx context.Context, st *store, c *checkout.Checkout, r *Refund) (*Refund, error) {
	var err error
	switch r.phase {
	case phaseCreated:
		err = s.sendOnce(ctx, st, c, r, phaseCreated)
	case phaseRetrying:
		// The event of the first refusal may have been lost to a crash.
		err = s.deferredEffect(ctx, c, r)
		if !s.now().Before(r.NextAttemptAt) {
			err = errors.Join(err, s.sendOnce(ctx, st, c, r, phaseRetrying))
		}
	case phaseSending, phaseUnknown:
		if r.phase == phaseSending && s.now().Sub(r.UpdatedAt) < s.lease {
			// Its sender is at work (or died less than a lease ago).
			return r, nil
		}
		err = s.resolveRefund(ctx, st, c, r)
	}
	if err != nil {
		return r, err
	}
	if r.phase == phaseSucceeded || r.phase == phaseFailed {
		if err := s.finishRefund(ctx, c, r); err != nil {
			return r, err
		}
	}
	return r, nil
}

// sendOnce claims refund r for sending, from one of the phases from, and
// sends it. Of concurrent callers that read the same record, one sends;
// the others reload r as it is now.
func (s *Service) sendOnce(ctx context.Context, st *store, c *checkout.Checkout, r *Refund, from ...string) error {
	now := s.now()
	v, err := scriptClaimSend.Run(ctx, s.rdb, []string{s.keyRefunds(r.CheckoutID)}, r.n, ","+strings.Join(from, ",")+",",
		r.sends, now.UnixMilli()).Int()
	if err != nil {
		return fmt.Errorf("refund %s: claim: %w", r.OutNo, err)
	}
	if v < 0 {
		return fmt.Errorf("refund %s: %w", r.OutNo, checkout.ErrNotFound)
	}
	if v == 0 {
		fresh, err := s.refund(ctx, r.CheckoutID, r.n)
		if err != nil {
			return err
		}
		*r = *fresh
		return nil
	}
	r.phase, r.Status, r.UpdatedAt = phaseSending, RefundPending, now
	r.sends++
	return s.transmit(ctx, st, c, r)
}

// transmit calls payrefund once for refund r, whose sending claim the
// caller holds, and records what it learnt. The number is noted for the
// daily reconciliation first; if that fails nothing is sent, and the
// reconciler sends it after the claim's lease.
func (s *Service) transmit(ctx context.Context, st *store, c *checkout.Checkout, r *Refund) error {
	if err := s.repo.RecordSent(ctx, c.MerchantID, c.StoreID, r.OutNo, s.now()); err != nil {
		return fmt.Errorf("refund %s: not sent: %w", r.OutNo, err)
	}
	req := &gateway.RefundRequest{
		OutNo:        checkout.OutNo(r.CheckoutID, r.Attempt),
		RefundOutNo:  r.OutNo,
		RefundAmount: r.Amount,
		RefundName:   "退款",
		Remark:       r.Reason,
	}
	res, err := s.gw.PayRefund(ctx, st.Gateway, req)
	var apiErr *gateway.APIError
	switch {
	case err == nil:
		s.log.Info("Refund created at the gateway", "checkout_id", r.CheckoutID, "refund_out_no", r.OutNo,
			"ord_no", string(res.OrdNo), "amount", r.Amount, "kind", string(r.Kind), "send", r.sends)
	case errors.Is(err, gateway.ErrRefundExists):
		// Ours from an earlier send: paystatus says what became of it.
		s.log.Info("Refund already at the gateway under its number", "checkout_id", r.CheckoutID, "refund_out_no", r.OutNo)
	case errors.Is(err, gateway.ErrOutcomeUnknown):
		return s.outcomeUnknown(ctx, r, err)
	case errors.As(err, &apiErr):
		return s.refused(ctx, c, r, apiErr)
	case errors.Is(err, gateway.ErrInvalid):
		// Refused by our own client: nothing was sent, and sending the
		// same request again cannot help.
		s.log.Error("Refund request invalid; not sent", "checkout_id", r.CheckoutID, "refund_out_no", r.OutNo, "error", err)
		_, perr := s.setPhase(ctx, r, []string{phaseSending}, phaseFailed, "", "the refund request was invalid")
		return perr
	default:
		return s.outcomeUnknown(ctx, r, err)
	}
	return s.settle(ctx, st, r)
}

// outcomeUnknown leaves refund r to paystatus on its refund_out_no.
func (s *Service) outcomeUnknown(ctx context.Context, r *Refund, cause error) error {
	s.log.Warn("Refund outcome unknown; will resolve by refund_out_no", "checkout_id", r.CheckoutID,
		"refund_out_no", r.OutNo, "error", cause)
	_, err := s.setPhase(ctx, r, []string{phaseSending}, phaseUnknown, "", "")
	return err
}

// settle confirms with paystatus a refund the gateway just accepted (or
// reported as existing). Without an answer it is left unknown: the
// reconciler asks again.
func (s *Service) settle(ctx context.Context, st *store, r *Refund) error {
	o, err := s.gw.PayStatus(ctx, st.Gateway, gateway.ByOutNo(r.OutNo))
	if err != nil {
		return s.outcomeUnknown(ctx, r, fmt.Errorf("paystatus %s: %w", r.OutNo, err))
	}
	return s.applyOrder(ctx, r, o)
}

// resolveRefund asks paystatus about a refund whose outcome is unknown (or
// whose sender died). One the gateway never created is sent again under the
// same refund_out_no; one it knows takes its final state from it.
func (s *Service) resolveRefund(ctx context.Context, st *store, c *checkout.Checkout, r *Refund) error {
	o, err := s.gw.PayStatus(ctx, st.Gateway, gateway.ByOutNo(r.OutNo))
	switch {
	case errors.Is(err, gateway.ErrOrderNotFound):
		if r.phase == phaseSending && s.now().Sub(r.UpdatedAt) < s.lease {
			return nil
		}
		s.log.Warn("The gateway never created the refund; sending it again under the same refund_out_no",
			"checkout_id", r.CheckoutID, "refund_out_no", r.OutNo, "was", r.phase)
		return s.sendOnce(ctx, st, c, r, phaseSending, phaseUnknown)
	case err != nil:
		return fmt.Errorf("paystatus %s: %w", r.OutNo, err)
	}
	return s.applyOrder(ctx, r, o)
}

// applyOrder records what paystatus says of refund r: paid is succeeded,
// cancelled is failed; anything else leaves it as it is.
func (s *Service) applyOrder(ctx context.Context, r *Refund, o *gateway.Order) error {
	if o.OrdType != gateway.OrderRefund || string(o.OutNo) != r.OutNo {
		return fmt.Errorf("paystatus %s: %w", r.OutNo, ErrNotOurs)
	}
	from := []string{phaseSending, phaseUnknown}
	switch o.Status {
	case gateway.StatusPaid:
		if int64(o.TradeAmount) != r.Amount {
			s.log.Error("Refund amount at the gateway differs from ours", "refund_out_no", r.OutNo,
				"expected", r.Amount, "reported", int64(o.TradeAmount))
		}
		_, err := s.setPhase(ctx, r, from, phaseSucceeded, string(o.OrdNo), "")
		return err
	case gateway.StatusCanceled:
		_, err := s.setPhase(ctx, r, from, phaseFailed, string(o.OrdNo), "the gateway cancelled the refund")
		return err
	}
	return nil
}

// finishRefund does, once, what follows a final refund: record it on the
// checkout (merchant and late refunds), emit its event, stop resolving it.
// Recording is idempotent per refund (its refund_out_no), so doing this
// again after a crash never counts the refund twice.
func (s *Service) finishRefund(ctx context.Context, c *checkout.Checkout, r *Refund) error {
	err := s.runEffect(ctx, r.CheckoutID, "refund:"+strconv.Itoa(r.n), func(ctx context.Context) error {
		if err := s.finishedRefund(ctx, c, r); err != nil {
			return err
		}
		s.obs.RefundFinished(string(statusOf(r.phase)), c.MerchantID)
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.rdb.ZRem(ctx, s.keyWatch(refundMember(r.CheckoutID, r.n)), refundMember(r.CheckoutID, r.n)).Err(); err != nil {
		s.log.Warn("Could not unschedule a finished refund", "refund_out_no", r.OutNo, "error", err)
	}
	return nil
}

// finishedRefund is finishRefund's effect: record the refund on the
// checkout, publish, emit the event.
func (s *Service) finishedRefund(ctx context.Context, c *checkout.Checkout, r *Refund) error {
	after := c
	if r.phase == phaseSucceeded && r.Kind != KindDuplicate {
		t, err := s.repo.RecordRefund(ctx, r.CheckoutID, r.OutNo, r.Amount)
		switch {
		case errors.Is(err, checkout.ErrInvalid):
			s.log.Error("Refund exceeds what the checkout shows as paid", "checkout_id", r.CheckoutID, "refund_out_no", r.OutNo)
		case err != nil:
			return err
		default:
			after = t.Checkout
			if t.Changed {
				s.publish(ctx, after)
			}
		}
	} else if fresh, err := s.repo.Get(ctx, r.CheckoutID); err == nil {
		after = fresh
	}
	fill := func(e *webhook.Event) { e.Data.Refund = refundInfo(r) }
	effect := "refund:" + strconv.Itoa(r.n)
	switch {
	case r.phase == phaseSucceeded && r.Kind == KindDuplicate:
		return s.emit(ctx, webhook.TypeDuplicatePaymentRefunded, effect, after, fill)
	case r.phase == phaseSucceeded && r.Kind == KindLate:
		return s.emit(ctx, webhook.TypeLatePaymentRefunded, effect, after, fill)
	case r.phase == phaseSucceeded:
		return s.emit(ctx, webhook.TypeRefundSucceeded, effect, after, fill)
	case r.Kind == KindLate:
		// The money stays with the merchant: say it was paid, then
		// that the refund failed.
		if err := s.emit(ctx, webhook.TypePaid, effect+":paid", after, nil); err != nil {
			return err
		}
	}
	return s.emit(ctx, webhook.TypeRefundFailed, effect, after, fill)
}

// ResolveRefund advances refund n of a checkout (the reconciler's entry).
func (s *Service) ResolveRefund(ctx context.Context, checkoutID string, n int) (*Refund, error) {
	c, err := s.repo.Get(ctx, checkoutID)
	if err != nil {
		return nil, fmt.Errorf("resolve refund %s/%d: %w", checkoutID, n, err)
	}
	st, err := s.storeOf(c)
	if err != nil {
		return nil, err
	}
	r, err := s.refund(ctx, checkoutID, n)
	if err != nil {
		return nil, err
	}
	return s.advance(ctx, st, c, r)
}

func statusOf(phase string) RefundStatus {
	switch phase {
	case phaseSucceeded:
		return RefundSucceeded
	case phaseFailed:
		return RefundFailed
	}
	return RefundPending
}

// refund reads refund record n.
func (s *Service) refund(ctx context.Context, checkoutID string, n int) (*Refund, error) {
	p := strconv.Itoa(n) + "."
	names := []string{"seq", "amount", "reason", "kind", "status", "created", "updated", "ord_no", "failure",
		"sends", "refusals", "refused_at", "next", "first"}
	fields := make([]string, len(names))
	for i, f := range names {
		fields[i] = p + f
	}
	v, err := s.rdb.HMGet(ctx, s.keyRefunds(checkoutID), fields...).Result()
	if err != nil {
		return nil, fmt.Errorf("refund %s/%d: %w", checkoutID, n, err)
	}
	f := map[string]string{}
	for i, x := range v {
		if str, ok := x.(string); ok {
			f[names[i]] = str
		}
	}
	if f["status"] == "" {
		return nil, fmt.Errorf("refund %s/%d: %w", checkoutID, n, checkout.ErrNotFound)
	}
	return decodeRefund(checkoutID, n, f), nil
}

func decodeRefund(checkoutID string, n int, f map[string]string) *Refund {
	num := func(k string) int64 {
		v, _ := strconv.ParseInt(f[k], 10, 64)
		return v
	}
	tm := func(k string) time.Time {
		if v := num(k); v > 0 {
			return time.UnixMilli(v)
		}
		return time.Time{}
	}
	out := refundOutNo(checkoutID, n)
	r := &Refund{
		ID: "re_" + out, CheckoutID: checkoutID, Attempt: int(num("seq")), OutNo: out, OrdNo: f["ord_no"], Amount: num("amount"),
		Reason: f["reason"], Kind: RefundKind(f["kind"]), Status: statusOf(f["status"]), Failure: f["failure"],
		CreatedAt: time.UnixMilli(num("created")), UpdatedAt: time.UnixMilli(num("updated")),
		FirstStatus: RefundStatus(f["first"]), n: n, phase: f["status"],
		sends: int(num("sends")), refusals: int(num("refusals")), refusedAt: tm("refused_at"),
	}
	if r.phase == phaseRetrying {
		r.NextAttemptAt = tm("next")
	}
	return r
}

// Refunds lists a checkout's refunds, oldest first, for GET
// /v1/checkouts/:id.
func (s *Service) Refunds(ctx context.Context, checkoutID string) ([]Refund, error) {
	if !checkout.ValidID(checkoutID) {
		return nil, fmt.Errorf("refunds of %.40q: %w", checkoutID, checkout.ErrNotFound)
	}
	all, err := s.rdb.HGetAll(ctx, s.keyRefunds(checkoutID)).Result()
	if err != nil {
		return nil, fmt.Errorf("refunds of %s: %w", checkoutID, err)
	}
	byN := map[int]map[string]string{}
	for k, v := range all {
		ns, name, ok := strings.Cut(k, ".")
		n, err := strconv.Atoi(ns)
		if !ok || err != nil || n <= 0 {
			continue
		}
		if byN[n] == nil {
			byN[n] = map[string]string{}
		}
		byN[n][name] = v
	}
	out := make([]Refund, 0, len(byN))
	for n, f := range byN {
		if f["status"] == "" {
			continue
		}
		out = append(out, *decodeRefund(checkoutID, n, f))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n < out[j].n })
	return out, nil
}

// RefundObject is refund r as the merchant API shows it: the answers of the
// refund calls and the refund events' data.refund are this one rendering.
func RefundObject(r *Refund) apiobject.Refund {
	return apiobject.Refund{
		ID: r.ID, Object: "refund", CheckoutID: r.CheckoutID, Amount: r.Amount, Currency: apiobject.Currency,
		Reason: r.Reason, Kind: string(r.Kind), Status: string(r.Status), Failure: r.Failure, Attempt: r.Attempt,
		CreatedAt: apiobject.Time(r.CreatedAt), UpdatedAt: apiobject.Time(r.UpdatedAt),
		NextAttemptAt: apiobject.Time(r.NextAttemptAt),
	}
}

package notify

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

// Internal phases of a refund record. created: reserved, not yet sent;
// sending: one process is calling payrefund; unknown: the call's outcome is
// unknown and paystatus on refund_out_no will tell.
const (
	phaseCreated   = "created"
	phaseSending   = "sending"
	phaseUnknown   = "unknown"
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
)

// Refund is one refund of a checkout.
type Refund struct {
	// ID is the refund's public id: re_ and its gateway refund_out_no.
	ID         string
	CheckoutID string
	// Attempt is the payment attempt refunded.
	Attempt int
	// OutNo is the refund's refund_out_no at the gateway.
	OutNo     string
	OrdNo     string
	Amount    int64
	Reason    string
	Kind      RefundKind
	Status    RefundStatus
	Failure   string
	CreatedAt time.Time
	UpdatedAt time.Time

	n     int
	phase string
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
// whose paid amount is ARGV[3]. Returns {0, n} existing, {-1, reserved}
// exceeds, {1, n} created.
var scriptReserve = redis.NewScript(`
local n = redis.call('HGET', KEYS[1], ARGV[1])
if n then return {0, n} end
local rk = 'res:' .. ARGV[2]
local res = tonumber(redis.call('HGET', KEYS[1], rk) or '0')
local amount = tonumber(ARGV[4])
if res + amount > tonumber(ARGV[3]) then return {-1, tostring(res)} end
n = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HINCRBY', KEYS[1], rk, amount)
local p = n .. '.'
redis.call('HSET', KEYS[1], ARGV[1], n, p .. 'seq', ARGV[2], p .. 'amount', ARGV[4], p .. 'reason', ARGV[5],
  p .. 'kind', ARGV[6], p .. 'status', 'created', p .. 'created', ARGV[7], p .. 'updated', ARGV[7], p .. 'ord_no', '', p .. 'failure', '')
redis.call('PEXPIRE', KEYS[1], ARGV[8])
return {1, tostring(n)}
`)

// scriptPhase moves refund ARGV[1] of KEYS[1] from one of the phases ARGV[2]
// (",a,b,") to ARGV[3] at ARGV[4], setting ord_no ARGV[5] and failure ARGV[6]
// when not empty. A failed refund gives its reservation back. Returns -1
// missing, 0 refused, 1 moved.
var scriptPhase = redis.NewScript(`
local p = ARGV[1] .. '.'
local st = redis.call('HGET', KEYS[1], p .. 'status')
if not st then return -1 end
if not string.find(ARGV[2], ',' .. st .. ',', 1, true) then return 0 end
redis.call('HSET', KEYS[1], p .. 'status', ARGV[3], p .. 'updated', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], p .. 'ord_no', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], p .. 'failure', ARGV[6]) end
if ARGV[3] == 'failed' then
  local seq = redis.call('HGET', KEYS[1], p .. 'seq')
  redis.call('HINCRBY', KEYS[1], 'res:' .. seq, -tonumber(redis.call('HGET', KEYS[1], p .. 'amount')))
end
return 1
`)

// Refund refunds amount fen of a paid checkout of merchantID. The amount is
// reserved atomically in Redis before payrefund is called, so concurrent
// refunds can never add up to more than was paid; a definite failure gives
// the reservation back. The refund comes back succeeded, failed or (when
// the gateway's answer is uncertain) pending, which the reconciler resolves
// by querying its refund_out_no, never by sending again.
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
	key := req.IdempotencyKey
	if key == "" {
		key = "nokey:" + strconv.FormatInt(s.now().UnixNano(), 36) + ":" + rand.Text()
	}
	sum := sha256.Sum256([]byte(key))
	r, created, err := s.reserve(ctx, c, c.PaidAttempt, c.Amounts.Trade, req.Amount, req.Reason, KindMerchant,
		"idem:"+hex.EncodeToString(sum[:16]))
	if err != nil {
		return nil, err
	}
	if !created && (r.Amount != req.Amount || r.Reason != req.Reason || r.Kind != KindMerchant) {
		return nil, fmt.Errorf("refund %s: %w", checkoutID, ErrIdempotencyConflict)
	}
	return s.advance(ctx, st, c, r)
}

// autoRefund refunds the whole of attempt a (a double or late payment),
// once: its idempotency field is derived from the attempt.
func (s *Service) autoRefund(ctx context.Context, st *checkout.Store, c *checkout.Checkout, a *checkout.Attempt, kind RefundKind) (*Refund, error) {
	reason := "自动退款：重复支付"
	if kind == KindLate {
		reason = "自动退款：超时支付"
	}
	r, _, err := s.reserve(ctx, c, a.Seq, a.Amount, a.Amount, reason, kind, "auto:"+string(kind)+":"+strconv.Itoa(a.Seq))
	if err != nil {
		return nil, err
	}
	return s.advance(ctx, st, c, r)
}

// reserve creates (or finds, by idem) a refund record and schedules its
// resolution, so a crash right after leaves it to the reconciler.
func (s *Service) reserve(ctx context.Context, c *checkout.Checkout, seq int, limit, amount int64, reason string,
	kind RefundKind, idem string,
) (*Refund, bool, error) {
	now := s.now()
	v, err := scriptReserve.Run(ctx, s.rdb, []string{s.keyRefunds(c.ID)}, idem, seq, limit, amount, reason, string(kind),
		now.UnixMilli(), s.retention.Milliseconds()).Slice()
	if err != nil {
		return nil, false, fmt.Errorf("refund %s: reserve: %w", c.ID, err)
	}
	if len(v) != 2 {
		return nil, false, fmt.Errorf("refund %s: reserve: unexpected answer", c.ID)
	}
	code, _ := v[0].(int64)
	arg, _ := v[1].(string)
	if code < 0 {
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
	return r, code == 1, nil
}

// setPhase moves refund r between phases; it reports whether it moved.
func (s *Service) setPhase(ctx context.Context, r *Refund, from []string, to, ordNo, failure string) (bool, error) {
	v, err := scriptPhase.Run(ctx, s.rdb, []string{s.keyRefunds(r.CheckoutID)}, r.n, ","+strings.Join(from, ",")+",", to,
		s.now().UnixMilli(), ordNo, failure).Int()
	if err != nil {
		return false, fmt.Errorf("refund %s: %w", r.OutNo, err)
	}
	if v < 0 {
		return false, fmt.Errorf("refund %s: %w", r.OutNo, checkout.ErrNotFound)
	}
	if v == 1 {
		r.phase, r.Status = to, statusOf(to)
		if ordNo != "" {
			r.OrdNo = ordNo
		}
		if failure != "" {
			r.Failure = failure
		}
	}
	return v == 1, nil
}

// advance drives refund r as far as it can go now: send it if nobody has,
// resolve it if its outcome is unknown, and finish it (record, event) once
// it succeeded or failed.
func (s *Service) advance(ctx context.Context, st *checkout.Store, c *checkout.Checkout, r *Refund) (*Refund, error) {
	switch r.phase {
	case phaseCreated:
		ok, err := s.setPhase(ctx, r, []string{phaseCreated}, phaseSending, "", "")
		if err != nil {
			return r, err
		}
		if !ok {
			// Another caller is sending it.
			return s.refund(ctx, r.CheckoutID, r.n)
		}
		if err := s.send(ctx, st, r); err != nil {
			return r, err
		}
	case phaseSending, phaseUnknown:
		// A sender that crashed, or an uncertain answer: ask, never resend.
		if r.phase == phaseSending && s.now().Sub(r.UpdatedAt) < s.lease {
			return r, nil
		}
		if err := s.resolveRefund(ctx, st, r); err != nil {
			return r, err
		}
	}
	if r.phase == phaseSucceeded || r.phase == phaseFailed {
		if err := s.finishRefund(ctx, c, r); err != nil {
			return r, err
		}
	}
	return r, nil
}

// send calls payrefund once and records what it learnt.
func (s *Service) send(ctx context.Context, st *checkout.Store, r *Refund) error {
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
			"ord_no", string(res.OrdNo), "amount", r.Amount, "kind", string(r.Kind))
	case errors.Is(err, gateway.ErrRefundExists):
		// Ours from an earlier try: find out what became of it.
	case errors.As(err, &apiErr) || errors.Is(err, gateway.ErrInvalid):
		msg := "refund refused by the gateway"
		if apiErr != nil {
			msg = fmt.Sprintf("gateway error %d: %s", int(apiErr.Code), apiErr.Code.Meaning())
		}
		s.log.Warn("Refund refused", "checkout_id", r.CheckoutID, "refund_out_no", r.OutNo, "error", err)
		_, perr := s.setPhase(ctx, r, []string{phaseSending}, phaseFailed, "", msg)
		return perr
	default:
		s.log.Warn("Refund outcome unknown; will resolve by refund_out_no", "checkout_id", r.CheckoutID,
			"refund_out_no", r.OutNo, "error", err)
		_, perr := s.setPhase(ctx, r, []string{phaseSending}, phaseUnknown, "", "")
		return perr
	}
	if err := s.resolveRefund(ctx, st, r); err != nil {
		// The refund exists but paystatus did not answer: leave it to the
		// reconciler.
		_, _ = s.setPhase(ctx, r, []string{phaseSending}, phaseUnknown, "", "")
		s.log.Warn("Refund not confirmed yet", "refund_out_no", r.OutNo, "error", err)
	}
	return nil
}

// resolveRefund asks paystatus about refund_out_no and records a final answer.
func (s *Service) resolveRefund(ctx context.Context, st *checkout.Store, r *Refund) error {
	o, err := s.gw.PayStatus(ctx, st.Gateway, gateway.ByOutNo(r.OutNo))
	from := []string{phaseSending, phaseUnknown}
	switch {
	case errors.Is(err, gateway.ErrOrderNotFound):
		if r.phase == phaseSending && s.now().Sub(r.UpdatedAt) < s.lease {
			return nil
		}
		_, err := s.setPhase(ctx, r, from, phaseFailed, "", "the gateway never created the refund")
		return err
	case err != nil:
		return fmt.Errorf("paystatus %s: %w", r.OutNo, err)
	}
	if o.OrdType != gateway.OrderRefund || string(o.OutNo) != r.OutNo {
		return fmt.Errorf("paystatus %s: %w", r.OutNo, ErrNotOurs)
	}
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
func (s *Service) finishRefund(ctx context.Context, c *checkout.Checkout, r *Refund) error {
	err := s.runEffect(ctx, r.CheckoutID, "refund:"+strconv.Itoa(r.n), func(ctx context.Context) error {
		after := c
		if r.phase == phaseSucceeded && r.Kind != KindDuplicate {
			t, err := s.repo.RecordRefund(ctx, r.CheckoutID, r.Amount)
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
		info := &webhook.Refund{ID: r.ID, Amount: r.Amount, Reason: r.Reason, Failure: r.Failure}
		if r.Kind != KindMerchant {
			info.Attempt = r.Attempt
		}
		fill := func(e *webhook.Event) { e.Data.Refund = info }
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
	})
	if err != nil {
		return err
	}
	if err := s.rdb.ZRem(ctx, s.keyWatch(), refundMember(r.CheckoutID, r.n)).Err(); err != nil {
		s.log.Warn("Could not unschedule a finished refund", "refund_out_no", r.OutNo, "error", err)
	}
	return nil
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
	names := []string{"seq", "amount", "reason", "kind", "status", "created", "updated", "ord_no", "failure"}
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
	seq, _ := strconv.Atoi(f["seq"])
	amount, _ := strconv.ParseInt(f["amount"], 10, 64)
	created, _ := strconv.ParseInt(f["created"], 10, 64)
	updated, _ := strconv.ParseInt(f["updated"], 10, 64)
	out := refundOutNo(checkoutID, n)
	return &Refund{
		ID: "re_" + out, CheckoutID: checkoutID, Attempt: seq, OutNo: out, OrdNo: f["ord_no"], Amount: amount,
		Reason: f["reason"], Kind: RefundKind(f["kind"]), Status: statusOf(f["status"]), Failure: f["failure"],
		CreatedAt: time.UnixMilli(created), UpdatedAt: time.UnixMilli(updated), n: n, phase: f["status"],
	}
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

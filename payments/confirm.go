package payments

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// orphanAfter is how old a pending attempt must be before paystatus's "no
// such order" is believed: younger ones may still have their payorder in
// flight.
const orphanAfter = 2 * time.Minute

// notifyWait is how long a notify waits for a duplicate that is applying the
// same effect, before answering an error (the gateway then retries).
const notifyWait = 3 * time.Second

// Result is what a confirmation found and did.
type Result struct {
	// Checkout and Attempt are as they are after the call.
	Checkout *checkout.Checkout
	Attempt  *checkout.Attempt
	// Gateway is the order's status at the gateway (0 when not asked).
	Gateway gateway.Status
	// Changed is true for the one call that moved the checkout.
	Changed bool
	// Settled is true when nothing more will happen to the attempt: it is
	// paid (and what follows was done), cancelled or failed.
	Settled bool
	// NotFound is true when the gateway has no such order.
	NotFound bool
}

// Confirm asks the gateway for the status of one of our orders (by out_no)
// and applies it: paid marks the attempt and the checkout paid (or late, or
// refunds a double payment), cancelled cancels the attempt, and an amount
// other than the attempt's is never paid but raises an alert. Any number of
// concurrent calls make one transition and one event.
func (s *Service) Confirm(ctx context.Context, outNo string) (Result, error) {
	c, a, err := s.repo.AttemptByOutNo(ctx, outNo)
	if errors.Is(err, checkout.ErrNotFound) {
		return Result{}, fmt.Errorf("confirm %.64q: %w", outNo, ErrUnknownOrder)
	}
	if err != nil {
		return Result{}, fmt.Errorf("confirm %s: %w", outNo, err)
	}
	st, err := s.storeOf(c)
	if err != nil {
		return Result{}, fmt.Errorf("confirm %s: %w", outNo, err)
	}
	return s.confirm(ctx, st, c, a, notifyWait, nil, SourceConfirm)
}

// confirm applies the gateway's word on attempt a of checkout c. With t
// set, the page update of a payment it records waits in t (see tail) for
// the round trip that ends what follows it; the caller flushes t. With t
// nil it is sent at once. src is what asked (the metrics' label).
func (s *Service) confirm(ctx context.Context, st *store, c *checkout.Checkout, a *checkout.Attempt, wait time.Duration,
	t *tail, src Source,
) (Result, error) {
	res := Result{Checkout: c, Attempt: a}
	if a.Status == checkout.AttemptPaid {
		// Recorded already: make sure what follows was done too (a crash
		// may have cut it short). Claimed effects make this free when done.
		err := s.afterPaid(ctx, st, c, a, nil, "", wait, claimUnknown, t)
		res.Settled = err == nil
		return res, err
	}
	o, err := s.gw.PayStatus(ctx, st.Gateway, gateway.ByOutNo(a.OutNo))
	if errors.Is(err, gateway.ErrOrderNotFound) {
		return s.notFoundUpstream(ctx, res)
	}
	if err != nil {
		return res, fmt.Errorf("paystatus %s: %w", a.OutNo, err)
	}
	res.Gateway = o.Status
	if string(o.OutNo) != a.OutNo || o.OrdType != gateway.OrderPayment || (a.OrdNo != "" && string(o.OrdNo) != a.OrdNo) {
		s.log.Error("Gateway order does not match the attempt; nothing changed",
			"checkout_id", c.ID, "out_no", a.OutNo, "gateway_out_no", string(o.OutNo),
			"ord_type", int(o.OrdType), "ord_no", string(o.OrdNo), "stored_ord_no", a.OrdNo)
		return res, fmt.Errorf("paystatus %s: %w", a.OutNo, ErrNotOurs)
	}
	switch o.Status {
	case gateway.StatusPaid:
		if int64(o.TradeAmount) != a.Amount {
			res.Settled = true
			return res, s.mismatch(ctx, c, a, o, wait)
		}
		p, claim, err := s.markPaid(ctx, c, a, string(o.OrdNo))
		if err != nil {
			return res, fmt.Errorf("confirm %s: %w", a.OutNo, err)
		}
		paid := *a
		paid.Status = checkout.AttemptPaid
		paid.OrdNo = string(o.OrdNo)
		res.Attempt, res.Checkout, res.Changed = &paid, p.Checkout, p.Changed
		if p.AttemptChanged {
			s.obs.Confirmed(string(src), c.MerchantID)
			switch {
			case p.DoublePaid:
				s.obs.DuplicatePayment()
			case p.Changed && p.Checkout.Late:
				s.obs.LatePayment()
			}
		}
		if p.AttemptChanged {
			if t != nil {
				t.publish, t.index = p.Checkout, p
			} else {
				s.publish(ctx, p.Checkout)
				_ = s.repo.IndexPayment(ctx, p)
			}
		}
		if p.Changed {
			s.log.Info("Checkout paid", "checkout_id", c.ID, "out_no", a.OutNo, "ord_no", string(o.OrdNo),
				"amount", a.Amount, "from", string(p.From), "late", p.Checkout.Late)
		}
		from := checkout.Status("")
		if p.Changed {
			from = p.From
		}
		err = s.afterPaid(ctx, st, p.Checkout, &paid, o, from, wait, claim, t)
		res.Settled = err == nil
		return res, err
	case gateway.StatusCanceled:
		changed, err := s.repo.UpdateAttempt(ctx, c.ID, a.Seq, checkout.AttemptCancelled, string(o.OrdNo))
		if err != nil && !errors.Is(err, checkout.ErrNotAllowed) {
			return res, fmt.Errorf("confirm %s: %w", a.OutNo, err)
		}
		cancelled := *a
		cancelled.Status = checkout.AttemptCancelled
		res.Attempt, res.Settled = &cancelled, true
		if changed {
			s.log.Info("Attempt cancelled at the gateway", "checkout_id", c.ID, "out_no", a.OutNo)
			s.publish(ctx, c)
		}
		return res, nil
	default:
		// Awaiting payment (or the payer's password): the order exists.
		to := checkout.AttemptStatus("")
		if a.Status == checkout.AttemptUnknown {
			to = checkout.AttemptPending
		}
		if to != "" || (a.OrdNo == "" && o.OrdNo != "") {
			if _, err := s.repo.UpdateAttempt(ctx, c.ID, a.Seq, to, string(o.OrdNo)); err != nil &&
				!errors.Is(err, checkout.ErrNotAllowed) {
				return res, fmt.Errorf("confirm %s: %w", a.OutNo, err)
			}
		}
		return res, nil
	}
}

// notFoundUpstream handles paystatus's 8002. An attempt whose payorder
// timed out (unknown) was never created: it failed, and only then may a new
// attempt be made. A pending one is believed orphaned only once old enough
// for any payorder to have ended.
func (s *Service) notFoundUpstream(ctx context.Context, res Result) (Result, error) {
	res.NotFound = true
	a := res.Attempt
	orphan := a.Status == checkout.AttemptPending && s.now().Sub(a.CreatedAt) > orphanAfter
	if a.Status != checkout.AttemptUnknown && !orphan {
		res.Settled = a.Status == checkout.AttemptFailed || a.Status == checkout.AttemptCancelled
		return res, nil
	}
	if _, err := s.repo.UpdateAttempt(ctx, a.CheckoutID, a.Seq, checkout.AttemptFailed, ""); err != nil &&
		!errors.Is(err, checkout.ErrNotAllowed) {
		return res, fmt.Errorf("resolve %s: %w", a.OutNo, err)
	}
	s.log.Info("Attempt never reached the gateway; marked failed", "checkout_id", a.CheckoutID, "out_no", a.OutNo,
		"was", string(a.Status))
	failed := *a
	failed.Status = checkout.AttemptFailed
	res.Attempt, res.Settled = &failed, true
	s.publish(ctx, res.Checkout)
	return res, nil
}

// mismatch raises the alert for an order paid with another amount than the
// attempt's, once, and takes the attempt out of play. Nothing is paid.
func (s *Service) mismatch(ctx context.Context, c *checkout.Checkout, a *checkout.Attempt, o *gateway.Order, wait time.Duration) error {
	s.log.Error("Gateway reports another amount than the attempt's; not marked paid",
		"checkout_id", c.ID, "out_no", a.OutNo, "ord_no", string(o.OrdNo),
		"expected", a.Amount, "reported", int64(o.TradeAmount))
	err := s.waitEffect(ctx, c.ID, mismatchEffect(a.Seq), wait, func(ctx context.Context) error {
		if _, err := s.repo.UpdateAttempt(ctx, c.ID, a.Seq, checkout.AttemptFailed, string(o.OrdNo)); err != nil &&
			!errors.Is(err, checkout.ErrNotAllowed) {
			return err
		}
		return s.emit(ctx, webhook.TypeAmountMismatch, mismatchEffect(a.Seq), c, func(e *webhook.Event) {
			e.Data.Mismatch = &webhook.Mismatch{Attempt: a.Seq, OutNo: a.OutNo, Expected: a.Amount, Reported: int64(o.TradeAmount)}
		})
	})
	if err != nil {
		return fmt.Errorf("confirm %s: %w", a.OutNo, err)
	}
	return fmt.Errorf("confirm %s: %w", a.OutNo, ErrAmountMismatch)
}

// paidInTime reports whether a payment recorded as late was in fact made
// before the checkout expired (our expiry ran before the gateway told us):
// such money is kept whatever the policy. A checkout the merchant cancelled
// gets no such grace. o may be nil (the caller found the attempt paid
// already): then paystatus tells the pay time. The decision rests on what
// the payment recorded (c.LateFrom), never on who looks, so a look after a
// crash decides as the first one did.
func (s *Service) paidInTime(ctx context.Context, st *store, c *checkout.Checkout, a *checkout.Attempt,
	o *gateway.Order, from checkout.Status,
) (bool, error) {
	if from == checkout.StatusCancelled || c.LateFrom == checkout.StatusCancelled {
		return false, nil
	}
	if o == nil {
		var err error
		if o, err = s.gw.PayStatus(ctx, st.Gateway, gateway.ByOutNo(a.OutNo)); err != nil {
			return false, fmt.Errorf("paystatus %s: %w", a.OutNo, err)
		}
	}
	if o.TradePayTime.IsZero() || o.TradePayTime.After(c.ExpiresAt) {
		return false, nil
	}
	if c.LateFrom != "" {
		// Recorded with the payment: it came after an expiry, not a cancel.
		return true, nil
	}
	// Paid before late_from was recorded: cancelled if Service.Cancelled
	// ran (the merchant gave up on it).
	n, err := s.rdb.Exists(ctx, s.keyEffect(c.ID, "cancelled")).Result()
	if err != nil {
		return false, fmt.Errorf("late payment of %s: %w", c.ID, err)
	}
	return n == 0, nil
}

// paidEffect names the effect that follows attempt a's payment of c (and
// the cause of its event): "paid" for the attempt that paid the checkout,
// dupEffect for a double payment. scriptIntake reads the same marker, and
// scriptPayClaim claims it.
func paidEffect(c *checkout.Checkout, a *checkout.Attempt) string {
	if c.PaidAttempt == a.Seq {
		return "paid"
	}
	return dupEffect(a.Seq)
}

// dupEffect names the automatic refund of attempt seq, a double payment.
func dupEffect(seq int) string { return "dup:" + strconv.Itoa(seq) }

// scriptPayClaim claims, in the step that records a payment
// (checkout.Repo.MarkPaidThen), the effect that follows it (paidEffect):
// keys 1 "paid", 2 the attempt's dupEffect; args now, lease and TTL (ms),
// as scriptClaimEffect's. A payment recorded is thus never without an owner
// for what follows, and that owner needs no round trip of its own to claim.
var scriptPayClaim = checkout.NewPayScript(luaClaimEffect + `
local k = keys[2]
if paid_attempt == seq then k = keys[1] end
return claim_effect(k, tonumber(args[1]), tonumber(args[2]), args[3])
`)

// markPaid records attempt a of c paid with ordNo and claims what follows
// (scriptPayClaim), in one step: it returns the payment and the claim's
// result, as runEffectFrom takes it.
func (s *Service) markPaid(ctx context.Context, c *checkout.Checkout, a *checkout.Attempt, ordNo string,
) (*checkout.Payment, int, error) {
	keys := []string{s.keyEffect(c.ID, "paid"), s.keyEffect(c.ID, dupEffect(a.Seq))}
	p, v, err := s.repo.MarkPaidThen(ctx, c.ID, a.Seq, ordNo, scriptPayClaim, keys,
		s.now().UnixMilli(), s.lease.Milliseconds(), s.retention.Milliseconds())
	claim := claimUnknown
	if n, ok := v.(int64); ok && n >= claimBusy && n <= claimTaken {
		claim = int(n)
	}
	if err != nil {
		if p != nil && claim == claimTaken {
			// Recorded, but a step after the script failed (none follows
			// it today: the expiry entry is left to the poller): let the
			// next observer claim what follows now rather than after the
			// lease.
			s.release(ctx, c.ID, paidEffect(p.Checkout, a))
		}
		return nil, claimUnknown, err
	}
	return p, claim, nil
}

// mismatchEffect names the amount-mismatch alert of attempt seq.
func mismatchEffect(seq int) string { return "mismatch:" + strconv.Itoa(seq) }

// afterPaid does, once, what follows a confirmed payment: the paid event
// (late or not) or the late refund for the attempt that paid the checkout,
// and the automatic refund of any other paid attempt.
//
// claim is the effect's claim when the step that recorded the payment took
// it (or claimUnknown); t rides with the round trip that ends the effect,
// or is sent before a gateway call, which may take long.
func (s *Service) afterPaid(ctx context.Context, st *store, c *checkout.Checkout, a *checkout.Attempt,
	o *gateway.Order, from checkout.Status, wait time.Duration, claim int, t *tail,
) error {
	name := paidEffect(c, a)
	if c.PaidAttempt == a.Seq {
		return s.waitEffectFrom(ctx, c.ID, name, wait, claim, func(ctx context.Context) error {
			if c.Late {
				// A late checkout has left the expiry queue, whose poller
				// indexes the others: this effect, run again until it is
				// done, closes the gap of its index write instead.
				if err := s.repo.IndexStatus(ctx, c.ID); err != nil {
					return err
				}
			}
			refundLate := c.Late && checkout.EffectiveLatePolicy(c.LatePolicy, st.LatePolicy) == checkout.LatePolicyRefund
			linkFull := false
			if !refundLate {
				// A checkout of a payment link counts among its payments;
				// one the link has no room for goes back, late or in time
				// (its slot was released and retaken: max_payments holds).
				takes, err := s.linkTakes(ctx, c, c.Late)
				if err != nil {
					return err
				}
				linkFull = !takes
				refundLate = linkFull
			}
			if refundLate {
				s.flushTail(ctx, t)
				// A late refund already made for it is the decision taken:
				// carry it on, never emit checkout.paid beside it.
				made, err := s.rdb.HExists(ctx, s.keyRefunds(c.ID), lateRefundCause(a.Seq)).Result()
				if err != nil {
					return fmt.Errorf("late payment of %s: %w", c.ID, err)
				}
				inTime := false
				if !made && !linkFull {
					if inTime, err = s.paidInTime(ctx, st, c, a, o, from); err != nil {
						return err
					}
				}
				if inTime {
					// Paid in time after all: it counts on its link, if
					// the link has room for it.
					takes, err := s.linkTakes(ctx, c, false)
					if err != nil {
						return err
					}
					inTime = takes
				}
				if !inTime {
					s.log.Warn("Late payment: refunding it (late policy refund, or its payment link ran out)", "checkout_id", c.ID, "out_no", a.OutNo)
					_, err := s.autoRefund(ctx, st, c, a, KindLate)
					if !errors.Is(err, ErrExceedsRefundable) {
						return err
					}
					// The merchant refunded all of it first: the money is
					// back with the payer, and the payment is reported as
					// what it was, paid late.
					s.log.Info("Late payment already refunded by the merchant", "checkout_id", c.ID, "out_no", a.OutNo)
				}
			}
			return s.emit(ctx, webhook.TypePaid, name, c, nil)
		}, t)
	}
	return s.waitEffectFrom(ctx, c.ID, name, wait, claim, func(ctx context.Context) error {
		s.flushTail(ctx, t)
		s.log.Warn("Double payment: refunding the second one", "checkout_id", c.ID, "out_no", a.OutNo,
			"paid_attempt", c.PaidAttempt, "amount", a.Amount)
		_, err := s.autoRefund(ctx, st, c, a, KindDuplicate)
		return err
	}, t)
}

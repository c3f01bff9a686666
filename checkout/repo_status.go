package checkout

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The per-status index and the daily sums (docs/console.md, "Indexes"):
//
//   - m:{merchant}:st:<status>: one sorted set per merchant and status,
//     member the checkout id, score its creation (ms). A checkout is in
//     exactly one of them, the one of its status.
//   - m:{merchant}:paid, :late: the checkouts paid (late ones), scored by
//     the time they were paid; :dup the checkouts paid twice, scored by the
//     second payment; :rf the checkouts with a refund, scored by the last.
//   - m:{merchant}:day:<YYYYMMDD>: a hash of a day's sums (UTC+8): paid_n,
//     paid_fen and late_n by the time of payment, rf_n and rf_fen by the
//     time of the refund; :day:<YYYYMMDD>:rf the refunds counted that day.
//
// All of them are in the merchant's hash slot (the list's), and the
// checkout is in its own: no one script can change a checkout and its
// indexes on a Cluster. So the index follows the checkout: each status
// change is followed by indexStatus, a second round trip that sets the
// index from the checkout as the change left it. It is idempotent and
// the order of two of them does not matter, because statuses only move
// forward (statusRank): an entry is never moved back to an earlier status.
//
// The crash gap (a process dying between a change and its index write) is
// closed by whoever finishes the change later, since each of them indexes
// again what it finds: a checkout stays in the expiry queue until the
// expiry poller's Expire, which indexes it before taking it out (pending,
// payments in time, cancellations, expiries); a refund is recorded by an
// effect that is run again until it succeeds, and RecordRefund indexes
// even a refund recorded already; a late payment's effect (payments)
// indexes it. A list read skips an entry whose checkout has another status.

// Day sums and their marks are kept this long: the overview reads 7 days.
const daySumTTL = 40 * 24 * time.Hour

// indexStatuses is the order of the status sets in scriptIndexStatus's
// keys; statusRank its rank table, written again in the script.
var indexStatuses = []Status{StatusOpen, StatusPending, StatusExpired, StatusCancelled, StatusPaid, StatusPartiallyRefunded, StatusRefunded}

func (r *Repo) keyStatus(merchantID string, s Status) string {
	return r.prefix + "m:{" + merchantID + "}:st:" + string(s)
}
func (r *Repo) keyMerchant(merchantID, name string) string {
	return r.prefix + "m:{" + merchantID + "}:" + name
}

// keyDay is merchantID's sums of the UTC+8 day of t.
func (r *Repo) keyDay(merchantID string, t time.Time) string {
	return r.keyMerchant(merchantID, "day:"+t.In(chinaTime).Format("20060102"))
}

// scriptIndexStatus puts checkout ARGV[1] (created ARGV[3] ms) in the set
// of status ARGV[2] and out of the others, unless a later status is
// indexed already. The first time it enters a paid status it is added to
// the paid index (and late one, ARGV[6] = "1") at ARGV[4] ms and counted
// in that day's sums (KEYS[10]) with ARGV[5] fen. ARGV[8] = "1" marks a
// double payment at ARGV[9] ms. A refund ARGV[10] (a name unique in the
// checkout) of ARGV[11] fen at ARGV[12] ms is counted once in its day's
// sums (KEYS[12], marks KEYS[13]). ARGV[7] is the sums' TTL (ms).
//
// KEYS: 1-7 the status sets in indexStatuses' order, 8 paid, 9 late,
// 10 the payment day's sums, 11 dup, 12 the refund day's sums, 13 its
// marks, 14 the refund index; all in the merchant's slot.
// Returns 1 indexed, 0 a later status was indexed already.
var scriptIndexStatus = redis.NewScript(`
local names = {'open', 'pending', 'expired', 'cancelled', 'paid', 'partially_refunded', 'refunded'}
local rank = {open = 0, pending = 1, expired = 2, cancelled = 2, paid = 3, partially_refunded = 4, refunded = 5}
local id, to = ARGV[1], ARGV[2]
local r = rank[to]
if not r then return -1 end
local ttl = tonumber(ARGV[7])
local moved = 1
local was_paid = false
for i = 1, 7 do
  if redis.call('ZSCORE', KEYS[i], id) then
    local ri = rank[names[i]]
    if ri > r then moved = 0 end
    if ri >= 3 then was_paid = true end
  end
end
if moved == 1 then
  for i = 1, 7 do
    if names[i] == to then
      redis.call('ZADD', KEYS[i], ARGV[3], id)
    else
      redis.call('ZREM', KEYS[i], id)
    end
  end
end
if r >= 3 and not was_paid then
  redis.call('ZADD', KEYS[8], ARGV[4], id)
  redis.call('HINCRBY', KEYS[10], 'paid_n', 1)
  redis.call('HINCRBY', KEYS[10], 'paid_fen', ARGV[5])
  if ARGV[6] == '1' then
    redis.call('ZADD', KEYS[9], ARGV[4], id)
    redis.call('HINCRBY', KEYS[10], 'late_n', 1)
  end
  redis.call('PEXPIRE', KEYS[10], ttl)
end
if ARGV[8] == '1' then
  redis.call('ZADD', KEYS[11], 'NX', ARGV[9], id)
end
if ARGV[10] ~= '' and redis.call('SADD', KEYS[13], id .. '/' .. ARGV[10]) == 1 then
  redis.call('HINCRBY', KEYS[12], 'rf_n', 1)
  redis.call('HINCRBY', KEYS[12], 'rf_fen', ARGV[11])
  redis.call('PEXPIRE', KEYS[12], ttl)
  redis.call('PEXPIRE', KEYS[13], ttl)
  redis.call('ZADD', KEYS[14], 'GT', ARGV[12], id)
end
return moved
`)

// statusIndexed is what indexStatus writes besides the checkout's status.
type statusIndexed struct {
	// doubleAt is the time of a double payment of the checkout, or zero.
	doubleAt time.Time
	// refund names a refund recorded on the checkout (refundFen at
	// refundAt), or is "".
	refund    string
	refundFen int64
	refundAt  time.Time
}

// indexArgs are scriptIndexStatus's keys and arguments for c.
func (r *Repo) indexArgs(c *Checkout, x statusIndexed) ([]string, []any) {
	m := c.MerchantID
	keys := make([]string, 0, 14)
	for _, s := range indexStatuses {
		keys = append(keys, r.keyStatus(m, s))
	}
	paidAt := c.PaidAt
	if paidAt.IsZero() {
		paidAt = c.UpdatedAt
	}
	refundAt := x.refundAt
	if refundAt.IsZero() {
		refundAt = r.now()
	}
	keys = append(keys, r.keyMerchant(m, "paid"), r.keyMerchant(m, "late"), r.keyDay(m, paidAt),
		r.keyMerchant(m, "dup"), r.keyDay(m, refundAt), r.keyDay(m, refundAt)+":rf", r.keyMerchant(m, "rf"))
	flag := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	args := []any{c.ID, string(c.Status), ms(c.CreatedAt), ms(paidAt), c.Amounts.Trade, flag(c.Late),
		daySumTTL.Milliseconds(), flag(!x.doubleAt.IsZero()), ms(x.doubleAt), x.refund, x.refundFen, ms(refundAt)}
	return keys, args
}

// indexStatus sets c's entry in its merchant's status index as c is
// (package comment above): one round trip to the merchant's slot.
func (r *Repo) indexStatus(ctx context.Context, c *Checkout, x statusIndexed) error {
	keys, args := r.indexArgs(c, x)
	if err := scriptIndexStatus.Run(ctx, r.rdb, keys, args...).Err(); err != nil {
		return fmt.Errorf("index status of %s: %w", c.ID, err)
	}
	return nil
}

// IndexStatus sets checkout c's entry in its merchant's status index and
// day sums from c as it is stored (c may be a stale copy). The payments
// package calls it for late payments, whose effect is what closes their
// crash gap; it is idempotent.
func (r *Repo) IndexStatus(ctx context.Context, id string) error {
	c, err := r.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("index status of %s: %w", id, err)
	}
	return r.indexStatus(ctx, c, statusIndexed{})
}

// statusIndexMarker is set once a merchant's status index and day sums
// were built from its stored checkouts (RebuildStatusIndex).
func (r *Repo) statusIndexMarker(merchantID string) string {
	return r.keyMerchant(merchantID, "stidx:v1")
}

// RebuildStatusIndex builds merchantID's status index, paid index and
// day sums from its stored checkouts (the time index), once: a marker
// key remembers it is done, and returns how many checkouts it indexed (0
// when the marker was there). Live changes may run at the same time:
// indexing is idempotent and never moves a checkout back, and a payment
// is counted in the sums only when it first enters the paid index.
// Refunds recorded before the index existed are not in the day sums (their
// times were not kept).
func (r *Repo) RebuildStatusIndex(ctx context.Context, merchantID string) (int, error) {
	done, err := r.rdb.Exists(ctx, r.statusIndexMarker(merchantID)).Result()
	if err != nil {
		return 0, fmt.Errorf("rebuild status index of %s: %w", merchantID, err)
	}
	if done == 1 {
		return 0, nil
	}
	n := 0
	// The whole list, whatever the clocks say.
	err = r.eachCreatedIDs(ctx, merchantID, time.UnixMilli(0), time.UnixMilli(1<<52), func(ids []string) error {
		cs, err := r.getMany(ctx, ids)
		if err != nil {
			return err
		}
		batch := func() (int, error) {
			m := 0
			_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, c := range cs {
					if c == nil || c.MerchantID != merchantID {
						continue
					}
					keys, args := r.indexArgs(c, statusIndexed{})
					scriptIndexStatus.EvalSha(ctx, p, keys, args...)
					m++
				}
				return nil
			})
			if errors.Is(err, redis.Nil) {
				err = nil
			}
			return m, err
		}
		m, err := batch()
		// In a pipeline a script cannot fall back to EVAL by itself: on a
		// Redis that has not seen it yet (a fresh or restarted server, a
		// new Cluster node) load it where it is missing and run the batch
		// again (indexing twice changes nothing).
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			if err := scriptIndexStatus.Load(ctx, r.rdb).Err(); err != nil {
				return err
			}
			m, err = batch()
		}
		n += m
		return err
	})
	if err != nil {
		return n, fmt.Errorf("rebuild status index of %s: %w", merchantID, err)
	}
	if err := r.rdb.Set(ctx, r.statusIndexMarker(merchantID), "1", 0).Err(); err != nil {
		return n, fmt.Errorf("rebuild status index of %s: %w", merchantID, err)
	}
	return n, nil
}

// DaySums are one merchant's figures of one day in UTC+8.
type DaySums struct {
	// Paid and PaidFen count the checkouts paid that day (whatever they
	// became since), Late those of them paid late.
	Paid, PaidFen, Late int64
	// Refunds and RefundFen count the refunds recorded on checkouts that
	// day (a merchant's refunds and refunds of late payments).
	Refunds, RefundFen int64
}

// Add adds o to s.
func (s *DaySums) Add(o DaySums) {
	s.Paid += o.Paid
	s.PaidFen += o.PaidFen
	s.Late += o.Late
	s.Refunds += o.Refunds
	s.RefundFen += o.RefundFen
}

// DaySums reads merchantID's sums of the days (UTC+8) of days, in one
// round trip.
func (r *Repo) DaySums(ctx context.Context, merchantID string, days []time.Time) ([]DaySums, error) {
	cmds := make([]*redis.SliceCmd, len(days))
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, d := range days {
			cmds[i] = p.HMGet(ctx, r.keyDay(merchantID, d), "paid_n", "paid_fen", "late_n", "rf_n", "rf_fen")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("day sums of %s: %w", merchantID, err)
	}
	out := make([]DaySums, len(days))
	for i, cmd := range cmds {
		v := cmd.Val()
		num := func(j int) int64 {
			s, _ := v[j].(string)
			n, _ := strconv.ParseInt(s, 10, 64)
			return n
		}
		out[i] = DaySums{Paid: num(0), PaidFen: num(1), Late: num(2), Refunds: num(3), RefundFen: num(4)}
	}
	return out, nil
}

// CountDuplicates counts merchantID's checkouts paid twice with the second
// payment in [from, to].
func (r *Repo) CountDuplicates(ctx context.Context, merchantID string, from, to time.Time) (int64, error) {
	n, err := r.rdb.ZCount(ctx, r.keyMerchant(merchantID, "dup"), strconv.FormatInt(ms(from), 10), strconv.FormatInt(ms(to), 10)).Result()
	if err != nil {
		return 0, fmt.Errorf("duplicates of %s: %w", merchantID, err)
	}
	return n, nil
}

// ListBy names the index a list reads, and what its From and To bound.
type ListBy string

// The indexes a list may read.
const (
	// ByCreated: every checkout, by creation (the default).
	ByCreated ListBy = ""
	// ByPaid: the checkouts paid (whatever they became since), by the time
	// they were paid.
	ByPaid ListBy = "paid"
	// ByLate: the late payments, by the time they were paid.
	ByLate ListBy = "late"
	// ByDuplicate: the checkouts paid twice, by the second payment.
	ByDuplicate ListBy = "dup"
	// ByRefund: the checkouts with a refund, by their last refund.
	ByRefund ListBy = "rf"
)

// listKey is the index q reads for merchantID.
func (r *Repo) listKey(merchantID string, q ListQuery) string {
	switch q.By {
	case ByPaid, ByLate, ByDuplicate, ByRefund:
		return r.keyMerchant(merchantID, string(q.By))
	}
	if q.Status != "" {
		return r.keyStatus(merchantID, q.Status)
	}
	return r.keyList(merchantID)
}

// refundTime is when refund key was recorded, from scriptRefund's answer
// v (zero for a refund recorded before the time was kept).
func refundTime(v []any, key string) time.Time {
	if len(v) < 3 {
		return time.Time{}
	}
	flat, _ := v[2].([]any)
	want := "refund_at:" + key
	for j := 0; j+1 < len(flat); j += 2 {
		if k, _ := flat[j].(string); k == want {
			s, _ := flat[j+1].(string)
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return time.UnixMilli(n)
			}
		}
	}
	return time.Time{}
}

// paymentIndexed is what a payment adds to its checkout's index entry, and
// whether it changes it at all.
func (r *Repo) paymentIndexed(p *Payment) (statusIndexed, bool) {
	var x statusIndexed
	if p.DoublePaid {
		x.doubleAt = r.now()
	}
	return x, p.Changed || p.DoublePaid
}

// IndexPayment indexes the checkout of payment p (MarkPaid's answer) when
// p changed it (a payment or a double payment). Best effort: its crash gap
// is closed by the expiry poller for a payment in time and by the late
// payment's effect for a late one (payments), both of which index it again.
func (r *Repo) IndexPayment(ctx context.Context, p *Payment) error {
	x, ok := r.paymentIndexed(p)
	if !ok || p.Checkout == nil {
		return nil
	}
	return r.indexStatus(ctx, p.Checkout, x)
}

// QueueIndexPayment is IndexPayment queued on pipe (by EVAL: a script a
// server does not know yet cannot be retried inside a pipeline), for a
// caller whose next round trip can carry it (payments' notify intake).
func (r *Repo) QueueIndexPayment(ctx context.Context, pipe redis.Pipeliner, p *Payment) {
	x, ok := r.paymentIndexed(p)
	if !ok || p.Checkout == nil {
		return
	}
	keys, args := r.indexArgs(p.Checkout, x)
	scriptIndexStatus.Eval(ctx, pipe, keys, args...)
}

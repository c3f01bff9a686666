package checkout

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// rangeBatch is how many checkouts EachCreated reads per round trip: a
// day's export streams in batches, never all in memory.
const rangeBatch = 200

// EachCreated calls fn with each of merchantID's checkouts created in
// [from, to), oldest first, reading the per-merchant index (scored by
// creation time) rangeBatch at a time, so that a long range is streamed
// and not held in memory. It stops at fn's first error, which it returns.
// Checkouts gone since they were listed are skipped.
func (r *Repo) EachCreated(ctx context.Context, merchantID string, from, to time.Time, fn func(*Checkout) error) error {
	return r.eachCreatedIDs(ctx, merchantID, from, to, func(ids []string) error {
		cs, err := r.getMany(ctx, ids)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if c == nil || c.MerchantID != merchantID {
				continue
			}
			if err := fn(c); err != nil {
				return err
			}
		}
		return nil
	})
}

// PaidSummary is what a sum of payments needs of a paid checkout.
type PaidSummary struct {
	ID     string
	Trade  int64
	PaidAt time.Time
	Late   bool
}

// EachPaidCreated calls fn with a summary of each of merchantID's paid
// checkouts (paid, partially or wholly refunded) created in [from, to),
// oldest first, reading only the fields a sum needs (a fraction of
// EachCreated's cost per checkout).
func (r *Repo) EachPaidCreated(ctx context.Context, merchantID string, from, to time.Time, fn func(PaidSummary) error) error {
	return r.eachCreatedIDs(ctx, merchantID, from, to, func(ids []string) error {
		cmds := make([]*redis.SliceCmd, len(ids))
		_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range ids {
				cmds[i] = p.HMGet(ctx, r.keyCheckout(id), "merchant", "status", "trade", "paid_at", "late")
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("paid checkouts of %s: %w", merchantID, err)
		}
		for i, cmd := range cmds {
			v := cmd.Val()
			str := func(j int) string { s, _ := v[j].(string); return s }
			if len(v) != 5 || str(0) != merchantID || !Status(str(1)).Paid() {
				continue
			}
			trade, err1 := strconv.ParseInt(str(2), 10, 64)
			paid, err2 := strconv.ParseInt(str(3), 10, 64)
			if err1 != nil || err2 != nil {
				return fmt.Errorf("paid checkout %s: %w", ids[i], errCorrupt)
			}
			if err := fn(PaidSummary{ID: ids[i], Trade: trade, PaidAt: time.UnixMilli(paid), Late: str(4) == "1"}); err != nil {
				return err
			}
		}
		return nil
	})
}

// eachCreatedIDs calls fn with the ids of merchantID's checkouts created
// in [from, to), oldest first, rangeBatch at a time.
func (r *Repo) eachCreatedIDs(ctx context.Context, merchantID string, from, to time.Time, fn func([]string) error) error {
	if !to.After(from) {
		return nil
	}
	lo := strconv.FormatInt(ms(from), 10)
	hi := "(" + strconv.FormatInt(ms(to), 10)
	// The next batch starts at the last score read, skipping the entries
	// of that score already read: an OFFSET from the range's start would
	// make a long range quadratic.
	var skip int64
	for {
		zs, err := r.rdb.ZRangeByScoreWithScores(ctx, r.keyList(merchantID), &redis.ZRangeBy{
			Min: lo, Max: hi, Offset: skip, Count: rangeBatch,
		}).Result()
		if err != nil {
			return fmt.Errorf("checkouts of %s created in a range: %w", merchantID, err)
		}
		ids := make([]string, len(zs))
		for i, z := range zs {
			ids[i], _ = z.Member.(string)
		}
		if len(ids) > 0 {
			if err := fn(ids); err != nil {
				return err
			}
		}
		if len(zs) < rangeBatch {
			return nil
		}
		last := zs[len(zs)-1].Score
		next := strconv.FormatFloat(last, 'f', -1, 64)
		if next != lo {
			lo, skip = next, 0
		}
		for i := len(zs) - 1; i >= 0 && zs[i].Score == last; i-- {
			skip++
		}
	}
}

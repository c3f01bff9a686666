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

package console

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrOverBudget means a refund would take a merchant's support users past
// their daily refund limit.
var ErrOverBudget = errors.New("over the daily refund limit")

// chinaTime is UTC+8, where a merchant's day starts (no daylight saving).
var chinaTime = time.FixedZone("UTC+8", 8*3600)

// budgetTTL keeps a day's budget a day past its end (then it is only
// history, which the audit log keeps).
const budgetTTL = 48 * time.Hour

// RefundBudget counts what a merchant's support users refund per day
// (UTC+8), against the merchant's per_day limit: one hash per merchant and
// day (one hash slot), a field per refund form so a form posted twice
// counts once, and a total.
type RefundBudget struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
}

// NewRefundBudget returns the budget on rdb; prefix starts its keys; now
// is the clock (nil: time.Now).
func NewRefundBudget(rdb redis.UniversalClient, prefix string, now func() time.Time) *RefundBudget {
	if now == nil {
		now = time.Now
	}
	return &RefundBudget{rdb: rdb, prefix: prefix, now: now}
}

func (b *RefundBudget) key(merchantID string) string {
	return b.prefix + "console:{" + merchantID + "}:refunds:" + b.now().In(chinaTime).Format("20060102")
}

// scriptReserve: KEYS budget; ARGV field, amount, limit, ttl ms. 1
// reserved (or already, by this field), 0 over the limit.
var scriptReserve = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 1 end
local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '0')
if total + tonumber(ARGV[2]) > tonumber(ARGV[3]) then return 0 end
redis.call('HINCRBY', KEYS[1], 'total', ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`)

// scriptRelease: KEYS budget; ARGV field. Gives the field's amount back.
var scriptRelease = redis.NewScript(`
local n = redis.call('HGET', KEYS[1], ARGV[1])
if not n then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'total', -tonumber(n))
return 1
`)

// Reserve counts amount fen of today's support refunds for the form key
// (counted once per key), unless the day's total would pass limit:
// ErrOverBudget.
func (b *RefundBudget) Reserve(ctx context.Context, merchantID, key string, amount, limit int64) error {
	if amount <= 0 {
		return fmt.Errorf("refund budget: amount %d is not positive", amount)
	}
	ok, err := scriptReserve.Run(ctx, b.rdb, []string{b.key(merchantID)}, "f:"+key, amount, limit, budgetTTL.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("refund budget: %w", err)
	}
	if ok != 1 {
		return ErrOverBudget
	}
	return nil
}

// Release gives back the amount form key reserved today (a refund that
// was refused before anything was sent).
func (b *RefundBudget) Release(ctx context.Context, merchantID, key string) error {
	if err := scriptRelease.Run(ctx, b.rdb, []string{b.key(merchantID)}, "f:"+key).Err(); err != nil {
		return fmt.Errorf("refund budget: %w", err)
	}
	return nil
}

// Used is what the merchant's support users refunded today, in fen.
func (b *RefundBudget) Used(ctx context.Context, merchantID string) (int64, error) {
	n, err := b.rdb.HGet(ctx, b.key(merchantID), "total").Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("refund budget: %w", err)
	}
	return n, nil
}

// formTTL is how long a refund form's first post is remembered: a day is
// far past any double click or retried post.
const formTTL = 24 * time.Hour

// FirstPost reports whether this is the first post of refund form key
// (remembered a day), so a double submit is audited once; Forget undoes
// it for a post that did nothing.
func (b *RefundBudget) FirstPost(ctx context.Context, merchantID, key string) (bool, error) {
	ok, err := b.rdb.SetNX(ctx, b.prefix+"console:{"+merchantID+"}:refundform:"+key, 1, formTTL).Result()
	if err != nil {
		return false, fmt.Errorf("refund form: %w", err)
	}
	return ok, nil
}

// Forget forgets the post of refund form key.
func (b *RefundBudget) Forget(ctx context.Context, merchantID, key string) error {
	if err := b.rdb.Del(ctx, b.prefix+"console:{"+merchantID+"}:refundform:"+key).Err(); err != nil {
		return fmt.Errorf("refund form: %w", err)
	}
	return nil
}

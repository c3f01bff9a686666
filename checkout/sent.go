package checkout

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The sent index lists, per store and per gateway day (UTC+8, the day the
// gateway's order list goes by), every out_no and refund_out_no the service
// is about to send to the gateway. The daily reconciliation reads it to
// prove that everything we sent is known to the gateway; it is written
// before the request leaves, so a crash right after sending cannot hide an
// order from it. One key per store and day: on a Cluster the days of a busy
// store spread over slots instead of piling on one.

// chinaTime is UTC+8, the zone the gateway's days go by (gateway.ChinaTime:
// TestSentIndexByGatewayDay places numbers by the gateway's own days).
var chinaTime = time.FixedZone("CST", 8*3600)

// sentDay is the gateway day of t, as yyyymmdd.
func sentDay(t time.Time) string { return t.In(chinaTime).Format("20060102") }

func (r *Repo) keySent(merchantID, storeID, day string) string {
	return r.prefix + "sent:{" + merchantID + ":" + storeID + ":" + day + "}"
}

// RecordSent notes that outNo (an attempt's out_no or a refund_out_no) of
// store storeID of merchantID is being sent to the gateway at t. Recording
// the same number again on the same day keeps its first time; a number sent
// again on another day (a resend under the same number) is in both days.
func (r *Repo) RecordSent(ctx context.Context, merchantID, storeID, outNo string, t time.Time) error {
	if strings.ContainsAny(merchantID+storeID, "{}") || outNo == "" {
		return fmt.Errorf("record sent %.64q: %w", outNo, ErrInvalid)
	}
	k := r.keySent(merchantID, storeID, sentDay(t))
	pipe := r.rdb.Pipeline()
	pipe.ZAddNX(ctx, k, redis.Z{Score: float64(t.UnixMilli()), Member: outNo})
	// Kept as long as the checkouts it points at, and a day more so the
	// last day's reconciliation can still read it.
	pipe.PExpire(ctx, k, r.retention+24*time.Hour)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("record sent %s: %w", outNo, err)
	}
	return nil
}

// Sent is one number the service sent to the gateway.
type Sent struct {
	OutNo string
	At    time.Time
}

// SentOn lists what store storeID of merchantID sent on the gateway day of
// day (any time of that day in any zone; the day is taken in UTC+8), oldest
// first.
func (r *Repo) SentOn(ctx context.Context, merchantID, storeID string, day time.Time) ([]Sent, error) {
	zs, err := r.rdb.ZRangeWithScores(ctx, r.keySent(merchantID, storeID, sentDay(day)), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("sent on %s for %s/%s: %w", sentDay(day), merchantID, storeID, err)
	}
	out := make([]Sent, 0, len(zs))
	for _, z := range zs {
		m, _ := z.Member.(string)
		out = append(out, Sent{OutNo: m, At: time.UnixMilli(int64(z.Score))})
	}
	return out, nil
}

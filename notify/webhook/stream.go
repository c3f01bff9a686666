package webhook

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// logMax bounds a merchant's log (keyLog): a reader further behind than
// that many events resumes at the oldest one kept. The events themselves
// are kept for the retention, whatever the log holds.
const logMax = 100_000

// Streamed is an event as a reader of the merchant's log gets it: its
// place in the log, its id and type, and its body exactly as it was
// stored, which is the body of its webhook deliveries.
type Streamed struct {
	// Seq is the event's place in the merchant's log: it grows by one per
	// event stored, in the order they were stored.
	Seq  int64
	ID   string
	Type string
	// Body is the event's JSON, as its deliveries send it.
	Body []byte
}

// Position returns the place in the merchant's log of one of its events,
// from which LogAfter reads what was stored after it. ErrBadCursor when id
// is not in the log (not an event id, another merchant's, or gone with
// the retention).
func (s *Service) Position(ctx context.Context, merchantID, id string) (int64, error) {
	if !ValidID(id) || !validKeyPart(merchantID) {
		return 0, ErrBadCursor
	}
	seq, err := s.rdb.ZScore(ctx, s.keyLog(merchantID), id).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return 0, ErrBadCursor
	case err != nil:
		return 0, fmt.Errorf("webhook: position of %s: %w", id, err)
	}
	return int64(seq), nil
}

// PositionAt returns the place in the merchant's log just before its first
// event created at or after t, or the log's head when there is none: read
// from there, LogAfter starts with that event.
func (s *Service) PositionAt(ctx context.Context, merchantID string, t time.Time) (int64, error) {
	if !validKeyPart(merchantID) {
		return 0, nil
	}
	// The first few events created from t on, by creation time: the
	// earliest stored of them starts the stream (creation and storage
	// orders differ a little, and events of one millisecond tie).
	ids, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.keyIndex(merchantID),
		Start: strconv.FormatInt(t.UnixMilli(), 10), Stop: "+inf", ByScore: true, Count: positionAtScan}).Result()
	if err != nil {
		return 0, fmt.Errorf("webhook: position at %s: %w", t.Format(time.RFC3339), err)
	}
	if len(ids) == 0 {
		return s.Head(ctx, merchantID)
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.FloatCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.ZScore(ctx, s.keyLog(merchantID), id)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("webhook: position at %s: %w", t.Format(time.RFC3339), err)
	}
	first := int64(-1)
	for _, c := range cmds {
		if seq, err := c.Result(); err == nil && (first < 0 || int64(seq) < first) {
			first = int64(seq)
		}
	}
	if first < 0 {
		// Older than the log keeps: start at the oldest it has.
		return 0, nil
	}
	return first - 1, nil
}

// positionAtScan is how many events PositionAt compares.
const positionAtScan = 100

// Head returns the place of the merchant's latest event (0 when it has
// none): read from there, LogAfter gives only events stored later.
func (s *Service) Head(ctx context.Context, merchantID string) (int64, error) {
	if !validKeyPart(merchantID) {
		return 0, nil
	}
	n, err := s.rdb.Get(ctx, s.keySeq(merchantID)).Int64()
	switch {
	case errors.Is(err, redis.Nil):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("webhook: head of %s: %w", merchantID, err)
	}
	return n, nil
}

// LogAfter returns up to limit of the merchant's events stored after
// place pos, in the order they were stored, and the place to read from
// next (the last one returned, or pos when nothing followed). An event
// whose body is gone (past the retention) is skipped. Two round trips:
// the log, then the bodies.
func (s *Service) LogAfter(ctx context.Context, merchantID string, pos int64, limit int) ([]Streamed, int64, error) {
	if !validKeyPart(merchantID) {
		return nil, pos, nil
	}
	limit = max(1, min(limit, 500))
	zs, err := s.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: s.keyLog(merchantID),
		Start: "(" + strconv.FormatInt(pos, 10), Stop: "+inf", ByScore: true, Count: int64(limit)}).Result()
	if err != nil {
		return nil, pos, fmt.Errorf("webhook: log of %s: %w", merchantID, err)
	}
	if len(zs) == 0 {
		return nil, pos, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(zs))
	for i, z := range zs {
		cmds[i] = pipe.HMGet(ctx, s.keyEvent(merchantID, z.Member.(string)), "body", "type", "mid")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, pos, fmt.Errorf("webhook: log of %s: %w", merchantID, err)
	}
	out := make([]Streamed, 0, len(zs))
	for i, z := range zs {
		v := cmds[i].Val()
		body, _ := v[0].(string)
		typ, _ := v[1].(string)
		mid, _ := v[2].(string)
		if body != "" && mid == merchantID {
			out = append(out, Streamed{Seq: int64(z.Score), ID: z.Member.(string), Type: typ, Body: []byte(body)})
		}
	}
	return out, int64(zs[len(zs)-1].Score), nil
}

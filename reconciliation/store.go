package reconciliation

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Keys. Everything about one store shares a hash slot ({m:merchant:store}):
// its runs, their differences, the index of its days and its claims, so
// that a run is stored in one transaction. The per-merchant list index has its own slot
// ({m:merchant}); it is written after the run, and a run whose index write
// was lost is indexed again by its next run.
func (s *Service) storeTag(merchantID, storeID string) string {
	return s.prefix + "{m:" + merchantID + ":" + storeID + "}"
}
func (s *Service) keyRun(mid, sid, day string) string { return s.storeTag(mid, sid) + ":run:" + day }
func (s *Service) keyDiffs(mid, sid, day string) string {
	return s.storeTag(mid, sid) + ":run:" + day + ":d"
}
func (s *Service) keyLease(mid, sid, day string) string {
	return s.storeTag(mid, sid) + ":lease:" + day
}
func (s *Service) keyDaily(mid, sid, day string) string {
	return s.storeTag(mid, sid) + ":daily:" + day
}

// keyDays indexes the days a store has a run of: member yyyymmdd, score
// the run's end of life in ms of the service's clock (its last write and
// the retention). The store's counts are summed over the runs it lists.
func (s *Service) keyDays(mid, sid string) string { return s.storeTag(mid, sid) + ":days" }

// keyStats is the running total the store's counts once were: it drifted
// (a run that expired left its open differences in it). No longer read;
// deleted by the store's next write.
func (s *Service) keyStats(mid, sid string) string { return s.storeTag(mid, sid) + ":stats" }
func (s *Service) keyIndex(mid string) string      { return s.prefix + "{m:" + mid + "}:runs" }
func (s *Service) keyIDs(mid string) string        { return s.prefix + "{m:" + mid + "}:ids" }

// compact is a day as the keys write it: yyyymmdd.
func compact(date string) string { return strings.ReplaceAll(date, "-", "") }

// base62ID derives an id of prefix and 24 base62 characters from parts, so
// that the same cause always gets the same id.
func base62ID(prefix string, parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	n := new(big.Int).SetBytes(sum[:])
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 0, len(prefix)+24)
	b = append(b, prefix...)
	base, m := big.NewInt(62), new(big.Int)
	for range 24 {
		n.DivMod(n, base, m)
		b = append(b, alphabet[m.Int64()])
	}
	return string(b)
}

// RunID is the id of the run of a store's day: the same on every re-run.
func RunID(merchantID, storeID, date string) string {
	return base62ID("rc_", "reconciliation", merchantID, storeID, date)
}

func differenceID(runID string, c Class, outNo string) string {
	return base62ID("df_", "difference", runID, string(c), outNo)
}

// eventID is the id of the reconciliation.mismatch event of a difference,
// in the shape of webhook ids: a re-emit after a crash is deduplicated.
func eventID(diffID string) string { return base62ID("evt_", "reconciliation-event", diffID) }

// validRunID reports whether s has the shape of a run or difference id.
func validID(prefix, s string) bool {
	if len(s) != len(prefix)+24 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for i := len(prefix); i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// validKeyPart accepts merchant and store ids that are safe inside a key.
func validKeyPart(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == '{' || c == '}' || c == ':' || c >= 0x7f {
			return false
		}
	}
	return true
}

// scriptLease takes KEYS[1] for token ARGV[1] until ARGV[2]+ARGV[3] (ms of
// the service's clock) unless another token holds it past ARGV[2]; the
// deadline is in the value, not a TTL, so that it follows the service's
// clock (and an embedded Redis whose clock stands still). ARGV[4] = 1 only
// extends a lease the token holds. Returns 1 held, 0 not.
var scriptLease = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then
  local tok, dl = string.match(v, '^(.*):(%d+)$')
  if tok ~= ARGV[1] and tonumber(dl) and tonumber(dl) > tonumber(ARGV[2]) then return 0 end
  if tok ~= ARGV[1] and ARGV[4] == '1' then return 0 end
elseif ARGV[4] == '1' then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. tostring(tonumber(ARGV[2]) + tonumber(ARGV[3])), 'PX', tonumber(ARGV[3]) * 4)
return 1
`)

// scriptRelease drops lease KEYS[1] if token ARGV[1] holds it.
var scriptRelease = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. ':' then redis.call('DEL', KEYS[1]) end
return 1
`)

// lease claims a store's day for token; extend only renews one it holds.
func (s *Service) lease(ctx context.Context, mid, sid, day, token string, extend bool) (bool, error) {
	ext := "0"
	if extend {
		ext = "1"
	}
	n, err := scriptLease.Run(ctx, s.rdb, []string{s.keyLease(mid, sid, day)}, token, s.now().UnixMilli(),
		s.leaseFor.Milliseconds(), ext).Int()
	if err != nil {
		return false, fmt.Errorf("reconciliation lease %s/%s %s: %w", mid, sid, day, err)
	}
	return n == 1, nil
}

func (s *Service) release(ctx context.Context, mid, sid, day, token string) {
	if err := scriptRelease.Run(ctx, s.rdb, []string{s.keyLease(mid, sid, day)}, token).Err(); err != nil {
		s.log.Warn("Could not release a reconciliation lease; it runs out by itself", "store_id", sid, "error", err)
	}
}

// storedRun is what Redis holds of a run besides its differences.
type storedRun struct {
	Run
	MerchantID string `json:"merchant_id"`
	// Raised is how many of its differences raised an alert (nil in runs
	// stored before it was kept).
	Raised *int64 `json:"raised,omitempty"`
}

// loadRun reads a run and its differences; nil when there is none.
func (s *Service) loadRun(ctx context.Context, c redis.Cmdable, mid, sid, date string) (*Run, map[string]Difference, error) {
	return s.readRun(ctx, c, mid, sid, date, true)
}

// readRun is loadRun, reading the differences only when withDiffs is set
// (a list shows runs without them).
func (s *Service) readRun(ctx context.Context, c redis.Cmdable, mid, sid, date string, withDiffs bool) (*Run, map[string]Difference, error) {
	day := compact(date)
	pipe := c.Pipeline()
	rc := pipe.Get(ctx, s.keyRun(mid, sid, day))
	var dc *redis.MapStringStringCmd
	if withDiffs {
		dc = pipe.HGetAll(ctx, s.keyDiffs(mid, sid, day))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, fmt.Errorf("read reconciliation %s/%s %s: %w", mid, sid, date, err)
	}
	raw, err := rc.Result()
	if errors.Is(err, redis.Nil) {
		return nil, map[string]Difference{}, nil
	}
	var sr storedRun
	if err := json.Unmarshal([]byte(raw), &sr); err != nil {
		return nil, nil, fmt.Errorf("reconciliation %s/%s %s: stored run: %w", mid, sid, date, err)
	}
	sr.Run.MerchantID = sr.MerchantID
	diffs := map[string]Difference{}
	if dc == nil {
		return &sr.Run, diffs, nil
	}
	for id, v := range dc.Val() {
		var d Difference
		if err := json.Unmarshal([]byte(v), &d); err != nil {
			return nil, nil, fmt.Errorf("reconciliation %s: stored difference %s: %w", sr.ID, id, err)
		}
		diffs[id] = d
	}
	return &sr.Run, diffs, nil
}

// sorted lists differences oldest first (then by id, for a stable order).
func sorted(m map[string]Difference) []Difference {
	out := make([]Difference, 0, len(m))
	for _, d := range m {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].FirstSeen.Equal(out[j].FirstSeen) {
			return out[i].FirstSeen.Before(out[j].FirstSeen)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// update reads a store's day under WATCH, lets change edit it, and writes
// run and differences back in one transaction of the store's slot, with
// the run's own counts (open differences, alerts raised) and its entry in
// the store's index of days, so that the store's counts, summed over the
// runs that still exist, are exact. change returns the run to write, nil to write
// nothing; it may be called again when a concurrent writer (a re-run, a
// merchant acknowledging) got there first.
func (s *Service) update(ctx context.Context, mid, sid, date string,
	change func(r *Run, diffs map[string]Difference) (*Run, error),
) (*Run, error) {
	day := compact(date)
	keys := []string{s.keyRun(mid, sid, day), s.keyDiffs(mid, sid, day)}
	var out *Run
	txf := func(tx *redis.Tx) error {
		r, diffs, err := s.loadRun(ctx, tx, mid, sid, date)
		if err != nil {
			return err
		}
		r, err = change(r, diffs)
		if err != nil || r == nil {
			return err
		}
		raised := raisedIn(diffs)
		list := sorted(diffs)
		r.Counts = count(list)
		r.Differences = nil
		body, err := json.Marshal(storedRun{Run: *r, MerchantID: mid, Raised: &raised})
		if err != nil {
			return err
		}
		fields := make([]any, 0, 2*len(list))
		for _, d := range list {
			b, err := json.Marshal(d)
			if err != nil {
				return err
			}
			fields = append(fields, d.ID, b)
		}
		now := s.now()
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, keys[0], body, s.retention)
			if len(fields) > 0 {
				p.HSet(ctx, keys[1], fields...)
				p.PExpire(ctx, keys[1], s.retention)
			}
			// The day's entry lives as long as its run; entries of runs
			// that ended a whole retention ago (whichever clock Redis
			// keeps) go, so the index holds a few retentions of days at
			// most even if nobody reads the counts. Counts drops the
			// entries of runs that are gone, exactly.
			days := s.keyDays(mid, sid)
			p.ZAdd(ctx, days, redis.Z{Score: float64(now.Add(s.retention).UnixMilli()), Member: day})
			p.ZRemRangeByScore(ctx, days, "-inf", "("+strconv.FormatInt(now.Add(-s.retention).UnixMilli(), 10))
			p.PExpire(ctx, days, s.retention)
			p.Del(ctx, s.keyStats(mid, sid))
			return nil
		})
		if err != nil {
			return err
		}
		r.Differences = list
		out = r
		return nil
	}
	for range 20 {
		out = nil
		err := s.rdb.Watch(ctx, txf, keys...)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store reconciliation %s/%s %s: %w", mid, sid, date, err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("store reconciliation %s/%s %s: too much contention", mid, sid, date)
}

// scriptIndex lists run ARGV[1] (of store/day ARGV[2]) for its merchant at
// ARGV[3] ms (a run keeps its first place), and drops runs older than
// ARGV[4] ms from the list and the id map. KEYS: list, id map.
var scriptIndex = redis.NewScript(`
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
for _, id in ipairs(old) do redis.call('HDEL', KEYS[2], id) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
redis.call('ZADD', KEYS[1], 'NX', ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1
`)

func (s *Service) index(ctx context.Context, r *Run) error {
	now := s.now()
	err := scriptIndex.Run(ctx, s.rdb, []string{s.keyIndex(r.MerchantID), s.keyIDs(r.MerchantID)},
		r.ID, r.StoreID+"/"+r.Date, r.CreatedAt.UnixMilli(), now.Add(-s.retention).UnixMilli(),
		s.retention.Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("index reconciliation %s: %w", r.ID, err)
	}
	return nil
}

// where finds the store and date of one of a merchant's runs.
func (s *Service) where(ctx context.Context, mid, runID string) (string, string, error) {
	if !validKeyPart(mid) || !validID("rc_", runID) {
		return "", "", ErrNotFound
	}
	v, err := s.rdb.HGet(ctx, s.keyIDs(mid), runID).Result()
	if errors.Is(err, redis.Nil) {
		return "", "", ErrNotFound
	}
	if err != nil {
		return "", "", fmt.Errorf("reconciliation %s: %w", runID, err)
	}
	sid, date, ok := strings.Cut(v, "/")
	if !ok {
		return "", "", ErrNotFound
	}
	return sid, date, nil
}

// raisedIn counts the differences whose alert was raised.
func raisedIn(diffs map[string]Difference) int64 {
	var n int64
	for _, d := range diffs {
		if d.EventID != "" {
			n++
		}
	}
	return n
}

// StoreCounts is what a store's reconciliations add up to.
type StoreCounts struct {
	// Open is how many differences are open over all its kept runs.
	Open int64 `json:"open"`
	// Raised is how many reconciliation.mismatch alerts its kept runs
	// raised.
	Raised int64 `json:"raised"`
}

// scriptKeptRuns reads the runs KEYS[2..] of the days ARGV[1..] listed in
// index KEYS[1], and drops from the index the days whose run is gone
// (expired), in one step: a run stored again later is listed again by
// its write. Returns the runs, false for the gone ones.
var scriptKeptRuns = redis.NewScript(`
local out = {}
for i = 2, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if not v then redis.call('ZREM', KEYS[1], ARGV[i - 1]) end
  out[i - 1] = v
end
return out
`)

// Counts sums a store's counts over its runs that still exist: exact
// after re-runs, acknowledgements and resolutions, and a run that expired
// takes its differences out of them.
func (s *Service) Counts(ctx context.Context, merchantID, storeID string) (StoreCounts, error) {
	if !validKeyPart(merchantID) || !validKeyPart(storeID) {
		return StoreCounts{}, ErrNotFound
	}
	fail := func(err error) (StoreCounts, error) {
		return StoreCounts{}, fmt.Errorf("reconciliation counts %s/%s: %w", merchantID, storeID, err)
	}
	days, err := s.rdb.ZRange(ctx, s.keyDays(merchantID, storeID), 0, -1).Result()
	if err != nil || len(days) == 0 {
		if err != nil {
			return fail(err)
		}
		return StoreCounts{}, nil
	}
	keys := make([]string, 0, 1+len(days))
	args := make([]any, 0, len(days))
	keys = append(keys, s.keyDays(merchantID, storeID))
	for _, day := range days {
		keys = append(keys, s.keyRun(merchantID, storeID, day))
		args = append(args, day)
	}
	runs, err := scriptKeptRuns.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil {
		return fail(err)
	}
	var sc StoreCounts
	for i, v := range runs {
		raw, ok := v.(string)
		if !ok {
			continue // expired
		}
		var sr storedRun
		if err := json.Unmarshal([]byte(raw), &sr); err != nil {
			return fail(fmt.Errorf("stored run of %s: %w", days[i], err))
		}
		sc.Open += int64(sr.Counts.Open)
		if sr.Raised != nil {
			sc.Raised += *sr.Raised
			continue
		}
		// Stored before runs kept their count of alerts: count them.
		dc, err := s.rdb.HVals(ctx, s.keyDiffs(merchantID, storeID, days[i])).Result()
		if err != nil {
			return fail(err)
		}
		for _, b := range dc {
			var d Difference
			if json.Unmarshal([]byte(b), &d) == nil && d.EventID != "" {
				sc.Raised++
			}
		}
	}
	return sc, nil
}

// markRaised records that difference id's alert was emitted; update
// counts it for the store in the same transaction, once.
func (s *Service) markRaised(ctx context.Context, mid, sid, date, id, evtID string) error {
	_, err := s.update(ctx, mid, sid, date, func(r *Run, diffs map[string]Difference) (*Run, error) {
		d, ok := diffs[id]
		if r == nil || !ok || d.EventID != "" {
			return nil, nil
		}
		d.EventID = evtID
		diffs[id] = d
		return r, nil
	})
	return err
}

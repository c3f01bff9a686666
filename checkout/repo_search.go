package checkout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The search indexes the merchant console reads (besides the per-merchant
// time index, keyList):
//
//   - by reference: one sorted set per merchant and reference
//     (m:{merchant}:ref:<hash>), member the checkout id, score its
//     creation (ms). It is written in Create's transaction, in the same
//     hash slot as the merchant's list, and expires with the newest
//     checkout it names (retention + MaxTTL after its creation). A
//     reference is usually one order, so this is about one key per
//     checkout: ~120 bytes (key, a 27-byte member and its score).
//   - by gateway ord_no: one string per order (ordno:{<ord_no>} → out_no),
//     written by UpdateAttempt right after it stores the ord_no that
//     payorder answered (a second round trip: the order's slot is not the
//     checkout's) and kept as long as the checkout may be. ~110 bytes per
//     attempt with an ord_no. Not written on the notify path (MarkPaid),
//     which keeps its round-trip budget: an ord_no first learned from a
//     notify (payorder's answer lost) is not indexed. A failure of the
//     write loses only the index entry (the attempt keeps its ord_no).
//     Either way the out_no or the checkout id still finds the checkout.
//
// A checkout id and an out_no need no index: the out_no names its checkout
// (ParseOutNo).

func (r *Repo) keyRef(merchantID, reference string) string {
	sum := sha256.Sum256([]byte(reference))
	return r.prefix + "m:{" + merchantID + "}:ref:" + hex.EncodeToString(sum[:16])
}

func (r *Repo) keyOrdNo(ordNo string) string { return r.prefix + "ordno:{" + ordNo + "}" }

// indexTTL is how long an index entry may still name a stored checkout.
func (r *Repo) indexTTL() time.Duration { return r.retention + MaxTTL }

// maxOrdNoLen bounds an ord_no looked up or indexed (the gateway's are 20
// to 32 characters).
const maxOrdNoLen = 64

// validOrdNo reports whether s can be a gateway ord_no: printable ASCII
// without braces (which would move the key's hash slot), at most
// maxOrdNoLen.
func validOrdNo(s string) bool {
	if s == "" || len(s) > maxOrdNoLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '{' || c == '}' {
			return false
		}
	}
	return true
}

// indexOrdNo records that ordNo is attempt seq of checkout id. Best
// effort: the attempt already holds its ord_no (see the package's search
// indexes above).
func (r *Repo) indexOrdNo(ctx context.Context, id string, seq int, ordNo string) {
	if !validOrdNo(ordNo) {
		return
	}
	_ = r.rdb.Set(ctx, r.keyOrdNo(ordNo), OutNo(id, seq), r.indexTTL()).Err()
}

// FindByOrdNo finds merchantID's checkout whose attempt the gateway
// numbered ordNo, by one key read and the checkout's. Another merchant's
// checkout is ErrNotFound, exactly like an unknown ord_no.
func (r *Repo) FindByOrdNo(ctx context.Context, merchantID, ordNo string) (*Checkout, error) {
	if !validOrdNo(ordNo) {
		return nil, fmt.Errorf("ord_no %.64q: %w", ordNo, ErrNotFound)
	}
	outNo, err := r.rdb.Get(ctx, r.keyOrdNo(ordNo)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("ord_no %s: %w", ordNo, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("ord_no %s: %w", ordNo, err)
	}
	return r.FindByOutNo(ctx, merchantID, outNo)
}

// FindByOutNo finds merchantID's checkout one of whose attempts is our
// gateway serial outNo: the out_no names the checkout, so this is one
// read. Another merchant's checkout is ErrNotFound.
func (r *Repo) FindByOutNo(ctx context.Context, merchantID, outNo string) (*Checkout, error) {
	c, _, err := r.AttemptByOutNo(ctx, outNo)
	if err != nil {
		return nil, err
	}
	if c.MerchantID != merchantID {
		return nil, fmt.Errorf("out_no %s: %w", outNo, ErrNotFound)
	}
	return c, nil
}

// FindByReference lists merchantID's checkouts whose reference is
// reference, newest first, at most limit (1..100), from the reference
// index. Checkouts created before the index existed are not in it: the
// console's bounded scan finds those.
func (r *Repo) FindByReference(ctx context.Context, merchantID, reference string, limit int) ([]*Checkout, error) {
	if reference == "" || CheckReference(reference) != nil {
		return nil, nil
	}
	limit = max(1, min(limit, 100))
	ids, err := r.rdb.ZRevRange(ctx, r.keyRef(merchantID, reference), 0, int64(limit-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("find reference: %w", err)
	}
	cs, err := r.getMany(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*Checkout, 0, len(cs))
	for _, c := range cs {
		if c != nil && c.MerchantID == merchantID && c.Reference == reference {
			out = append(out, c)
		}
	}
	return out, nil
}

// Filter keeps the checkouts a console list asks for; the zero Filter
// keeps all. Its fields are ANDed.
type Filter struct {
	// StoreID keeps one store's checkouts.
	StoreID string
	// Wallet keeps checkouts paid with it or, unpaid, with an attempt of
	// it (Matches needs the attempts for this).
	Wallet Method
	// MinAmount and MaxAmount bound the trade amount in fen (0: no bound).
	MinAmount, MaxAmount int64
	// Reference keeps checkouts with exactly this reference.
	Reference string
	// OrdNo keeps checkouts with an attempt the gateway numbered so.
	OrdNo string
}

// NeedsAttempts reports whether Matches reads the attempts.
func (f Filter) NeedsAttempts() bool { return f.Wallet != "" || f.OrdNo != "" }

// Empty reports whether f keeps every checkout.
func (f Filter) Empty() bool { return f == Filter{} }

// Matches reports whether c (with its attempts, when NeedsAttempts) is kept.
func (f Filter) Matches(c *Checkout, attempts []*Attempt) bool {
	switch {
	case f.StoreID != "" && c.StoreID != f.StoreID,
		f.MinAmount > 0 && c.Amounts.Trade < f.MinAmount,
		f.MaxAmount > 0 && c.Amounts.Trade > f.MaxAmount,
		f.Reference != "" && c.Reference != f.Reference:
		return false
	}
	if f.Wallet != "" {
		ok := false
		for _, a := range attempts {
			if a.Method == f.Wallet && (c.PaidAttempt == 0 || a.Seq == c.PaidAttempt) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if f.OrdNo != "" {
		ok := false
		for _, a := range attempts {
			ok = ok || a.OrdNo == f.OrdNo
		}
		return ok
	}
	return true
}

// scriptListRange is scriptList bounded by score: up to ARGV[2] ids of
// KEYS[1] with ARGV[3] <= score <= ARGV[4] (ms), newest first, after the
// member ARGV[1] ("" for the first page). -1 when the cursor is not in the
// index, nor in KEYS[2] when given (the merchant's list, for a status
// index whose cursor changed status: scored alike, by creation). One ZCOUNT or ZREVRANK to find where to start, then one
// ZREVRANGE: O(log N + n) whatever the index's size.
var scriptListRange = redis.NewScript(`
local start
if ARGV[1] ~= '' then
  local r = redis.call('ZREVRANK', KEYS[1], ARGV[1])
  if r then
    start = r + 1
  else
    -- A status index's cursor may have changed status since: continue
    -- from its place by creation time, read from the list (KEYS[2]).
    local s = KEYS[2] and redis.call('ZSCORE', KEYS[2], ARGV[1])
    if not s then return -1 end
    start = redis.call('ZCOUNT', KEYS[1], '(' .. s, '+inf')
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], s, s)) do
      if m > ARGV[1] then start = start + 1 end
    end
  end
else
  start = redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[4], '+inf')
end
local v = redis.call('ZREVRANGE', KEYS[1], start, start + tonumber(ARGV[2]) - 1, 'WITHSCORES')
local out = {}
local from = tonumber(ARGV[3])
for i = 1, #v, 2 do
  if tonumber(v[i + 1]) < from then break end
  out[#out + 1] = v[i]
end
return out
`)

// pageRange reads up to n members of the index keys[0] created in [from,
// to], newest first, after the member after (found in keys[1] when it
// left keys[0]).
func (r *Repo) pageRange(ctx context.Context, keys []string, after string, from, to time.Time, n int) ([]string, error) {
	lo, hi := int64(0), int64(1)<<53
	if !from.IsZero() {
		lo = ms(from)
	}
	if !to.IsZero() {
		hi = ms(to)
	}
	v, err := scriptListRange.Run(ctx, r.rdb, keys, after, n, strconv.FormatInt(lo, 10), strconv.FormatInt(hi, 10)).Result()
	if err != nil {
		return nil, fmt.Errorf("list checkouts: %w", err)
	}
	if code, ok := v.(int64); ok && code == -1 {
		return nil, ErrBadCursor
	}
	raw, _ := v.([]any)
	ids := make([]string, 0, len(raw))
	for _, x := range raw {
		if s, ok := x.(string); ok {
			ids = append(ids, s)
		}
	}
	return ids, nil
}

// attemptsOfMany reads the attempts of checkouts ids in one pipeline.
func (r *Repo) attemptsOfMany(ctx context.Context, ids []string) ([][]*Attempt, error) {
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, r.keyAttempts(id))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	out := make([][]*Attempt, len(ids))
	for i, cmd := range cmds {
		as, err := decodeAttempts(ids[i], cmd.Val())
		if err != nil {
			return nil, err
		}
		out[i] = as
	}
	return out, nil
}

package console

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultAuditRetention is how long audit entries are kept when the
// service gives no retention: the events' default (30 days).
const DefaultAuditRetention = 30 * 24 * time.Hour

// maxAuditPage bounds one List.
const maxAuditPage = 200

// AuditEntry is one thing a console user did: who, when, what, to what,
// from where.
type AuditEntry struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
	// Actor is the user's email.
	Actor string `json:"actor"`
	// Action names what was done: sign_in, sign_out, refund, …
	Action string `json:"action"`
	// Target is what it was done to (a checkout id), "" for none.
	Target string `json:"target,omitempty"`
	// Detail says more in a few words (an amount); never a secret.
	Detail string `json:"detail,omitempty"`
	// Address is the client's address.
	Address string `json:"address"`
}

// Audit is the console's audit log: per merchant, in Redis, one sorted set
// by time (one key, so one hash slot on a Cluster), kept for the events'
// retention. Entries older than it leave when an entry is written, and
// the whole log when none was written for that long (the key's TTL).
type Audit struct {
	rdb       redis.UniversalClient
	prefix    string
	retention time.Duration
	now       func() time.Time
}

// NewAudit returns the audit log on rdb; prefix starts its keys, retention
// (0: DefaultAuditRetention) is how long entries are kept; now is the
// clock (nil: time.Now).
func NewAudit(rdb redis.UniversalClient, prefix string, retention time.Duration, now func() time.Time) *Audit {
	if retention <= 0 {
		retention = DefaultAuditRetention
	}
	if now == nil {
		now = time.Now
	}
	return &Audit{rdb: rdb, prefix: prefix, retention: retention, now: now}
}

func (a *Audit) key(merchantID string) string { return a.prefix + "audit:{" + merchantID + "}" }

// Record writes e to merchantID's log, stamped now with a fresh id.
func (a *Audit) Record(ctx context.Context, merchantID string, e AuditEntry) error {
	if merchantID == "" || e.Actor == "" || e.Action == "" {
		return errors.New("console: an audit entry needs a merchant, an actor and an action")
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	e.ID = hex.EncodeToString(id[:])
	e.At = a.now().UTC()
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("console: audit entry: %w", err)
	}
	ms := e.At.UnixMilli()
	key := a.key(merchantID)
	_, err = a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, key, redis.Z{Score: float64(ms), Member: data})
		p.ZRemRangeByScore(ctx, key, "-inf", "("+strconv.FormatInt(ms-a.retention.Milliseconds(), 10))
		p.Expire(ctx, key, a.retention)
		return nil
	})
	if err != nil {
		return fmt.Errorf("console: audit write: %w", err)
	}
	return nil
}

// List returns up to n of merchantID's entries, newest first, written
// before the cursor before (unix ms; 0 for the newest), and the cursor of
// the next page (0 when there is none).
func (a *Audit) List(ctx context.Context, merchantID string, before int64, n int) ([]AuditEntry, int64, error) {
	n = min(max(n, 1), maxAuditPage)
	max := "+inf"
	if before > 0 {
		max = "(" + strconv.FormatInt(before, 10)
	}
	cutoff := a.now().Add(-a.retention).UnixMilli()
	raw, err := a.rdb.ZRevRangeByScore(ctx, a.key(merchantID), &redis.ZRangeBy{Max: max, Min: strconv.FormatInt(cutoff, 10), Count: int64(n) + 1}).Result()
	if err != nil {
		return nil, 0, fmt.Errorf("console: audit read: %w", err)
	}
	var out []AuditEntry
	for _, s := range raw {
		var e AuditEntry
		if err := json.Unmarshal([]byte(s), &e); err != nil {
			continue // written by no version of ours: skipped, not fatal
		}
		out = append(out, e)
	}
	var next int64
	if len(out) > n {
		out = out[:n]
		next = out[n-1].At.UnixMilli()
	}
	return out, next, nil
}

package checkout

import (
	"container/list"
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// A checkout's hash has two kinds of fields. Its terms (amounts,
// description, merchant, store, URLs, wallets, expiry, metadata, secret)
// are written once, by Create, and never change. Its state (stateFields)
// is what the transitions' scripts write. The payer's pages read a
// checkout on every view and poll; GetCurrent keeps the terms of the
// checkouts it has read in a bounded cache of this process and reads only
// the state from Redis: an HMGET of stateFields instead of an HGETALL of
// every field, so Redis sends, and the service parses, a fraction of it.
// The state always comes from Redis in one command, so a view never shows
// a stale status: a checkout paid a moment ago shows paid.

// stateFields are the fields of a checkout's hash that change after Create,
// "id" first (a missing checkout reads as no id). Every field a script or
// transaction writes to the checkout's hash after Create must be listed
// here (TestGetCurrentMatchesGet runs each transition and compares).
var stateFields = []string{"id", "status", "updated_at", "late", "late_from", "refunded", "paid_at", "paid_attempt", "seq"}

// stateArgs is the HMGET of stateFields with its key's place empty, the
// fields boxed once: cmdable.HMGet would box each field on every call.
var stateArgs = func() []any {
	a := []any{"hmget", ""}
	for _, f := range stateFields {
		a = append(a, f)
	}
	return a
}()

// hmgetState queues or sends (do: a client's or a pipeline's Do) the
// HMGET of the state fields of checkout key.
func hmgetState(ctx context.Context, do func(context.Context, ...any) *redis.Cmd, key string) *redis.Cmd {
	args := make([]any, len(stateArgs))
	copy(args, stateArgs)
	args[1] = key
	return do(ctx, args...)
}

// DefaultTermsCacheBytes bounds the terms cache of a Repo (WithTermsCache).
const DefaultTermsCacheBytes = 4 << 20

// termsCache keeps checkouts' terms, least recently used first out, within
// a bound on their size. It is safe for concurrent use.
type termsCache struct {
	mu    sync.Mutex
	max   int
	size  int
	lru   *list.List // of *termsEntry, most recent at the front
	byID  map[string]*list.Element
	limit int // the largest entry kept
}

type termsEntry struct {
	id    string
	terms *Checkout // the terms only: the state fields are zero
	size  int
}

func newTermsCache(maxBytes int) *termsCache {
	if maxBytes <= 0 {
		return nil
	}
	return &termsCache{max: maxBytes, limit: maxBytes / 8, lru: list.New(), byID: map[string]*list.Element{}}
}

// get returns the cached terms of checkout id, nil when they are not kept.
func (t *termsCache) get(id string) *Checkout {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.byID[id]
	if !ok {
		return nil
	}
	t.lru.MoveToFront(e)
	return e.Value.(*termsEntry).terms
}

// put keeps the terms of c, dropping the least recently used beyond the
// bound; a checkout too large for an eighth of the bound is not kept.
func (t *termsCache) put(c *Checkout) {
	if t == nil {
		return
	}
	terms := termsOf(c)
	size := termsSize(terms)
	if size > t.limit {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.byID[c.ID]; ok {
		return
	}
	t.byID[c.ID] = t.lru.PushFront(&termsEntry{id: c.ID, terms: terms, size: size})
	t.size += size
	for t.size > t.max {
		last := t.lru.Back()
		old := last.Value.(*termsEntry)
		t.lru.Remove(last)
		delete(t.byID, old.id)
		t.size -= old.size
	}
}

// drop forgets checkout id (it was not found: removed, or gone with its TTL).
func (t *termsCache) drop(id string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.byID[id]; ok {
		t.lru.Remove(e)
		delete(t.byID, id)
		t.size -= e.Value.(*termsEntry).size
	}
}

// len is how many checkouts' terms are kept (tests).
func (t *termsCache) len() (n, bytes int) {
	if t == nil {
		return 0, 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byID), t.size
}

// termsOf is c with its state fields zeroed: what never changes.
func termsOf(c *Checkout) *Checkout {
	t := *c
	t.UpdatedAt, t.Status, t.Late, t.LateFrom = time.Time{}, "", false, ""
	t.Refunded, t.PaidAt, t.PaidAttempt, t.Attempts = 0, time.Time{}, 0, 0
	return &t
}

// termsSize is about what the terms of c hold in memory: its strings and a
// fixed overhead for the struct, the entry and the map and list slots.
func termsSize(c *Checkout) int {
	n := 512 + len(c.ID)*2 + len(c.MerchantID) + len(c.StoreID) + len(c.Description) + len(c.Reference) +
		len(c.SuccessURL) + len(c.CancelURL) + len(c.LatePolicy) + len(c.WebhookURL) + len(c.PaymentLink) +
		len(c.ClientSecret) + 16*len(c.Wallets)
	for _, w := range c.Wallets {
		n += len(w)
	}
	for k, v := range c.Metadata {
		n += 48 + len(k) + len(v)
	}
	return n
}

// WithTermsCache bounds the cache of checkouts' terms GetCurrent keeps to
// about maxBytes (DefaultTermsCacheBytes when not given); 0 or less turns
// it off, and GetCurrent then reads like Get.
func WithTermsCache(maxBytes int) Option {
	return func(r *Repo) { r.terms = newTermsCache(maxBytes) }
}

// GetCurrent reads a checkout as Get does, the same value: its terms from
// this process's cache when it has read the checkout before, and its state
// from Redis, always, in one HMGET. ErrNotFound when there is none. The
// checkout returned shares its Metadata and Wallets with the cache: the
// caller must not change them.
func (r *Repo) GetCurrent(ctx context.Context, id string) (*Checkout, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("checkout %.40q: %w", id, ErrNotFound)
	}
	terms := r.terms.get(id)
	if terms == nil {
		return r.getAndKeep(ctx, id)
	}
	// Page views share pipelines under load (batch.go).
	var cmd *redis.Cmd
	err := r.batch.do(ctx, func(p redis.Pipeliner) { cmd = hmgetState(ctx, p.Do, r.keyCheckout(id)) })
	if err != nil {
		return nil, fmt.Errorf("checkout %s: %w", id, err)
	}
	vals, err := cmd.Slice()
	if err != nil {
		return nil, fmt.Errorf("checkout %s: %w", id, err)
	}
	return r.withState(terms, vals)
}

// getAndKeep is Get, keeping the terms of what it read.
func (r *Repo) getAndKeep(ctx context.Context, id string) (*Checkout, error) {
	c, err := r.Get(ctx, id)
	if err == nil {
		r.terms.put(c)
	}
	return c, err
}

// Share runs the commands queue adds to a pipeline shared with other
// concurrent calls of the Repo's hot paths, and returns once it has run
// (batch.go); the caller then reads the commands it queued. The error is
// ctx's when it ended before the pipeline ran; otherwise each command
// holds its own. A page reads the checkout and the payer's session so.
func (r *Repo) Share(ctx context.Context, queue func(redis.Pipeliner)) error {
	return r.batch.do(ctx, queue)
}

// QueueGetCurrent is GetCurrent queued on pipe (QueueGet's way): the read
// shares a round trip with others, and the function returned decodes it
// once pipe has run.
func (r *Repo) QueueGetCurrent(ctx context.Context, pipe redis.Pipeliner, id string) func() (*Checkout, error) {
	terms := r.terms.get(id)
	if terms == nil || !ValidID(id) {
		get := r.QueueGet(ctx, pipe, id)
		return func() (*Checkout, error) {
			c, err := get()
			if err == nil {
				r.terms.put(c)
			}
			return c, err
		}
	}
	cmd := hmgetState(ctx, pipe.Do, r.keyCheckout(id))
	return func() (*Checkout, error) {
		vals, err := cmd.Slice()
		if err != nil {
			return nil, fmt.Errorf("checkout %s: %w", id, err)
		}
		return r.withState(terms, vals)
	}
}

// GetCurrentWithAttempts is GetWithAttempts with the checkout read as
// GetCurrent reads it: still one round trip.
func (r *Repo) GetCurrentWithAttempts(ctx context.Context, id string) (*Checkout, []*Attempt, error) {
	if !ValidID(id) {
		return nil, nil, fmt.Errorf("checkout %.40q: %w", id, ErrNotFound)
	}
	terms := r.terms.get(id)
	if terms == nil {
		c, atts, err := r.GetWithAttempts(ctx, id)
		if err == nil {
			r.terms.put(c)
		}
		return c, atts, err
	}
	// Status polls share pipelines under load (batch.go).
	var st *redis.Cmd
	var att *redis.MapStringStringCmd
	err := r.batch.do(ctx, func(p redis.Pipeliner) {
		st = hmgetState(ctx, p.Do, r.keyCheckout(id))
		att = p.HGetAll(ctx, r.keyAttempts(id))
	})
	if err != nil {
		return nil, nil, fmt.Errorf("checkout %s: %w", id, err)
	}
	vals, err := st.Slice()
	if err != nil {
		return nil, nil, fmt.Errorf("checkout %s: %w", id, err)
	}
	if err := att.Err(); err != nil {
		return nil, nil, fmt.Errorf("checkout %s: %w", id, err)
	}
	c, err := r.withState(terms, vals)
	if err != nil {
		return nil, nil, err
	}
	var atts []*Attempt
	if f := att.Val(); len(f) > 0 {
		if atts, err = decodeAttempts(id, f); err != nil {
			return nil, nil, err
		}
	}
	return c, atts, nil
}

// withState is a copy of terms with the state read by HMGET of stateFields.
func (r *Repo) withState(terms *Checkout, vals []any) (*Checkout, error) {
	str := func(i int) string {
		s, _ := vals[i].(string)
		return s
	}
	if len(vals) != len(stateFields) || str(0) == "" {
		r.terms.drop(terms.ID)
		return nil, fmt.Errorf("checkout %s: %w", terms.ID, ErrNotFound)
	}
	var bad error
	num := func(i int) int64 {
		s := str(i)
		if s == "" {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil && bad == nil {
			bad = fmt.Errorf("%w: field %s", errCorrupt, stateFields[i])
		}
		return n
	}
	tm := func(i int) time.Time {
		if n := num(i); n != 0 {
			return time.UnixMilli(n)
		}
		return time.Time{}
	}
	c := *terms
	c.Status = Status(str(1))
	c.UpdatedAt = tm(2)
	c.Late = str(3) == "1"
	c.LateFrom = Status(str(4))
	c.Refunded = num(5)
	c.PaidAt = tm(6)
	c.PaidAttempt = int(num(7))
	c.Attempts = int(num(8))
	if bad != nil {
		return nil, fmt.Errorf("checkout %s: %w", c.ID, bad)
	}
	return &c, nil
}

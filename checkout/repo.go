package checkout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRetention is how long checkouts are kept after they stop being
// active.
const DefaultRetention = 90 * 24 * time.Hour

// IdempotencyTTL is how long an Idempotency-Key is remembered.
const IdempotencyTTL = 24 * time.Hour

// idemInFlightTTL bounds a reservation whose request never finished (a
// crashed process), so the key can be retried later.
const idemInFlightTTL = 30 * time.Second

// Repo stores checkouts and their attempts in Redis. It is safe for
// concurrent use.
type Repo struct {
	rdb       redis.UniversalClient
	prefix    string
	retention time.Duration
	now       func() time.Time
	// cluster is set on Redis Cluster, where one MULTI/EXEC cannot span
	// the checkout's slot and the shared indexes' slots.
	cluster bool
	// creates counts this Repo's creates: every listTrimEvery-th one trims
	// the merchant's list.
	creates atomic.Uint64
	// observe, when set, is told of every state move (WithObserver).
	observe func(from, to Status, merchantID string)
	// terms keeps checkouts' terms for GetCurrent (WithTermsCache).
	terms *termsCache
	// batch shares pipelines between concurrent hot-path calls (batch.go).
	batch batcher
}

// listTrimEvery is how often Create drops the merchant list's entries
// older than any checkout still stored: a command on every create would
// cost each create a seventh of its Redis work for nothing. Between trims
// a list holds at most this many stale entries per process, which the
// list reads skip (their checkouts are gone).
const listTrimEvery = 64

// Option configures a Repo.
type Option func(*Repo)

// WithPrefix puts every key under prefix (tests use a random one). It must
// not contain '{' or '}'.
func WithPrefix(p string) Option { return func(r *Repo) { r.prefix = p } }

// WithRetention sets how long finished checkouts are kept (default 90 days).
func WithRetention(d time.Duration) Option {
	return func(r *Repo) {
		if d > 0 {
			r.retention = d
		}
	}
}

// WithClock sets the clock transitions use (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(r *Repo) {
		if now != nil {
			r.now = now
		}
	}
}

// WithObserver has observe called after each state move a call of the
// repository makes, with the statuses before and after and the checkout's
// merchant (app counts them in its metrics). It is called once per move,
// by the one call that made it; it must be quick.
func WithObserver(observe func(from, to Status, merchantID string)) Option {
	return func(r *Repo) { r.observe = observe }
}

// moved reports t to the observer when it is a move, and returns it.
func (r *Repo) moved(t *Transition) *Transition {
	if r.observe != nil && t.Changed && t.From != t.To && t.Checkout != nil {
		r.observe(t.From, t.To, t.Checkout.MerchantID)
	}
	return t
}

// NewRepo returns a repository on rdb.
func NewRepo(rdb redis.UniversalClient, opts ...Option) *Repo {
	r := &Repo{rdb: rdb, retention: DefaultRetention, now: time.Now, terms: newTermsCache(DefaultTermsCacheBytes)}
	r.batch.rdb = rdb
	for _, o := range opts {
		o(r)
	}
	r.prefix = strings.NewReplacer("{", "", "}", "").Replace(r.prefix)
	_, r.cluster = rdb.(*redis.ClusterClient)
	r.batch.alone = r.cluster
	return r
}

// Retention reports how long finished checkouts are kept.
func (r *Repo) Retention() time.Duration { return r.retention }

func (r *Repo) keyCheckout(id string) string { return r.prefix + "co:{" + id + "}" }
func (r *Repo) keyAttempts(id string) string { return r.prefix + "co:{" + id + "}:att" }
func (r *Repo) keyLock(id string) string     { return r.prefix + "co:{" + id + "}:lock" }
func (r *Repo) keyExpiry(id string) string   { return r.keyExpiryShard(ShardOf(id)) }
func (r *Repo) keyExpiryShard(n int) string  { return r.prefix + ShardTag(n) + ":expiry" }
func (r *Repo) keyList(merchantID string) string {
	return r.prefix + "m:{" + merchantID + "}:list"
}
func (r *Repo) keyIdem(merchantID, key string) string {
	sum := sha256.Sum256([]byte(key))
	return r.prefix + "idem:{" + merchantID + "}:" + hex.EncodeToString(sum[:])
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// IdempotentResponse is the answer stored with a create, replayed when the
// same Idempotency-Key and body come again.
type IdempotentResponse struct {
	MerchantID string
	Key        string
	Status     int
	Body       []byte
}

// Create stores a new checkout (from NewCheckout) and indexes it for expiry
// and listing, in one round trip (one pipeline, which concurrent creates
// and reads may share, batch.go; a round trip per node on a Cluster).
// With idem set, the stored answer of the reserved Idempotency-Key is
// written in the same pipeline, last.
//
// It is a plain pipeline, not MULTI/EXEC, on every topology. On a Cluster
// the keys are in several slots, which one transaction cannot span, so
// nothing may depend on the atomicity; on a single Redis it only cost
// commands (MULTI, EXEC and a QUEUED reply per command, for Redis and the
// client to handle). What each reader sees without it:
//
//   - One connection's commands run in order, each whole. The hash's HSET
//     goes first with all its fields, so whoever finds the id in the list,
//     a status or reference index or the expiry queue finds the checkout
//     (on a Cluster they may not yet, and skip it: getMany, Expire).
//   - The idempotent answer goes last: a replay names a checkout stored
//     and indexed.
//   - Nobody acts on the id before Create returns, but for a payment link's
//     tap (CreateFromLink), which may hand the id to a second payer once
//     Get finds it. Should that payer start a payment before this
//     pipeline's status ZADD lands (a pipeline split across reads), the
//     checkout is in the open and pending sets until its next status
//     change indexes it again; list reads skip an entry of another status
//     (repo_status.go). A Cluster had this already.
//   - A failure part-way (a connection torn mid-pipeline; OOM under
//     noeviction, which refuses HSET and ZADD but not PEXPIREAT) can store
//     the checkout without some of its indexes or its idempotent answer,
//     as on a Cluster. Create then fails, the handler releases the key,
//     and the merchant's retry makes a new checkout; the partial one was
//     never answered, expires by its expires_at check and, its PEXPIREAT
//     being next to the HSET, its TTL. Only a connection torn exactly
//     between those two leaves the hash without TTL (a Cluster too).
//   - go-redis sends a pipeline again after a network error: every command
//     here is idempotent (HSET and ZADD of the same values, PEXPIREAT of
//     the same time, trims by a fixed score), so a second run changes
//     nothing.
func (r *Repo) Create(ctx context.Context, c *Checkout, idem *IdempotentResponse) error {
	if c == nil || !ValidID(c.ID) || c.Status != StatusOpen {
		return fmt.Errorf("create checkout: %w: not a new checkout", ErrInvalid)
	}
	fields, err := encodeCheckout(c)
	if err != nil {
		return fmt.Errorf("create checkout %s: %w", c.ID, err)
	}
	kc := r.keyCheckout(c.ID)
	list := r.keyList(c.MerchantID)
	// Entries older than any checkout still stored are dropped as we go.
	trim := r.creates.Add(1)%listTrimEvery == 0
	// The id boxed once for its three or four index entries.
	id, created := any(c.ID), float64(ms(c.CreatedAt))
	// Its commands, read back once the shared pipeline ran (batch.go).
	var sent []redis.Cmder
	err = r.batch.do(ctx, func(p redis.Pipeliner) {
		defer func() { sent = queued(p) }()
		p.HSet(ctx, kc, fields...)
		p.PExpireAt(ctx, kc, c.ExpiresAt.Add(r.retention))
		p.ZAdd(ctx, r.keyExpiry(c.ID), redis.Z{Score: float64(ms(c.ExpiresAt)), Member: id})
		p.ZAdd(ctx, list, redis.Z{Score: created, Member: id})
		// Same hash slot as list (repo_status.go).
		p.ZAdd(ctx, r.keyStatus(c.MerchantID, StatusOpen), redis.Z{Score: created, Member: id})
		if trim {
			old := strconv.FormatInt(ms(c.CreatedAt.Add(-r.retention-MaxTTL)), 10)
			p.ZRemRangeByScore(ctx, list, "-inf", old)
			for _, s := range indexStatuses {
				p.ZRemRangeByScore(ctx, r.keyStatus(c.MerchantID, s), "-inf", old)
			}
			// Scored by later times than creation: what they hold is
			// older still.
			for _, k := range []ListBy{ByPaid, ByLate, ByDuplicate, ByRefund} {
				p.ZRemRangeByScore(ctx, r.keyMerchant(c.MerchantID, string(k)), "-inf", old)
			}
		}
		if c.Reference != "" {
			// Same hash slot as list (repo_search.go).
			kr := r.keyRef(c.MerchantID, c.Reference)
			p.ZAdd(ctx, kr, redis.Z{Score: created, Member: id})
			p.PExpireAt(ctx, kr, c.CreatedAt.Add(r.indexTTL()))
		}
		if idem != nil {
			k := r.keyIdem(idem.MerchantID, idem.Key)
			p.HSet(ctx, k, "status", strconv.Itoa(idem.Status), "body", idem.Body)
			p.PExpire(ctx, k, IdempotencyTTL)
		}
	})
	if err != nil {
		return fmt.Errorf("create checkout %s: %w", c.ID, err)
	}
	for _, cmd := range sent {
		if err := cmd.Err(); err != nil {
			return fmt.Errorf("create checkout %s: %w", c.ID, err)
		}
	}
	return nil
}

// encodedCheckout holds the values of a checkout's hash fields, copied,
// so that encodeCheckout's arguments can point into it: a string or an
// int64 put in an interface is copied to the heap, one allocation per
// field, while a pointer is not (go-redis writes *string and *int64 as
// their values). One allocation instead of about twenty.
type encodedCheckout struct {
	id, merchant, store, description, reference, successURL, cancelURL string
	latePolicy, webhookURL, meta, wallets, clientSecret, status        string
	late, paymentLink                                                  string
	original, discount, ignore, trade, refunded, seq                   int64
	expires, created, updated                                          int64
	args                                                               [48]any
}

func encodeCheckout(c *Checkout) ([]any, error) {
	e := &encodedCheckout{
		id: c.ID, merchant: c.MerchantID, store: c.StoreID,
		description: c.Description, reference: c.Reference,
		successURL: c.SuccessURL, cancelURL: c.CancelURL,
		latePolicy: string(c.LatePolicy), webhookURL: c.WebhookURL,
		clientSecret: storedSecret(c.ID, c.ClientSecret), status: string(c.Status),
		late: "0", paymentLink: c.PaymentLink,
		original: c.Amounts.Original, discount: c.Amounts.Discount,
		ignore: c.Amounts.Ignore, trade: c.Amounts.Trade,
		refunded: c.Refunded, seq: int64(c.Attempts),
		expires: ms(c.ExpiresAt), created: ms(c.CreatedAt), updated: ms(c.UpdatedAt),
	}
	if len(c.Metadata) > 0 {
		b, err := json.Marshal(c.Metadata)
		if err != nil {
			return nil, err
		}
		e.meta = string(b)
	}
	switch len(c.Wallets) {
	case 0:
	case 1:
		e.wallets = string(c.Wallets[0])
	default:
		wallets := make([]string, len(c.Wallets))
		for i, w := range c.Wallets {
			wallets[i] = string(w)
		}
		e.wallets = strings.Join(wallets, ",")
	}
	if c.Late {
		e.late = "1"
	}
	e.args = [...]any{
		"id", &e.id,
		"merchant", &e.merchant,
		"store", &e.store,
		"original", &e.original,
		"discount", &e.discount,
		"ignore", &e.ignore,
		"trade", &e.trade,
		"description", &e.description,
		"reference", &e.reference,
		"success_url", &e.successURL,
		"cancel_url", &e.cancelURL,
		"late_policy", &e.latePolicy,
		"webhook_url", &e.webhookURL,
		"metadata", &e.meta,
		"wallets", &e.wallets,
		"expires_at", &e.expires,
		"created_at", &e.created,
		"updated_at", &e.updated,
		"client_secret", &e.clientSecret,
		"status", &e.status,
		"late", &e.late,
		"refunded", &e.refunded,
		"seq", &e.seq,
		"payment_link", &e.paymentLink,
	}
	return e.args[:], nil
}

// A checkout's client secret is its id, "_secret_" and a random part
// (NewCheckout); the hash keeps the random part only. Whole it is 67
// bytes, over the 64 up to which Redis keeps a hash's values packed in
// one allocation (hash-max-listpack-value): with it every checkout's hash
// took Redis's table encoding, about 2 KB where the packed one takes 760
// bytes (TestCheckoutHashPacked). Checkouts stored with the whole secret
// read back the same (secretOf).

// storedSecret is what the hash keeps of checkout id's client secret.
func storedSecret(id, secret string) string {
	if rest, ok := strings.CutPrefix(secret, id+"_secret_"); ok && rest != "" {
		return rest
	}
	return secret
}

// secretOf is checkout id's client secret from the stored value, which
// is its random part, or the whole secret for a checkout stored before.
func secretOf(id, stored string) string {
	if stored == "" || strings.HasPrefix(stored, id+"_secret_") {
		return stored
	}
	return id + "_secret_" + stored
}

// errCorrupt marks a stored record we cannot read back.
var errCorrupt = errors.New("corrupt record")

func decodeCheckout(f map[string]string) (*Checkout, error) {
	if f["id"] == "" {
		return nil, ErrNotFound
	}
	var bad error
	num := func(k string) int64 {
		s, ok := f[k]
		if !ok || s == "" {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil && bad == nil {
			bad = fmt.Errorf("%w: field %s", errCorrupt, k)
		}
		return n
	}
	tm := func(k string) time.Time {
		n := num(k)
		if n == 0 {
			return time.Time{}
		}
		return time.UnixMilli(n)
	}
	c := &Checkout{
		ID:         f["id"],
		MerchantID: f["merchant"],
		StoreID:    f["store"],
		Amounts: Amounts{
			Original: num("original"), Discount: num("discount"), Ignore: num("ignore"), Trade: num("trade"),
		},
		Description:  f["description"],
		Reference:    f["reference"],
		SuccessURL:   f["success_url"],
		CancelURL:    f["cancel_url"],
		LatePolicy:   LatePolicy(f["late_policy"]),
		WebhookURL:   f["webhook_url"],
		ExpiresAt:    tm("expires_at"),
		CreatedAt:    tm("created_at"),
		UpdatedAt:    tm("updated_at"),
		ClientSecret: secretOf(f["id"], f["client_secret"]),
		Status:       Status(f["status"]),
		Late:         f["late"] == "1",
		LateFrom:     Status(f["late_from"]),
		Refunded:     num("refunded"),
		PaidAt:       tm("paid_at"),
		PaidAttempt:  int(num("paid_attempt")),
		Attempts:     int(num("seq")),
		PaymentLink:  f["payment_link"],
	}
	if m := f["metadata"]; m != "" {
		if err := json.Unmarshal([]byte(m), &c.Metadata); err != nil && bad == nil {
			bad = fmt.Errorf("%w: metadata", errCorrupt)
		}
	}
	if w := f["wallets"]; w != "" {
		for _, s := range strings.Split(w, ",") {
			c.Wallets = append(c.Wallets, Method(s))
		}
	}
	if bad != nil {
		return nil, fmt.Errorf("checkout %s: %w", c.ID, bad)
	}
	return c, nil
}

// Get reads a checkout. ErrNotFound when there is none.
func (r *Repo) Get(ctx context.Context, id string) (*Checkout, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("checkout %.40q: %w", id, ErrNotFound)
	}
	f, err := r.rdb.HGetAll(ctx, r.keyCheckout(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("checkout %s: %w", id, err)
	}
	c, err := decodeCheckout(f)
	if err != nil {
		return nil, fmt.Errorf("checkout %s: %w", id, err)
	}
	return c, nil
}

// QueueGet queues the read of checkout id on pipe, so that it shares a
// Redis round trip with other reads (the payer's session on a page view),
// and returns what decodes it once pipe has run: Get's answers.
func (r *Repo) QueueGet(ctx context.Context, pipe redis.Pipeliner, id string) func() (*Checkout, error) {
	if !ValidID(id) {
		return func() (*Checkout, error) { return nil, fmt.Errorf("checkout %.40q: %w", id, ErrNotFound) }
	}
	cmd := pipe.HGetAll(ctx, r.keyCheckout(id))
	return func() (*Checkout, error) {
		f, err := cmd.Result()
		if err != nil {
			return nil, fmt.Errorf("checkout %s: %w", id, err)
		}
		c, err := decodeCheckout(f)
		if err != nil {
			return nil, fmt.Errorf("checkout %s: %w", id, err)
		}
		return c, nil
	}
}

// GetWithAttempts reads a checkout and its attempts in one round trip:
// one pipeline of the two reads, whose keys share the checkout's hash
// slot, so it is one round trip on every topology. The checkout is read
// first: an attempt it does not count yet may be listed (one added
// between the reads), never the reverse, since an attempt is added with
// the checkout's count in one script. ErrNotFound when there is no
// checkout.
func (r *Repo) GetWithAttempts(ctx context.Context, id string) (*Checkout, []*Attempt, error) {
	if !ValidID(id) {
		return nil, nil, fmt.Errorf("checkout %.40q: %w", id, ErrNotFound)
	}
	var ck, att *redis.MapStringStringCmd
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		ck = p.HGetAll(ctx, r.keyCheckout(id))
		att = p.HGetAll(ctx, r.keyAttempts(id))
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("checkout %s: %w", id, err)
	}
	c, err := decodeCheckout(ck.Val())
	if err != nil {
		return nil, nil, fmt.Errorf("checkout %s: %w", id, err)
	}
	var atts []*Attempt
	if f := att.Val(); len(f) > 0 {
		if atts, err = decodeAttempts(id, f); err != nil {
			return nil, nil, err
		}
	}
	return c, atts, nil
}

// GetFor reads a checkout of one merchant: another merchant's checkout is
// ErrNotFound, exactly like a missing one.
func (r *Repo) GetFor(ctx context.Context, merchantID, id string) (*Checkout, error) {
	c, err := r.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.MerchantID != merchantID {
		return nil, fmt.Errorf("checkout %s: %w", id, ErrNotFound)
	}
	return c, nil
}

// Attempts lists a checkout's attempts in order.
func (r *Repo) Attempts(ctx context.Context, id string) ([]*Attempt, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("checkout %.40q: %w", id, ErrNotFound)
	}
	f, err := r.rdb.HGetAll(ctx, r.keyAttempts(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("attempts of %s: %w", id, err)
	}
	return decodeAttempts(id, f)
}

func decodeAttempts(id string, f map[string]string) ([]*Attempt, error) {
	bySeq := map[int]*Attempt{}
	maxSeq := 0
	for k, v := range f {
		s, name, ok := strings.Cut(k, ".")
		n, err := strconv.Atoi(s)
		if !ok || err != nil || n <= 0 {
			return nil, fmt.Errorf("attempts of %s: %w: field %q", id, errCorrupt, k)
		}
		a := bySeq[n]
		if a == nil {
			a = &Attempt{CheckoutID: id, Seq: n, OutNo: OutNo(id, n)}
			bySeq[n] = a
			maxSeq = max(maxSeq, n)
		}
		switch name {
		case "method":
			a.Method = Method(v)
		case "scenario":
			a.Scenario = Scenario(v)
		case "status":
			a.Status = AttemptStatus(v)
		case "ord_no":
			a.OrdNo = v
		case "amount":
			a.Amount, _ = strconv.ParseInt(v, 10, 64)
		case "created_at":
			n, _ := strconv.ParseInt(v, 10, 64)
			a.CreatedAt = time.UnixMilli(n)
		case "updated_at":
			n, _ := strconv.ParseInt(v, 10, 64)
			a.UpdatedAt = time.UnixMilli(n)
		case "returned":
			n, _ := strconv.ParseInt(v, 10, 64)
			a.ReturnedUnpaid = time.UnixMilli(n)
		}
	}
	out := make([]*Attempt, 0, len(bySeq))
	for i := 1; i <= maxSeq; i++ {
		if a := bySeq[i]; a != nil {
			out = append(out, a)
		}
	}
	return out, nil
}

// AttemptByOutNo finds the checkout and attempt a gateway out_no belongs to
// (one round trip). ErrNotFound when the out_no is not ours or is gone.
func (r *Repo) AttemptByOutNo(ctx context.Context, outNo string) (*Checkout, *Attempt, error) {
	id, seq, ok := ParseOutNo(outNo)
	if !ok {
		return nil, nil, fmt.Errorf("out_no %.64q: %w", outNo, ErrNotFound)
	}
	c, as, err := r.GetWithAttempts(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("out_no %s: %w", outNo, err)
	}
	for _, a := range as {
		if a.Seq == seq {
			return c, a, nil
		}
	}
	return nil, nil, fmt.Errorf("out_no %s: %w", outNo, ErrNotFound)
}

// Transition is the outcome of a state move. Changed is true only for the one
// call that really moved the checkout, so callers emit exactly one event per
// change.
type Transition struct {
	Changed bool
	// From is the status before the call, To the status after it.
	From, To Status
	// Checkout is the checkout as it is after the call.
	Checkout *Checkout
}

func (r *Repo) run(ctx context.Context, s *redis.Script, id string, args ...any) ([]any, error) {
	keys := []string{r.keyCheckout(id), r.keyAttempts(id)}
	argv := append([]any{ms(r.now()), r.retention.Milliseconds()}, args...)
	v, err := s.Run(ctx, r.rdb, keys, argv...).Slice()
	if err != nil {
		return nil, err
	}
	if len(v) == 0 {
		return nil, fmt.Errorf("%w: empty script answer", errCorrupt)
	}
	return v, nil
}

func code(v []any) int64 {
	n, _ := v[0].(int64)
	return n
}

func str(v []any, i int) string {
	if i < len(v) {
		s, _ := v[i].(string)
		return s
	}
	return ""
}

func fieldsAt(v []any, i int) (*Checkout, error) {
	if i >= len(v) {
		return nil, fmt.Errorf("%w: script answer has no fields", errCorrupt)
	}
	flat, _ := v[i].([]any)
	f := make(map[string]string, len(flat)/2)
	for j := 0; j+1 < len(flat); j += 2 {
		k, _ := flat[j].(string)
		s, _ := flat[j+1].(string)
		f[k] = s
	}
	return decodeCheckout(f)
}

// move runs scriptMove and shapes its answer.
func (r *Repo) move(ctx context.Context, id string, to Status, from []Status, due bool) (*Transition, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("%w: checkout id", ErrNotFound)
	}
	fl := ","
	for _, s := range from {
		fl += string(s) + ","
	}
	d := "0"
	if due {
		d = "1"
	}
	v, err := r.run(ctx, scriptMove, id, string(to), fl, d)
	if err != nil {
		return nil, err
	}
	if code(v) < 0 {
		return nil, ErrNotFound
	}
	c, err := fieldsAt(v, 2)
	if err != nil {
		return nil, err
	}
	t := r.moved(&Transition{Changed: code(v) == 1, From: Status(str(v, 1)), To: c.Status, Checkout: c})
	if t.Changed || !c.Status.Active() {
		// Indexed before it leaves the expiry queue: the poller's Expire
		// of a checkout paid in time (refused) indexes it too, which
		// closes the gap of a payment whose index write was lost.
		if err := r.indexStatus(ctx, c, statusIndexed{}); err != nil {
			return t, err
		}
	}
	if !c.Status.Active() {
		// Finished checkouts leave the expiry queue.
		if err := r.rdb.ZRem(ctx, r.keyExpiry(id), id).Err(); err != nil {
			return t, err
		}
	}
	return t, nil
}

// Cancel moves an open or pending checkout to cancelled. Refused (Changed
// false, no error) in any other state.
func (r *Repo) Cancel(ctx context.Context, id string) (*Transition, error) {
	t, err := r.move(ctx, id, StatusCancelled, []Status{StatusOpen, StatusPending}, false)
	if err != nil {
		return nil, fmt.Errorf("cancel %s: %w", id, err)
	}
	return t, nil
}

// Expire moves an open or pending checkout whose expiry has passed to
// expired. Refused (Changed false) when it is not due or not active; a
// checkout that is no longer active also leaves the expiry queue.
func (r *Repo) Expire(ctx context.Context, id string) (*Transition, error) {
	t, err := r.move(ctx, id, StatusExpired, []Status{StatusOpen, StatusPending}, true)
	if errors.Is(err, ErrNotFound) {
		// Gone (retention or never existed): it has nothing left to expire.
		if zerr := r.rdb.ZRem(ctx, r.keyExpiry(id), id).Err(); zerr != nil {
			return nil, fmt.Errorf("expire %s: %w", id, zerr)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("expire %s: %w", id, err)
	}
	return t, nil
}

// DueForExpiry returns up to limit ids whose expiry is at or before now, the
// oldest first, from every shard of the expiry queue (one pipeline: a
// round trip per node). A poller calls Expire on each.
func (r *Repo) DueForExpiry(ctx context.Context, now time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		limit = 100
	}
	cmds := make([]*redis.ZSliceCmd, QueueShards)
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for n := range cmds {
			cmds[n] = p.ZRangeByScoreWithScores(ctx, r.keyExpiryShard(n), &redis.ZRangeBy{
				Min: "-inf", Max: strconv.FormatInt(ms(now), 10), Count: int64(limit),
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("due for expiry: %w", err)
	}
	var due []redis.Z
	for _, c := range cmds {
		due = append(due, c.Val()...)
	}
	sort.SliceStable(due, func(i, j int) bool { return due[i].Score < due[j].Score })
	ids := make([]string, 0, min(limit, len(due)))
	for _, z := range due[:min(limit, len(due))] {
		ids = append(ids, z.Member.(string))
	}
	return ids, nil
}

// Payment is the outcome of MarkPaid.
type Payment struct {
	Transition
	// AttemptChanged is true for the one call that marked the attempt paid;
	// duplicates of a notify see false.
	AttemptChanged bool
	// DoublePaid is true when this attempt was paid while another attempt
	// had already paid the checkout: the money must be refunded and reported.
	DoublePaid bool
}

// MarkPaid records that the gateway confirmed attempt seq of checkout id as
// paid (ordNo may be empty when unknown). An open or pending checkout
// becomes paid; an expired or cancelled one becomes paid and late. Only the
// caller that saw Changed (or DoublePaid) may act on it.
func (r *Repo) MarkPaid(ctx context.Context, id string, seq int, ordNo string) (*Payment, error) {
	p, _, err := r.markPaid(ctx, id, seq, ordNo, scriptPay, nil, nil)
	return p, err
}

// markPaid runs a pay script (payScript) and shapes its answer: the payment
// and the hook's answer. The checkout stays in its expiry queue: the
// queue's shard is another hash slot than the checkout's, one script
// touches one slot (Redis Cluster), and a second round trip on the notify
// path would cost more than the entry does. At its expiry the poller's
// Expire is refused (the checkout is no longer active) and removes it: a
// stale entry can never expire a paid checkout, since the move to expired
// is the checkout's own script's, which checks its state.
func (r *Repo) markPaid(ctx context.Context, id string, seq int, ordNo string, s *redis.Script, keys []string,
	args []any,
) (*Payment, any, error) {
	if !ValidID(id) || seq <= 0 {
		return nil, nil, fmt.Errorf("mark paid %s/%d: %w", id, seq, ErrNotFound)
	}
	ks := append([]string{r.keyCheckout(id), r.keyAttempts(id)}, keys...)
	argv := append([]any{ms(r.now()), r.retention.Milliseconds(), seq, ordNo}, args...)
	v, err := s.Run(ctx, r.rdb, ks, argv...).Slice()
	if err == nil && len(v) == 0 {
		err = fmt.Errorf("%w: empty script answer", errCorrupt)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("mark paid %s/%d: %w", id, seq, err)
	}
	switch code(v) {
	case -1, -2:
		return nil, nil, fmt.Errorf("mark paid %s/%d: %w", id, seq, ErrNotFound)
	case -3:
		return nil, nil, fmt.Errorf("mark paid %s/%d: %w: ord_no %q differs from the stored one", id, seq, ErrInvalid, ordNo)
	}
	c, err := fieldsAt(v, 2)
	if err != nil {
		return nil, nil, fmt.Errorf("mark paid %s/%d: %w", id, seq, err)
	}
	p := &Payment{
		Transition:     Transition{Changed: code(v) == 2, From: Status(str(v, 1)), To: c.Status, Checkout: c},
		AttemptChanged: code(v) >= 1,
		DoublePaid:     code(v) == 1,
	}
	r.moved(&p.Transition)
	if s == scriptPay {
		// MarkPaidThen's caller indexes it itself (QueueIndexPayment).
		_ = r.IndexPayment(ctx, p)
	}
	var hook any
	if len(v) > 3 {
		hook = v[3]
	}
	return p, hook, nil
}

// RecordRefund adds confirmed refund refundKey of amount fen, once: paid or
// partially_refunded becomes partially_refunded, or refunded once the whole
// amount is back. The checkout keeps a mark of every refund it counted,
// written in the same atomic step as the total, so recording a refund again
// (a retry after a crash) changes nothing and answers Changed false with
// the checkout as it is. refundKey names the refund within the checkout
// (its refund_out_no): letters, digits, '_' and '-', at most 64. More than
// was paid is ErrInvalid; other states are refused (Changed false).
func (r *Repo) RecordRefund(ctx context.Context, id, refundKey string, amount int64) (*Transition, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("refund %s: %w", id, ErrNotFound)
	}
	if amount <= 0 {
		return nil, fmt.Errorf("refund %s: %w: amount must be > 0", id, ErrInvalid)
	}
	if !validRefundKey(refundKey) {
		return nil, fmt.Errorf("refund %s: %w: refund key %.70q", id, ErrInvalid, refundKey)
	}
	v, err := r.run(ctx, scriptRefund, id, amount, refundKey)
	if err != nil {
		return nil, fmt.Errorf("refund %s: %w", id, err)
	}
	switch code(v) {
	case -1:
		return nil, fmt.Errorf("refund %s: %w", id, ErrNotFound)
	case -3:
		return nil, fmt.Errorf("refund %s: %w: more than the amount paid", id, ErrInvalid)
	}
	c, err := fieldsAt(v, 2)
	if err != nil {
		return nil, fmt.Errorf("refund %s: %w", id, err)
	}
	t := r.moved(&Transition{Changed: code(v) == 1, From: Status(str(v, 1)), To: c.Status, Checkout: c})
	if code(v) == 1 || code(v) == 2 {
		// Recorded now or before: indexed (again) either way, so that the
		// effect that records it, run again after a crash, closes the gap.
		x := statusIndexed{refund: refundKey, refundFen: amount, refundAt: refundTime(v, refundKey)}
		if err := r.indexStatus(ctx, c, x); err != nil {
			return t, fmt.Errorf("refund %s: %w", id, err)
		}
	}
	return t, nil
}

// validRefundKey reports whether k can name a refund in a checkout's hash.
func validRefundKey(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for _, c := range k {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// AddAttempt creates the next payment attempt of an active checkout and
// moves an open checkout to pending. The attempt's OutNo is what to send as
// payorder's out_no. Call it under Lock so a payer's double click does not
// start two orders. ErrNotAllowed when the checkout is finished, past its
// expiry, or does not allow the wallet.
func (r *Repo) AddAttempt(ctx context.Context, id string, m Method, s Scenario) (*Attempt, *Transition, error) {
	if !ValidID(id) {
		return nil, nil, fmt.Errorf("add attempt %s: %w", id, ErrNotFound)
	}
	if !m.Valid() || !s.Valid() {
		return nil, nil, fmt.Errorf("add attempt %s: %w: method %q scenario %q", id, ErrInvalid, m, s)
	}
	v, err := r.run(ctx, scriptAddAttempt, id, string(m), string(s))
	if err != nil {
		return nil, nil, fmt.Errorf("add attempt %s: %w", id, err)
	}
	switch n := code(v); {
	case n == -1:
		return nil, nil, fmt.Errorf("add attempt %s: %w", id, ErrNotFound)
	case n == -4:
		return nil, nil, fmt.Errorf("add attempt %s: %w: wallet %s is not allowed", id, ErrNotAllowed, m)
	case n == -5:
		return nil, nil, fmt.Errorf("add attempt %s: %w: past its expiry", id, ErrNotAllowed)
	case n == 0:
		return nil, nil, fmt.Errorf("add attempt %s: %w: checkout is %s", id, ErrNotAllowed, str(v, 1))
	}
	c, err := fieldsAt(v, 2)
	if err != nil {
		return nil, nil, fmt.Errorf("add attempt %s: %w", id, err)
	}
	seq := int(code(v))
	now := c.UpdatedAt
	a := &Attempt{
		CheckoutID: id, Seq: seq, Method: m, Scenario: s, OutNo: OutNo(id, seq),
		Status: AttemptPending, Amount: c.Amounts.Trade, CreatedAt: now, UpdatedAt: now,
	}
	from := Status(str(v, 1))
	t := r.moved(&Transition{Changed: from != c.Status, From: from, To: c.Status, Checkout: c})
	if t.Changed {
		// Best effort: the checkout is in the expiry queue, whose poller
		// indexes it again (repo_status.go).
		_ = r.indexStatus(ctx, c, statusIndexed{})
	}
	return a, t, nil
}

// UpdateAttempt records the gateway's ord_no (once; a different one later is
// ErrInvalid) and/or moves the attempt: pending → failed|cancelled|unknown,
// unknown → pending|failed|cancelled. Paid only comes from MarkPaid. It
// reports whether anything changed; a refused move is ErrNotAllowed.
func (r *Repo) UpdateAttempt(ctx context.Context, id string, seq int, to AttemptStatus, ordNo string) (bool, error) {
	if !ValidID(id) || seq <= 0 {
		return false, fmt.Errorf("update attempt %s/%d: %w", id, seq, ErrNotFound)
	}
	if to == AttemptPaid {
		return false, fmt.Errorf("update attempt %s/%d: %w: use MarkPaid", id, seq, ErrInvalid)
	}
	v, err := r.run(ctx, scriptUpdateAttempt, id, seq, string(to), ordNo)
	if err != nil {
		return false, fmt.Errorf("update attempt %s/%d: %w", id, seq, err)
	}
	switch code(v) {
	case -2:
		return false, fmt.Errorf("update attempt %s/%d: %w", id, seq, ErrNotFound)
	case -3:
		return false, fmt.Errorf("update attempt %s/%d: %w: ord_no differs from the stored one", id, seq, ErrInvalid)
	case 0:
		if to != "" && AttemptStatus(str(v, 1)) != to {
			return false, fmt.Errorf("update attempt %s/%d: %w: %s → %s", id, seq, ErrNotAllowed, str(v, 1), to)
		}
		return false, nil
	}
	if ordNo != "" {
		r.indexOrdNo(ctx, id, seq, ordNo)
	}
	return true, nil
}

// MarkReturnedUnpaid records that the payer came back from the gateway's
// hosted cashier with its signed word that attempt seq was cancelled
// (Attempt.ReturnedUnpaid, at the repository's clock). Only a pending or
// unknown attempt is marked: one that is paid, failed or cancelled says
// more already. It reports whether it marked; ErrNotFound when there is no
// such attempt.
func (r *Repo) MarkReturnedUnpaid(ctx context.Context, id string, seq int) (bool, error) {
	return r.returnedUnpaid(ctx, id, seq, "1")
}

// ClearReturnedUnpaid removes MarkReturnedUnpaid's mark: the payer is on
// that order again (its pay parameters were handed out once more, or the
// cashier came back with another word than "cancelled"), so the order may
// be being paid right now. It reports whether there was a mark.
func (r *Repo) ClearReturnedUnpaid(ctx context.Context, id string, seq int) (bool, error) {
	return r.returnedUnpaid(ctx, id, seq, "0")
}

func (r *Repo) returnedUnpaid(ctx context.Context, id string, seq int, on string) (bool, error) {
	if !ValidID(id) || seq <= 0 {
		return false, fmt.Errorf("attempt %s/%d returned unpaid: %w", id, seq, ErrNotFound)
	}
	v, err := r.run(ctx, scriptReturnedUnpaid, id, seq, on)
	if err != nil {
		return false, fmt.Errorf("attempt %s/%d returned unpaid: %w", id, seq, err)
	}
	if code(v) == -2 {
		return false, fmt.Errorf("attempt %s/%d returned unpaid: %w", id, seq, ErrNotFound)
	}
	return code(v) == 1, nil
}

// ErrLocked means another request holds the checkout's lock.
var ErrLocked = errors.New("checkout is locked")

// Lock takes the checkout's short lock (SET NX PX) so that only one request
// at a time creates an attempt. The returned function releases it if it is
// still ours. ErrLocked when someone else holds it.
func (r *Repo) Lock(ctx context.Context, id string, ttl time.Duration) (func(context.Context) error, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("lock %s: %w", id, ErrNotFound)
	}
	token, err := randomBase62(22)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", id, err)
	}
	k := r.keyLock(id)
	ok, err := r.rdb.SetNX(ctx, k, token, ttl).Result()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", id, err)
	}
	if !ok {
		return nil, fmt.Errorf("lock %s: %w", id, ErrLocked)
	}
	return func(ctx context.Context) error {
		if err := scriptUnlock.Run(ctx, r.rdb, []string{k}, token).Err(); err != nil {
			return fmt.Errorf("unlock %s: %w", id, err)
		}
		return nil
	}, nil
}

// Errors of idempotency keys.
var (
	// ErrIdempotencyConflict means the key was used with another body.
	ErrIdempotencyConflict = errors.New("idempotency key reused with a different request")
	// ErrIdempotencyInFlight means a request with the key is still running.
	ErrIdempotencyInFlight = errors.New("a request with this idempotency key is in progress")
)

// Replay is a stored answer to send again.
type Replay struct {
	Status int
	Body   []byte
}

// BeginIdempotent reserves merchantID's Idempotency-Key for a request with
// this body (one round trip). It returns (nil, nil) when the caller should
// go ahead (and then pass an IdempotentResponse to Create, or call
// ReleaseIdempotent on failure), the stored answer when the same body came
// before, ErrIdempotencyConflict for another body, and
// ErrIdempotencyInFlight while the first request runs.
func (r *Repo) BeginIdempotent(ctx context.Context, merchantID, key string, body []byte) (*Replay, error) {
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:])
	v, err := scriptIdemBegin.Run(ctx, r.rdb, []string{r.keyIdem(merchantID, key)}, h, idemInFlightTTL.Milliseconds()).Slice()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("idempotency key: %w", err)
	}
	if str(v, 0) != h {
		return nil, ErrIdempotencyConflict
	}
	if str(v, 1) == "" {
		return nil, ErrIdempotencyInFlight
	}
	st, err := strconv.Atoi(str(v, 1))
	if err != nil {
		return nil, fmt.Errorf("idempotency key: %w", errCorrupt)
	}
	return &Replay{Status: st, Body: []byte(str(v, 2))}, nil
}

// ReleaseIdempotent forgets a reservation whose request failed, so the
// merchant can retry with the same key.
func (r *Repo) ReleaseIdempotent(ctx context.Context, merchantID, key string) error {
	if err := r.rdb.Del(ctx, r.keyIdem(merchantID, key)).Err(); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// ListQuery selects a page of a merchant's checkouts.
type ListQuery struct {
	// Status keeps only checkouts in this status; empty keeps all.
	Status Status
	// After is the cursor: the last id of the previous page.
	After string
	// Limit is the page size, 1..100 (default 20).
	Limit int
	// From and To bound the creation time, both included (zero: no
	// bound). They are read from the index, not filtered after.
	From, To time.Time
	// Filter keeps only the checkouts it matches: read and filtered, at
	// most listScanMax index entries per call.
	Filter Filter
	// By is the index read (ByCreated by default): From and To bound its
	// times. With Status (and ByCreated) the status's own index is read.
	By ListBy
}

// ErrBadCursor means the cursor is not a checkout of this list.
var ErrBadCursor = errors.New("unknown cursor")

// listScanMax bounds how many index entries one filtered page reads.
const listScanMax = 1000

// List returns one merchant's checkouts, newest first (checkouts created in
// the same millisecond come in reverse id order), and the cursor of the next
// page ("" at the end). With a status filter a page may be short while
// a cursor is still returned: at most listScanMax entries are read per call.
func (r *Repo) List(ctx context.Context, merchantID string, q ListQuery) ([]*Checkout, string, error) {
	keys := []string{r.listKey(merchantID, q)}
	indexed := q.Status != "" && keys[0] == r.keyStatus(merchantID, q.Status)
	if indexed {
		keys = append(keys, r.keyList(merchantID))
	}
	return r.listPage(ctx, merchantID, q, indexed, func(after string, n int) ([]string, error) {
		if indexed || !q.From.IsZero() || !q.To.IsZero() {
			return r.pageRange(ctx, keys, after, q.From, q.To, n)
		}
		return r.listIDs(ctx, keys[0], after, n)
	})
}

// listPage is a page of merchantID's checkouts as List answers it, from an
// index fetch reads newest first (at most n ids after a cursor): List's
// and ListByLink's one loop of filtering and paging.
//
// indexed says the index is q.Status's own: its pages are read as they
// are, not over a window (an entry of another status, left by a crash, is
// skipped).
func (r *Repo) listPage(ctx context.Context, merchantID string, q ListQuery, indexed bool, fetch func(after string, n int) ([]string, error)) ([]*Checkout, string, error) {
	if q.Limit <= 0 {
		q.Limit = 20
	}
	q.Limit = min(q.Limit, 100)
	if q.After != "" && !ValidID(q.After) {
		return nil, "", ErrBadCursor
	}
	var out []*Checkout
	cursor := q.After
	scanned := 0
	for {
		batch := q.Limit - len(out)
		if !q.Filter.Empty() || (q.Status != "" && !indexed) {
			batch = 100
		}
		ids, err := fetch(cursor, batch+1)
		if err != nil {
			return nil, "", err
		}
		more := len(ids) > batch
		if more {
			ids = ids[:batch]
		}
		cs, err := r.getMany(ctx, ids)
		if err != nil {
			return nil, "", err
		}
		var atts [][]*Attempt
		if q.Filter.NeedsAttempts() {
			if atts, err = r.attemptsOfMany(ctx, ids); err != nil {
				return nil, "", err
			}
		}
		for i, c := range cs {
			cursor = ids[i]
			scanned++
			if c == nil || c.MerchantID != merchantID || (q.Status != "" && c.Status != q.Status) {
				continue
			}
			if !q.Filter.Empty() {
				var as []*Attempt
				if atts != nil {
					as = atts[i]
				}
				if !q.Filter.Matches(c, as) {
					continue
				}
			}
			out = append(out, c)
			if len(out) == q.Limit {
				if i < len(cs)-1 || more {
					return out, cursor, nil
				}
				return out, "", nil
			}
		}
		if !more {
			return out, "", nil
		}
		if scanned >= listScanMax {
			return out, cursor, nil
		}
	}
}

func (r *Repo) listIDs(ctx context.Context, key, after string, n int) ([]string, error) {
	ids, err := PageNewestFirst(ctx, r.rdb, key, after, n)
	if err != nil && !errors.Is(err, ErrBadCursor) {
		return nil, fmt.Errorf("list checkouts: %w", err)
	}
	return ids, err
}

// PageNewestFirst reads up to n members of the sorted-set index key, newest
// (highest score) first, after the member after ("" for the first page), in
// one round trip. ErrBadCursor when after is not in the index. It is the
// cursor mechanism of every list the merchant API serves (checkouts,
// events, reconciliations).
func PageNewestFirst(ctx context.Context, rdb redis.Scripter, key, after string, n int) ([]string, error) {
	v, err := scriptList.Run(ctx, rdb, []string{key}, after, n).Result()
	if err != nil {
		return nil, err
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

// getMany reads checkouts in one pipeline; gone ones are nil.
func (r *Repo) getMany(ctx context.Context, ids []string) ([]*Checkout, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, r.keyCheckout(id))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list checkouts: %w", err)
	}
	out := make([]*Checkout, len(ids))
	for i, cmd := range cmds {
		c, err := decodeCheckout(cmd.Val())
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

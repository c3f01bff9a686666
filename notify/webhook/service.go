package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
)

// Defaults of a Service.
const (
	// DefaultRetention is how long events and their attempts are kept.
	DefaultRetention = 30 * 24 * time.Hour
	// DefaultMaxAge is how long a failing delivery is retried before it is
	// given up.
	DefaultMaxAge = 72 * time.Hour
	// DefaultBackoff is the wait after the first failed attempt; it doubles
	// after each failure up to DefaultMaxBackoff.
	DefaultBackoff = 30 * time.Second
	// DefaultMaxBackoff caps one step of the backoff.
	DefaultMaxBackoff = 6 * time.Hour
	// DefaultTimeout bounds one delivery request.
	DefaultTimeout = 10 * time.Second
	// DefaultLease is how long a claimed delivery stays with its worker; a
	// worker that crashed gives it up when the lease runs out. It must
	// cover sending a whole batch (see WithLease).
	DefaultLease = 2 * time.Minute
	// DefaultBatch is how many deliveries one Tick claims at most.
	DefaultBatch = 50
	// DefaultConcurrency is how many deliveries one Tick sends at a time.
	DefaultConcurrency = 8
	// DefaultPoll is how often Run looks for due deliveries.
	DefaultPoll = time.Second
)

// maxAttemptsKept bounds the attempt history kept per event.
const maxAttemptsKept = 100

// Errors the package returns; check them with errors.Is.
var (
	// ErrNotFound means no such event for this merchant (or it outlived
	// retention).
	ErrNotFound = errors.New("webhook: event not found")
	// ErrInvalidEvent means an event cannot be emitted as it is.
	ErrInvalidEvent = errors.New("webhook: invalid event")
	// ErrBadCursor means a list cursor is not an event of that list.
	ErrBadCursor = errors.New("webhook: unknown cursor")
)

// Merchants finds a merchant's webhook URL and secrets at delivery time, so
// a configuration change (a rotated secret) applies to pending deliveries.
// *checkout.Directory implements it.
type Merchants interface {
	Merchant(id string) (*checkout.Merchant, bool)
}

// Service stores, delivers and lists merchant events. It is safe for
// concurrent use; several processes may run it on the same Redis.
type Service struct {
	// ticks turns the queue shard a claim starts from.
	ticks      atomic.Uint64
	rdb        redis.UniversalClient
	merchants  Merchants
	prefix     string
	now        func() time.Time
	retention  time.Duration
	maxAge     time.Duration
	backoff    time.Duration
	maxBackoff time.Duration
	timeout    time.Duration
	lease      time.Duration
	batch      int
	workers    int
	poll       time.Duration
	allowPriv  bool
	client     *http.Client
	log        *slog.Logger
	// observe, when set, is told of each delivery attempt (WithObserver).
	observe func(result, merchantID string)
}

// Option configures a Service.
type Option func(*Service)

// WithPrefix puts every key under prefix (tests use a random one). Braces
// are removed: the keys' hash tag is the package's own.
func WithPrefix(p string) Option { return func(s *Service) { s.prefix = p } }

// WithClock sets the clock (default time.Now). Tests pass a fake one and
// drive Tick themselves.
func WithClock(now func() time.Time) Option {
	return func(s *Service) {
		if now != nil {
			s.now = now
		}
	}
}

// WithRetention sets how long events are kept (default 30 days). It is
// raised to at least the retry window plus a day.
func WithRetention(d time.Duration) Option { return func(s *Service) { s.retention = d } }

// WithRetry sets the backoff of failed deliveries: the first wait, its cap,
// and how long after the first attempt a delivery is given up.
func WithRetry(first, maxStep, maxAge time.Duration) Option {
	return func(s *Service) {
		if first > 0 {
			s.backoff = first
		}
		if maxStep > 0 {
			s.maxBackoff = maxStep
		}
		if maxAge > 0 {
			s.maxAge = maxAge
		}
	}
}

// WithLease sets how long a claimed delivery is reserved for its worker
// (default 2 min). It is raised so a whole batch can be sent within it: at
// least (batch/concurrency + 1) request timeouts, 80 s with the defaults.
func WithLease(d time.Duration) Option { return func(s *Service) { s.lease = d } }

// WithTimeout sets the timeout of one delivery request (default 10 s).
func WithTimeout(d time.Duration) Option {
	return func(s *Service) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// WithBatch sets how many due deliveries one Tick claims and how many it
// sends concurrently.
func WithBatch(batch, concurrency int) Option {
	return func(s *Service) {
		if batch > 0 {
			s.batch = batch
		}
		if concurrency > 0 {
			s.workers = concurrency
		}
	}
}

// WithPoll sets how often Run looks for due deliveries (default 1 s).
func WithPoll(d time.Duration) Option {
	return func(s *Service) {
		if d > 0 {
			s.poll = d
		}
	}
}

// AllowPrivate lets deliveries reach private, loopback and link-local
// addresses: development and tests only. In production such webhook URLs
// are refused, so a merchant cannot aim the service at its own network.
func AllowPrivate(allow bool) Option { return func(s *Service) { s.allowPriv = allow } }

// WithObserver has observe called after each delivery attempt with its
// result (ok, retry, giveup, notsent) and the event's merchant; app counts
// them in its metrics. It must be quick and safe for concurrent use.
func WithObserver(observe func(result, merchantID string)) Option {
	return func(s *Service) { s.observe = observe }
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(s *Service) {
		if l != nil {
			s.log = l
		}
	}
}

// New returns a Service on rdb that looks merchants up in merchants.
func New(rdb redis.UniversalClient, merchants Merchants, opts ...Option) *Service {
	s := &Service{
		rdb:        rdb,
		merchants:  merchants,
		now:        time.Now,
		retention:  DefaultRetention,
		maxAge:     DefaultMaxAge,
		backoff:    DefaultBackoff,
		maxBackoff: DefaultMaxBackoff,
		timeout:    DefaultTimeout,
		lease:      DefaultLease,
		batch:      DefaultBatch,
		workers:    DefaultConcurrency,
		poll:       DefaultPoll,
		log:        slog.Default(),
	}
	for _, o := range opts {
		o(s)
	}
	s.prefix = strings.NewReplacer("{", "", "}", "").Replace(s.prefix)
	if min := s.maxAge + 24*time.Hour; s.retention < min {
		s.retention = min
	}
	// A claimed batch is sent in rounds of s.workers; the last round must
	// still be inside the lease, or another replica would send it too.
	rounds := (s.batch + s.workers - 1) / s.workers
	if min := time.Duration(rounds+1) * s.timeout; s.lease < min {
		s.lease = min
	}
	s.client = s.newHTTPClient()
	return s
}

// Every key of a merchant's events (the events, their attempts, the
// indexes the events API reads) and the delivery queue they are due in live
// in one hash slot, the merchant's shard {wh:N} (N = checkout.ShardOf of
// the merchant id, one of checkout.QueueShards): each script touches one
// slot, as Redis Cluster requires, and the events of all merchants spread
// over 16 slots, which every replica's poller visits.
func (s *Service) shard(merchantID string) string {
	return s.shardTag(checkout.ShardOf(merchantID))
}
func (s *Service) shardTag(n int) string { return s.prefix + "{wh:" + strconv.Itoa(n) + "}" }
func (s *Service) keyEvent(merchantID, id string) string {
	return s.shard(merchantID) + ":evt:" + id
}
func (s *Service) keyAttempts(merchantID, id string) string {
	return s.shard(merchantID) + ":evt:" + id + ":att"
}
func (s *Service) keyDue(merchantID string) string { return s.shard(merchantID) + ":due" }
func (s *Service) keyDueShard(n int) string        { return s.shardTag(n) + ":due" }
func (s *Service) keyIndex(merchantID string) string {
	return s.shard(merchantID) + ":m:" + merchantID
}
func (s *Service) keyIndexCheckout(merchantID, checkoutID string) string {
	return s.shard(merchantID) + ":m:" + merchantID + ":co:" + checkoutID
}
func (s *Service) keyIndexType(merchantID, typ string) string {
	return s.shard(merchantID) + ":m:" + merchantID + ":t:" + typ
}

// keyLog is the merchant's events in the order they were stored (a sorted
// set scored by keySeq's count): what GET /v1/events/stream follows. The
// indexes above are ordered by the events' creation times, which a late
// emit (an effect run again after a crash, a slow replica) can put before
// events already stored; a reader that resumes after an event must see
// every event stored after it, so the log is ordered by arrival.
func (s *Service) keyLog(merchantID string) string {
	return s.shard(merchantID) + ":m:" + merchantID + ":log"
}
func (s *Service) keySeq(merchantID string) string {
	return s.shard(merchantID) + ":m:" + merchantID + ":seq"
}

// emitScript stores an event, indexes it three ways for the events API and
// schedules its first delivery now, all or nothing. An id seen before is a
// no-op, so a caller may retry Emit after an error without sending twice.
//
// It also appends the event to the merchant's log (keyLog), numbered by
// keySeq, and keeps the log's last logMax entries.
//
// KEYS: event, log, seq, the indexes (all, by checkout when the event has
// one, by type), due last
// ARGV: id, body, merchant, checkout, type, url, created ms, now ms,
// retention s, cutoff ms, log max
var emitScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'body', ARGV[2], 'mid', ARGV[3], 'cid', ARGV[4],
  'type', ARGV[5], 'url', ARGV[6], 'created', ARGV[7], 'state', 'pending',
  'tries', 0, 'since', ARGV[8], 'next', ARGV[8])
redis.call('EXPIRE', KEYS[1], ARGV[9])
local seq = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[2], seq, ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[11]) + 1))
redis.call('EXPIRE', KEYS[2], ARGV[9])
redis.call('EXPIRE', KEYS[3], ARGV[9])
for i = 4, #KEYS - 1 do
  redis.call('ZADD', KEYS[i], ARGV[7], ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. ARGV[10])
  redis.call('EXPIRE', KEYS[i], ARGV[9])
end
redis.call('ZADD', KEYS[#KEYS], ARGV[8], ARGV[1])
return 1
`)

// Emit stores e and schedules its delivery, in one round trip: once Emit
// returns nil the event is in Redis and will be delivered, whatever happens
// to this process. Emitting an id that was emitted before changes nothing
// and returns nil. ErrInvalidEvent when e is incomplete.
func (s *Service) Emit(ctx context.Context, e Event) error {
	if err := checkEvent(&e); err != nil {
		return err
	}
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("webhook: emit %s: %w", e.ID, err)
	}
	return s.store(ctx, e, body)
}

// store keeps body as the event e routes (id, merchant, checkout, type,
// URL override, time) and schedules its delivery.
func (s *Service) store(ctx context.Context, e Event, body []byte) error {
	now := s.now()
	created := e.CreatedAt.UnixMilli()
	keys := []string{s.keyEvent(e.MerchantID, e.ID), s.keyLog(e.MerchantID), s.keySeq(e.MerchantID), s.keyIndex(e.MerchantID)}
	if e.CheckoutID != "" {
		keys = append(keys, s.keyIndexCheckout(e.MerchantID, e.CheckoutID))
	}
	keys = append(keys, s.keyIndexType(e.MerchantID, e.Type), s.keyDue(e.MerchantID))
	err := emitScript.Run(ctx, s.rdb, keys,
		e.ID, body, e.MerchantID, e.CheckoutID, e.Type, e.WebhookURL,
		created, now.UnixMilli(), int64(s.retention/time.Second),
		now.Add(-s.retention).UnixMilli(), logMax,
	).Err()
	if err != nil {
		return fmt.Errorf("webhook: emit %s %s: %w", e.Type, e.ID, err)
	}
	return nil
}

// checkEvent refuses events that could not be delivered or listed.
func checkEvent(e *Event) error {
	switch {
	case !ValidID(e.ID):
		return fmt.Errorf("%w: id %q", ErrInvalidEvent, e.ID)
	case !ValidType(e.Type):
		return fmt.Errorf("%w: type %q", ErrInvalidEvent, e.Type)
	case !validKeyPart(e.MerchantID):
		return fmt.Errorf("%w: merchant id %q", ErrInvalidEvent, e.MerchantID)
	case e.CheckoutID != "" && !checkout.ValidID(e.CheckoutID):
		return fmt.Errorf("%w: checkout id %q", ErrInvalidEvent, e.CheckoutID)
	case e.Type == TypeReconciliationMismatch && e.Data.Reconciliation == nil:
		return fmt.Errorf("%w: %s without its reconciliation", ErrInvalidEvent, e.Type)
	case LinkType(e.Type) && (e.Data.PaymentLink == nil || !checkout.ValidLinkID(e.Data.PaymentLink.ID)):
		return fmt.Errorf("%w: %s without its payment link", ErrInvalidEvent, e.Type)
	case e.Type == TypePing && (e.CheckoutID != "" || e.Data != Data{}):
		return fmt.Errorf("%w: a ping is about nothing", ErrInvalidEvent)
	case e.Type != TypeReconciliationMismatch && !LinkType(e.Type) && e.Type != TypePing && (e.CheckoutID == "" || e.Data.Checkout == nil):
		// Every other type is about a checkout, and merchants read it.
		return fmt.Errorf("%w: %s without its checkout", ErrInvalidEvent, e.Type)
	case e.CreatedAt.IsZero():
		return fmt.Errorf("%w: no creation time", ErrInvalidEvent)
	case e.Object != "event" || e.APIVersion != APIVersion:
		// Only the current shape is written: a stored event keeps its
		// shape for good (Record.Legacy), so a stray one would stay.
		return fmt.Errorf("%w: object %q, api_version %q (want event, %s)", ErrInvalidEvent, e.Object, e.APIVersion, APIVersion)
	}
	return nil
}

// validKeyPart accepts merchant ids that are safe inside a key: no braces
// (they would move the hash slot) and no separators or spaces.
func validKeyPart(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == '{' || c == '}' || c == ':' || c >= 0x7f {
			return false
		}
	}
	return true
}

// msTime converts a stored millisecond count.
func msTime(v string) time.Time {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

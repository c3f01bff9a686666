package payments

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/notify"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// Gateway is what the use cases need of the gateway; *gateway.Client
// implements it.
type Gateway interface {
	PayOrder(ctx context.Context, st *gateway.Store, r *gateway.PayOrderRequest) (*gateway.PayOrderResult, error)
	PayList(ctx context.Context, st *gateway.Store, types string) ([]gateway.PayMethod, error)
	PayStatus(ctx context.Context, st *gateway.Store, ref gateway.OrderRef) (*gateway.Order, error)
	PayCancel(ctx context.Context, st *gateway.Store, ref gateway.OrderRef) (*gateway.CancelResult, error)
	PayRefund(ctx context.Context, st *gateway.Store, r *gateway.RefundRequest) (*gateway.RefundResult, error)
}

// Emitter queues a merchant event; *webhook.Service implements it. Emit must
// store the event durably before it returns nil.
type Emitter interface {
	Emit(ctx context.Context, e webhook.Event) error
}

// Errors of the package; check them with errors.Is.
var (
	// ErrUnknownStore means a notify named no store of the directory.
	ErrUnknownStore = errors.New("payments: unknown store")
	// ErrBadSignature means a notify's sign is missing or wrong.
	ErrBadSignature = errors.New("payments: bad signature")
	// ErrUnknownOrder means the order is not one of ours (or not this store's).
	ErrUnknownOrder = errors.New("payments: unknown order")
	// ErrNotSettled means the gateway does not (yet) report a final status:
	// nothing was stored, ask again later.
	ErrNotSettled = errors.New("payments: order not settled at the gateway")
	// ErrBusy means another process is applying the same effect right now.
	ErrBusy = errors.New("payments: effect in progress elsewhere")
	// ErrAmountMismatch means the gateway reports another amount than the
	// attempt's: nothing was marked paid and an alert was raised.
	ErrAmountMismatch = errors.New("payments: amount differs from the attempt's")
	// ErrNotOurs means paystatus describes an order that does not match the
	// attempt (out_no, type or ord_no): nothing changed.
	ErrNotOurs = errors.New("payments: gateway order does not match the attempt")
	// ErrRateLimited means a check of this checkout ran moments ago.
	ErrRateLimited = errors.New("payments: checked moments ago")
)

// DefaultEffectLease is how long a claimed effect or reconciler item is
// protected from other processes before a crash is assumed: longer than any
// gateway call it covers. config's CHECKOUT_CLAIM_LEASE defaults to it.
const DefaultEffectLease = 30 * time.Second

// Config is what a Service needs.
type Config struct {
	Redis     redis.UniversalClient
	Repo      *checkout.Repo
	Directory *checkout.Directory
	// Accounts are the stores' gateway accounts.
	Accounts *Accounts
	Gateway  Gateway
	// Events receives merchant events. Required: without it no merchant
	// would learn of a payment.
	Events Emitter
	Logger *slog.Logger
	// Clock is the time source (default time.Now).
	Clock func() time.Time
	// Prefix starts every key and the pub/sub channel (default "notify:").
	// It must not contain '{' or '}'.
	Prefix string
	// EffectLease is how long a claimed effect is protected from other
	// processes before a crash is assumed (default DefaultEffectLease).
	EffectLease time.Duration
	// Retention is how long effect markers and refund records are kept
	// (default checkout.DefaultRetention).
	Retention time.Duration
	// RefundRetry is the wait after each refusal of a refund by the
	// gateway before it is sent again, the last one repeating (default
	// DefaultRefundRetry: 5 min, 15 min, 30 min, 1 h, then every 2 h).
	RefundRetry []time.Duration
	// RefundRetryFor is how long after its first refusal a refund is still
	// retried before it fails (default DefaultRefundRetryFor, 7 days).
	RefundRetryFor time.Duration
	// PublicURL is where the service is reachable: payorder's notify_url
	// starts with it (NotifyURL). Required.
	PublicURL string
	// Observer is told of confirmations, late and double payments and
	// refunds (the metrics); default none.
	Observer Observer
}

// Service confirms payments, applies their effects and refunds. It is safe
// for concurrent use; several processes may run one each on the same Redis.
type Service struct {
	rdb       redis.UniversalClient
	repo      *checkout.Repo
	dir       *checkout.Directory
	accounts  *Accounts
	gw        Gateway
	events    Emitter
	log       *slog.Logger
	now       func() time.Time
	prefix    string
	lease     time.Duration
	retention time.Duration
	retry     refundRetry
	publicURL string
	obs       Observer
	// starter starts payments (Start).
	starter *starter
}

// New checks cfg and builds a Service.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Redis == nil:
		return nil, errors.New("payments: Redis is required")
	case cfg.Repo == nil:
		return nil, errors.New("payments: Repo is required")
	case cfg.Directory == nil:
		return nil, errors.New("payments: Directory is required")
	case cfg.Accounts == nil:
		return nil, errors.New("payments: Accounts is required")
	case cfg.Gateway == nil:
		return nil, errors.New("payments: Gateway is required")
	case cfg.Events == nil:
		return nil, errors.New("payments: Events is required")
	case cfg.PublicURL == "":
		return nil, errors.New("payments: PublicURL is required")
	case strings.ContainsAny(cfg.Prefix, "{}"):
		return nil, errors.New("payments: Prefix must not contain braces")
	}
	s := &Service{
		rdb: cfg.Redis, repo: cfg.Repo, dir: cfg.Directory, accounts: cfg.Accounts, gw: cfg.Gateway, events: cfg.Events,
		log: cfg.Logger, now: cfg.Clock, prefix: cfg.Prefix, lease: cfg.EffectLease, retention: cfg.Retention,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.obs = cfg.Observer; s.obs == nil {
		s.obs = nopObserver{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.prefix == "" {
		s.prefix = "notify:"
	}
	if s.lease <= 0 {
		s.lease = DefaultEffectLease
	}
	if s.retention <= 0 {
		s.retention = checkout.DefaultRetention
	}
	retry, err := newRefundRetry(cfg.RefundRetry, cfg.RefundRetryFor)
	if err != nil {
		return nil, err
	}
	s.retry = retry
	s.publicURL = strings.TrimRight(cfg.PublicURL, "/")
	s.starter = newStarter(&starter{repo: s.repo, dir: s.dir, accounts: s.accounts, gw: s.gw, log: s.log, now: s.now,
		publicURL: s.publicURL, watch: s.Watch})
	return s, nil
}

// Keys. Everything about one checkout shares its hash slot ({id}).
func (s *Service) keyEffect(id, name string) string { return s.prefix + "fx:{" + id + "}:" + name }
func (s *Service) keyRefunds(id string) string      { return s.prefix + "rf:{" + id + "}" }
func (s *Service) keyCheckNow(id string) string     { return s.prefix + "chk:{" + id + "}" }

// keyWatch is the shard of the reconciler's watch list that holds work
// member m: its checkout's shard (checkout.ShardOf), so the list spreads
// over the slots of a Redis Cluster and every replica polls every shard.
func (s *Service) keyWatch(m string) string {
	return s.keyWatchShard(checkout.ShardOf(memberCheckout(m)))
}

// keyWatchShard is shard n of the watch list.
func (s *Service) keyWatchShard(n int) string { return s.prefix + checkout.ShardTag(n) + ":watch" }

// keyLegacyWatch is the watch list of the earlier layout, one sorted set
// (MigrateLegacy).
func (s *Service) keyLegacyWatch() string { return s.prefix + "watch" }

// Channel is the pub/sub channel that carries every transition.
func (s *Service) Channel() string { return s.prefix + "updates" }

// storeOf finds the store a checkout belongs to.
func (s *Service) storeOf(c *checkout.Checkout) (*store, error) {
	st, ok := s.accounts.store(s.dir, c.MerchantID, c.StoreID)
	if !ok {
		return nil, fmt.Errorf("checkout %s: store %s/%s is not configured", c.ID, c.MerchantID, c.StoreID)
	}
	return st, nil
}

// luaClaimEffect is claim_effect(key, now, lease, ttl), the claim of one
// effect at now (unix ms) for a lease of lease ms. The lease is a deadline
// in the value rather than a TTL so that it follows the service's clock
// (and works on a Redis whose clock stands still, like miniredis); the TTL
// (ttl ms) only cleans up. It answers 1 claimed, 0 done already, -1
// claimed by someone else. scriptClaimEffect runs it alone, scriptPayClaim
// in the step that records a payment.
const luaClaimEffect = `
local function claim_effect(key, now, lease, ttl)
  local v = redis.call('GET', key)
  if v == 'done' then return 0 end
  if v and tonumber(string.sub(v, 5)) and tonumber(string.sub(v, 5)) > now then return -1 end
  redis.call('SET', key, 'run:' .. tostring(now + lease), 'PX', ttl)
  return 1
end
`

// scriptClaimEffect claims effect KEYS[1] at ARGV[1] (unix ms) for a lease
// of ARGV[2] ms, kept ARGV[3] ms (luaClaimEffect).
var scriptClaimEffect = redis.NewScript(luaClaimEffect + `
return claim_effect(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])
`)

// Claim results of an effect (luaClaimEffect), and claimUnknown for an
// effect not claimed yet.
const (
	claimBusy    = -1
	claimDone    = 0
	claimTaken   = 1
	claimUnknown = 2
)

// runEffect does fn once for the effect name of checkout id, whoever calls
// it and however often: the first caller claims it (with a lease), does it
// and marks it done; callers that find it done return nil, those that find
// it claimed return ErrBusy. When fn fails the claim is dropped so the next
// observer tries again; when the process dies the lease runs out.
func (s *Service) runEffect(ctx context.Context, id, name string, fn func(context.Context) error) error {
	return s.runEffectFrom(ctx, id, name, claimUnknown, fn, nil)
}

// runEffectFrom is runEffect for an effect whose claim may have been taken
// already, in the same step as what it follows (claim is its result, or
// claimUnknown): then the effect is not claimed again. The round trip that
// marks the effect done (or drops the claim) also carries t.
func (s *Service) runEffectFrom(ctx context.Context, id, name string, claim int, fn func(context.Context) error, t *tail) error {
	k := s.keyEffect(id, name)
	if claim == claimUnknown {
		v, err := scriptClaimEffect.Run(ctx, s.rdb, []string{k}, s.now().UnixMilli(), s.lease.Milliseconds(),
			s.retention.Milliseconds()).Int()
		if err != nil {
			return fmt.Errorf("effect %s of %s: %w", name, id, err)
		}
		claim = v
	}
	switch claim {
	case claimDone:
		return nil
	case claimTaken:
	default:
		return fmt.Errorf("effect %s of %s: %w", name, id, ErrBusy)
	}
	if err := fn(ctx); err != nil {
		// A fresh context: the caller's may be what failed.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		var del *redis.IntCmd
		_, perr := s.rdb.Pipelined(dctx, func(p redis.Pipeliner) error {
			del = p.Del(dctx, k)
			s.addTail(dctx, p, t)
			return nil
		})
		if derr := del.Err(); derr != nil {
			s.log.Warn("Could not release an effect claim; it frees itself after the lease",
				"checkout_id", id, "effect", name, "error", derr)
		} else if perr != nil {
			s.log.Warn("Could not publish a checkout update or end a notify's paystatus window; pages poll, duplicates answer 503 until it passes",
				"checkout_id", id, "error", perr)
		}
		return err
	}
	var set *redis.StatusCmd
	_, perr := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		set = p.Set(ctx, k, "done", s.retention)
		s.addTail(ctx, p, t)
		return nil
	})
	if err := set.Err(); err != nil {
		return fmt.Errorf("effect %s of %s: mark done: %w", name, id, err)
	}
	if perr != nil {
		s.log.Warn("Effect done, but its page update or window end failed; pages poll, duplicates answer 503 until it passes",
			"checkout_id", id, "effect", name, "error", perr)
	}
	return nil
}

// release drops the claim of effect name of checkout id, so the next
// observer takes it at once. A fresh context: the caller's may be what
// failed. On failure the lease frees it.
func (s *Service) release(ctx context.Context, id, name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := s.rdb.Del(ctx, s.keyEffect(id, name)).Err(); err != nil {
		s.log.Warn("Could not release an effect claim; it frees itself after the lease",
			"checkout_id", id, "effect", name, "error", err)
	}
}

// waitEffect retries runEffect while another process holds the claim, for
// up to wait: a notify arriving twice at once should see the first one's
// result rather than an error.
func (s *Service) waitEffect(ctx context.Context, id, name string, wait time.Duration, fn func(context.Context) error) error {
	return s.waitEffectFrom(ctx, id, name, wait, claimUnknown, fn, nil)
}

// waitEffectFrom is waitEffect whose first try starts from claim (see
// runEffectFrom); t rides with the round trip that ends the effect.
func (s *Service) waitEffectFrom(ctx context.Context, id, name string, wait time.Duration, claim int,
	fn func(context.Context) error, t *tail,
) error {
	deadline := time.Now().Add(wait)
	delay := 10 * time.Millisecond
	for {
		err := s.runEffectFrom(ctx, id, name, claim, fn, t)
		claim = claimUnknown
		if !errors.Is(err, ErrBusy) || time.Now().After(deadline) {
			return err
		}
		tm := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			tm.Stop()
			return err
		case <-tm.C:
		}
		delay = min(delay*2, 200*time.Millisecond)
	}
}

// tail holds best-effort writes that may wait for the round trip that ends
// an effect: the page update of a payment just recorded and the end of the
// notify's paystatus window. Neither is money: a lost publish costs a
// waiting page its polling delay, a window left running makes duplicates
// answer 503 until it passes. Whatever no effect carried is sent on its
// own (flushTail). A nil *tail holds nothing.
type tail struct {
	// publish is the checkout whose update to send, or nil.
	publish *checkout.Checkout
	// index is the payment whose checkout to index (its status index
	// and day sums), or nil.
	index *checkout.Payment
	// window is the paystatus window key to end if it still holds claim.
	window, claim string
	// failed ends the window as a check that failed (":fail"): its
	// waiters must not take a notify's claim of a new payment as
	// answered (scriptIntake).
	failed bool
}

// empty reports whether t has nothing to send.
func (t *tail) empty() bool {
	return t == nil || (t.publish == nil && t.index == nil && t.window == "")
}

// addTail queues t's writes on p and empties t. The window's end comes
// after whatever p carries before it, so a notify that sees it ended sees
// the effect done.
func (s *Service) addTail(ctx context.Context, p redis.Pipeliner, t *tail) {
	if t.empty() {
		return
	}
	if t.publish != nil {
		c := t.publish
		_ = notify.Publish(ctx, p, s.Channel(), notify.Update{CheckoutID: c.ID, Status: c.Status, Late: c.Late})
	}
	if t.index != nil {
		s.repo.QueueIndexPayment(ctx, p, t.index)
	}
	if t.window != "" {
		// EVAL rather than EVALSHA: inside a pipeline a script the server
		// does not know yet cannot be retried.
		ended := strings.TrimSuffix(t.claim, ":run") + ":end"
		if t.failed {
			ended = strings.TrimSuffix(t.claim, ":run") + ":fail"
		}
		_ = scriptEndNotifyCheck.Eval(ctx, p, []string{t.window}, t.claim, ended, notifyCheckKeep.Milliseconds())
	}
	*t = tail{}
}

// flushTail sends what t still holds, in one round trip, with a fresh
// context (the caller's may be what failed); failures are only logged.
func (s *Service) flushTail(ctx context.Context, t *tail) {
	if t.empty() {
		return
	}
	window := t.window
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		s.addTail(ctx, p, t)
		return nil
	}); err != nil {
		s.log.Warn("Could not publish a checkout update or end a notify's paystatus window; pages poll, duplicates answer 503 until it passes",
			"window", window, "error", err)
	}
}

// eventID derives an event id from the effect that emits it, so an emit
// retried after a crash carries the same id and merchants deduplicate it.
// It has the shape of webhook.NewID (evt_ and 24 base62 characters).
func eventID(checkoutID, effect string) string {
	sum := sha256.Sum256([]byte("notify-event\x00" + checkoutID + "\x00" + effect))
	n := new(big.Int).SetBytes(sum[:])
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 0, len(webhook.IDPrefix)+24)
	b = append(b, webhook.IDPrefix...)
	base := big.NewInt(62)
	m := new(big.Int)
	for range 24 {
		n.DivMod(n, base, m)
		b = append(b, alphabet[m.Int64()])
	}
	return string(b)
}

// emit queues one merchant event about c for effect.
func (s *Service) emit(ctx context.Context, typ, effect string, c *checkout.Checkout, fill func(*webhook.Event)) error {
	e, err := webhook.NewEvent(typ, c, s.publicURL, s.now())
	if err != nil {
		return err
	}
	e.ID = eventID(c.ID, effect)
	if fill != nil {
		fill(&e)
	}
	if err := s.events.Emit(ctx, e); err != nil {
		return fmt.Errorf("emit %s for %s: %w", typ, c.ID, err)
	}
	s.log.Info("Event emitted", "checkout_id", c.ID, "event_id", e.ID, "event_type", typ)
	return nil
}

// publish tells every process's Hub that c changed. A lost publish costs a
// waiting page a few seconds (it polls as a fallback), never money, so
// errors are only logged.
func (s *Service) publish(ctx context.Context, c *checkout.Checkout) {
	if c == nil {
		return
	}
	u := notify.Update{CheckoutID: c.ID, Status: c.Status, Late: c.Late}
	if err := notify.Publish(ctx, s.rdb, s.Channel(), u); err != nil {
		s.log.Warn("Could not publish a checkout update", "checkout_id", c.ID, "error", err)
	}
}

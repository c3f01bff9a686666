package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
)

// Delivery states, as the events API shows them.
const (
	// StatePending: waiting for its first attempt (or a resend).
	StatePending = "pending"
	// StateRetrying: an attempt failed; the next one is scheduled.
	StateRetrying = "retrying"
	// StateDelivered: the merchant answered 2xx.
	StateDelivered = "delivered"
	// StateFailed: every attempt failed for the whole retry window.
	StateFailed = "failed"
	// StateNotSent: the merchant has no webhook URL or no secret; a resend
	// tries again once it has.
	StateNotSent = "not_sent"
)

// maxResponseKept is how much of a merchant's answer an attempt keeps; the
// rest is read up to maxResponseRead (so the connection can be reused) and
// dropped.
const (
	maxResponseKept = 256
	maxResponseRead = 8 << 10
)

// userAgent names the sender so merchants can route or allow it.
const userAgent = "wallet-checkout-webhooks/1"

// Attempt is one delivery attempt of an event.
type Attempt struct {
	At time.Time `json:"at"`
	// Status is the HTTP status the merchant answered, 0 when there was no
	// answer (Error says why).
	Status   int    `json:"status,omitempty"`
	Error    string `json:"error,omitempty"`
	Duration int64  `json:"duration_ms"`
	// Response is the start of the merchant's answer, for debugging.
	Response string `json:"response,omitempty"`
}

// claimed is a delivery a worker holds under a lease.
type claimed struct {
	// shard is the queue shard it was claimed from, its event's too.
	shard                          int
	id, body, merchantID, typ, url string
	tries                          int
	since                          time.Time
}

// claimScript takes up to limit due deliveries and moves each one's due
// time to the end of the lease, marking it with the claim token: another
// worker sees it again only if this one never finishes. Deliveries whose
// event is gone (retention) leave the queue, and so do stale entries of
// events already delivered or given up (an entry moved in again by the
// layout migration after its delivery finished): only a pending or
// retrying event is ever due.
//
// KEYS: due; ARGV: now ms, lease end ms, limit, token, event key prefix
var claimScript = redis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
local out = {}
for _, id in ipairs(ids) do
  local k = ARGV[5] .. id
  local v = redis.call('HMGET', k, 'body', 'mid', 'type', 'url', 'tries', 'since', 'state')
  if not v[1] or (v[7] and v[7] ~= 'pending' and v[7] ~= 'retrying') then
    redis.call('ZREM', KEYS[1], id)
  else
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    redis.call('HSET', k, 'claim', ARGV[4])
    out[#out + 1] = {id, v[1], v[2] or '', v[3] or '', v[4] or '', v[5] or '0', v[6] or '0'}
  end
end
return out
`)

// completeScript records an attempt and schedules what follows, but only
// if the claim is still this worker's: a worker whose lease ran out (and
// whose delivery another worker took over) records its attempt, which did
// happen, and changes nothing else. A resend asked for during the attempt
// schedules a fresh delivery now.
//
// KEYS: due, event, attempts
// ARGV: id, token, attempt JSON (empty for none), outcome, next ms, now ms,
// attempts kept
// outcome: ok | retry | giveup | notsent | release
var completeScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
if ARGV[3] ~= '' then
  redis.call('RPUSH', KEYS[3], ARGV[3])
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[7]), -1)
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[3], ttl) end
end
if redis.call('HGET', KEYS[2], 'claim') ~= ARGV[2] then return 2 end
redis.call('HDEL', KEYS[2], 'claim')
if ARGV[4] == 'release' then
  redis.call('ZADD', KEYS[1], ARGV[6], ARGV[1])
  return 1
end
if redis.call('HDEL', KEYS[2], 'resend') == 1 then
  redis.call('HSET', KEYS[2], 'state', 'pending', 'tries', 0, 'since', ARGV[6], 'next', ARGV[6])
  redis.call('ZADD', KEYS[1], ARGV[6], ARGV[1])
  return 3
end
redis.call('HINCRBY', KEYS[2], 'tries', 1)
if ARGV[4] == 'retry' then
  redis.call('HSET', KEYS[2], 'state', 'retrying', 'next', ARGV[5])
  redis.call('ZADD', KEYS[1], ARGV[5], ARGV[1])
  return 1
end
local state = 'delivered'
if ARGV[4] == 'giveup' then state = 'failed' elseif ARGV[4] == 'notsent' then state = 'not_sent' end
redis.call('HSET', KEYS[2], 'state', state, 'next', '')
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
`)

// Run delivers due events until ctx ends, polling every poll interval (and
// at once again while there is a backlog). Redis errors are logged and
// retried at the next poll. It returns when ctx is done.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.poll)
	defer t.Stop()
	for {
		n, err := s.Tick(ctx, s.now())
		if err != nil && ctx.Err() == nil {
			s.log.Warn("Webhook deliveries not claimed", "error", err)
		}
		if n >= s.batch && err == nil {
			continue // a backlog: keep going
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick claims the deliveries due at now (up to the batch size), sends them
// with bounded concurrency, records each attempt and schedules what
// follows. It returns how many it claimed once all are done. Tests drive it
// with a fake clock.
func (s *Service) Tick(ctx context.Context, now time.Time) (int, error) {
	token, err := newToken()
	if err != nil {
		return 0, err
	}
	// What was claimed before a shard failed is sent all the same, then
	// the failure is reported.
	batch, claimErr := s.claim(ctx, now, token)
	sem := make(chan struct{}, s.workers)
	var wg sync.WaitGroup
	for _, d := range batch {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			s.deliver(ctx, d, token)
		}()
	}
	wg.Wait()
	return len(batch), claimErr
}

// QueueStats answers how many deliveries wait in the schedule (due now or
// later, claimed or not, over every shard) and the due time of the oldest
// (zero when none; a claimed one's due time is its lease's end): the
// metrics read it at each scrape, two commands per shard in one pipeline.
func (s *Service) QueueStats(ctx context.Context) (depth int64, oldestDue time.Time, err error) {
	pipe := s.rdb.Pipeline()
	counts := make([]*redis.IntCmd, checkout.QueueShards)
	firsts := make([]*redis.ZSliceCmd, checkout.QueueShards)
	for n := range checkout.QueueShards {
		counts[n] = pipe.ZCard(ctx, s.keyDueShard(n))
		firsts[n] = pipe.ZRangeWithScores(ctx, s.keyDueShard(n), 0, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, time.Time{}, fmt.Errorf("webhook queue: %w", err)
	}
	for n := range checkout.QueueShards {
		depth += counts[n].Val()
		if zs := firsts[n].Val(); len(zs) > 0 {
			if t := time.UnixMilli(int64(zs[0].Score)); oldestDue.IsZero() || t.Before(oldestDue) {
				oldestDue = t
			}
		}
	}
	return depth, oldestDue, nil
}

func newToken() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("webhook: claim token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// claim takes the due deliveries under token, up to the batch, from the
// queue's shards one after another, starting from a shard that turns with
// each tick so that a backlog in one does not starve the others. What was
// claimed before a shard failed is returned with the error, to be sent.
func (s *Service) claim(ctx context.Context, now time.Time, token string) ([]claimed, error) {
	first := int(s.ticks.Add(1) % checkout.QueueShards)
	var out []claimed
	for i := 0; i < checkout.QueueShards && len(out) < s.batch; i++ {
		n := (first + i) % checkout.QueueShards
		got, err := s.claimShard(ctx, n, now, token, s.batch-len(out))
		out = append(out, got...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// claimShard takes up to limit due deliveries of shard n under token.
func (s *Service) claimShard(ctx context.Context, n int, now time.Time, token string, limit int) ([]claimed, error) {
	res, err := claimScript.Run(ctx, s.rdb, []string{s.keyDueShard(n)},
		now.UnixMilli(), now.Add(s.lease).UnixMilli(), limit, token, s.shardTag(n)+":evt:",
	).Slice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("webhook: claim in shard %d: %w", n, err)
	}
	out := make([]claimed, 0, len(res))
	for _, r := range res {
		v, ok := r.([]any)
		if !ok || len(v) != 7 {
			return nil, fmt.Errorf("webhook: claim: unexpected reply %T", r)
		}
		str := func(i int) string { x, _ := v[i].(string); return x }
		tries, _ := strconv.Atoi(str(5))
		out = append(out, claimed{
			shard: n, id: str(0), body: str(1), merchantID: str(2), typ: str(3), url: str(4),
			tries: tries, since: msTime(str(6)),
		})
	}
	return out, nil
}

// deliver makes one attempt and records it.
func (s *Service) deliver(ctx context.Context, d claimed, token string) {
	at := s.now()
	url, secrets, known := s.destination(d)
	var (
		a       Attempt
		outcome string
	)
	switch {
	case !known:
		// Replicas load a changed merchant file one after another (a
		// rolling upgrade, a SIGHUP per replica): one that does not list
		// the merchant yet must not settle its deliveries for the others.
		// Retried on the backoff, given up with the retry window like any
		// failure, so a merchant removed everywhere does not stay queued.
		a = Attempt{At: at.UTC(), Error: "merchant not configured on this replica"}
		outcome = s.failed(d, at)
	case url == "":
		a = Attempt{At: at.UTC(), Error: "no webhook URL configured"}
		outcome = "notsent"
	case len(secrets) == 0:
		a = Attempt{At: at.UTC(), Error: "no webhook secret configured"}
		outcome = "notsent"
	default:
		a = s.send(ctx, d, url, secrets, at)
		if ctx.Err() != nil {
			// Shutting down: the attempt was cut short by us, not the
			// merchant. Hand the delivery back for the next worker.
			s.finish(d, token, nil, "release", at)
			return
		}
		outcome = "ok"
		if a.Status < 200 || a.Status > 299 {
			outcome = s.failed(d, at)
		}
	}
	next := at.Add(s.backoffAfter(d.tries))
	s.finish(d, token, &a, outcome, next)
	if s.observe != nil {
		s.observe(outcome, d.merchantID)
	}
	msg := "Webhook delivered"
	switch outcome {
	case "retry":
		msg = "Webhook delivery failed, will retry"
	case "giveup":
		msg = "Webhook delivery given up"
	case "notsent":
		msg = "Webhook not sent"
	}
	s.log.Info(msg, "event_id", d.id, "event_type", d.typ, "merchant_id", d.merchantID,
		"status", a.Status, "error", a.Error, "duration_ms", a.Duration, "attempt", d.tries+1)
}

// failed is the outcome of a failed attempt at at: retry, or giveup once
// the delivery's retry window has passed.
func (s *Service) failed(d claimed, at time.Time) string {
	since := d.since
	if since.IsZero() {
		since = at // a record without its window start: start it now
	}
	if !at.Before(since.Add(s.maxAge)) {
		return "giveup"
	}
	return "retry"
}

// finish records the attempt (a nil one records nothing) with a context
// of its own: the attempt happened even if the caller's context ended.
func (s *Service) finish(d claimed, token string, a *Attempt, outcome string, next time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var rec []byte
	if a != nil {
		rec, _ = json.Marshal(a) // plain struct: cannot fail
	}
	err := completeScript.Run(ctx, s.rdb,
		[]string{s.keyDueShard(d.shard), s.shardTag(d.shard) + ":evt:" + d.id, s.shardTag(d.shard) + ":evt:" + d.id + ":att"},
		d.id, token, rec, outcome, next.UnixMilli(), s.now().UnixMilli(), maxAttemptsKept,
	).Err()
	if err != nil {
		// The lease runs out and another worker tries again: the merchant
		// may see the event twice, which its id makes harmless.
		s.log.Warn("Webhook attempt not recorded", "event_id", d.id, "error", err)
	}
}

// backoffAfter is the wait after the (tries+1)th failed attempt: backoff
// doubling each time, capped at maxBackoff.
func (s *Service) backoffAfter(tries int) time.Duration {
	w := s.backoff
	for i := 0; i < tries && w < s.maxBackoff; i++ {
		w *= 2
	}
	return min(w, s.maxBackoff)
}

// destination is where d goes and with which secrets, read from the
// directory at delivery time: the checkout's URL override, else the
// merchant's. known is false when the directory has no such merchant.
func (s *Service) destination(d claimed) (dest string, secrets []string, known bool) {
	m, ok := s.merchants.Merchant(d.merchantID)
	if !ok {
		return "", nil, false
	}
	u := d.url
	if u == "" {
		u = m.WebhookURL
	}
	secrets = make([]string, 0, len(m.WebhookSecrets))
	for _, sec := range m.WebhookSecrets {
		if v := sec.Reveal(); v != "" {
			secrets = append(secrets, v)
		}
	}
	return u, secrets, true
}

// send POSTs the event and reports what happened. Errors never quote the
// URL: it may carry the merchant's credentials.
func (s *Service) send(ctx context.Context, d claimed, dest string, secrets []string, at time.Time) Attempt {
	a := Attempt{At: at.UTC()}
	u, err := url.Parse(dest)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		a.Error = "webhook URL is not an absolute http(s) URL"
		return a
	}
	body := []byte(d.body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dest, bytes.NewReader(body))
	if err != nil {
		a.Error = "webhook URL is not usable"
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderEventID, d.id)
	req.Header.Set(HeaderEventType, d.typ)
	req.Header.Set(HeaderSignature, SignatureHeader(at, body, secrets))
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		a.Duration = time.Since(start).Milliseconds()
		a.Error = describe(err)
		return a
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseKept))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
	_ = resp.Body.Close()
	a.Duration = time.Since(start).Milliseconds()
	a.Status = resp.StatusCode
	a.Response = strings.ToValidUTF8(string(head), string(utf8.RuneError))
	return a
}

// describe turns a client error into a message for the merchant: what went
// wrong, in words, never the URL that *url.Error quotes (it may carry
// credentials) nor an address of the service's own network (its DNS
// resolver, its source address) that the raw error text names.
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return "timeout"
		}
		err = ue.Err
	}
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.Is(err, ErrForbiddenAddress):
		return "destination address not allowed (private, loopback or reserved)"
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return "DNS: no such host " + dnsErr.Name
	case errors.As(err, &dnsErr):
		return "DNS lookup of " + dnsErr.Name + " failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the server"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidCert):
		return "TLS certificate not accepted (expired, self-signed or for another name)"
	case errors.As(err, &recordErr):
		return "TLS handshake failed (is it an https server?)"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the server before it answered"
	}
	return "connection failed"
}

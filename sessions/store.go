// Package sessions keeps what the checkout pages remember about a payer's
// browser, and the pages' stateless tokens.
//
// A session exists only when there is something to keep: a wallet identity
// learnt through OAuth (so the next checkout needs no redirect). A plain
// page view stores nothing and sets no cookie. The pages' CSRF token (CSRF)
// and the OAuth state of a first visit (OAuthStates) are signed with the
// service's signing secret instead of stored.
//
// Store is a gorilla/sessions Store. The cookie carries only a random 32-byte
// session id, signed with securecookie (several key pairs: the first signs,
// all verify, so keys rotate without logging payers out). The session's data
// lives under {prefix}{id} in Redis as JSON of the typed Payer. A session
// with a wallet identity lives MaxAge (30 days) from its last use; one
// without lives IdentitylessMaxAge (6 hours). A load renews the lifetime
// (Redis TTL and cookie) once more than a 24th of it has passed, so an
// active payer costs one extra Redis call a day, not one a view. Payers
// wraps it with typed Load and Save, and Queue reads a session in the same
// Redis round trip as the page's other reads.
package sessions

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"
)

// Defaults for Config.
const (
	// DefaultMaxAge is the lifetime of a session holding a wallet
	// identity: a month of not asking the wallet again.
	DefaultMaxAge = 30 * 24 * time.Hour
	// DefaultIdentitylessMaxAge is the lifetime of a session holding no
	// wallet identity. Nothing in it is worth a month of Redis: hours
	// cover a payment and its result page.
	DefaultIdentitylessMaxAge = 6 * time.Hour
	DefaultPrefix             = "sess:"
	DefaultCookieName         = "checkout_sid"
)

// renewFraction: a load renews a session's lifetime once more than
// 1/renewFraction of it has passed since the last renewal.
const renewFraction = 24

// ErrInvalidCookie reports a session cookie that does not verify with any of
// the keys (tampered, expired, or signed with a retired key). The payer just
// gets a fresh session; it is never a reason to fail a page.
var ErrInvalidCookie = errors.New("sessions: invalid session cookie")

// payerKey is where the typed Payer sits in a gorilla session's Values.
const payerKey = "payer"

// idBytes is the entropy of a session id.
const idBytes = 32

// Config configures a Store.
type Config struct {
	// PublicURL is the service's public URL; https makes the cookie Secure
	// and, with the default name, a __Host- cookie.
	PublicURL string
	// KeyPairs are securecookie hash/block key pairs: hash keys of at least
	// 32 bytes, block keys empty or of 16, 24 or 32 bytes. The first pair
	// signs new cookies; all pairs verify, so old keys are kept here for a
	// while after a rotation.
	KeyPairs [][]byte
	// MaxAge is the lifetime (cookie and Redis TTL) of a session holding a
	// wallet identity, renewed by use; default DefaultMaxAge.
	MaxAge time.Duration
	// IdentitylessMaxAge is the lifetime of a session holding none;
	// default DefaultIdentitylessMaxAge, at most MaxAge.
	IdentitylessMaxAge time.Duration
	// Prefix namespaces the Redis keys; default DefaultPrefix.
	Prefix string
	// CookieName overrides the cookie name (default DefaultCookieName,
	// "__Host-"-prefixed over https).
	CookieName string
}

// Store is a gorilla/sessions Store kept in Redis. Its Options apply to new
// sessions; it never prints its keys.
type Store struct {
	// Options are the cookie options of new sessions.
	Options *sessions.Options

	client redis.UniversalClient
	codecs []securecookie.Codec
	prefix string
	// ttl and shortTTL: lifetimes with and without a wallet identity.
	ttl, shortTTL time.Duration
	name          string
}

// NewStore checks cfg and builds a Store on client.
func NewStore(client redis.UniversalClient, cfg Config) (*Store, error) {
	if client == nil {
		return nil, errors.New("sessions: nil redis client")
	}
	if len(cfg.KeyPairs) == 0 {
		return nil, errors.New("sessions: no cookie keys")
	}
	for i, k := range cfg.KeyPairs {
		if i%2 == 0 && len(k) < 32 {
			return nil, fmt.Errorf("sessions: hash key %d has %d bytes, want at least 32", i/2, len(k))
		}
		if i%2 == 1 && len(k) != 0 && len(k) != 16 && len(k) != 24 && len(k) != 32 {
			return nil, fmt.Errorf("sessions: block key %d has %d bytes, want 0, 16, 24 or 32", i/2, len(k))
		}
	}
	secure := false
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("sessions: public url %q is not an absolute http(s) url", cfg.PublicURL)
		}
		secure = u.Scheme == "https"
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.MaxAge < time.Second {
		return nil, fmt.Errorf("sessions: max age %s is under a second", cfg.MaxAge)
	}
	if cfg.IdentitylessMaxAge == 0 {
		cfg.IdentitylessMaxAge = min(DefaultIdentitylessMaxAge, cfg.MaxAge)
	}
	if cfg.IdentitylessMaxAge < time.Second || cfg.IdentitylessMaxAge > cfg.MaxAge {
		return nil, fmt.Errorf("sessions: identity-less max age %s is under a second or over the max age %s", cfg.IdentitylessMaxAge, cfg.MaxAge)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	name := cfg.CookieName
	if name == "" {
		name = DefaultCookieName
		if secure {
			// __Host- cookies are refused by browsers unless Secure, Path=/
			// and host-only: a sibling subdomain cannot plant one.
			name = "__Host-" + name
		}
	}
	pairs := make([][]byte, len(cfg.KeyPairs))
	for i, k := range cfg.KeyPairs {
		if len(k) > 0 {
			pairs[i] = k
		}
	}
	maxAge := int(cfg.MaxAge / time.Second)
	codecs := securecookie.CodecsFromPairs(pairs...)
	for _, c := range codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.MaxAge(maxAge)
			sc.SetSerializer(securecookie.JSONEncoder{})
		}
	}
	return &Store{
		Options: &sessions.Options{
			Path:     "/",
			MaxAge:   maxAge,
			Secure:   secure,
			HttpOnly: true,
			SameSite: http.SameSiteLaxMode,
		},
		client:   client,
		codecs:   codecs,
		prefix:   cfg.Prefix,
		ttl:      cfg.MaxAge,
		shortTTL: cfg.IdentitylessMaxAge,
		name:     name,
	}, nil
}

// CookieName is the name of the session cookie.
func (s *Store) CookieName() string { return s.name }

// String hides the keys.
func (s *Store) String() string { return "sessions.Store{" + s.name + " [keys redacted]}" }

// GoString hides the keys from %#v.
func (s *Store) GoString() string { return s.String() }

// LogValue hides the keys from slog.
func (s *Store) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Get returns the request's session called name, cached for the request.
// See New for the errors.
func (s *Store) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New returns the request's session called name, loaded from Redis when the
// cookie verifies and the data is still there, else a fresh one. It always
// returns a usable session; the error is ErrInvalidCookie (wrapped) for a
// cookie that does not verify, or a Redis error.
func (s *Store) New(r *http.Request, name string) (*sessions.Session, error) {
	session := sessions.NewSession(s, name)
	opts := *s.Options
	session.Options = &opts
	session.IsNew = true
	id, err := s.cookieID(r, name)
	if id == "" {
		return session, err
	}
	ctx := r.Context()
	pipe := s.client.Pipeline()
	l := s.queue(ctx, pipe, id)
	_, _ = pipe.Exec(ctx) // each command keeps its own error
	p, err := l.result(ctx)
	if err != nil {
		return session, err
	}
	if p != nil {
		if p.renewDue {
			if err := s.client.PExpire(ctx, s.prefix+id, s.lifetime(p)).Err(); err != nil {
				return session, fmt.Errorf("sessions: renew: %w", err)
			}
		}
		session.Values[payerKey] = p
		session.ID = id
		session.IsNew = false
	}
	return session, nil
}

// Save writes the session to Redis and its cookie to w, for the lifetime
// its payer's class has (MaxAge with a wallet identity, else
// IdentitylessMaxAge). A negative Options.MaxAge deletes both. Nothing is
// written to w when Redis fails.
func (s *Store) Save(r *http.Request, w http.ResponseWriter, session *sessions.Session) error {
	ctx := r.Context()
	if session.Options.MaxAge < 0 {
		if session.ID != "" {
			if err := s.client.Del(ctx, s.prefix+session.ID).Err(); err != nil {
				return fmt.Errorf("sessions: delete: %w", err)
			}
		}
		http.SetCookie(w, sessions.NewCookie(session.Name(), "", session.Options))
		return nil
	}
	data, p, err := encodeValues(session.Values)
	if err != nil {
		return err
	}
	if session.ID == "" {
		session.ID = newID()
	}
	ttl := s.lifetime(p)
	if err := s.client.Set(ctx, s.prefix+session.ID, data, ttl).Err(); err != nil {
		return fmt.Errorf("sessions: save: %w", err)
	}
	session.Options.MaxAge = int(ttl / time.Second)
	return s.setCookie(w, session.Name(), session.ID, session.Options)
}

// setCookie signs id into the session cookie on w.
func (s *Store) setCookie(w http.ResponseWriter, name, id string, opts *sessions.Options) error {
	encoded, err := securecookie.EncodeMulti(name, id, s.codecs...)
	if err != nil {
		return fmt.Errorf("sessions: encode cookie: %w", err)
	}
	http.SetCookie(w, sessions.NewCookie(name, encoded, opts))
	return nil
}

// cookieID is the session id the request's cookie called name carries: ""
// without one, "" and ErrInvalidCookie (wrapped) for one that does not
// verify.
func (s *Store) cookieID(r *http.Request, name string) (string, error) {
	c, err := r.Cookie(name)
	if err != nil {
		return "", nil
	}
	var id string
	if err := securecookie.DecodeMulti(name, c.Value, &id, s.codecs...); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidCookie, err)
	}
	if !validID(id) {
		return "", ErrInvalidCookie
	}
	return id, nil
}

// lifetime is how long a session holding p lives.
func (s *Store) lifetime(p *Payer) time.Duration {
	if p != nil && p.HasIdentity() {
		return s.ttl
	}
	return s.shortTTL
}

// pendingLoad is a session read queued on a pipeline: its data and how
// long it has left, in the same round trip as whatever else the pipeline
// carries.
type pendingLoad struct {
	s   *Store
	id  string
	get *redis.StringCmd
	ttl *redis.DurationCmd
}

// queue queues the read of session id on pipe.
func (s *Store) queue(ctx context.Context, pipe redis.Pipeliner, id string) *pendingLoad {
	key := s.prefix + id
	return &pendingLoad{s: s, id: id, get: pipe.Get(ctx, key), ttl: pipe.PTTL(ctx, key)}
}

// result is the session's payer once the pipeline has run, or nil when the
// data has expired; a record that no longer decodes counts as expired. The
// payer knows its session id, and whether its lifetime is due for renewal:
// more than a 24th of it gone, or longer than its class allows (a session
// stored before identity-less sessions were cut to hours).
func (l *pendingLoad) result(ctx context.Context) (*Payer, error) {
	data, err := l.get.Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sessions: load: %w", err)
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		slog.WarnContext(ctx, "Session record does not decode; starting afresh", "error", err)
		return nil, nil
	}
	p := rec.Payer
	if p == nil {
		p = &Payer{}
	}
	p.sessionID = l.id
	want := l.s.lifetime(p)
	// PTTL answers -1 (no TTL) or -2 (gone since the GET): renew either way.
	left, err := l.ttl.Result()
	if err != nil {
		return nil, fmt.Errorf("sessions: load: %w", err)
	}
	p.renewDue = left < want-want/renewFraction || left > want
	return p, nil
}

// record is what a session is stored as: typed JSON, not a gob of
// interface values.
type record struct {
	Payer *Payer `json:"payer,omitempty"`
}

// encodeValues accepts only what record can hold, so nothing stored is lost
// on the way back; it also returns the payer (nil when none).
func encodeValues(values map[any]any) ([]byte, *Payer, error) {
	var rec record
	for k, v := range values {
		p, ok := v.(*Payer)
		if k != payerKey || !ok {
			return nil, nil, fmt.Errorf("sessions: cannot store %T under %v: only *Payer under %q", v, k, payerKey)
		}
		rec.Payer = p
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, nil, fmt.Errorf("sessions: encode: %w", err)
	}
	return data, rec.Payer, nil
}

func newID() string {
	b := make([]byte, idBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it aborts the process instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// validID guards the Redis key against anything but an id we issued; a
// signed cookie should never hold one, but a leaked old key could.
func validID(id string) bool {
	if len(id) != base64.RawURLEncoding.EncodedLen(idBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(id)
	return err == nil
}

package sessions

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"
)

// Defaults for ConsoleConfig.
const (
	// DefaultConsoleIdle is how long a console session lives without a
	// request: a working day's pauses, not a night.
	DefaultConsoleIdle = 12 * time.Hour
	// DefaultConsolePrefix keeps console sessions apart from payers'.
	DefaultConsolePrefix = "csess:"
	// DefaultConsoleCookie is the console's cookie name ("__Host-"-prefixed
	// over https).
	DefaultConsoleCookie = "console_sid"
)

// consoleTouchEvery is how stale a session's last-seen time may get before
// a request writes it again: a page view costs a Redis write only once a
// minute per user, and the idle limit is still kept to the minute.
const consoleTouchEvery = time.Minute

// consoleKey is where the typed ConsoleUser sits in a gorilla session's
// Values.
const consoleKey = "console"

// ConsoleConfig configures a ConsoleStore.
type ConsoleConfig struct {
	// PublicURL, KeyPairs: as Config's (https makes the cookie Secure and
	// __Host-).
	PublicURL string
	KeyPairs  [][]byte
	// Idle is how long a session lives without a request (default
	// DefaultConsoleIdle).
	Idle time.Duration
	// Prefix namespaces the Redis keys (default DefaultConsolePrefix).
	Prefix string
	// Clock is the store's clock (default time.Now); tests move it to
	// expire a session without sleeping.
	Clock func() time.Time
}

// ConsoleUser is who a console session signed in: the merchant and the
// user's email. The user's role is read from the directory at each
// request, so that a reload of the merchants file that changes or removes
// the user takes effect at once.
type ConsoleUser struct {
	MerchantID string `json:"m"`
	Email      string `json:"e"`
	// SignedIn and Seen are unix seconds: when the session began and when
	// it last served a request.
	SignedIn int64 `json:"at"`
	Seen     int64 `json:"seen"`
}

// ConsoleStore is a gorilla/sessions Store of merchant console sessions in
// Redis, apart from payers' (own prefix, own cookie). The cookie is a
// signed random id; SameSite=Strict, HttpOnly, and Secure and __Host- over
// https. A session ends after Idle without a request, by the store's
// clock (and Redis's TTL as a backstop), or at sign-out.
type ConsoleStore struct {
	// Options are the cookie options of new sessions.
	Options *sessions.Options

	client redis.UniversalClient
	codecs []securecookie.Codec
	prefix string
	idle   time.Duration
	name   string
	now    func() time.Time
}

// NewConsoleStore checks cfg and builds a ConsoleStore on client.
func NewConsoleStore(client redis.UniversalClient, cfg ConsoleConfig) (*ConsoleStore, error) {
	if client == nil {
		return nil, errors.New("sessions: nil redis client")
	}
	if len(cfg.KeyPairs) == 0 {
		return nil, errors.New("sessions: no cookie keys")
	}
	secure := false
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("sessions: public url %q is not an absolute http(s) url", cfg.PublicURL)
		}
		secure = u.Scheme == "https"
	}
	if cfg.Idle == 0 {
		cfg.Idle = DefaultConsoleIdle
	}
	if cfg.Idle < time.Second {
		return nil, fmt.Errorf("sessions: console idle timeout %s is under a second", cfg.Idle)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultConsolePrefix
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	name := DefaultConsoleCookie
	if secure {
		name = "__Host-" + name
	}
	for i, k := range cfg.KeyPairs {
		if i%2 == 0 && len(k) < 32 {
			return nil, fmt.Errorf("sessions: hash key %d has %d bytes, want at least 32", i/2, len(k))
		}
	}
	pairs := make([][]byte, len(cfg.KeyPairs))
	for i, k := range cfg.KeyPairs {
		if len(k) > 0 {
			pairs[i] = k
		}
	}
	codecs := securecookie.CodecsFromPairs(pairs...)
	for _, c := range codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			// The cookie itself may be old: the idle limit is kept in
			// Redis. A week bounds what a stolen cookie file is worth.
			sc.MaxAge(7 * 24 * 3600)
			sc.SetSerializer(securecookie.JSONEncoder{})
		}
	}
	return &ConsoleStore{
		Options: &sessions.Options{
			Path: "/",
			// A session cookie: it goes when the browser closes.
			MaxAge:   0,
			Secure:   secure,
			HttpOnly: true,
			SameSite: http.SameSiteStrictMode,
		},
		client: client,
		codecs: codecs,
		prefix: cfg.Prefix,
		idle:   cfg.Idle,
		name:   name,
		now:    cfg.Clock,
	}, nil
}

// CookieName is the name of the console's session cookie.
func (s *ConsoleStore) CookieName() string { return s.name }

// String hides the keys.
func (s *ConsoleStore) String() string {
	return "sessions.ConsoleStore{" + s.name + " [keys redacted]}"
}

// Get returns the request's session called name, cached for the request.
func (s *ConsoleStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New returns the request's session called name: loaded when the cookie
// verifies and the session has not been idle past the limit (an idle one
// is deleted), else a fresh one. The error is ErrInvalidCookie (wrapped)
// or a Redis error; the session returned is usable either way.
func (s *ConsoleStore) New(r *http.Request, name string) (*sessions.Session, error) {
	session := sessions.NewSession(s, name)
	opts := *s.Options
	session.Options = &opts
	session.IsNew = true
	id, err := s.cookieID(r, name)
	if id == "" {
		return session, err
	}
	ctx := r.Context()
	data, err := s.client.Get(ctx, s.prefix+id).Bytes()
	if errors.Is(err, redis.Nil) {
		return session, nil
	}
	if err != nil {
		return session, fmt.Errorf("sessions: console load: %w", err)
	}
	var u ConsoleUser
	if err := json.Unmarshal(data, &u); err != nil || u.MerchantID == "" || u.Email == "" {
		return session, nil
	}
	now := s.now()
	if now.Sub(time.Unix(u.Seen, 0)) > s.idle {
		if err := s.client.Del(ctx, s.prefix+id).Err(); err != nil {
			return session, fmt.Errorf("sessions: console expire: %w", err)
		}
		return session, nil
	}
	if now.Sub(time.Unix(u.Seen, 0)) >= consoleTouchEvery {
		u.Seen = now.Unix()
		if err := s.write(r, id, &u); err != nil {
			return session, err
		}
	}
	session.Values[consoleKey] = &u
	session.ID = id
	session.IsNew = false
	return session, nil
}

// Save writes the session to Redis and its cookie to w; a negative
// Options.MaxAge deletes both (sign-out).
func (s *ConsoleStore) Save(r *http.Request, w http.ResponseWriter, session *sessions.Session) error {
	ctx := r.Context()
	if session.Options.MaxAge < 0 {
		if session.ID != "" {
			if err := s.client.Del(ctx, s.prefix+session.ID).Err(); err != nil {
				return fmt.Errorf("sessions: console delete: %w", err)
			}
		}
		http.SetCookie(w, sessions.NewCookie(session.Name(), "", session.Options))
		return nil
	}
	u, _ := session.Values[consoleKey].(*ConsoleUser)
	if u == nil {
		return errors.New("sessions: a console session holds no user")
	}
	if session.ID == "" {
		session.ID = newID()
	}
	if err := s.write(r, session.ID, u); err != nil {
		return err
	}
	encoded, err := securecookie.EncodeMulti(session.Name(), session.ID, s.codecs...)
	if err != nil {
		return fmt.Errorf("sessions: encode cookie: %w", err)
	}
	http.SetCookie(w, sessions.NewCookie(session.Name(), encoded, session.Options))
	return nil
}

func (s *ConsoleStore) write(r *http.Request, id string, u *ConsoleUser) error {
	data, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("sessions: console encode: %w", err)
	}
	if err := s.client.Set(r.Context(), s.prefix+id, data, s.idle).Err(); err != nil {
		return fmt.Errorf("sessions: console save: %w", err)
	}
	return nil
}

func (s *ConsoleStore) cookieID(r *http.Request, name string) (string, error) {
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

// Load returns the console user of the request's session, or nil when it
// has none (no cookie, a bad one, idle past the limit, signed out).
func (s *ConsoleStore) Load(r *http.Request) (*ConsoleUser, string, error) {
	session, err := s.Get(r, s.name)
	if err != nil && !errors.Is(err, ErrInvalidCookie) {
		return nil, "", err
	}
	u, _ := session.Values[consoleKey].(*ConsoleUser)
	if u == nil {
		return nil, "", nil
	}
	return u, session.ID, nil
}

// Begin starts a session for the user after a sign-in. It always makes a
// new session id (a cookie planted before the sign-in is worth nothing
// after it) and returns the id.
func (s *ConsoleStore) Begin(w http.ResponseWriter, r *http.Request, merchantID, email string) (string, error) {
	session := sessions.NewSession(s, s.name)
	opts := *s.Options
	session.Options = &opts
	now := s.now().Unix()
	session.Values[consoleKey] = &ConsoleUser{MerchantID: merchantID, Email: email, SignedIn: now, Seen: now}
	if err := s.Save(r, w, session); err != nil {
		return "", err
	}
	return session.ID, nil
}

// End signs the request's session out: deleted from Redis, cookie cleared.
func (s *ConsoleStore) End(w http.ResponseWriter, r *http.Request) error {
	session, err := s.Get(r, s.name)
	if err != nil && !errors.Is(err, ErrInvalidCookie) {
		return err
	}
	session.Options.MaxAge = -1
	return s.Save(r, w, session)
}

package sessions

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// MinSigningSecret is the shortest signing secret the tokens accept.
const MinSigningSecret = 32

// signer is HMAC-SHA256 under a key derived from the signing secret for
// one purpose, so that a token of one kind never verifies as another.
type signer struct {
	key  []byte
	pool sync.Pool // *macState: a page view signs once, without allocating
}

// macState is a signer's HMAC and a buffer its input is gathered in:
// one Write of a buffer kept with the hash, where a Write per field would
// allocate each field's bytes (a []byte of a string passed to an
// interface's method escapes).
type macState struct {
	h   hash.Hash
	buf []byte
	// sum takes the hash's Sum: a caller's array given to an interface's
	// method would escape to the heap.
	sum [sha256.Size]byte
}

// maxPooledMACInput is the largest input buffer kept for reuse.
const maxPooledMACInput = 4 << 10

func newSigner(secret []byte, purpose string) (*signer, error) {
	if len(secret) < MinSigningSecret {
		return nil, fmt.Errorf("sessions: signing secret has %d bytes, want at least %d", len(secret), MinSigningSecret)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	s := &signer{key: m.Sum(nil)}
	s.pool.New = func() any { return &macState{h: hmac.New(sha256.New, s.key), buf: make([]byte, 0, 256)} }
	return s, nil
}

// mac appends to dst the MAC of the fields, each followed by a NUL (no
// field of ours holds one, so the encoding is unambiguous).
func (s *signer) mac(dst []byte, fields ...string) []byte {
	return s.macThen(dst, nil, fields...)
}

// macThen is mac of the fields and then, when it is not nil, of last (a
// field the caller has as bytes: no string made for it).
func (s *signer) macThen(dst, last []byte, fields ...string) []byte {
	m := s.pool.Get().(*macState)
	b := m.buf[:0]
	for _, f := range fields {
		b = append(b, f...)
		b = append(b, 0)
	}
	if last != nil {
		b = append(b, last...)
		b = append(b, 0)
	}
	m.h.Reset()
	m.h.Write(b)
	dst = append(dst, m.h.Sum(m.sum[:0])...)
	if cap(b) <= maxPooledMACInput {
		m.buf = b
		s.pool.Put(m)
	}
	return dst
}

// CSRFLifetime is how long a page's CSRF token is good for. Time-limited so
// that a token that leaks (a saved copy of the page, a proxy's log) stops
// working; longer than the longest checkout (24 h) so that a page opened
// when its checkout was made can post for as long as the checkout lives. A
// payer past it reloads the page ("page expired").
const CSRFLifetime = 25 * time.Hour

// CSRF makes and checks the CSRF token the checkout pages' POSTs (pay,
// check) carry, without storing anything: the token is an expiry and an
// HMAC-SHA256, under the service's signing secret, of the checkout id, the
// expiry and the payer's session id when the payer has a session. Bound to
// the checkout, a token of one checkout's page is refused on another's.
// Bound to the session, it is refused with any other browser's cookie: a
// page that forged a request from another site cannot use a token it
// fetched itself for a browser whose session holds a wallet identity. A
// browser without a session has no identity to abuse: what a forged POST
// could do there, anyone can do with the page's own token; and the token
// travels in a header, which a cross-site page cannot add without a CORS
// preflight the pages never grant. The origin checks (Sec-Fetch-Site,
// Origin) stay the first lock.
type CSRF struct {
	s *signer
}

// NewCSRF builds the tokens on the service's signing secret.
func NewCSRF(secret []byte) (*CSRF, error) {
	s, err := newSigner(secret, "checkout page csrf token")
	if err != nil {
		return nil, err
	}
	return &CSRF{s: s}, nil
}

// String hides the key.
func (c *CSRF) String() string { return "sessions.CSRF{[key redacted]}" }

// Token is the token of checkoutID's pages for the payer whose session id is
// sessionID ("" for none), good for CSRFLifetime from now: the expiry in
// seconds (base 36), a dot, the MAC (base64url).
func (c *CSRF) Token(checkoutID, sessionID string, now time.Time) string {
	var buf [96]byte
	out := strconv.AppendInt(buf[:0], now.Add(CSRFLifetime).Unix(), 36)
	exp := out[:len(out):len(out)]
	out = append(out, '.')
	var sum [sha256.Size]byte
	mac := c.s.macThen(sum[:0], exp, "csrf", checkoutID, sessionID)
	out = base64.RawURLEncoding.AppendEncode(out, mac)
	return string(out)
}

// Check reports whether token is a token of checkoutID's pages for this
// session, unexpired at now. The MAC is compared in constant time.
func (c *CSRF) Check(token, checkoutID, sessionID string, now time.Time) bool {
	exp, sig, ok := strings.Cut(token, ".")
	if !ok || len(exp) == 0 || len(exp) > 13 || len(sig) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return false
	}
	t, err := strconv.ParseInt(exp, 36, 64)
	if err != nil || !now.Before(time.Unix(t, 0)) {
		return false
	}
	var got [sha256.Size]byte
	if n, err := base64.RawURLEncoding.Decode(got[:], []byte(sig)); err != nil || n != sha256.Size {
		return false
	}
	var expb [13]byte
	var sum [sha256.Size]byte
	return hmac.Equal(got[:], c.s.macThen(sum[:0], append(expb[:0], exp...), "csrf", checkoutID, sessionID))
}

// WalletOKToken stamps the moment checkoutID's page learnt that the
// payer's wallet reported the payment successful: the time (unix ms, base
// 36), a dot, the MAC (base64url) of the checkout id and the time, under
// the CSRF key with a leading field of its own, so that neither kind of
// token verifies as the other. The result page hands it back with its
// checks (payments.PayAgainAfterWalletOK); a payer cannot move it earlier
// to be invited to pay again sooner.
func (c *CSRF) WalletOKToken(checkoutID string, at time.Time) string {
	t := strconv.FormatInt(at.UnixMilli(), 36)
	var sum [sha256.Size]byte
	return t + "." + base64.RawURLEncoding.EncodeToString(c.s.mac(sum[:0], "wallet-ok", checkoutID, t))
}

// WalletOKAt is the time a WalletOKToken of checkoutID stamps; false for a
// forged token, another checkout's, or one older than CSRFLifetime at now.
// The MAC is compared in constant time.
func (c *CSRF) WalletOKAt(token, checkoutID string, now time.Time) (time.Time, bool) {
	ts, sig, ok := strings.Cut(token, ".")
	if !ok || len(ts) == 0 || len(ts) > 13 || len(sig) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return time.Time{}, false
	}
	ms, err := strconv.ParseInt(ts, 36, 64)
	if err != nil {
		return time.Time{}, false
	}
	at := time.UnixMilli(ms)
	if now.Sub(at) > CSRFLifetime {
		return time.Time{}, false
	}
	var got [sha256.Size]byte
	if n, err := base64.RawURLEncoding.Decode(got[:], []byte(sig)); err != nil || n != sha256.Size {
		return time.Time{}, false
	}
	var sum [sha256.Size]byte
	if !hmac.Equal(got[:], c.s.mac(sum[:0], "wallet-ok", checkoutID, ts)) {
		return time.Time{}, false
	}
	return at, true
}

// StateLifetime bounds how long an OAuth round trip may take.
const StateLifetime = 10 * time.Minute

// ErrStateRefused reports an OAuth callback's state that is forged,
// expired, another checkout's or return path's, another browser's, or
// already used.
var ErrStateRefused = errors.New("sessions: OAuth state refused")

// OAuthStates makes and checks the state of a wallet's OAuth round trip
// (WeChat snsapi_base, Alipay auth_base) without a session: a first visit
// stores nothing. The state is a version, an expiry and an HMAC-SHA256,
// under the signing secret, of the checkout id, the return path, the expiry
// and a random value kept in a short-lived cookie sent with the redirect to
// the wallet. The cookie binds the round trip to the browser that started
// it, so a callback link with someone else's code and state does nothing
// in a victim's browser. The checkout id and return path are bound, not
// carried: the wallets take a state of at most 100 characters (Alipay) of
// a-z, A-Z and 0-9 only (WeChat), and the callback knows both (its own
// path). A state is good once: its use is marked in Redis (SET NX, for
// the state's remaining lifetime and a minute more for replicas' clocks
// that are behind) at the callback, which is rare; the page
// view, which is not, writes nothing.
type OAuthStates struct {
	s      *signer
	rdb    redis.UniversalClient
	prefix string
	cookie string
	secure bool
}

// OAuthConfig configures OAuthStates.
type OAuthConfig struct {
	// Secret is the service's signing secret (at least 32 bytes).
	Secret []byte
	// PublicURL is the service's public URL; https makes the cookie
	// Secure and a __Host- cookie.
	PublicURL string
	// Prefix namespaces the used-state markers; default
	// DefaultOAuthPrefix.
	Prefix string
}

// Defaults of OAuthConfig.
const (
	DefaultOAuthPrefix = "oauth-used:"
	oauthCookieName    = "checkout_oauth"
	stateVersion       = "1"
	// stateMACBytes of the MAC go into the state: 128 bits.
	stateMACBytes = 16
	// usedMarkSkew is how long a used state's mark outlives the state:
	// the clock skew between replicas it tolerates. Short, since anyone
	// can have marks made (a state and its cookie come with any view in
	// a wallet, and the mark precedes the code's exchange).
	usedMarkSkew = time.Minute
)

// NewOAuthStates checks cfg and builds the states on client.
func NewOAuthStates(client redis.UniversalClient, cfg OAuthConfig) (*OAuthStates, error) {
	if client == nil {
		return nil, errors.New("sessions: nil redis client")
	}
	s, err := newSigner(cfg.Secret, "checkout oauth state")
	if err != nil {
		return nil, err
	}
	o := &OAuthStates{s: s, rdb: client, prefix: cfg.Prefix, cookie: oauthCookieName}
	if o.prefix == "" {
		o.prefix = DefaultOAuthPrefix
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("sessions: public url %q is not an absolute http(s) url", cfg.PublicURL)
		}
		if u.Scheme == "https" {
			// A sibling subdomain cannot plant a __Host- cookie, so it
			// cannot plant its own binding either.
			o.secure, o.cookie = true, "__Host-"+oauthCookieName
		}
	}
	return o, nil
}

// String hides the key.
func (o *OAuthStates) String() string { return "sessions.OAuthStates{[key redacted]}" }

// CookieName is the name of the cookie that binds a round trip.
func (o *OAuthStates) CookieName() string { return o.cookie }

// Begin starts a round trip from checkoutID's page that comes back to
// returnPath: the state to give the wallet, and the cookie to send with the
// redirect. Nothing is stored. A new round trip in the same browser
// replaces the one before.
func (o *OAuthStates) Begin(checkoutID, returnPath string, now time.Time) (string, *http.Cookie) {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	browser := base64.RawURLEncoding.EncodeToString(b[:])
	var e [4]byte
	binary.BigEndian.PutUint32(e[:], uint32(now.Add(StateLifetime).Unix()))
	exp := hex.EncodeToString(e[:])
	state := stateVersion + exp + hex.EncodeToString(o.stateMAC(checkoutID, returnPath, exp, browser))
	return state, o.newCookie(browser, int(StateLifetime/time.Second))
}

// End removes the request's binding, when it has one, on w: every answer
// of a callback calls it, so a state is tried at most once per browser. A
// callback link opened without a round trip in flight (a crawler, a shared
// link) gets no cookie at all.
func (o *OAuthStates) End(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(o.cookie); err == nil {
		http.SetCookie(w, o.newCookie("", -1))
	}
}

// Use checks a callback's state against this checkout, return path and
// browser (constant-time), and spends it. It returns ErrStateRefused for
// a state that is forged, expired, not this checkout's or return path's,
// started in another browser, or already used; any other error is Redis
// failing.
func (o *OAuthStates) Use(ctx context.Context, r *http.Request, state, checkoutID, returnPath string, now time.Time) error {
	if len(state) != 1+8+2*stateMACBytes || !strings.HasPrefix(state, stateVersion) {
		return ErrStateRefused
	}
	exp, sig := state[1:9], state[9:]
	e, err := hex.DecodeString(exp)
	if err != nil {
		return ErrStateRefused
	}
	// No upper bound: the MAC says this service made the expiry, and a
	// replica whose clock is a little behind must not refuse it.
	left := time.Unix(int64(binary.BigEndian.Uint32(e)), 0).Sub(now)
	if left <= 0 {
		return ErrStateRefused
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return ErrStateRefused
	}
	c, err := r.Cookie(o.cookie)
	if err != nil || c.Value == "" {
		return ErrStateRefused
	}
	if !hmac.Equal(got, o.stateMAC(checkoutID, returnPath, exp, c.Value)) {
		return ErrStateRefused
	}
	// Once: the first callback to mark the state wins. The mark outlives
	// the state by usedMarkSkew: a replica whose clock is behind still
	// takes the state after this one's clock (and Redis) saw it expire.
	fresh, err := o.rdb.SetNX(ctx, o.prefix+sig, 1, left+usedMarkSkew).Result()
	if err != nil {
		return fmt.Errorf("sessions: mark the OAuth state used: %w", err)
	}
	if !fresh {
		return ErrStateRefused
	}
	return nil
}

func (o *OAuthStates) stateMAC(checkoutID, returnPath, exp, browser string) []byte {
	var sum [sha256.Size]byte
	return o.s.mac(sum[:0], "oauth", checkoutID, returnPath, exp, browser)[:stateMACBytes]
}

func (o *OAuthStates) newCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: o.cookie, Value: value, Path: "/", MaxAge: maxAge,
		Secure: o.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

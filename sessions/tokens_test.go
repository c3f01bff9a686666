package sessions

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/internal/redistest"
)

var secret = []byte("a signing secret of at least 32 bytes!!")

func TestCSRF(t *testing.T) {
	c, err := NewCSRF(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	const ck, other = "co_AAAAAAAAAAAAAAAAAAAAAAAA", "co_BBBBBBBBBBBBBBBBBBBBBBBB"
	tok := c.Token(ck, "", now)
	bound := c.Token(ck, "session-1", now)
	otherKey, _ := NewCSRF([]byte("another signing secret of 32+ bytes!!"))
	tests := []struct {
		name           string
		token, ck, sid string
		at             time.Time
		want           bool
	}{
		{"right", tok, ck, "", now, true},
		{"right, bound", bound, ck, "session-1", now, true},
		{"just before expiry", tok, ck, "", now.Add(CSRFLifetime - time.Second), true},
		{"expired", tok, ck, "", now.Add(CSRFLifetime + time.Second), false},
		{"another checkout", tok, other, "", now, false},
		{"bound, another session", bound, ck, "session-2", now, false},
		{"bound, no session", bound, ck, "", now, false},
		{"unbound, with a session", tok, ck, "session-1", now, false},
		{"empty", "", ck, "", now, false},
		{"no dot", strings.ReplaceAll(tok, ".", ""), ck, "", now, false},
		{"truncated", tok[:len(tok)-1], ck, "", now, false},
		{"longer", tok + "A", ck, "", now, false},
		{"expiry moved", "zzzzzzz" + tok[strings.Index(tok, "."):], ck, "", now, false},
		{"another key", otherKey.Token(ck, "", now), ck, "", now, false},
		{"garbage", "\x00.\xff", ck, "", now, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.Check(tc.token, tc.ck, tc.sid, tc.at); got != tc.want {
				t.Errorf("Check = %v, want %v", got, tc.want)
			}
		})
	}
	if strings.Contains(fmt.Sprintf("%v %+v", c, c), string(secret[:16])) {
		t.Error("the CSRF type prints its key")
	}
	if _, err := NewCSRF([]byte("short")); err == nil {
		t.Error("a short secret was accepted")
	}
}

// oauthRequest is a callback request carrying the given cookies.
func oauthRequest(cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://pay.example.com/c/x/oauth/wechat", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

func TestOAuthStates(t *testing.T) {
	rdb := redistest.New(t)
	o, err := NewOAuthStates(rdb, OAuthConfig{Secret: secret, PublicURL: "https://pay.example.com", Prefix: prefix(t, rdb)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	const ck, back = "co_AAAAAAAAAAAAAAAAAAAAAAAA", "/c/co_AAAAAAAAAAAAAAAAAAAAAAAA"
	begin := func() (string, *http.Cookie) { return o.Begin(ck, back, now) }

	state, cookie := begin()
	if len(state) > 100 || strings.Trim(state, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
		t.Errorf("state %q: WeChat takes a-zA-Z0-9, Alipay at most 100", state)
	}
	if cookie.Name != "__Host-checkout_oauth" || !cookie.Secure || !cookie.HttpOnly || cookie.Path != "/" ||
		cookie.SameSite != http.SameSiteLaxMode || cookie.MaxAge != int(StateLifetime/time.Second) || cookie.Domain != "" {
		t.Errorf("binding cookie %+v", cookie)
	}
	for _, tc := range []struct {
		name    string
		r       *http.Request
		removes bool
	}{
		{"with the binding", oauthRequest(cookie), true},
		{"without one", oauthRequest(), false},
	} {
		w := httptest.NewRecorder()
		o.End(w, tc.r)
		got := w.Result().Cookies()
		if removes := len(got) == 1 && got[0].Name == cookie.Name && got[0].MaxAge < 0; removes != tc.removes || len(got) > 1 {
			t.Errorf("End %s: cookies %v", tc.name, got)
		}
	}

	tests := []struct {
		name string
		use  func(state string, cookie *http.Cookie) error
	}{
		{"forged", func(s string, c *http.Cookie) error {
			return o.Use(ctx, oauthRequest(c), s[:len(s)-4]+"0000", ck, back, now)
		}},
		{"expired", func(s string, c *http.Cookie) error {
			return o.Use(ctx, oauthRequest(c), s, ck, back, now.Add(StateLifetime+time.Second))
		}},
		{"another checkout", func(s string, c *http.Cookie) error {
			return o.Use(ctx, oauthRequest(c), s, "co_BBBBBBBBBBBBBBBBBBBBBBBB", back, now)
		}},
		{"another return path", func(s string, c *http.Cookie) error {
			return o.Use(ctx, oauthRequest(c), s, ck, back+"/result", now)
		}},
		{"no binding cookie", func(s string, _ *http.Cookie) error { return o.Use(ctx, oauthRequest(), s, ck, back, now) }},
		{"another browser's binding", func(s string, _ *http.Cookie) error {
			_, theirs := begin()
			return o.Use(ctx, oauthRequest(theirs), s, ck, back, now)
		}},
		{"empty", func(_ string, c *http.Cookie) error { return o.Use(ctx, oauthRequest(c), "", ck, back, now) }},
		{"another version", func(s string, c *http.Cookie) error { return o.Use(ctx, oauthRequest(c), "2"+s[1:], ck, back, now) }},
		{"not hex", func(s string, c *http.Cookie) error {
			return o.Use(ctx, oauthRequest(c), s[:9]+strings.Repeat("z", len(s)-9), ck, back, now)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := begin()
			if err := tc.use(s, c); !errors.Is(err, ErrStateRefused) {
				t.Fatalf("Use = %v, want ErrStateRefused", err)
			}
		})
	}
	t.Run("once", func(t *testing.T) {
		s, c := begin()
		if err := o.Use(ctx, oauthRequest(c), s, ck, back, now); err != nil {
			t.Fatalf("first use: %v", err)
		}
		if err := o.Use(ctx, oauthRequest(c), s, ck, back, now); !errors.Is(err, ErrStateRefused) {
			t.Fatalf("second use: %v", err)
		}
		// The mark lasts as long as the state could, on a replica whose
		// clock is up to usedMarkSkew behind.
		keys, _ := redistest.Keys(rdb, o.prefix+"*")
		if len(keys) != 1 {
			t.Fatalf("used marks %v", keys)
		}
		if ttl := rdb.TTL(ctx, keys[0]).Val(); ttl <= usedMarkSkew || ttl > StateLifetime+usedMarkSkew {
			t.Errorf("mark TTL %s", ttl)
		}
		rdb.Del(ctx, keys...)
	})
	t.Run("the view stores nothing", func(t *testing.T) {
		begin()
		if keys, _ := redistest.Keys(rdb, o.prefix+"*"); len(keys) != 0 {
			t.Errorf("Begin stored %v", keys)
		}
	})
	if strings.Contains(fmt.Sprintf("%v %+v", o, o), string(secret[:16])) {
		t.Error("OAuthStates prints its key")
	}
	plain, _ := NewOAuthStates(rdb, OAuthConfig{Secret: secret, PublicURL: "http://127.0.0.1:8080"})
	if _, c := plain.Begin(ck, back, now); c.Name != "checkout_oauth" || c.Secure {
		t.Errorf("http binding cookie %+v", c)
	}
}

// TestOAuthStateRedisDown: a state that verifies but cannot be marked is
// an error, not a refusal (the page answers 503, the payer retries).
func TestOAuthStateRedisDown(t *testing.T) {
	m, rdb := redistest.Miniredis(t)
	o, err := NewOAuthStates(rdb, OAuthConfig{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s, c := o.Begin("co_AAAAAAAAAAAAAAAAAAAAAAAA", "/c/co_AAAAAAAAAAAAAAAAAAAAAAAA", now)
	m.SetError("down")
	err = o.Use(context.Background(), oauthRequest(c), s, "co_AAAAAAAAAAAAAAAAAAAAAAAA", "/c/co_AAAAAAAAAAAAAAAAAAAAAAAA", now)
	if err == nil || errors.Is(err, ErrStateRefused) {
		t.Fatalf("Use with Redis down = %v", err)
	}
}

func BenchmarkCSRFToken(b *testing.B) {
	c, _ := NewCSRF(secret)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if !c.Check(c.Token("co_AAAAAAAAAAAAAAAAAAAAAAAA", "", now), "co_AAAAAAAAAAAAAAAAAAAAAAAA", "", now) {
			b.Fatal("refused")
		}
	}
}

// TestOAuthStateOnceAcrossReplicas: two replicas share Redis and the
// secret; a state spent on one is refused on the other, also once the
// state's own lifetime has passed on the first replica's clock, by a
// replica whose clock is behind (Use sets no upper bound on the expiry,
// so the used mark must outlive the state there too).
func TestOAuthStateOnceAcrossReplicas(t *testing.T) {
	m, rdb := redistest.Miniredis(t)
	cfg := OAuthConfig{Secret: secret, Prefix: "oauth-used:"}
	a, err := NewOAuthStates(rdb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewOAuthStates(rdb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	const ck, back = "co_AAAAAAAAAAAAAAAAAAAAAAAA", "/c/co_AAAAAAAAAAAAAAAAAAAAAAAA"
	ctx := context.Background()
	now := time.Now()
	state, cookie := a.Begin(ck, back, now)
	if err := a.Use(ctx, oauthRequest(cookie), state, ck, back, now); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if err := b.Use(ctx, oauthRequest(cookie), state, ck, back, now); !errors.Is(err, ErrStateRefused) {
		t.Fatalf("replayed on the other replica: %v", err)
	}
	// The state's lifetime has passed for replica a (and Redis); replica
	// b's clock is 30 s behind.
	m.FastForward(StateLifetime + time.Second)
	behind := now.Add(StateLifetime - 30*time.Second)
	if err := b.Use(ctx, oauthRequest(cookie), state, ck, back, behind); !errors.Is(err, ErrStateRefused) {
		t.Fatalf("replayed on a replica whose clock is behind: %v", err)
	}
}

// FuzzCSRFCheck: Check never panics and takes no token but the one made
// for this checkout and session (go test -fuzz FuzzCSRFCheck ./sessions/).
func FuzzCSRFCheck(f *testing.F) {
	c, err := NewCSRF(secret)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	const ck = "co_AAAAAAAAAAAAAAAAAAAAAAAA"
	good := c.Token(ck, "", now)
	for _, s := range []string{good, "", ".", "-1." + good, "+" + good, good + "=", strings.Repeat("z", 13) + good[strings.Index(good, "."):]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		if c.Check(token, ck, "", now) && token != good {
			t.Fatalf("Check took %q", token)
		}
	})
}

// A wallet-OK stamp gives back its time for its checkout only, unaltered,
// and is never a CSRF token (nor the reverse).
func TestWalletOKToken(t *testing.T) {
	c, err := NewCSRF(secret)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 2, 8, 0, 0, 123e6, time.UTC)
	const ck, other = "co_AAAAAAAAAAAAAAAAAAAAAAAA", "co_BBBBBBBBBBBBBBBBBBBBBBBB"
	tok := c.WalletOKToken(ck, at)
	ts, sig, _ := strings.Cut(tok, ".")
	earlier := strings.TrimSuffix(ts, ts[len(ts)-1:]) + "0." + sig
	otherKey, _ := NewCSRF([]byte("another signing secret of 32+ bytes!!"))
	for _, tc := range []struct {
		name, token, ck string
		now             time.Time
		ok              bool
	}{
		{"right", tok, ck, at.Add(time.Minute), true},
		{"a day later", tok, ck, at.Add(CSRFLifetime), true},
		{"too old", tok, ck, at.Add(CSRFLifetime + time.Second), false},
		{"another checkout", tok, other, at, false},
		{"time moved earlier", earlier, ck, at, false},
		{"another key", otherKey.WalletOKToken(ck, at), ck, at, false},
		{"a CSRF token", c.Token(ck, "", at), ck, at, false},
		{"empty", "", ck, at, false},
		{"garbage", "zz.zz", ck, at, false},
	} {
		got, ok := c.WalletOKAt(tc.token, tc.ck, tc.now)
		if ok != tc.ok || ok && !got.Equal(at) {
			t.Errorf("%s: %v %v, want %v", tc.name, got, ok, tc.ok)
		}
	}
	if c.Check(tok, ck, "", at) {
		t.Error("a wallet-OK stamp passes as a CSRF token")
	}
}

// TestCSRFAllocations pins what a page view's token costs: the token's
// string and nothing else (the MAC's hash is pooled, its input written
// once from a pooled buffer), and nothing at all to check one.
func TestCSRFAllocations(t *testing.T) {
	if raceBuild {
		t.Skip("sync.Pool drops at random under -race")
	}
	c, err := NewCSRF(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	tok := c.Token("co_0123456789abcdef", "sess_0123456789", now)
	if got := testing.AllocsPerRun(100, func() { tok = c.Token("co_0123456789abcdef", "sess_0123456789", now) }); got > 1 {
		t.Errorf("Token: %.0f allocations, want 1 (the token)", got)
	}
	if got := testing.AllocsPerRun(100, func() {
		if !c.Check(tok, "co_0123456789abcdef", "sess_0123456789", now) {
			t.Fatal("own token refused")
		}
	}); got > 0 {
		t.Errorf("Check: %.0f allocations, want 0", got)
	}
}

// TestCSRFTokenEncoding pins the MAC's input (each field followed by a
// NUL, under the purpose's key), so that tokens of pages already open
// keep verifying across a change of how it is computed.
func TestCSRFTokenEncoding(t *testing.T) {
	c, err := NewCSRF(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	k := hmac.New(sha256.New, secret)
	k.Write([]byte("checkout page csrf token"))
	for _, sid := range []string{"", "sess_1"} {
		exp := strconv.FormatInt(now.Add(CSRFLifetime).Unix(), 36)
		m := hmac.New(sha256.New, k.Sum(nil))
		m.Write([]byte("csrf\x00co_1\x00" + sid + "\x00" + exp + "\x00"))
		want := exp + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
		if got := c.Token("co_1", sid, now); got != want {
			t.Errorf("session %q: token %q, want %q", sid, got, want)
		}
	}
}

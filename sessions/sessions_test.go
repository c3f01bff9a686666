package sessions

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	gsessions "github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/internal/redistest"
)

var (
	key1 = []byte("0123456789abcdef0123456789abcdef-key-one")
	key2 = []byte("fedcba9876543210fedcba9876543210-key-two")
)

// prefix gives each test its own key space on the shared server, and
// removes its keys afterwards.
func prefix(t testing.TB, c redis.UniversalClient) string {
	t.Helper()
	p := "test:sess:" + rand.Text() + ":"
	t.Cleanup(func() { _ = redistest.Clean(c, p) })
	return p
}

func newPayers(t testing.TB, c redis.UniversalClient, cfg Config) *Payers {
	t.Helper()
	if cfg.Prefix == "" {
		cfg.Prefix = prefix(t, c)
	}
	if cfg.KeyPairs == nil {
		cfg.KeyPairs = [][]byte{key1, nil}
	}
	ps, err := NewPayers(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// request runs one request through fn, carrying the given cookies, and
// returns the session cookie the response set, if any.
func request(t testing.TB, cookies []*http.Cookie, fn func(w http.ResponseWriter, r *http.Request)) *http.Cookie {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "https://pay.example.com/c/ck_1", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	fn(w, r)
	cs := w.Result().Cookies()
	if len(cs) == 0 {
		return nil
	}
	return cs[len(cs)-1]
}

// save stores p in a fresh request and returns the cookie.
func save(t testing.TB, ps *Payers, cookies []*http.Cookie, edit func(*Payer)) *http.Cookie {
	t.Helper()
	c := request(t, cookies, func(w http.ResponseWriter, r *http.Request) {
		p, err := ps.Load(r)
		if err != nil {
			t.Fatal(err)
		}
		edit(p)
		if err := ps.Save(w, r, p); err != nil {
			t.Fatal(err)
		}
	})
	if c == nil {
		t.Fatal("no cookie set")
	}
	return c
}

// load reads the payer of a request carrying cookies.
func load(t testing.TB, ps *Payers, cookies ...*http.Cookie) *Payer {
	t.Helper()
	var p *Payer
	request(t, cookies, func(w http.ResponseWriter, r *http.Request) {
		var err error
		if p, err = ps.Load(r); err != nil {
			t.Fatal(err)
		}
	})
	return p
}

func TestRoundTrip(t *testing.T) {
	c := redistest.New(t)
	ps := newPayers(t, c, Config{PublicURL: "https://pay.example.com"})
	cookie := save(t, ps, nil, func(p *Payer) {
		p.SetWeChatOpenID("wxoa", "oOPENID")
		p.SetAlipayUserID("2021", "2088102104794936")
	})
	got := load(t, ps, cookie)
	if id, ok := got.WeChatOpenID("wxoa"); !ok || id != "oOPENID" {
		t.Errorf("openid = %q, %v", id, ok)
	}
	if id, ok := got.AlipayUserID("2021"); !ok || id != "2088102104794936" {
		t.Errorf("alipay id = %q, %v", id, ok)
	}
	if got.SessionID() == "" || !got.HasIdentity() {
		t.Errorf("payer = %+v, session %q", got, got.SessionID())
	}
	if _, ok := got.WeChatOpenID("other"); ok {
		t.Error("unknown app has an openid")
	}

	// The cookie holds only the signed id; Redis holds typed JSON.
	if strings.Contains(cookie.Value, "oOPENID") {
		t.Error("cookie carries session data")
	}
	keys, err := redistest.Keys(c, ps.Store.prefix+"*")
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys = %v, %v", keys, err)
	}
	raw, err := c.Get(context.Background(), keys[0]).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Payer struct {
			WeChatOpenIDs map[string]string `json:"wechat_openids"`
		} `json:"payer"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil || rec.Payer.WeChatOpenIDs["wxoa"] != "oOPENID" {
		t.Errorf("stored record %s: %v", raw, err)
	}

	// Saving again keeps the same session id.
	again := save(t, ps, []*http.Cookie{cookie}, func(p *Payer) { p.SetWeChatOpenID("wxmini", "oMINI") })
	if keys2, _ := redistest.Keys(c, ps.Store.prefix+"*"); len(keys2) != 1 || keys2[0] != keys[0] {
		t.Errorf("keys after second save = %v, want %v", keys2, keys)
	}
	if p := load(t, ps, again); p.WeChatOpenIDs["wxoa"] != "oOPENID" || p.WeChatOpenIDs["wxmini"] != "oMINI" {
		t.Errorf("after second save: %+v", p)
	}
}

func TestCookieAttributes(t *testing.T) {
	c := redistest.New(t)
	tests := []struct {
		name       string
		cfg        Config
		wantName   string
		wantSecure bool
		wantMaxAge int
	}{
		{"http", Config{PublicURL: "http://127.0.0.1:8080"}, "checkout_sid", false, int(DefaultMaxAge / time.Second)},
		{"https", Config{PublicURL: "https://pay.example.com/base"}, "__Host-checkout_sid", true, int(DefaultMaxAge / time.Second)},
		{"no url", Config{MaxAge: time.Hour}, "checkout_sid", false, 3600},
		{"custom name", Config{PublicURL: "https://pay.example.com", CookieName: "pay"}, "pay", true, int(DefaultMaxAge / time.Second)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := newPayers(t, c, tc.cfg)
			ck := save(t, ps, nil, func(p *Payer) { p.SetWeChatOpenID("wxoa", "oCOOKIE") })
			if ck.Name != tc.wantName || ck.Secure != tc.wantSecure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.MaxAge != tc.wantMaxAge || ck.Domain != "" {
				t.Errorf("cookie = %+v", ck)
			}
		})
	}
}

func TestTamperedCookiesStartAfresh(t *testing.T) {
	c := redistest.New(t)
	ps := newPayers(t, c, Config{})
	good := save(t, ps, nil, func(p *Payer) { p.SetWeChatOpenID("wxoa", "oVICTIM") })

	forged := func(mut func(*http.Cookie)) *http.Cookie {
		ck := *good
		mut(&ck)
		return &ck
	}
	otherKey, _ := securecookie.EncodeMulti(good.Name, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", securecookie.CodecsFromPairs([]byte("an-attacker-key-of-thirty-two-bytes!"))...)
	otherName, _ := securecookie.EncodeMulti("other", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ps.Store.codecs...)
	badID, _ := securecookie.EncodeMulti(good.Name, "../../etc/passwd", ps.Store.codecs...)
	tests := []struct {
		name   string
		cookie *http.Cookie
	}{
		{"one byte flipped", forged(func(c *http.Cookie) {
			b := []byte(c.Value)
			b[len(b)/2] ^= 1
			c.Value = string(b)
		})},
		{"truncated", forged(func(c *http.Cookie) { c.Value = c.Value[:len(c.Value)-4] })},
		{"signed with another key", forged(func(c *http.Cookie) { c.Value = otherKey })},
		{"signed for another cookie name", forged(func(c *http.Cookie) { c.Value = otherName })},
		{"our key, but not an id we issue", forged(func(c *http.Cookie) { c.Value = badID })},
		{"garbage", forged(func(c *http.Cookie) { c.Value = "%%%\x00" })},
		{"huge", forged(func(c *http.Cookie) { c.Value = strings.Repeat("A", 8000) })},
		{"empty", forged(func(c *http.Cookie) { c.Value = "" })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p *Payer
			request(t, []*http.Cookie{tc.cookie}, func(w http.ResponseWriter, r *http.Request) {
				var err error
				if p, err = ps.Load(r); err != nil {
					t.Fatalf("Load: %v", err)
				}
				if _, err := ps.Store.Get(r, ps.Store.CookieName()); tc.cookie.Value != "" && err == nil {
					t.Error("the store reported no error for a bad cookie")
				}
				// Saving gives the payer a new id, never the forged one.
				p.SetAlipayUserID("2021", "2088")
				if err := ps.Save(w, r, p); err != nil {
					t.Fatal(err)
				}
			})
			if len(p.WeChatOpenIDs) != 0 {
				t.Errorf("forged cookie got the victim's data: %+v", p)
			}
		})
	}
	// The victim's session is intact.
	if p := load(t, ps, good); p.WeChatOpenIDs["wxoa"] != "oVICTIM" {
		t.Errorf("victim's session changed: %+v", p)
	}
}

func TestKeyRotation(t *testing.T) {
	c := redistest.New(t)
	pre := prefix(t, c)
	old := newPayers(t, c, Config{Prefix: pre, KeyPairs: [][]byte{key1, nil}})
	rotated := newPayers(t, c, Config{Prefix: pre, KeyPairs: [][]byte{key2, nil, key1, nil}})
	newOnly := newPayers(t, c, Config{Prefix: pre, KeyPairs: [][]byte{key2, nil}})

	oldCookie := save(t, old, nil, func(p *Payer) { p.SetWeChatOpenID("wxoa", "oROTATE") })
	if p := load(t, rotated, oldCookie); p.WeChatOpenIDs["wxoa"] != "oROTATE" {
		t.Fatalf("rotated store cannot read an old cookie: %+v", p)
	}
	if p := load(t, newOnly, oldCookie); len(p.WeChatOpenIDs) != 0 {
		t.Error("a store without the old key accepted an old cookie")
	}
	// The next save re-signs with the first key.
	newCookie := save(t, rotated, []*http.Cookie{oldCookie}, func(*Payer) {})
	if p := load(t, newOnly, newCookie); p.WeChatOpenIDs["wxoa"] != "oROTATE" {
		t.Errorf("re-signed cookie not readable with the new key alone: %+v", p)
	}
	if p := load(t, old, newCookie); len(p.WeChatOpenIDs) != 0 {
		t.Error("old-key-only store read a cookie signed with the new key")
	}
}

func TestEncryptedCookies(t *testing.T) {
	c := redistest.New(t)
	ps := newPayers(t, c, Config{KeyPairs: [][]byte{key1, []byte("0123456789abcdef0123456789abcdef")}})
	ck := save(t, ps, nil, func(p *Payer) { p.SetAlipayUserID("a", "2088") })
	if p := load(t, ps, ck); p.AlipayUserIDs["a"] != "2088" {
		t.Errorf("encrypted round trip: %+v", p)
	}
}

// visit is a page's load: Queue on a pipeline, renewing when due. It
// returns the payer and the cookie the answer set, if any.
func visit(t testing.TB, ps *Payers, cookies ...*http.Cookie) (*Payer, *http.Cookie) {
	t.Helper()
	var p *Payer
	set := request(t, cookies, func(w http.ResponseWriter, r *http.Request) {
		pipe := ps.Store.client.Pipeline()
		queued, load := ps.Queue(r.Context(), pipe, r)
		if queued {
			_, _ = pipe.Exec(r.Context())
		}
		var err error
		if p, err = load(w); err != nil {
			t.Fatal(err)
		}
	})
	return p, set
}

func TestExpiryAndSlidingTTL(t *testing.T) {
	m, c := redistest.Miniredis(t)
	ps := newPayers(t, c, Config{MaxAge: time.Minute})
	ck := save(t, ps, nil, func(p *Payer) { p.SetWeChatOpenID("wxoa", "oSLIDE") })

	// A visit within a 24th of the lifetime renews nothing.
	m.FastForward(time.Second)
	if p, set := visit(t, ps, ck); p.WeChatOpenIDs["wxoa"] != "oSLIDE" || set != nil {
		t.Fatalf("early visit: %+v, cookie %v", p, set)
	}
	// Later ones renew the lifetime (Redis and cookie): 40 s + 40 s > 60 s,
	// and the session lives.
	m.FastForward(40 * time.Second)
	p, set := visit(t, ps, ck)
	if p.WeChatOpenIDs["wxoa"] != "oSLIDE" || set == nil || set.MaxAge != 60 {
		t.Fatalf("session after 40 s: %+v, cookie %v", p, set)
	}
	m.FastForward(40 * time.Second)
	if p, _ := visit(t, ps, set); p.WeChatOpenIDs["wxoa"] != "oSLIDE" {
		t.Fatal("the visit did not renew the lifetime")
	}
	// Untouched for longer than MaxAge, it is gone, and the payer starts
	// afresh without an error.
	m.FastForward(61 * time.Second)
	if p, set := visit(t, ps, ck); len(p.WeChatOpenIDs) != 0 || p.SessionID() != "" || set != nil {
		t.Errorf("expired session still loads: %+v", p)
	}
	// A save after expiry issues a new id.
	fresh := save(t, ps, []*http.Cookie{ck}, func(p *Payer) { p.SetWeChatOpenID("wxoa", "oNEW") })
	if fresh.Value == ck.Value {
		t.Error("expired session id reused")
	}
}

// TestLifetimeByIdentity: a session with a wallet identity lives the month,
// one without lives hours, and a load cuts an identity-less session stored
// for longer (before sessions were cut) down to hours.
func TestLifetimeByIdentity(t *testing.T) {
	c := redistest.New(t)
	ps := newPayers(t, c, Config{})
	ctx := context.Background()
	keyOf := func(p *Payer) string { return ps.Store.prefix + p.SessionID() }
	tests := []struct {
		name     string
		identity bool
		want     time.Duration
	}{
		{"with identity", true, DefaultMaxAge},
		{"without identity", false, DefaultIdentitylessMaxAge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ck := save(t, ps, nil, func(p *Payer) {
				if tc.identity {
					p.SetWeChatOpenID("wxoa", "oLIFE")
				}
			})
			if ck.MaxAge != int(tc.want/time.Second) {
				t.Errorf("cookie Max-Age %d, want %d", ck.MaxAge, int(tc.want/time.Second))
			}
			p := load(t, ps, ck)
			if ttl := c.TTL(ctx, keyOf(p)).Val(); ttl < tc.want-time.Minute || ttl > tc.want {
				t.Errorf("TTL after save = %s, want %s", ttl, tc.want)
			}
			// Aged past a 24th of its lifetime, a visit renews it in full.
			c.Expire(ctx, keyOf(p), tc.want/2)
			if _, set := visit(t, ps, ck); set == nil || set.MaxAge != int(tc.want/time.Second) {
				t.Errorf("renewal cookie %v", set)
			}
			if ttl := c.TTL(ctx, keyOf(p)).Val(); ttl < tc.want-time.Minute {
				t.Errorf("TTL after the visit = %s, want it renewed to %s", ttl, tc.want)
			}
		})
	}
	t.Run("identity-less, stored for a month", func(t *testing.T) {
		ck := save(t, ps, nil, func(*Payer) {})
		p := load(t, ps, ck)
		c.Expire(ctx, keyOf(p), DefaultMaxAge)
		if _, set := visit(t, ps, ck); set == nil || set.MaxAge != int(DefaultIdentitylessMaxAge/time.Second) {
			t.Errorf("cookie after the visit %v, want Max-Age cut to %s", set, DefaultIdentitylessMaxAge)
		}
		if ttl := c.TTL(ctx, keyOf(p)).Val(); ttl > DefaultIdentitylessMaxAge {
			t.Errorf("TTL after the visit = %s, want at most %s", ttl, DefaultIdentitylessMaxAge)
		}
	})
}

func TestCorruptRecordStartsAfresh(t *testing.T) {
	c := redistest.New(t)
	ps := newPayers(t, c, Config{})
	ck := save(t, ps, nil, func(p *Payer) { p.SetWeChatOpenID("wxoa", "o1") })
	ctx := context.Background()
	keys, _ := redistest.Keys(c, ps.Store.prefix+"*")
	if len(keys) != 1 {
		t.Fatalf("keys = %v", keys)
	}
	c.Set(ctx, keys[0], "\x00not json", time.Minute)
	if p := load(t, ps, ck); len(p.WeChatOpenIDs) != 0 {
		t.Errorf("corrupt record loaded as %+v", p)
	}
}

func TestRedisDown(t *testing.T) {
	m, _ := redistest.Miniredis(t)
	// No retries: the test is about the error, not go-redis's backoff.
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	ps := newPayers(t, c, Config{})
	ck := save(t, ps, nil, func(p *Payer) { p.SetWeChatOpenID("wxoa", "oDOWN") })
	m.Close()

	// With a cookie, Load needs Redis: a clear error, no panic.
	request(t, []*http.Cookie{ck}, func(w http.ResponseWriter, r *http.Request) {
		p, err := ps.Load(r)
		if err == nil || p != nil {
			t.Errorf("Load with Redis down = %v, %v", p, err)
		}
		if err := ps.Save(w, r, &Payer{}); err == nil {
			t.Error("Save after a failed Load succeeded")
		}
	})
	// Without a cookie Load needs nothing, but Save fails and sets no
	// cookie.
	got := request(t, nil, func(w http.ResponseWriter, r *http.Request) {
		p, err := ps.Load(r)
		if err != nil {
			t.Fatalf("Load without cookie: %v", err)
		}
		p.SetWeChatOpenID("wxoa", "oDOWN")
		if err := ps.Save(w, r, p); err == nil || !strings.Contains(err.Error(), "sessions: save") {
			t.Errorf("Save with Redis down: %v", err)
		}
	})
	if got != nil {
		t.Errorf("cookie set although nothing was stored: %+v", got)
	}
}

func TestDestroy(t *testing.T) {
	c := redistest.New(t)
	ps := newPayers(t, c, Config{})
	ck := save(t, ps, nil, func(p *Payer) { p.SetWeChatOpenID("wxoa", "oBYE") })
	gone := request(t, []*http.Cookie{ck}, func(w http.ResponseWriter, r *http.Request) {
		if err := ps.Destroy(w, r); err != nil {
			t.Fatal(err)
		}
	})
	if gone == nil || gone.MaxAge >= 0 {
		t.Errorf("expiring cookie = %+v", gone)
	}
	if n, _ := redistest.Keys(c, ps.Store.prefix+"*"); len(n) != 0 {
		t.Errorf("keys left: %v", n)
	}
	if p := load(t, ps, ck); len(p.WeChatOpenIDs) != 0 {
		t.Error("destroyed session still loads")
	}
}

func TestOnlyPayerValuesAreStored(t *testing.T) {
	ps := newPayers(t, redistest.New(t), Config{})
	request(t, nil, func(w http.ResponseWriter, r *http.Request) {
		s, err := ps.Store.Get(r, ps.Store.CookieName())
		if err != nil {
			t.Fatal(err)
		}
		s.Values["other"] = 42
		if err := s.Save(r, w); err == nil {
			t.Error("a non-Payer value was accepted (and would be lost)")
		}
	})
	request(t, nil, func(w http.ResponseWriter, r *http.Request) {
		if err := ps.Save(w, r, nil); err == nil {
			t.Error("nil payer saved")
		}
	})
}

func TestConcurrentSessionsAreDistinct(t *testing.T) {
	c := redistest.New(t)
	ps := newPayers(t, c, Config{})
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			ck := save(t, ps, nil, func(p *Payer) { p.SetWeChatOpenID("wxoa", fmt.Sprint("o", i)) })
			if p := load(t, ps, ck); p.WeChatOpenIDs["wxoa"] != fmt.Sprint("o", i) {
				t.Errorf("payer %d got %+v", i, p)
			}
			mu.Lock()
			seen[ck.Value] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if n, _ := redistest.Keys(c, ps.Store.prefix+"*"); len(n) != 20 || len(seen) != 20 {
		t.Errorf("%d keys, %d cookies; want 20 each", len(n), len(seen))
	}
}

func TestNewStoreRejectsBadConfig(t *testing.T) {
	c := redistest.New(t)
	tests := []struct {
		name   string
		client redis.UniversalClient
		cfg    Config
	}{
		{"nil client", nil, Config{KeyPairs: [][]byte{key1}}},
		{"no keys", c, Config{}},
		{"short hash key", c, Config{KeyPairs: [][]byte{[]byte("short")}}},
		{"short rotated hash key", c, Config{KeyPairs: [][]byte{key1, nil, []byte("short")}}},
		{"bad block key", c, Config{KeyPairs: [][]byte{key1, []byte("seventeen bytes!!")}}},
		{"relative public url", c, Config{KeyPairs: [][]byte{key1}, PublicURL: "/pay"}},
		{"ftp public url", c, Config{KeyPairs: [][]byte{key1}, PublicURL: "ftp://x"}},
		{"tiny max age", c, Config{KeyPairs: [][]byte{key1}, MaxAge: time.Millisecond}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewStore(tc.client, tc.cfg); err == nil {
				t.Error("accepted")
			} else if strings.Contains(err.Error(), string(key1)) {
				t.Errorf("error quotes a key: %v", err)
			}
		})
	}
}

func TestStoreNeverPrintsKeys(t *testing.T) {
	ps := newPayers(t, redistest.New(t), Config{KeyPairs: [][]byte{key1, nil, key2, nil}})
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("store", "store", ps.Store, "payers", ps)
	out := fmt.Sprintf("%v %+v %#v %v %+v %s", ps.Store, ps.Store, ps.Store, *ps.Store, ps, logged.String())
	for _, k := range [][]byte{key1, key2} {
		if strings.Contains(out, string(k[:16])) || strings.Contains(out, fmt.Sprint(k[:8])) {
			t.Errorf("key printed: %.300s", out)
		}
	}
}

var _ gsessions.Store = (*Store)(nil)

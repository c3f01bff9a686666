package sessions_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/sessions"
)

// clock is a test clock the store reads.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestConsoleSessionLifecycle(t *testing.T) {
	rdb := redistest.New(t)
	prefix := redistest.Prefix(t, rdb)
	clk := &clock{t: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}
	store, err := sessions.NewConsoleStore(rdb, sessions.ConsoleConfig{
		PublicURL: "https://pay.example.com", KeyPairs: [][]byte{[]byte("console-test-hash-key-0123456789abcdef")},
		Prefix: prefix + "csess:", Clock: clk.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	id, err := store.Begin(rec, httptest.NewRequest("POST", "/console/login", nil), "shop", "ops@shop.example")
	if err != nil {
		t.Fatal(err)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies %v", cookies)
	}
	ck := cookies[0]
	if ck.Name != "__Host-console_sid" || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Domain != "" {
		t.Errorf("cookie %+v: want __Host-console_sid, Secure, HttpOnly, SameSite=Strict, Path=/, host-only", ck)
	}
	load := func() *sessions.ConsoleUser {
		t.Helper()
		r := httptest.NewRequest("GET", "/console/", nil)
		r.AddCookie(ck)
		u, _, err := store.Load(r)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	if u := load(); u == nil || u.MerchantID != "shop" || u.Email != "ops@shop.example" {
		t.Fatalf("Load = %+v", u)
	}
	// Used within the idle limit, the session stays: 11 h, then 11 h more.
	clk.add(11 * time.Hour)
	if load() == nil {
		t.Fatal("ended after 11 h idle")
	}
	clk.add(11 * time.Hour)
	if load() == nil {
		t.Fatal("ended 11 h after its last use, 22 h after the sign-in")
	}
	// Then 12 h and a minute without a request: gone, and gone from Redis.
	clk.add(12*time.Hour + time.Minute)
	if u := load(); u != nil {
		t.Fatalf("still signed in after 12 h idle: %+v", u)
	}
	if n, _ := rdb.Exists(t.Context(), prefix+"csess:"+id).Result(); n != 0 {
		t.Error("the idle session is still in Redis")
	}

	// Sign-out deletes it at once.
	rec = httptest.NewRecorder()
	if _, err := store.Begin(rec, httptest.NewRequest("POST", "/console/login", nil), "shop", "ops@shop.example"); err != nil {
		t.Fatal(err)
	}
	ck = rec.Result().Cookies()[0]
	if load() == nil {
		t.Fatal("new session not loaded")
	}
	r := httptest.NewRequest("POST", "/console/logout", nil)
	r.AddCookie(ck)
	out := httptest.NewRecorder()
	if err := store.End(out, r); err != nil {
		t.Fatal(err)
	}
	if c := out.Result().Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Errorf("sign-out cookie %v does not clear", c)
	}
	if load() != nil {
		t.Error("signed in after sign-out")
	}

	// A tampered cookie is no session.
	bad := *ck
	bad.Value = ck.Value[:len(ck.Value)-2] + "xx"
	r = httptest.NewRequest("GET", "/console/", nil)
	r.AddCookie(&bad)
	if u, _, err := store.Load(r); u != nil || err != nil {
		t.Errorf("tampered cookie: %+v, %v", u, err)
	}
}

package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/internal/redistest"
)

func TestHealth(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		r := e.do("GET", p, "", "")
		if r.status != 200 || r.json(t)["status"] != "ok" {
			t.Fatalf("%s: %d %s", p, r.status, r.body)
		}
	}
}

func TestReadyzWithoutRedis(t *testing.T) {
	m, rdb := redistest.Miniredis(t)
	e := newEnv(t, withRedis(rdb))
	srv := e.srv
	m.Close()
	for p, want := range map[string]int{"/healthz": 200, "/readyz": 503} {
		res, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("%s with Redis down: %d, want %d", p, res.StatusCode, want)
		}
	}
	// The API says it is unavailable; it does not crash or claim success.
	key := e.keyA
	req, _ := http.NewRequest("POST", srv.URL+"/v1/checkouts", strings.NewReader(`{"amount":1}`))
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("create with Redis down: %d", res.StatusCode)
	}
}

func TestRequestID(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/healthz", "", "", "X-Request-Id", "abc-123")
	if r.header.Get("X-Request-Id") != "abc-123" {
		t.Fatalf("echo: %q", r.header.Get("X-Request-Id"))
	}
	for _, bad := range []string{"", "has space", strings.Repeat("x", 65), "<script>"} {
		r := e.do("GET", "/healthz", "", "", "X-Request-Id", bad)
		got := r.header.Get("X-Request-Id")
		if got == bad || !strings.HasPrefix(got, "req_") {
			t.Fatalf("for %q got %q; want a generated id", bad, got)
		}
	}
	if !strings.Contains(e.logs.String(), `"request_id":"abc-123"`) {
		t.Fatal("access log lacks the request id")
	}
	// Generated ids are distinct, and a caller could send them back.
	seen := map[string]bool{}
	for range 50 {
		id := e.do("GET", "/healthz", "", "").header.Get("X-Request-Id")
		if seen[id] || len(id) != 30 || !strings.HasPrefix(id, "req_") {
			t.Fatalf("generated id %q (seen before: %v), want a fresh req_ and 26 characters", id, seen[id])
		}
		seen[id] = true
		if r := e.do("GET", "/healthz", "", "", "X-Request-Id", id); r.header.Get("X-Request-Id") != id {
			t.Fatalf("a generated id %q sent back is not kept: %q", id, r.header.Get("X-Request-Id"))
		}
	}
}

func TestNotFoundAndMethod(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/nope", "", "")
	if code, _ := r.errorOf(t); r.status != 404 || code != "not_found" {
		t.Fatalf("404: %d %s", r.status, r.body)
	}
	r = e.do("DELETE", "/v1/checkouts", e.keyA, "")
	if code, _ := r.errorOf(t); r.status != 405 || code != "method_not_allowed" {
		t.Fatalf("405: %d %s", r.status, r.body)
	}
}

func TestSandboxMount(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/sandbox/mct1/payorder", "", "")
	if r.status != 200 || string(r.body) != "sandbox:/mct1/payorder" {
		t.Fatalf("sandbox: %d %q", r.status, r.body)
	}
}

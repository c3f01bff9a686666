package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/metrics"
	"github.com/wallet-checkout/checkout/payments"
)

// minimalApp builds the service on rdb with one merchant, one store.
func minimalApp(t *testing.T, rdb redis.UniversalClient, m *metrics.Metrics) *app.App {
	t.Helper()
	settings, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	dir, err := checkout.NewDirectory([]*checkout.Merchant{{ID: "m", Stores: []*checkout.Store{{ID: "a"}}}})
	if err != nil {
		t.Fatal(err)
	}
	gs, err := gateway.NewStore("http://127.0.0.1:9/mct1", "OA", strings.Repeat("k", 32), "pass")
	if err != nil {
		t.Fatal(err)
	}
	accounts := payments.NewAccounts()
	if err := accounts.Add("m", "a", gs); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(app.Config{Settings: settings, Redis: rdb, Directory: dir, Accounts: accounts, Prefix: "test:admin:", Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAdminReadyz: ready while Redis answers and the process is not
// draining; 503 with the reason otherwise, never the Redis error's text.
func TestAdminReadyz(t *testing.T) {
	var draining atomic.Bool
	a := minimalApp(t, redistest.New(t), metrics.New(metrics.Options{}))
	srv := httptest.NewServer(a.Admin(draining.Load))
	defer srv.Close()
	if code, body := get(t, srv.URL+"/readyz"); code != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Errorf("readyz = %d %s, want 200 ok", code, body)
	}
	draining.Store(true)
	code, body := get(t, srv.URL+"/readyz")
	var ans map[string]string
	if err := json.Unmarshal([]byte(body), &ans); err != nil || code != http.StatusServiceUnavailable || ans["reason"] != "draining" {
		t.Errorf("readyz while draining = %d %s, want 503 draining", code, body)
	}
	if code, _ := get(t, srv.URL+"/healthz"); code != http.StatusOK {
		t.Errorf("healthz while draining = %d, want 200: the process is alive", code)
	}

	// Redis down: a client whose server is gone.
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", Password: "hunter2-secret", MaxRetries: -1})
	defer down.Close()
	b := minimalApp(t, down, nil)
	srv2 := httptest.NewServer(b.Admin(nil))
	defer srv2.Close()
	code, body = get(t, srv2.URL+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "redis unreachable") {
		t.Errorf("readyz with Redis down = %d %s, want 503 redis unreachable", code, body)
	}
	if strings.Contains(body, "127.0.0.1:1") || strings.Contains(body, "hunter2") {
		t.Errorf("readyz shows the Redis error: %s", body)
	}
	// Without Config.Metrics, /metrics still answers (runtime only).
	if code, body := get(t, srv2.URL+"/metrics"); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics without Config.Metrics = %d", code)
	}
}

// TestAdminPprofAndNothingElse: the profiler answers on the admin
// handler; paths it does not serve are 404, and the public handler
// serves none of the admin paths.
func TestAdminPprofAndNothingElse(t *testing.T) {
	a := minimalApp(t, redistest.New(t), metrics.New(metrics.Options{}))
	admin := httptest.NewServer(a.Admin(nil))
	defer admin.Close()
	public := httptest.NewServer(a.Handler)
	defer public.Close()
	if code, body := get(t, admin.URL+"/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("pprof index = %d", code)
	}
	if code, body := get(t, admin.URL+"/debug/pprof/goroutine?debug=1"); code != http.StatusOK || !strings.Contains(body, "goroutine profile") {
		t.Errorf("goroutine profile = %d %.80s", code, body)
	}
	if code, _ := get(t, admin.URL+"/v1/checkouts"); code != http.StatusNotFound {
		t.Errorf("admin /v1/checkouts = %d, want 404: the API is not on the admin listener", code)
	}
	for _, p := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/goroutine"} {
		if code, _ := get(t, public.URL+p); code != http.StatusNotFound {
			t.Errorf("public %s = %d, want 404", p, code)
		}
	}
}

package handlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/payments"
)

// fakeNotifier answers Notify with a set error and records its inputs.
type fakeNotifier struct {
	standInPayments
	mu    sync.Mutex
	err   error
	store string
	query url.Values
	calls int
}

func (f *fakeNotifier) Notify(_ context.Context, store string, q url.Values) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.store, f.query = store, q
	return f.err
}

func notifyServer(t *testing.T, n Payments) (*env, *httptest.Server) {
	t.Helper()
	e := newEnv(t)
	h, err := New(standIns(t, Deps{
		Redis: e.rdb, Directory: e.dir, Checkouts: e.repo, PublicURL: "https://pay.example",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: e.clk.Now, Payments: n,
	}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return e, srv
}

// TestReceiveNotify: notify_success only when the service says the new
// state is stored; every failure maps to an answer that is never
// notify_success, and the ones worth retrying are 5xx.
func TestReceiveNotify(t *testing.T) {
	f := &fakeNotifier{}
	_, srv := notifyServer(t, f)
	for _, tc := range []struct {
		name   string
		err    error
		path   string
		status int
	}{
		{"stored", nil, "/notify/store1?out_no=1&sign=x", 200},
		{"bad sign", fmt.Errorf("x: %w", payments.ErrBadSignature), "/notify/store1?sign=x", 400},
		{"unknown store", fmt.Errorf("x: %w", payments.ErrUnknownStore), "/notify/nope?sign=x", 404},
		{"unknown order", fmt.Errorf("x: %w", payments.ErrUnknownOrder), "/notify/store1?sign=x", 404},
		{"redis down", errors.New("dial tcp: connection refused"), "/notify/store1?sign=x", 503},
		{"not settled", payments.ErrNotSettled, "/notify/store1?sign=x", 503},
		{"busy", payments.ErrBusy, "/notify/store1?sign=x", 503},
		{"stale timestamp", fmt.Errorf("x: %w", payments.ErrStaleNotify), "/notify/store1?sign=x", 400},
		{"checked moments ago", fmt.Errorf("x: %w", payments.ErrRecentlyChecked), "/notify/store1?sign=x", 503},
		{"malformed query", nil, "/notify/store1?a=%zz", 400},
		{"huge query", nil, "/notify/store1?a=" + strings.Repeat("x", 5000), 400},
		{"long store", nil, "/notify/" + strings.Repeat("s", 65) + "?a=1", 400},
		{"no store", nil, "/notify/?a=1", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.mu.Lock()
			f.err = tc.err
			f.mu.Unlock()
			res, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.status {
				t.Fatalf("status %d %q, want %d", res.StatusCode, b, tc.status)
			}
			if ok := string(b) == gateway.NotifySuccess; ok != (tc.status == 200) {
				t.Fatalf("body %q with status %d", b, res.StatusCode)
			}
		})
	}
	f.mu.Lock()
	f.err = nil
	f.mu.Unlock()
	if res, _ := http.Get(srv.URL + "/notify/store1?out_no=AB1&status=1&sign=abc"); res != nil {
		res.Body.Close()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.store != "store1" || f.query.Get("out_no") != "AB1" || f.query.Get("sign") != "abc" {
		t.Fatalf("notifier got %q %v", f.store, f.query)
	}
}

package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/gateway"
)

// The document's own test store (doc 2.4).
const (
	testOpenID  = "87f46f5db1b65f0ac195285f49ee6958"
	testOpenKey = "0828e83720fdbe3685a7b94214af04f9"
	otherOpenID = "txsjoJvRa37eb312465ac9e5d165ccaa"
	otherKey    = "vCfnB1SvPQqUDa7q0AFpqdiGOCICGT92"
	testAppID   = "wxde66bf91cac57773"
)

var testKey = gateway.MustParseKey(testOpenKey)

// t0 is the tests' fixed start time.
var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

type env struct {
	t     *testing.T
	s     *Server
	ts    *httptest.Server
	clock *ManualClock
	base  string // protocol base URL
}

// newEnv starts a sandbox on an httptest server with a manual clock and the
// test store.
func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	clock := NewManualClock(t0)
	if cfg.Clock == nil {
		cfg.Clock = clock.Now
		cfg.Timers = clock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	if err := s.AddStore(Store{OpenID: testOpenID, OpenKey: testOpenKey}); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, s: s, ts: ts, clock: clock, base: ts.URL + s.Prefix()}
}

// in returns the env reporting to t (a subtest).
func (e *env) in(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// post sends a raw form to an endpoint and returns the body.
func (e *env) post(endpoint, contentType, body string) []byte {
	e.t.Helper()
	resp, err := http.Post(e.base+"/"+endpoint, contentType, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("%s: HTTP %d: %s", endpoint, resp.StatusCode, b)
	}
	return b
}

// rawCall seals payload for the test store at the clock's time and returns
// the answer's body.
func (e *env) rawCall(endpoint string, payload any) []byte {
	e.t.Helper()
	return e.rawCallAs(testOpenID, testKey, e.s.now().Unix(), endpoint, payload)
}

func (e *env) rawCallAs(openID string, key gateway.Key, unix int64, endpoint string, payload any) []byte {
	e.t.Helper()
	var plain []byte
	switch p := payload.(type) {
	case []byte:
		plain = p
	case string:
		plain = []byte(p)
	default:
		var err error
		if plain, err = json.Marshal(p); err != nil {
			e.t.Fatal(err)
		}
	}
	f := gateway.SealRequest(key, openID, unix, plain)
	return e.post(endpoint, "application/x-www-form-urlencoded", f.Encode())
}

// call performs a protocol call for the test store and opens the answer:
// the decrypted data, or an *gateway.APIError.
func (e *env) call(endpoint string, payload any) ([]byte, error) {
	e.t.Helper()
	return gateway.OpenResponse(testKey, endpoint, e.rawCall(endpoint, payload))
}

// mustCall is call that fails the test on error and decodes into a map.
func (e *env) mustCall(endpoint string, payload any) map[string]any {
	e.t.Helper()
	data, err := e.call(endpoint, payload)
	if err != nil {
		e.t.Fatalf("%s: %v", endpoint, err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		e.t.Fatalf("%s: data %s: %v", endpoint, data, err)
	}
	return m
}

// wantCode checks that a call fails with code (and msg, when given).
func (e *env) wantCode(endpoint string, payload any, code gateway.Code, msg string) {
	e.t.Helper()
	_, err := e.call(endpoint, payload)
	var ae *gateway.APIError
	if !errors.As(err, &ae) {
		e.t.Fatalf("%s %v: want errcode %d, got %v", endpoint, payload, code, err)
	}
	if ae.Code != code {
		e.t.Fatalf("%s %v: want errcode %d, got %d (%s)", endpoint, payload, code, ae.Code, ae.Msg)
	}
	if msg != "" && ae.Msg != msg {
		e.t.Fatalf("%s: want msg %q, got %q", endpoint, msg, ae.Msg)
	}
}

// str reads a member of decoded data as text, whatever its JSON type.
func str(m map[string]any, k string) string {
	switch v := m[k].(type) {
	case string:
		return strings.TrimSpace(v)
	case float64:
		b, _ := json.Marshal(v)
		return string(b)
	case nil:
		return ""
	}
	return "?"
}

// order is a payorder payload builder.
func payload(outNo, tag string, amount int64, extra ...string) map[string]any {
	p := map[string]any{"out_no": outNo, "pmt_tag": tag, "original_amount": amount, "trade_amount": amount, "ord_name": "测试商品/Test"}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i]] = extra[i+1]
	}
	return p
}

// receiver is a notify_url or jump_url endpoint that records what arrives.
type receiver struct {
	mu     sync.Mutex
	srv    *httptest.Server
	got    []received
	answer func(n int) string
	clock  func() time.Time
}

type received struct {
	at    time.Time
	query url.Values
}

func newReceiver(t *testing.T, clock func() time.Time, answer func(n int) string) *receiver {
	r := &receiver{answer: answer, clock: clock}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.got = append(r.got, received{at: r.clock(), query: req.URL.Query()})
		n := len(r.got)
		r.mu.Unlock()
		_, _ = io.WriteString(w, r.answer(n))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func (r *receiver) url() string { return r.srv.URL + "/notify/sandbox" }

var bg = context.Background()

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newHTTPServer serves s on a loopback httptest server and returns its URL.
func newHTTPServer(t *testing.T, s *Server) string {
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}

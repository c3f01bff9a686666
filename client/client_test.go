package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/client/webhook"
)

const testKey = "sk_test_0123456789abcdefSECRETPART"

// recorder is an httptest server that answers each request with the next
// of its scripted answers and remembers what it was sent.
type recorder struct {
	mu      sync.Mutex
	answers []func(w http.ResponseWriter, r *http.Request)
	got     []*http.Request
	bodies  []string
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	n := len(rc.got)
	rc.got = append(rc.got, r)
	rc.bodies = append(rc.bodies, string(body))
	var a func(http.ResponseWriter, *http.Request)
	if n < len(rc.answers) {
		a = rc.answers[n]
	} else {
		a = rc.answers[len(rc.answers)-1]
	}
	rc.mu.Unlock()
	a(w, r)
}

func (rc *recorder) requests() []*http.Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*http.Request(nil), rc.got...)
}

func answer(status int, body string, headers ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// hangUp closes the connection without an answer: a network error.
func hangUp(w http.ResponseWriter, r *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

func errAnswer(status int, code, param, msg string, headers ...string) func(http.ResponseWriter, *http.Request) {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "param": param, "message": msg}})
	return answer(status, string(b), append([]string{"X-Request-Id", "req_" + code}, headers...)...)
}

const checkoutJSON = `{"id":"co_6uqvXQ2b0o8yJc1hTa4WkZ3e","object":"checkout","url":"http://x/c/co_6uqvXQ2b0o8yJc1hTa4WkZ3e","client_secret":"s","status":"open","late":false,"store":"demo","currency":"CNY","amount":1999,"original_amount":1999,"discount_amount":0,"ignore_amount":0,"refunded_amount":0,"description":"","late_policy":"accept","wallets":[],"metadata":{},"expires_at":"2026-11-25T22:15:00Z","created_at":"2026-11-25T22:00:00Z","updated_at":"2026-11-25T22:00:00Z"}`

const refundJSON = `{"id":"re_1","object":"refund","checkout_id":"co_6uqvXQ2b0o8yJc1hTa4WkZ3e","amount":500,"currency":"CNY","kind":"merchant","status":"succeeded","attempt":1,"created_at":"2026-11-25T22:00:00Z","updated_at":"2026-11-25T22:00:00Z"}`

func newTest(t *testing.T, rc *recorder, opts ...Option) *Client {
	t.Helper()
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	// Short backoffs: the tests check which requests are sent, not how
	// long the default waits are.
	c, err := New(srv.URL, testKey, append([]Option{WithBackoff(time.Millisecond, 5*time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A POST with an idempotency key is retried after 5xx, 429 and a dropped
// connection, with the same key each time and the same body.
func TestRetryReusesIdempotencyKey(t *testing.T) {
	cases := []struct {
		name  string
		first func(http.ResponseWriter, *http.Request)
	}{
		{"503", errAnswer(503, "unavailable", "", "redis down")},
		{"500 not JSON", answer(500, "<html>oops</html>")},
		{"502 from a proxy", answer(502, "bad gateway")},
		{"429", errAnswer(429, "rate_limited", "", "slow down", "Retry-After", "0")},
		{"connection dropped", hangUp},
		{"409 idempotency_in_progress", errAnswer(409, "idempotency_in_progress", "Idempotency-Key", "still running")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := &recorder{answers: []func(http.ResponseWriter, *http.Request){tc.first, tc.first, answer(201, refundJSON)}}
			c := newTest(t, rc)
			var ri ResponseInfo
			re, err := c.CreateRefund(context.Background(), "co_6uqvXQ2b0o8yJc1hTa4WkZ3e", &RefundCreateParams{Amount: 500}, WithResponseInfo(&ri))
			if err != nil {
				t.Fatalf("CreateRefund: %v", err)
			}
			if re.ID != "re_1" || re.Status != "succeeded" {
				t.Errorf("refund = %+v", re)
			}
			reqs := rc.requests()
			if len(reqs) != 3 || ri.Attempts != 3 {
				t.Fatalf("%d requests, %d attempts, want 3", len(reqs), ri.Attempts)
			}
			key := reqs[0].Header.Get("Idempotency-Key")
			if !strings.HasPrefix(key, "ik_") || key != ri.IdempotencyKey {
				t.Fatalf("key %q, ResponseInfo %q", key, ri.IdempotencyKey)
			}
			for i, r := range reqs {
				if got := r.Header.Get("Idempotency-Key"); got != key {
					t.Errorf("attempt %d key %q, want %q", i+1, got, key)
				}
				if rc.bodies[i] != `{"amount":500}` {
					t.Errorf("attempt %d body %q", i+1, rc.bodies[i])
				}
				if r.Header.Get("Authorization") != "Bearer "+testKey {
					t.Errorf("attempt %d Authorization %q", i+1, r.Header.Get("Authorization"))
				}
			}
		})
	}
}

// Each call gets its own key; a key of the caller's is used as given.
func TestIdempotencyKeyPerCall(t *testing.T) {
	rc := &recorder{answers: []func(http.ResponseWriter, *http.Request){answer(201, checkoutJSON)}}
	c := newTest(t, rc)
	ctx := context.Background()
	for range 2 {
		if _, err := c.CreateCheckout(ctx, &CheckoutCreateParams{Amount: 1999}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateCheckout(ctx, &CheckoutCreateParams{Amount: 1999}, WithIdempotencyKey("order-1042")); err != nil {
		t.Fatal(err)
	}
	reqs := rc.requests()
	k1, k2, k3 := reqs[0].Header.Get("Idempotency-Key"), reqs[1].Header.Get("Idempotency-Key"), reqs[2].Header.Get("Idempotency-Key")
	if k1 == "" || k1 == k2 {
		t.Errorf("generated keys %q and %q: want two different keys", k1, k2)
	}
	if k3 != "order-1042" {
		t.Errorf("caller's key sent as %q", k3)
	}
}

// A POST without an Idempotency-Key that is not idempotent by itself
// (resend) is not sent again after a 503 or a dropped connection, which may
// come after the service acted; a 429, the rate limiter's refusal before
// anything was done, is retried. Cancel is idempotent by itself (cancelling
// a cancelled checkout answers it again) and is retried like a GET; no
// key goes with either.
func TestNoRetryWithoutIdempotencyKey(t *testing.T) {
	ctx := context.Background()
	const eventJSON = `{"id":"evt_1","object":"event","type":"checkout.paid","created_at":"2026-11-25T22:00:00Z","data":{}}`
	for _, tc := range []struct {
		name  string
		first func(http.ResponseWriter, *http.Request)
		// resent: whether a resend is sent again after it.
		resent bool
	}{
		{"503", errAnswer(503, "unavailable", "", "down"), false},
		{"connection dropped", hangUp, false},
		{"429", errAnswer(429, "rate_limited", "", "slow", "Retry-After", "0"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &recorder{answers: []func(http.ResponseWriter, *http.Request){tc.first, answer(200, eventJSON)}}
			c := newTest(t, rc)
			_, err := c.ResendEvent(ctx, "evt_1", WithIdempotencyKey("ignored"))
			if n := len(rc.requests()); (err == nil) != tc.resent || n != map[bool]int{false: 1, true: 2}[tc.resent] {
				t.Errorf("resend after %s: err %v, sent %d times; want it resent: %v", tc.name, err, n, tc.resent)
			}
			rc = &recorder{answers: []func(http.ResponseWriter, *http.Request){tc.first, answer(200, checkoutJSON)}}
			c = newTest(t, rc)
			if _, err := c.CancelCheckout(ctx, "co_6uqvXQ2b0o8yJc1hTa4WkZ3e", WithIdempotencyKey("ignored")); err != nil {
				t.Errorf("cancel after %s: %v (not retried)", tc.name, err)
			}
			reqs := rc.requests()
			if len(reqs) != 2 {
				t.Errorf("cancel sent %d times, want 2", len(reqs))
			}
			for _, r := range reqs {
				if k := r.Header.Get("Idempotency-Key"); k != "" {
					t.Errorf("%s sent Idempotency-Key %q", r.URL.Path, k)
				}
			}
		})
	}
}

// 4xx answers other than 429 are final.
func TestClientErrorsNotRetried(t *testing.T) {
	rc := &recorder{answers: []func(http.ResponseWriter, *http.Request){errAnswer(409, "refund_exceeds_refundable", "amount", "too much"), answer(201, refundJSON)}}
	c := newTest(t, rc)
	_, err := c.CreateRefund(context.Background(), "co_x", &RefundCreateParams{Amount: 5})
	if !errors.Is(err, ErrRefundExceedsRefundable) {
		t.Fatalf("err = %v", err)
	}
	if n := len(rc.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// Retry-After is waited for (here 1 s while the backoff is 1 ms), an
// answer asking for longer than WithMaxRetryWait is returned at once, and
// the context ends a wait.
func TestRetryAfter(t *testing.T) {
	ctx := context.Background()
	t.Run("honoured", func(t *testing.T) {
		rc := &recorder{answers: []func(http.ResponseWriter, *http.Request){errAnswer(429, "rate_limited", "", "slow", "Retry-After", "1"), answer(200, checkoutJSON)}}
		c := newTest(t, rc)
		start := time.Now()
		if _, err := c.GetCheckout(ctx, "co_x"); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("retried after %v, before the 1 s Retry-After", d)
		}
	})
	t.Run("too long", func(t *testing.T) {
		rc := &recorder{answers: []func(http.ResponseWriter, *http.Request){errAnswer(503, "unavailable", "", "down", "Retry-After", "3600"), answer(200, checkoutJSON)}}
		c := newTest(t, rc, WithMaxRetryWait(time.Minute))
		_, err := c.GetCheckout(ctx, "co_x")
		var e *Error
		if !errors.As(err, &e) || e.RetryAfter != time.Hour {
			t.Fatalf("err = %v, want the 503 with RetryAfter 1h", err)
		}
		if n := len(rc.requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
	t.Run("context ends the wait", func(t *testing.T) {
		rc := &recorder{answers: []func(http.ResponseWriter, *http.Request){errAnswer(429, "rate_limited", "", "slow", "Retry-After", "50"), answer(200, checkoutJSON)}}
		c := newTest(t, rc)
		cctx, cancel := context.WithCancel(ctx)
		go func() {
			// Cancel once the first answer is in (the client is then waiting).
			for len(rc.requests()) == 0 {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		_, err := c.GetCheckout(cctx, "co_x")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if n := len(rc.requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}

// Retries stop after WithMaxRetries, returning the last answer's error.
func TestMaxRetries(t *testing.T) {
	rc := &recorder{answers: []func(http.ResponseWriter, *http.Request){errAnswer(503, "unavailable", "", "down")}}
	c := newTest(t, rc, WithMaxRetries(3))
	_, err := c.GetCheckout(context.Background(), "co_x")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if n := len(rc.requests()); n != 4 {
		t.Errorf("%d requests, want 4 (1 + 3 retries)", n)
	}
}

func TestErrorDecoding(t *testing.T) {
	cases := []struct {
		name string
		a    func(http.ResponseWriter, *http.Request)
		want Error
		is   error
	}{
		{"API error", errAnswer(404, "not_found", "id", "no such checkout"),
			Error{StatusCode: 404, Code: "not_found", Param: "id", Message: "no such checkout", RequestID: "req_not_found"}, ErrNotFound},
		{"invalid parameter", errAnswer(400, "invalid_parameter", "success_url", "host evil.example is not allowed"),
			Error{StatusCode: 400, Code: "invalid_parameter", Param: "success_url", Message: "host evil.example is not allowed", RequestID: "req_invalid_parameter"}, ErrInvalidParameter},
		{"unauthorized", errAnswer(401, "unauthorized", "", "bad key"),
			Error{StatusCode: 401, Code: "unauthorized", Message: "bad key", RequestID: "req_unauthorized"}, ErrUnauthorized},
		{"not JSON", answer(404, "404 page not found\n"),
			Error{StatusCode: 404, Message: "404 page not found"}, nil},
		{"empty", answer(418, ""),
			Error{StatusCode: 418, Message: "I'm a teapot"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newTest(t, &recorder{answers: []func(http.ResponseWriter, *http.Request){tc.a}})
			_, err := c.GetCheckout(context.Background(), "co_x")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if *e != tc.want {
				t.Errorf("error = %+v\n want %+v", *e, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.is)
			}
			if errors.Is(err, ErrCheckoutPaid) {
				t.Errorf("errors.Is(%v, ErrCheckoutPaid) = true", err)
			}
			if tc.want.Code != "" && !strings.Contains(err.Error(), tc.want.Code) {
				t.Errorf("message %q lacks the code", err)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{StatusCode: 400, Code: "invalid_parameter", Param: "amount", Message: "must be > 0", RequestID: "r1"}
	if got, want := e.Error(), "checkout API: 400 invalid_parameter (param amount): must be > 0 [request r1]"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("charging order 7: %w", e)
	if !errors.Is(wrapped, ErrInvalidParameter) || errors.Is(wrapped, &Error{Code: "invalid_parameter", StatusCode: 409}) {
		t.Error("errors.Is through a wrap, with and without a status")
	}
}

// The API key appears in no formatting of the Client and in no error.
func TestAPIKeyRedacted(t *testing.T) {
	c, err := New("http://127.0.0.1:1", testKey, WithMaxRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	var outs []string
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		outs = append(outs, fmt.Sprintf(f, c), fmt.Sprintf(f, *c))
	}
	// A network error (nothing listens on port 1) and an API error.
	_, err = c.GetCheckout(context.Background(), "co_x")
	if err == nil {
		t.Fatal("no error from a closed port")
	}
	outs = append(outs, err.Error(), fmt.Sprintf("%+v", err))
	rc := &recorder{answers: []func(http.ResponseWriter, *http.Request){errAnswer(401, "unauthorized", "", "bad key")}}
	_, err = newTest(t, rc).GetCheckout(context.Background(), "co_x")
	outs = append(outs, err.Error(), fmt.Sprintf("%#v", err))
	for _, s := range outs {
		if strings.Contains(s, "SECRETPART") || strings.Contains(s, "0123456789abcdef") {
			t.Errorf("the API key leaks: %s", s)
		}
	}
	if !strings.Contains(fmt.Sprint(c), "sk_test_[redacted]") {
		t.Errorf("String() = %s, want the key's kind and [redacted]", c)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, tc := range []struct{ base, key string }{
		{"", testKey}, {"localhost:8080", testKey}, {"ftp://x", testKey}, {"https://x?a=1", testKey},
		{"https://user:pw@x", testKey}, {"https://x", ""}, {"https://x", "sk_test_a b"},
	} {
		if _, err := New(tc.base, tc.key); err == nil {
			t.Errorf("New(%q, %q) accepted", tc.base, tc.key)
		} else if tc.key == testKey && strings.Contains(err.Error(), "SECRETPART") {
			t.Errorf("error shows the key: %v", err)
		}
	}
	if _, err := New("https://pay.example.com/", testKey, WithBackoff(2, 1)); err == nil {
		t.Error("WithBackoff(2, 1) accepted")
	}
}

// Requests go to base+path with escaped ids and the list's query.
func TestRequestShape(t *testing.T) {
	rc := &recorder{answers: []func(http.ResponseWriter, *http.Request){answer(200, `{"object":"list","data":[],"has_more":false}`)}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	c, err := New(srv.URL+"/prefix/", testKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.ListEvents(ctx, &EventListParams{Type: EventCheckoutPaid, CheckoutID: "co_1", Limit: 5, StartingAfter: "evt_2"}, WithRequestID("mine-1")); err != nil {
		t.Fatal(err)
	}
	c.GetEvent(ctx, "evt/../x")
	reqs := rc.requests()
	if got := reqs[0].URL.String(); got != "/prefix/v1/events?checkout_id=co_1&limit=5&starting_after=evt_2&type=checkout.paid" {
		t.Errorf("list URL %s", got)
	}
	if reqs[0].Header.Get("X-Request-Id") != "mine-1" || !strings.HasPrefix(reqs[0].Header.Get("User-Agent"), "wallet-checkout-go/") {
		t.Errorf("headers %v", reqs[0].Header)
	}
	if got := reqs[1].URL.EscapedPath(); got != "/prefix/v1/events/evt%2F..%2Fx" {
		t.Errorf("escaped id path %s", got)
	}
}

// The iterator follows next_cursor across pages, including a short page
// with has_more (a status filter), and stops on the last.
func TestIterCheckouts(t *testing.T) {
	pages := map[string]string{
		"":     `{"object":"list","data":[{"id":"co_a"},{"id":"co_b"}],"has_more":true,"next_cursor":"co_b"}`,
		"co_b": `{"object":"list","data":[],"has_more":true,"next_cursor":"co_c"}`,
		"co_c": `{"object":"list","data":[{"id":"co_d"}],"has_more":false}`,
	}
	var cursors []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur := r.URL.Query().Get("starting_after")
		mu.Lock()
		cursors = append(cursors, cur+"|"+r.URL.Query().Get("status")+"|"+r.URL.Query().Get("limit"))
		mu.Unlock()
		io.WriteString(w, pages[cur])
	}))
	defer srv.Close()
	c, _ := New(srv.URL, testKey)
	it := c.IterCheckouts(context.Background(), &CheckoutListParams{Status: StatusPaid, Limit: 2})
	var ids []string
	for it.Next() {
		ids = append(ids, it.Current().ID)
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
	if got := strings.Join(ids, ","); got != "co_a,co_b,co_d" {
		t.Errorf("ids %s", got)
	}
	if got := strings.Join(cursors, " "); got != "|paid|2 co_b|paid|2 co_c|paid|2" {
		t.Errorf("requests %s", got)
	}
}

func TestIterError(t *testing.T) {
	rc := &recorder{answers: []func(http.ResponseWriter, *http.Request){
		answer(200, `{"object":"list","data":[{"id":"evt_a"}],"has_more":true,"next_cursor":"evt_a"}`),
		errAnswer(400, "invalid_parameter", "starting_after", "unknown cursor"),
	}}
	c := newTest(t, rc)
	it := c.IterEvents(context.Background(), nil)
	n := 0
	for it.Next() {
		n++
	}
	if n != 1 || !errors.Is(it.Err(), ErrInvalidParameter) {
		t.Errorf("%d items, err %v", n, it.Err())
	}
}

func TestBackoff(t *testing.T) {
	c, _ := New("https://x", testKey, WithBackoff(100*time.Millisecond, time.Second))
	for n, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second} {
		for range 50 {
			if d := c.backoff(n); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n, d, want/2, want)
			}
		}
	}
	if c.backoff(1000) > time.Second {
		t.Error("backoff not capped for a large n")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"3", 3 * time.Second}, {" 7 ", 7 * time.Second}, {"-1", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		if got := parseRetryAfter(tc.v, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

// ParseEvent verifies before decoding.
func TestParseEvent(t *testing.T) {
	body := []byte(`{"id":"evt_1","object":"event","type":"checkout.refund.succeeded","api_version":"2026-12-01","merchant_id":"m","checkout_id":"co_1","created_at":"2026-12-01T10:00:00.123Z",` +
		`"data":{"checkout":{"id":"co_1","object":"checkout","status":"partially_refunded","amount":1000,"original_amount":1000,"currency":"CNY",` +
		`"late":false,"refunded_amount":500,"store":"main","created_at":"2026-12-01T09:00:00Z","expires_at":"2026-12-01T09:30:00Z"},` +
		`"refund":{"id":"re_1","object":"refund","checkout_id":"co_1","amount":500,"kind":"merchant","status":"succeeded"}}}`)
	h := webhook.SignatureHeader(time.Now(), body, []string{"whsec_a"})
	ev, err := ParseEvent(body, h, []string{"whsec_b", "whsec_a"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != EventRefundSucceeded || ev.APIVersion != APIVersion || ev.CreatedAt.Nanosecond() != 123e6 ||
		ev.Data.Refund.Amount != 500 || ev.Data.Refund.Status != "succeeded" ||
		ev.Data.Checkout.RefundedAmount != 500 || ev.Data.Checkout.Store != "main" || ev.Data.Checkout.OriginalAmount != 1000 {
		t.Errorf("event %+v", ev)
	}
	if _, err := ParseEvent(body, h, []string{"whsec_b"}, 0); !errors.Is(err, webhook.ErrNoValidSignature) {
		t.Errorf("wrong secret: %v", err)
	}
	if _, err := ParseEvent([]byte("not json"), webhook.SignatureHeader(time.Now(), []byte("not json"), []string{"s"}), []string{"s"}, 0); err == nil {
		t.Error("bad JSON accepted")
	}
}

package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Version is the client's version, sent in its User-Agent.
const Version = "0.1.0"

// Defaults of a new Client.
const (
	DefaultMaxRetries   = 2
	DefaultMinBackoff   = 500 * time.Millisecond
	DefaultMaxBackoff   = 8 * time.Second
	DefaultMaxRetryWait = 60 * time.Second
)

// maxAnswer bounds how much of an answer is read: the API's largest
// answers (a reconciliation with its differences) are far below it.
const maxAnswer = 16 << 20

// Client calls the merchant API. It is safe for concurrent use; make one
// and share it.
type Client struct {
	base         *url.URL
	apiKey       string
	hc           *http.Client
	maxRetries   int
	minBackoff   time.Duration
	maxBackoff   time.Duration
	maxRetryWait time.Duration
	userAgent    string
}

// An Option configures a Client in New.
type Option func(*Client) error

// WithHTTPClient makes the Client send its requests with hc (its transport,
// proxy and TLS settings). Its Timeout, if any, bounds each attempt; the
// context bounds the whole call. Default: a client with a 30 s timeout.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("client: nil http.Client")
		}
		c.hc = hc
		return nil
	}
}

// WithMaxRetries sets how many times a retryable call is retried (0: never).
func WithMaxRetries(n int) Option {
	return func(c *Client) error {
		if n < 0 {
			return errors.New("client: negative max retries")
		}
		c.maxRetries = n
		return nil
	}
}

// WithBackoff sets the first wait between attempts (doubled each time, with
// jitter) and its cap, used when an answer carries no Retry-After.
func WithBackoff(min, max time.Duration) Option {
	return func(c *Client) error {
		if min <= 0 || max < min {
			return errors.New("client: backoff needs 0 < min <= max")
		}
		c.minBackoff, c.maxBackoff = min, max
		return nil
	}
}

// WithMaxRetryWait sets the longest Retry-After the Client waits for; an
// answer asking for longer is returned as its error instead.
func WithMaxRetryWait(d time.Duration) Option {
	return func(c *Client) error {
		if d <= 0 {
			return errors.New("client: max retry wait must be positive")
		}
		c.maxRetryWait = d
		return nil
	}
}

// WithUserAgent puts s (your application, e.g. "myshop/1.2") before the
// client's own User-Agent.
func WithUserAgent(s string) Option {
	return func(c *Client) error {
		c.userAgent = s + " " + c.userAgent
		return nil
	}
}

// New returns a Client for the service at baseURL (e.g.
// "https://pay.example.com"; the API is under its /v1) with apiKey
// (sk_live_… or sk_test_…).
func New(baseURL, apiKey string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("client: base URL %q is not an absolute http(s) URL", baseURL)
	}
	if apiKey == "" || strings.ContainsAny(apiKey, " \t\r\n") {
		return nil, errors.New("client: the API key is empty or has white space")
	}
	c := &Client{
		base:         u,
		apiKey:       apiKey,
		hc:           &http.Client{Timeout: 30 * time.Second},
		maxRetries:   DefaultMaxRetries,
		minBackoff:   DefaultMinBackoff,
		maxBackoff:   DefaultMaxBackoff,
		maxRetryWait: DefaultMaxRetryWait,
		userAgent:    "wallet-checkout-go/" + Version,
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// String describes the Client without its API key. Its receiver is a
// value so that printing a copy of a Client hides the key too.
func (c Client) String() string {
	return fmt.Sprintf("client.Client{base: %s, key: %s}", c.base, redact(c.apiKey))
}

// GoString is String, so %#v hides the API key too.
func (c Client) GoString() string { return c.String() }

// redact keeps a key's kind (sk_live_, sk_test_) and nothing of its secret.
func redact(key string) string {
	for _, p := range []string{"sk_live_", "sk_test_"} {
		if strings.HasPrefix(key, p) {
			return p + "[redacted]"
		}
	}
	return "[redacted]"
}

// A RequestOption changes one call.
type RequestOption func(*callOptions)

type callOptions struct {
	idemKey   string
	requestID string
	resp      *ResponseInfo
}

// WithIdempotencyKey sends key (1-255 printable ASCII characters) as the
// call's Idempotency-Key instead of a generated one: use a key derived from
// your own order (e.g. "refund-order-1042-1") to make the call safe to
// repeat across restarts of your process, not only across this call's
// retries.
func WithIdempotencyKey(key string) RequestOption {
	return func(o *callOptions) { o.idemKey = key }
}

// WithRequestID sends id (at most 64 letters, digits, '-', '_' or '.') as
// X-Request-Id, so the service's log line carries your id.
func WithRequestID(id string) RequestOption {
	return func(o *callOptions) { o.requestID = id }
}

// WithResponseInfo fills *ri with what the last attempt's answer said
// besides its body, error or not.
func WithResponseInfo(ri *ResponseInfo) RequestOption {
	return func(o *callOptions) { o.resp = ri }
}

// ResponseInfo is what an answer said besides its body.
type ResponseInfo struct {
	StatusCode     int
	RequestID      string // X-Request-Id
	IdempotencyKey string // the key sent, if any
	Replayed       bool   // Idempotent-Replayed: true: the first answer to this key
	Attempts       int    // requests sent, retries included
}

// newIdempotencyKey returns 128 random bits, unique per call.
func newIdempotencyKey() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("client: idempotency key: %w", err)
	}
	return "ik_" + hex.EncodeToString(b[:]), nil
}

// request is one API call, possibly sent several times.
type request struct {
	method string
	path   string // under the base URL, escaped
	query  url.Values
	body   any  // JSON-encoded when not nil
	idem   bool // send an Idempotency-Key (and so may be retried)
	// idempotent: the route itself makes a second send harmless (a
	// cancel answers a cancelled checkout again), so it is retried like
	// a GET, without a key.
	idempotent bool
}

// do sends r, retrying what is safe to retry, and decodes a 2xx answer's
// body into out (when not nil).
func (c *Client) do(ctx context.Context, r request, out any, opts []RequestOption) error {
	var o callOptions
	for _, f := range opts {
		f(&o)
	}
	var body []byte
	if r.body != nil {
		var err error
		if body, err = json.Marshal(r.body); err != nil {
			return fmt.Errorf("client: encoding the request: %w", err)
		}
	}
	if r.idem && o.idemKey == "" {
		k, err := newIdempotencyKey()
		if err != nil {
			return err
		}
		o.idemKey = k
	}
	if !r.idem {
		o.idemKey = "" // a key the route ignores would make a retry look safe
	}
	// r.path is already escaped (ids through url.PathEscape).
	target := c.base.String() + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	// A GET changes nothing; a POST is safe to send again only under the
	// same Idempotency-Key, or when the route is idempotent by itself.
	retryable := r.method == http.MethodGet || o.idemKey != "" || r.idempotent
	var info ResponseInfo
	info.IdempotencyKey = o.idemKey
	defer func() {
		if o.resp != nil {
			*o.resp = info
		}
	}()
	for attempt := 0; ; attempt++ {
		info.Attempts = attempt + 1
		wait, err := c.once(ctx, r.method, target, body, &o, out, &info)
		if err == nil {
			return nil
		}
		if attempt >= c.maxRetries || ctx.Err() != nil {
			return err
		}
		var apiErr *Error
		isAPI := errors.As(err, &apiErr)
		// A 429 is the rate limiter's refusal, answered before anything
		// was done: any call may be sent again after it.
		if !retryable && (!isAPI || apiErr.StatusCode != http.StatusTooManyRequests) {
			return err
		}
		if isAPI && !apiErr.retryable() {
			return err
		}
		if wait <= 0 {
			wait = c.backoff(attempt)
		} else if wait > c.maxRetryWait {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (while waiting to retry after: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// once sends one attempt. It returns how long the answer asked to wait
// (Retry-After) and the attempt's error.
func (c *Client) once(ctx context.Context, method, u string, body []byte, o *callOptions, out any, info *ResponseInfo) (time.Duration, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if o.idemKey != "" {
		req.Header.Set("Idempotency-Key", o.idemKey)
	}
	if o.requestID != "" {
		req.Header.Set("X-Request-Id", o.requestID)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// net/http's error names the method and URL, never the headers.
		return 0, fmt.Errorf("client: %w", err)
	}
	defer resp.Body.Close()
	info.StatusCode = resp.StatusCode
	info.RequestID = resp.Header.Get("X-Request-Id")
	info.Replayed = resp.Header.Get("Idempotent-Replayed") == "true"
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		// The answer was cut off: for a POST, the request may have been
		// done; only the idempotency key makes retrying it safe.
		return 0, fmt.Errorf("client: reading the answer to %s %s: %w", method, req.URL.Path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := decodeError(resp, data)
		return e.RetryAfter, e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return 0, fmt.Errorf("client: decoding the answer to %s %s (request %s): %w", method, req.URL.Path, info.RequestID, err)
		}
	}
	return 0, nil
}

// backoff is the wait before retry n+1 without a Retry-After: doubling
// from minBackoff, capped at maxBackoff, with "equal jitter" (half fixed,
// half random) so that clients refused together do not return together.
func (c *Client) backoff(n int) time.Duration {
	d := c.minBackoff
	for i := 0; i < n && d < c.maxBackoff; i++ {
		d *= 2
	}
	if d > c.maxBackoff {
		d = c.maxBackoff
	}
	half := d / 2
	j, err := rand.Int(rand.Reader, big.NewInt(int64(half)+1))
	if err != nil {
		return d
	}
	return half + time.Duration(j.Int64())
}

// parseRetryAfter reads Retry-After: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

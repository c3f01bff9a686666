package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Client calls the gateway for any number of stores. It is safe for
// concurrent use; make one per process and share it.
type Client struct {
	http      *http.Client
	now       func() time.Time
	maxBody   int64
	retries   int
	backoff   time.Duration
	maxWait   time.Duration
	userAgent string
	observe   func(endpoint string, err error, elapsed time.Duration)
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient replaces the default HTTP client (15 s timeout, pooled
// connections).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithClock sets the clock used for request timestamps.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithRetries sets how read-only calls retry on network errors and 5xx:
// up to n more tries, waiting base·(1+k²) capped at max before try k.
func WithRetries(n int, base, max time.Duration) Option {
	return func(c *Client) { c.retries, c.backoff, c.maxWait = n, base, max }
}

// WithMaxBodyBytes caps the size of an answer (default 8 MiB: a page of 100
// orders with their raw acquirer results, hex-encoded).
func WithMaxBodyBytes(n int64) Option { return func(c *Client) { c.maxBody = n } }

// WithObserver has observe called after every call with the endpoint, the
// call's error (nil on success; classify it with Result) and its time,
// retries included. The service counts calls with it (app wires it to its
// metrics); observe must be quick and safe for concurrent use.
func WithObserver(observe func(endpoint string, err error, elapsed time.Duration)) Option {
	return func(c *Client) { c.observe = observe }
}

// NewClient builds a Client.
func NewClient(opts ...Option) *Client {
	c := &Client{
		http:      defaultHTTPClient(),
		now:       time.Now,
		maxBody:   8 << 20,
		retries:   2,
		backoff:   200 * time.Millisecond,
		maxWait:   2 * time.Second,
		userAgent: "wallet-checkout/1 (+gateway client)",
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 5 * time.Second
	t.ResponseHeaderTimeout = 12 * time.Second
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{Timeout: 15 * time.Second, Transport: t}
}

// Endpoint names.
const (
	EndpointPayList       = "paylist"
	EndpointOrder         = "order"
	EndpointOrderView     = "order/view"
	EndpointPayOrder      = "payorder"
	EndpointPayStatus     = "paystatus"
	EndpointPayCancel     = "paycancel"
	EndpointPayRefund     = "payrefund"
	EndpointMPConfigAdd   = "mpconfig/add"
	EndpointMPConfigQuery = "mpconfig/query"
)

// PayList returns the pay methods open to the store for the given scenario
// types, e.g. PayListTypes(2, 3, 4).
func (c *Client) PayList(ctx context.Context, st *Store, types string) ([]PayMethod, error) {
	if types == "" {
		return nil, &ValidationError{"pmt_type", "required"}
	}
	o := newObject(32)
	o.str("pmt_type", types)
	var out []PayMethod
	if err := c.read(ctx, st, EndpointPayList, o.bytes(), &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Orders lists orders, one page at a time.
func (c *Client) Orders(ctx context.Context, st *Store, q *OrderQuery) (*OrderPage, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	var out OrderPage
	if err := c.read(ctx, st, EndpointOrder, q.encode(), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// OrderView returns one order's details.
func (c *Client) OrderView(ctx context.Context, st *Store, ref OrderRef) (*Order, error) {
	if err := ref.validate(); err != nil {
		return nil, err
	}
	var out Order
	if err := c.read(ctx, st, EndpointOrderView, ref.encode(), &out); err != nil {
		return nil, fmt.Errorf("order/view %s: %w", ref, err)
	}
	return &out, nil
}

// PayStatus returns the live status of a payment or refund order. It is the
// only source, with a verified notify, that makes anything paid.
func (c *Client) PayStatus(ctx context.Context, st *Store, ref OrderRef) (*Order, error) {
	if err := ref.validate(); err != nil {
		return nil, err
	}
	var out Order
	if err := c.read(ctx, st, EndpointPayStatus, ref.encode(), &out); err != nil {
		return nil, fmt.Errorf("paystatus %s: %w", ref, err)
	}
	return &out, nil
}

// PayOrder creates an order. It is never retried: when the outcome is
// uncertain (timeout, broken connection, 5xx, unverifiable answer) the error
// matches ErrOutcomeUnknown and Resolve(out_no) tells what happened.
func (c *Client) PayOrder(ctx context.Context, st *Store, r *PayOrderRequest) (*PayOrderResult, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var out PayOrderResult
	// An answer without ord_no is checked inside write, so that the
	// observer counts it as the unknown outcome it is, not as ok.
	hasOrdNo := func() error {
		if out.OrdNo == "" {
			return &UnknownOutcomeError{EndpointPayOrder, r.OutNo, fmt.Errorf("%w: answer has no ord_no", ErrMalformed)}
		}
		return nil
	}
	if err := c.write(ctx, st, EndpointPayOrder, r.OutNo, r.encode(), &out, hasOrdNo); err != nil {
		return nil, err
	}
	return &out, nil
}

// PayCancel cancels an unpaid order. Only barcode (B-scans-C) orders can be
// cancelled: others answer ErrCancelFailed. ErrNotCancellable means the order
// is already paid or cancelled: ask PayStatus which.
func (c *Client) PayCancel(ctx context.Context, st *Store, ref OrderRef) (*CancelResult, error) {
	if err := ref.validate(); err != nil {
		return nil, err
	}
	var out CancelResult
	if err := c.write(ctx, st, EndpointPayCancel, ref.OutNo+ref.OrdNo, ref.encode(), &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// PayRefund creates a refund order, sending the store's supervisor password
// as sha1. Never retried; on ErrOutcomeUnknown resolve with RefundOutNo.
func (c *Client) PayRefund(ctx context.Context, st *Store, r *RefundRequest) (*RefundResult, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if st.ShopPass == "" {
		return nil, &ValidationError{"shop_pass", "the store has no supervisor password"}
	}
	var out RefundResult
	if err := c.write(ctx, st, EndpointPayRefund, r.RefundOutNo, r.encode(PasswordSHA1(st.ShopPass.Reveal())), &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// MPConfigAdd binds a WeChat official-account or mini-program appid to the
// store; native JSAPI payments with an unbound appid fail with 8011.
func (c *Client) MPConfigAdd(ctx context.Context, st *Store, m MPConfig) error {
	if m.PmtTag == "" || m.SubAppID == "" {
		return &ValidationError{"sub_appid", "pmt_tag and sub_appid are required"}
	}
	o := newObject(128)
	o.str("pmt_tag", string(m.PmtTag))
	o.str("sub_appid", string(m.SubAppID))
	o.str("subscribe_appid", string(m.SubscribeAppID))
	// Binding is idempotent, so a plain retrying call is safe.
	return c.read(ctx, st, EndpointMPConfigAdd, o.bytes(), nil)
}

// MPConfigQuery lists the appids bound to the store for a pay method.
func (c *Client) MPConfigQuery(ctx context.Context, st *Store, pmtTag string) ([]MPConfig, error) {
	o := newObject(64)
	o.str("pmt_tag", pmtTag)
	var out mpConfigList
	if err := c.read(ctx, st, EndpointMPConfigQuery, o.bytes(), &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Resolve settles an uncertain payorder or payrefund by asking paystatus for
// its out_no. It returns the order, or an error matching ErrOrderNotFound when
// the gateway never created it: then, and only then, the same request may be
// sent again (with the same out_no, which the gateway refuses to duplicate).
func (c *Client) Resolve(ctx context.Context, st *Store, outNo string) (*Order, error) {
	return c.PayStatus(ctx, st, ByOutNo(outNo))
}

// read performs a call that changes nothing upstream, retrying network errors
// and 5xx with capped backoff.
func (c *Client) read(ctx context.Context, st *Store, endpoint string, payload []byte, out any) (err error) {
	if c.observe != nil {
		defer c.observed(endpoint, time.Now(), &err)
	}
	for try := 0; ; try++ {
		var retry bool
		retry, err = c.do(ctx, st, endpoint, payload, out)
		if !retry || try >= c.retries || ctx.Err() != nil {
			return err
		}
		wait := min(c.backoff*time.Duration(1+try*try), c.maxWait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// write performs a call that may change money upstream: one try only, and
// any doubt about the outcome becomes an UnknownOutcomeError. check, when
// set, judges an answer that arrived well (its error is the call's, as
// the observer sees it).
func (c *Client) write(ctx context.Context, st *Store, endpoint, outNo string, payload []byte, out any, check func() error) (err error) {
	if c.observe != nil {
		defer c.observed(endpoint, time.Now(), &err)
	}
	uncertain, err := c.do(ctx, st, endpoint, payload, out)
	if err == nil {
		if check != nil {
			return check()
		}
		return nil
	}
	var dialErr *net.OpError
	notSent := errors.As(err, &dialErr) && dialErr.Op == "dial"
	if (uncertain && !notSent) || errors.Is(err, ErrBadSign) || errors.Is(err, ErrMissingSign) || errors.Is(err, ErrMalformed) {
		return &UnknownOutcomeError{Endpoint: endpoint, OutNo: outNo, Err: err}
	}
	return err
}

// observed reports a call that started at start and ended with *err.
func (c *Client) observed(endpoint string, start time.Time, err *error) {
	c.observe(endpoint, *err, time.Since(start))
}

// do sends one request. It reports whether the failure was in transport (a
// retry may help; the request may or may not have been seen).
func (c *Client) do(ctx context.Context, st *Store, endpoint string, payload []byte, out any) (transport bool, err error) {
	if st == nil || st.Key.IsZero() {
		return false, fmt.Errorf("gateway %s: %w", endpoint, ErrKeyLength)
	}
	form := SealRequest(st.Key, st.OpenID, c.now().Unix(), payload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.BaseURL+"/"+endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return false, fmt.Errorf("gateway %s: %w", endpoint, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		return true, fmt.Errorf("gateway %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return true, fmt.Errorf("gateway %s: reading answer: %w", endpoint, err)
	}
	if resp.StatusCode >= 500 {
		return true, fmt.Errorf("gateway %s: HTTP %d", endpoint, resp.StatusCode)
	}
	if int64(len(body)) > c.maxBody {
		return false, fmt.Errorf("gateway %s: %w: answer larger than %d bytes", endpoint, ErrMalformed, c.maxBody)
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("gateway %s: %w: HTTP %d", endpoint, ErrMalformed, resp.StatusCode)
	}
	plain, err := OpenResponse(st.Key, endpoint, body)
	if err != nil {
		return false, err
	}
	if out == nil || plain == nil {
		if out != nil && plain == nil {
			return false, fmt.Errorf("gateway %s: %w: success without data", endpoint, ErrMalformed)
		}
		return false, nil
	}
	if err := decodeJSON(plain, out); err != nil {
		return false, fmt.Errorf("gateway %s: %w: %v", endpoint, ErrMalformed, err)
	}
	return false, nil
}

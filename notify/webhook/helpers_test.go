package webhook

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/apiobject"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/internal/redistest"
)

// quiet drops the service's logs: tests assert on records instead.
var quiet = slog.New(slog.DiscardHandler)

const (
	secretNew = "whsec_new_0123456789abcdef"
	secretOld = "whsec_old_fedcba9876543210"
)

// clock is a fake clock tests move by hand.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// merchants is a directory of test merchants.
type merchants struct {
	mu sync.Mutex
	m  map[string]*checkout.Merchant
}

func (d *merchants) Merchant(id string) (*checkout.Merchant, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.m[id]
	return m, ok
}

func (d *merchants) set(m *checkout.Merchant) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m[m.ID] = m
}

// fixture is a service on a fresh key prefix with a fake clock.
type fixture struct {
	rdb    redis.UniversalClient
	prefix string
	clk    *clock
	dir    *merchants
	svc    *Service
}

func newFixture(t testing.TB, opts ...Option) *fixture {
	t.Helper()
	return newFixtureOn(t, redistest.New(t), opts...)
}

// newFixtureOn is newFixture on a client of the test's choice (a cluster).
func newFixtureOn(t testing.TB, rdb redis.UniversalClient, opts ...Option) *fixture {
	t.Helper()
	f := &fixture{
		rdb:    rdb,
		prefix: "test:" + rand.Text() + ":",
		clk:    newClock(),
		dir:    &merchants{m: map[string]*checkout.Merchant{}},
	}
	f.svc = f.service(opts...)
	t.Cleanup(func() { f.cleanup() })
	return f
}

// cleanup deletes the fixture's keys: the real Redis is shared with other
// packages' tests and outlives this run.
func (f *fixture) cleanup() {
	_ = redistest.Clean(f.rdb, f.prefix)
}

// service returns another Service on the same Redis and keys: a second
// replica, or the process after a restart.
func (f *fixture) service(opts ...Option) *Service {
	base := []Option{WithPrefix(f.prefix), WithClock(f.clk.Now), AllowPrivate(true), WithLogger(quiet)}
	return New(f.rdb, f.dir, append(base, opts...)...)
}

// merchant registers a merchant whose webhook goes to url, with both
// rotation secrets active.
func (f *fixture) merchant(id, url string) *checkout.Merchant {
	m := &checkout.Merchant{
		ID: id, Name: id, WebhookURL: url,
		WebhookSecrets: []checkout.Secret{secretNew, secretOld},
	}
	f.dir.set(m)
	return m
}

// testCheckout is a paid checkout of merchant.
func testCheckout(t testing.TB, merchant string, now time.Time) *checkout.Checkout {
	t.Helper()
	c, err := checkout.NewCheckout(&checkout.Draft{
		MerchantID:  merchant,
		StoreID:     "main",
		Amounts:     checkout.Amounts{Original: 1200, Discount: 100, Ignore: 100, Trade: 1000},
		Description: "两杯咖啡",
		Reference:   "order-42",
		LatePolicy:  checkout.LatePolicyAccept,
		Metadata:    map[string]string{"table": "7"},
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	c.Status = checkout.StatusPaid
	c.PaidAt = now
	c.PaidAttempt = 1
	return c
}

// testPublicURL is where the tests' payer pages are.
const testPublicURL = "https://pay.example"

// testRefund is a refund of c as the API shows it (payments.RefundObject
// renders the real ones; this package cannot import payments).
func testRefund(c *checkout.Checkout, id string, amount int64, kind, status, reason, failure string, attempt int, at time.Time) *apiobject.Refund {
	return &apiobject.Refund{
		ID: id, Object: "refund", CheckoutID: c.ID, Amount: amount, Currency: apiobject.Currency, Reason: reason,
		Kind: kind, Status: status, Failure: failure, Attempt: attempt,
		CreatedAt: apiobject.Time(at), UpdatedAt: apiobject.Time(at.Add(time.Minute)),
	}
}

// emit emits a fresh event of typ for a new checkout of merchant.
func (f *fixture) emit(t testing.TB, merchant, typ string) Event {
	t.Helper()
	e, err := NewEvent(typ, testCheckout(t, merchant, f.clk.Now()), testPublicURL, f.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Emit(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

// tick runs one Tick of svc at the fake clock's now.
func (f *fixture) tick(t testing.TB, svc *Service) int {
	t.Helper()
	n, err := svc.Tick(context.Background(), f.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) record(t testing.TB, merchant, id string) *Record {
	t.Helper()
	r, err := f.svc.Get(context.Background(), merchant, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// delivery is one request a receiver got.
type delivery struct {
	id, typ, sig string
	body         []byte
}

// receiver is a merchant's webhook endpoint answering with status(n) to
// its nth request (from 1).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []delivery
	status func(n int) int
}

func newReceiver(t testing.TB, status func(n int) int) *receiver {
	t.Helper()
	rc := &receiver{status: status}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, delivery{
			id: r.Header.Get(HeaderEventID), typ: r.Header.Get(HeaderEventType),
			sig: r.Header.Get(HeaderSignature), body: body,
		})
		n := len(rc.got)
		rc.mu.Unlock()
		w.WriteHeader(rc.status(n))
		_, _ = w.Write([]byte(`{"received":true}`))
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

func always(code int) func(int) int { return func(int) int { return code } }

// decode reads a delivered body back into an event.
func decode(t testing.TB, body []byte) Event {
	t.Helper()
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("delivered body is not an event: %v: %s", err, body)
	}
	return e
}

// deadRedis is a client of a Redis that is not there.
func deadRedis(t testing.TB) redis.UniversalClient {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// roundTrips counts commands and pipelines sent to Redis.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { r.n.Add(1); return next(ctx, cmd) }
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { r.n.Add(1); return next(ctx, cmds) }
}

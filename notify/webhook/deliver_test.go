package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/internal/porttest"
)

// A receiver that fails for a while gets the event later, with the same id,
// the same body and a valid signature under either secret, on the backoff
// schedule.
func TestDeliveryRetriedUntilReceiverRecovers(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, func(n int) int {
		if n <= 3 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	f.merchant("m_acme", rc.URL+"/hooks")
	start := f.clk.Now()
	e := f.emit(t, "m_acme", TypePaid)

	// Attempts at +0, +30 s, +1 m 30 s, +3 m 30 s: 30 s doubling.
	schedule := []time.Duration{0, 30 * time.Second, 90 * time.Second, 210 * time.Second}
	for i, at := range schedule {
		// Just before it is due nothing is claimed.
		if at > 0 {
			f.clk.ns.Store(start.Add(at - time.Millisecond).UnixNano())
			if n := f.tick(t, f.svc); n != 0 {
				t.Fatalf("attempt %d: %d claimed %v early", i+1, n, time.Millisecond)
			}
		}
		f.clk.ns.Store(start.Add(at).UnixNano())
		if n := f.tick(t, f.svc); n != 1 {
			t.Fatalf("attempt %d at +%v: claimed %d, want 1", i+1, at, n)
		}
	}
	got := rc.deliveries()
	if len(got) != 4 {
		t.Fatalf("receiver got %d requests, want 4", len(got))
	}
	for i, d := range got {
		if d.id != e.ID || d.typ != TypePaid {
			t.Errorf("request %d: id %q type %q, want %q %q", i+1, d.id, d.typ, e.ID, TypePaid)
		}
		if string(d.body) != string(got[0].body) {
			t.Errorf("request %d: body changed between attempts", i+1)
		}
		for _, sec := range []string{secretNew, secretOld} {
			if err := Verify(d.body, d.sig, []string{sec}, time.Minute, start.Add(schedule[i])); err != nil {
				t.Errorf("request %d: signature under one secret: %v", i+1, err)
			}
		}
		if got := decode(t, d.body); got.ID != e.ID || got.Data.Checkout.Amount != 1000 ||
			got.Data.Checkout.Metadata["table"] != "7" || got.CheckoutID != e.CheckoutID {
			t.Errorf("request %d: body %s", i+1, d.body)
		}
	}
	r := f.record(t, "m_acme", e.ID)
	if r.Delivery.State != StateDelivered || r.Delivery.NextAttempt != nil {
		t.Errorf("state %q next %v, want delivered, none", r.Delivery.State, r.Delivery.NextAttempt)
	}
	want := []int{503, 503, 503, 200}
	if len(r.Delivery.Attempts) != len(want) {
		t.Fatalf("%d attempts recorded, want %d", len(r.Delivery.Attempts), len(want))
	}
	for i, a := range r.Delivery.Attempts {
		if a.Status != want[i] || !a.At.Equal(start.Add(schedule[i])) || a.Error != "" {
			t.Errorf("attempt %d: %+v, want status %d at +%v", i+1, a, want[i], schedule[i])
		}
	}
	// Delivered is final: later ticks send nothing.
	f.clk.Advance(24 * time.Hour)
	if n := f.tick(t, f.svc); n != 0 || len(rc.deliveries()) != 4 {
		t.Errorf("after delivery: claimed %d, receiver has %d", n, len(rc.deliveries()))
	}
}

// A receiver that never accepts is retried for at least 72 hours, each
// wait at most 6 hours, then the delivery is given up and says so.
func TestDeliveryGivenUpAfterRetryWindow(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, always(http.StatusInternalServerError))
	f.merchant("m_acme", rc.URL)
	start := f.clk.Now()
	e := f.emit(t, "m_acme", TypeExpired)

	for i := 0; i < 100; i++ {
		f.tick(t, f.svc)
		r := f.record(t, "m_acme", e.ID)
		if r.Delivery.NextAttempt == nil {
			break
		}
		f.clk.ns.Store(r.Delivery.NextAttempt.UnixNano())
	}
	r := f.record(t, "m_acme", e.ID)
	if r.Delivery.State != StateFailed {
		t.Fatalf("state %q, want failed", r.Delivery.State)
	}
	as := r.Delivery.Attempts
	last := as[len(as)-1].At
	if last.Sub(start) < 72*time.Hour {
		t.Errorf("given up after %v, want at least 72h", last.Sub(start))
	}
	if last.Sub(start) > 72*time.Hour+6*time.Hour {
		t.Errorf("given up only after %v", last.Sub(start))
	}
	for i := 1; i < len(as); i++ {
		gap := as[i].At.Sub(as[i-1].At)
		want := min(30*time.Second<<(i-1), 6*time.Hour)
		if gap != want {
			t.Errorf("wait before attempt %d: %v, want %v", i+1, gap, want)
		}
	}
	if len(rc.deliveries()) != len(as) {
		t.Errorf("receiver got %d, %d recorded", len(rc.deliveries()), len(as))
	}
	t.Logf("%d attempts over %v", len(as), last.Sub(start))
	f.clk.Advance(7 * 24 * time.Hour)
	if n := f.tick(t, f.svc); n != 0 {
		t.Errorf("a given-up delivery was claimed again")
	}
}

// Two replicas ticking at the same moment never send the same attempt
// twice: every event arrives exactly once.
func TestConcurrentWorkersDeliverEachEventOnce(t *testing.T) {
	f := newFixture(t, WithBatch(16, 4))
	rc := newReceiver(t, always(http.StatusNoContent))
	f.merchant("m_acme", rc.URL)
	const events = 120
	ids := map[string]bool{}
	for range events {
		ids[f.emit(t, "m_acme", TypePaid).ID] = true
	}
	workers := []*Service{f.svc, f.service(WithBatch(16, 4)), f.service(WithBatch(16, 4))}
	for round := 0; round < 50; round++ {
		var wg sync.WaitGroup
		for _, w := range workers {
			wg.Go(func() {
				if _, err := w.Tick(context.Background(), f.clk.Now()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n, _ := f.svc.Pending(context.Background()); n == 0 {
			break
		}
	}
	count := map[string]int{}
	for _, d := range rc.deliveries() {
		count[d.id]++
	}
	for id := range ids {
		if count[id] != 1 {
			t.Errorf("event %s delivered %d times", id, count[id])
		}
	}
	if len(count) != events {
		t.Errorf("%d distinct events delivered, want %d", len(count), events)
	}
}

// Pending deliveries are in Redis, not in the process: a new Service on the
// same Redis (a restart) delivers what the old one emitted and retries
// what it had failed.
func TestRestartStillDelivers(t *testing.T) {
	f := newFixture(t)
	failing := true
	var mu sync.Mutex
	rc := newReceiver(t, func(int) int {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	f.merchant("m_acme", rc.URL)
	first := f.emit(t, "m_acme", TypePaid)
	f.tick(t, f.svc) // fails: a retry is scheduled
	second := f.emit(t, "m_acme", TypeCancelled)
	f.svc = nil // the process dies

	mu.Lock()
	failing = false
	mu.Unlock()
	restarted := f.service()
	f.clk.Advance(30 * time.Second)
	if n := f.tick(t, restarted); n != 2 {
		t.Fatalf("restarted service claimed %d, want 2", n)
	}
	f.svc = restarted
	for _, id := range []string{first.ID, second.ID} {
		if r := f.record(t, "m_acme", id); r.Delivery.State != StateDelivered {
			t.Errorf("%s: state %q after restart", id, r.Delivery.State)
		}
	}
}

// A worker that claimed a delivery and died holds it only for the lease;
// then another worker sends it, and the dead worker's late report changes
// nothing.
func TestCrashedClaimRetriedAfterLease(t *testing.T) {
	f := newFixture(t, WithLease(time.Minute), WithBatch(1, 1))
	rc := newReceiver(t, always(http.StatusOK))
	f.merchant("m_acme", rc.URL)
	e := f.emit(t, "m_acme", TypePaid)
	ctx := context.Background()

	dead, err := f.svc.claim(ctx, f.clk.Now(), "dead-worker")
	if err != nil || len(dead) != 1 || dead[0].id != e.ID {
		t.Fatalf("claim: %v %+v", err, dead)
	}
	f.clk.Advance(time.Minute - time.Millisecond)
	if n := f.tick(t, f.service()); n != 0 {
		t.Fatalf("claimed during the lease: %d", n)
	}
	f.clk.Advance(time.Millisecond)
	if n := f.tick(t, f.service()); n != 1 {
		t.Fatalf("claimed after the lease: %d, want 1", n)
	}
	if got := rc.deliveries(); len(got) != 1 || got[0].id != e.ID {
		t.Fatalf("receiver got %d", len(got))
	}
	// The dead worker wakes up and reports a failure: recorded as an
	// attempt, but it no longer owns the delivery.
	f.svc.finish(dead[0], "dead-worker", &Attempt{At: f.clk.Now(), Error: "late"}, "retry", f.clk.Now().Add(time.Minute))
	r := f.record(t, "m_acme", e.ID)
	if r.Delivery.State != StateDelivered || len(r.Delivery.Attempts) != 2 {
		t.Errorf("state %q with %d attempts after a stale report", r.Delivery.State, len(r.Delivery.Attempts))
	}
	if n, _ := f.svc.Pending(ctx); n != 0 {
		t.Errorf("%d deliveries queued after a stale report", n)
	}
}

// Without AllowPrivate, a URL that resolves to loopback is refused at
// connection time (after DNS), and the receiver never hears from us.
func TestPrivateDestinationRefused(t *testing.T) {
	f := newFixture(t)
	strict := f.service(AllowPrivate(false))
	rc := newReceiver(t, always(http.StatusOK))
	port := rc.Listener.Addr().String()[strings.LastIndexByte(rc.Listener.Addr().String(), ':'):]
	for _, url := range []string{rc.URL, "http://localhost" + port + "/hooks", "http://[::1]" + port} {
		t.Run(url, func(t *testing.T) {
			f.merchant("m_acme", url)
			e := f.emit(t, "m_acme", TypePaid)
			if n := f.tick(t, strict); n != 1 {
				t.Fatalf("claimed %d", n)
			}
			r := f.record(t, "m_acme", e.ID)
			if len(r.Delivery.Attempts) != 1 || !strings.Contains(r.Delivery.Attempts[0].Error, "not allowed") {
				t.Errorf("attempts %+v", r.Delivery.Attempts)
			}
			if r.Delivery.State != StateRetrying {
				t.Errorf("state %q, want retrying (the operator may fix the URL)", r.Delivery.State)
			}
		})
	}
	if n := len(rc.deliveries()); n != 0 {
		t.Errorf("a private receiver got %d requests", n)
	}
}

// Anything but 2xx is a failure, including a redirect (never followed), a
// timeout, a closed port or a malformed URL; no error message quotes the
// URL, which may carry the merchant's credentials.
func TestDeliveryFailures(t *testing.T) {
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusFound)
	}))
	t.Cleanup(redirect.Close)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(strings.Repeat("x", 1<<20)))
	}))
	t.Cleanup(big.Close)
	refusing := porttest.Refusing(t)

	cases := []struct {
		name, url  string
		status     int
		errContain string
		respLen    int
	}{
		{"redirect", redirect.URL, http.StatusFound, "", -1},
		{"timeout", slow.URL, 0, "timeout", -1},
		{"large answer", big.URL, http.StatusBadRequest, "", maxResponseKept},
		{"connection refused", "http://user:pw@" + refusing, 0, "refused", -1},
		{"not http", "ftp://user:pw@example.com/x", 0, "not an absolute http(s) URL", -1},
		{"garbage", "http://user:pw@%zz", 0, "not an absolute http(s) URL", -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, WithTimeout(200*time.Millisecond))
			f.merchant("m_x", tc.url)
			e := f.emit(t, "m_x", TypePaid)
			f.tick(t, f.svc)
			r := f.record(t, "m_x", e.ID)
			if len(r.Delivery.Attempts) != 1 {
				t.Fatalf("%d attempts", len(r.Delivery.Attempts))
			}
			a := r.Delivery.Attempts[0]
			if a.Status != tc.status || !strings.Contains(a.Error, tc.errContain) {
				t.Errorf("attempt %+v, want status %d error ~%q", a, tc.status, tc.errContain)
			}
			if tc.respLen >= 0 && len(a.Response) != tc.respLen {
				t.Errorf("kept %d bytes of the answer, want %d", len(a.Response), tc.respLen)
			}
			if strings.Contains(a.Error, "pw") || strings.Contains(a.Error, "user") {
				t.Errorf("error quotes the URL's credentials: %q", a.Error)
			}
			if r.Delivery.State != StateRetrying {
				t.Errorf("state %q", r.Delivery.State)
			}
		})
	}
}

// An event of a merchant without a URL or a secret is not sent; a resend
// after the configuration is fixed delivers it.
func TestNotSentUntilConfigured(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, always(http.StatusOK))
	m := f.merchant("m_acme", "")
	e := f.emit(t, "m_acme", TypePaid)
	f.tick(t, f.svc)
	r := f.record(t, "m_acme", e.ID)
	if r.Delivery.State != StateNotSent || r.Delivery.Attempts[0].Error != "no webhook URL configured" {
		t.Fatalf("state %q attempts %+v", r.Delivery.State, r.Delivery.Attempts)
	}
	m2 := *m
	m2.WebhookURL, m2.WebhookSecrets = rc.URL, nil
	f.dir.set(&m2)
	if err := f.svc.Resend(context.Background(), "m_acme", e.ID); err != nil {
		t.Fatal(err)
	}
	f.tick(t, f.svc)
	if r := f.record(t, "m_acme", e.ID); r.Delivery.State != StateNotSent ||
		r.Delivery.Attempts[1].Error != "no webhook secret configured" {
		t.Fatalf("without a secret: state %q attempts %+v", r.Delivery.State, r.Delivery.Attempts)
	}
	f.merchant("m_acme", rc.URL)
	if err := f.svc.Resend(context.Background(), "m_acme", e.ID); err != nil {
		t.Fatal(err)
	}
	f.tick(t, f.svc)
	if r := f.record(t, "m_acme", e.ID); r.Delivery.State != StateDelivered || len(rc.deliveries()) != 1 {
		t.Errorf("after configuring: state %q, %d received", r.Delivery.State, len(rc.deliveries()))
	}
}

// A replica whose merchant file does not list a merchant yet (a rolling
// configuration change or upgrade: replicas load the new file one after
// another) leaves that merchant's deliveries to a replica that knows it:
// the attempt is retried on the backoff, never finished as not_sent, which
// only a resend would undo. (In CI a demo process on the shared Cluster,
// same keys, other merchants, finished a replicas drive's events this way.)
func TestUnknownMerchantLeftForAnotherReplica(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, always(http.StatusOK))
	f.merchant("m_acme", rc.URL)
	stale := New(f.rdb, &merchants{m: map[string]*checkout.Merchant{}},
		WithPrefix(f.prefix), WithClock(f.clk.Now), AllowPrivate(true), WithLogger(quiet))
	e := f.emit(t, "m_acme", TypePaid)
	if n := f.tick(t, stale); n != 1 {
		t.Fatalf("the stale replica claimed %d, want 1", n)
	}
	r := f.record(t, "m_acme", e.ID)
	if r.Delivery.State != StateRetrying || len(r.Delivery.Attempts) != 1 ||
		r.Delivery.Attempts[0].Error != "merchant not configured on this replica" {
		t.Fatalf("after the stale replica's attempt: state %q attempts %+v (want retrying, to be left for a replica that knows the merchant)",
			r.Delivery.State, r.Delivery.Attempts)
	}
	if len(rc.deliveries()) != 0 {
		t.Fatalf("the stale replica sent %d requests", len(rc.deliveries()))
	}
	f.clk.Advance(DefaultBackoff)
	if n := f.tick(t, f.svc); n != 1 {
		t.Fatalf("the replica that knows the merchant claimed %d at the retry, want 1", n)
	}
	if r := f.record(t, "m_acme", e.ID); r.Delivery.State != StateDelivered || len(rc.deliveries()) != 1 {
		t.Errorf("after the retry: state %q, %d received", r.Delivery.State, len(rc.deliveries()))
	}
}

// The checkout's own webhook URL wins over the merchant's.
func TestCheckoutURLOverride(t *testing.T) {
	f := newFixture(t)
	merchantRC := newReceiver(t, always(http.StatusOK))
	checkoutRC := newReceiver(t, always(http.StatusOK))
	f.merchant("m_acme", merchantRC.URL)
	c := testCheckout(t, "m_acme", f.clk.Now())
	c.WebhookURL = checkoutRC.URL + "/this-order"
	e, err := NewEvent(TypePaid, c, testPublicURL, f.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Emit(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	f.tick(t, f.svc)
	if len(checkoutRC.deliveries()) != 1 || len(merchantRC.deliveries()) != 0 {
		t.Errorf("checkout receiver %d, merchant receiver %d", len(checkoutRC.deliveries()), len(merchantRC.deliveries()))
	}
	// The override routes the event; the envelope has no member for it.
	// The checkout inside carries it as the API shows it (webhook_url).
	var body struct {
		WebhookURL *string `json:"webhook_url"`
		Data       struct {
			Checkout struct {
				WebhookURL string `json:"webhook_url"`
			} `json:"checkout"`
		} `json:"data"`
	}
	if err := json.Unmarshal(checkoutRC.deliveries()[0].body, &body); err != nil {
		t.Fatal(err)
	}
	if body.WebhookURL != nil || body.Data.Checkout.WebhookURL != c.WebhookURL {
		t.Errorf("envelope webhook_url %v, checkout's %q", body.WebhookURL, body.Data.Checkout.WebhookURL)
	}
}

// A resend asked for while an attempt is in flight waits for it, then
// sends again with the same id; one asked for after delivery sends again.
func TestResend(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, always(http.StatusOK))
	f.merchant("m_acme", rc.URL)
	f.merchant("m_other", rc.URL)
	e := f.emit(t, "m_acme", TypePaid)
	ctx := context.Background()

	if err := f.svc.Resend(ctx, "m_other", e.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("another merchant's resend: %v, want ErrNotFound", err)
	}
	if err := f.svc.Resend(ctx, "m_acme", "evt_nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("garbage id: %v", err)
	}

	batch, err := f.svc.claim(ctx, f.clk.Now(), "tok")
	if err != nil || len(batch) != 1 {
		t.Fatal(err, len(batch))
	}
	if err := f.svc.Resend(ctx, "m_acme", e.ID); err != nil {
		t.Fatal(err)
	}
	if n := f.tick(t, f.svc); n != 0 {
		t.Fatalf("a resend overlapped the attempt in flight")
	}
	f.svc.deliver(ctx, batch[0], "tok")
	if n := f.tick(t, f.svc); n != 1 {
		t.Fatalf("the resend noted during the attempt was not scheduled")
	}
	f.clk.Advance(time.Hour)
	if err := f.svc.Resend(ctx, "m_acme", e.ID); err != nil {
		t.Fatal(err)
	}
	f.tick(t, f.svc)
	got := rc.deliveries()
	if len(got) != 3 {
		t.Fatalf("receiver got %d, want 3", len(got))
	}
	for _, d := range got {
		if d.id != e.ID || string(d.body) != string(got[0].body) {
			t.Errorf("resent with id %q", d.id)
		}
	}
	if r := f.record(t, "m_acme", e.ID); len(r.Delivery.Attempts) != 3 || r.Delivery.State != StateDelivered {
		t.Errorf("state %q with %d attempts", r.Delivery.State, len(r.Delivery.Attempts))
	}
}

// Run delivers on its own and stops with its context.
func TestRun(t *testing.T) {
	f := newFixture(t)
	svc := New(f.rdb, f.dir, WithPrefix(f.prefix), AllowPrivate(true), WithPoll(10*time.Millisecond))
	rc := newReceiver(t, always(http.StatusOK))
	f.merchant("m_acme", rc.URL)
	f.svc = svc
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	e, err := NewEvent(TypePaid, testCheckout(t, "m_acme", time.Now()), testPublicURL, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Emit(ctx, e); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(rc.deliveries()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if len(rc.deliveries()) != 1 {
		t.Fatalf("Run delivered %d", len(rc.deliveries()))
	}
}

func TestBackoff(t *testing.T) {
	s := New(nil, nil)
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute}
	for i, w := range want {
		if got := s.backoffAfter(i); got != w {
			t.Errorf("backoffAfter(%d) = %v, want %v", i, got, w)
		}
	}
	for _, i := range []int{10, 11, 64, 1000} {
		if got := s.backoffAfter(i); got != 6*time.Hour {
			t.Errorf("backoffAfter(%d) = %v, want the 6h cap", i, got)
		}
	}
}

// The lease always covers a whole batch: 50 claimed, sent 8 at a time,
// each up to the timeout, must all be done before another replica may
// take them.
func TestLeaseCoversBatch(t *testing.T) {
	cases := []struct {
		opts []Option
		want time.Duration
	}{
		{nil, DefaultLease},
		{[]Option{WithLease(time.Second)}, 80 * time.Second},
		{[]Option{WithLease(time.Second), WithBatch(1, 1)}, 20 * time.Second},
		{[]Option{WithLease(time.Second), WithBatch(100, 10), WithTimeout(time.Second)}, 11 * time.Second},
		{[]Option{WithLease(time.Hour)}, time.Hour},
	}
	for i, tc := range cases {
		if got := New(nil, nil, tc.opts...).lease; got != tc.want {
			t.Errorf("case %d: lease %v, want %v", i, got, tc.want)
		}
	}
}

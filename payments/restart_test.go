package payments_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// TestRestartMidFlow: the process stops with a webhook delivery failing and
// being retried, a refund whose answer was lost and a payment the gateway
// has not told us about; a new process on the same Redis (fresh service,
// reconciler, webhook service and handlers) finishes all of it: nothing is
// lost, nothing is sent twice to the gateway, and the merchant receives
// every event, the one retried across the restart with its first id.
func TestRestartMidFlow(t *testing.T) {
	const secret = "whsec_restart_test_0123456789abcdef"
	var down atomic.Bool
	down.Store(true)
	var mu sync.Mutex
	got := map[string]int{} // event id → 2xx deliveries
	tries := map[string]int{}
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get(webhook.HeaderEventID)
		mu.Lock()
		defer mu.Unlock()
		tries[id]++
		if err := webhook.Verify(body, r.Header.Get(webhook.HeaderSignature), []string{secret}, time.Hour, time.Now()); err != nil {
			t.Errorf("delivery of %s: %v", id, err)
		}
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		got[id]++
	}))
	defer rc.Close()

	spy := &gwSpy{}
	e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	e.merchant.WebhookURL = rc.URL + "/hooks"
	e.merchant.WebhookSecrets = []checkout.Secret{secret}
	ctx := context.Background()

	// 1. Paid, its event tried once and failing.
	c1 := e.newCheckout(1000, 30*time.Minute)
	a1 := e.order(c1, checkout.ScenarioQR, "")
	e.pay(a1)
	if code, body := e.sendNotify(e.notifyQuery(a1, gateway.StatusPaid).Encode()); code != 200 || body != gateway.NotifySuccess {
		t.Fatalf("notify: %d %q", code, body)
	}
	if n, err := e.hooks.Tick(ctx, e.clk.Now()); err != nil || n != 1 {
		t.Fatalf("first delivery: %d %v", n, err)
	}
	paid1 := e.events.of(c1.ID, webhook.TypePaid)
	if len(paid1) != 1 || tries[paid1[0].ID] != 1 {
		t.Fatalf("paid events %v, tries %v", paid1, tries)
	}
	// 2. A refund sent, its answer lost.
	c2, a2 := e.paidCheckout(800)
	spy.refundUnknown.Store(true)
	if r := e.postRefund(c2.ID, "r1", `{"amount":300}`); r.status != http.StatusAccepted || r.Status != "pending" {
		t.Fatalf("refund: %+v", r)
	}
	spy.refundUnknown.Store(false)
	// 3. Paid at the gateway, no notify yet.
	c3 := e.newCheckout(500, 30*time.Minute)
	a3 := e.order(c3, checkout.ScenarioJump, "")
	e.pay(a3)

	// The process dies; a new one starts on the same Redis.
	e.start()
	down.Store(false)
	for range 20 {
		e.clk.Advance(time.Minute)
		if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.hooks.Tick(ctx, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
	}

	if s := e.get(c1.ID).Status; s != checkout.StatusPaid {
		t.Fatalf("c1 %s", s)
	}
	if c := e.get(c2.ID); c.Status != checkout.StatusPartiallyRefunded || c.Refunded != 300 {
		t.Fatalf("c2 %s refunded %d", c.Status, c.Refunded)
	}
	if o, _ := e.sb.Order(e.sbStore.OpenID, a2.OrdNo); o.Refunded != 300 {
		t.Fatalf("gateway refunded %d", o.Refunded)
	}
	if n := spy.refundCalls(); n != 1 {
		t.Fatalf("payrefund sent %d times", n)
	}
	if s := e.get(c3.ID).Status; s != checkout.StatusPaid {
		t.Fatalf("c3 %s", s)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]string{}
	e.events.mu.Lock()
	defer e.events.mu.Unlock()
	for _, c := range []*checkout.Checkout{c1, c2, c3} {
		for _, ev := range e.events.calls {
			if ev.CheckoutID == c.ID {
				want[ev.ID] = ev.Type
			}
		}
	}
	if len(want) != 4 { // c1 paid, c2 paid and refund.succeeded, c3 paid
		t.Fatalf("events %v", want)
	}
	for id, typ := range want {
		if got[id] != 1 {
			t.Errorf("%s %s: %d successful deliveries (%d tries), want 1", typ, id, got[id], tries[id])
		}
	}
	if tries[paid1[0].ID] != 2 {
		t.Errorf("c1's paid event tried %d times, want 2 (before and after the restart)", tries[paid1[0].ID])
	}
}

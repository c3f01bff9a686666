package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// A delivery given up after the retry window comes back to life with a
// resend: same id, same body, a fresh window; and resending repeatedly
// while one is queued queues it once.
func TestEventsResendAfterGiveUp(t *testing.T) {
	e := newEvEnv(t)
	ctx := context.Background()
	c, err := checkout.NewCheckout(&checkout.Draft{MerchantID: e.merchantA, StoreID: "main",
		Amounts: checkout.Amounts{Original: 800, Trade: 800}, LatePolicy: checkout.LatePolicyAccept}, e.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	ev, err := webhook.NewEvent(webhook.TypeExpired, c, "https://pay.example", e.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.hooks.Emit(ctx, ev); err != nil {
		t.Fatal(err)
	}
	e.rc.setStatus(http.StatusInternalServerError)
	for range 40 {
		e.tick()
		rec, err := e.hooks.Get(ctx, e.merchantA, ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Delivery.NextAttempt == nil {
			break
		}
		e.clk.ns.Store(rec.Delivery.NextAttempt.UnixNano())
	}
	r := e.do("GET", "/v1/events/"+ev.ID, e.keyA)
	var rec webhook.Record
	if err := json.Unmarshal(r.body, &rec); err != nil || rec.Delivery.State != webhook.StateFailed {
		t.Fatalf("after the retry window: %d %s", r.status, r.body)
	}
	failed := len(rec.Delivery.Attempts)

	e.rc.setStatus(http.StatusOK)
	e.clk.Advance(24 * time.Hour)
	for range 3 {
		if r := e.do("POST", "/v1/events/"+ev.ID+"/resend", e.keyA); r.status != http.StatusAccepted {
			t.Fatalf("resend: %d %s", r.status, r.body)
		}
	}
	e.tick()
	e.tick()
	got := e.rc.deliveries()
	if len(got) != failed+1 {
		t.Fatalf("receiver got %d, want %d failed + 1 resent", len(got), failed)
	}
	last := got[len(got)-1]
	if last.id != ev.ID || string(last.body) != string(got[0].body) {
		t.Errorf("resent %q with another body", last.id)
	}
	if err := webhook.Verify(last.body, last.sig, []string{evSecretNew}, time.Minute, e.clk.Now()); err != nil {
		t.Errorf("resent signature: %v", err)
	}
	r = e.do("GET", "/v1/events/"+ev.ID, e.keyA)
	if err := json.Unmarshal(r.body, &rec); err != nil || rec.Delivery.State != webhook.StateDelivered ||
		len(rec.Delivery.Attempts) != failed+1 {
		t.Errorf("after the resend: %s", r.body)
	}
}

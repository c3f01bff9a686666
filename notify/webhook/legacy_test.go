package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"testing"
	"time"
)

// An event stored before events had an api_version (the body of
// testdata/legacy/, written by the previous release) is listed, read and
// resent without error, in the shape it was written: its body is sent byte
// for byte and listed member for member, beside its delivery. Events of
// the current shape around it are unaffected.
func TestLegacyEventListsAndResends(t *testing.T) {
	for _, name := range []string{"checkout.paid", "checkout.refund.succeeded"} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			rc := newReceiver(t, always(http.StatusOK))
			f.merchant("m_acme", rc.URL)
			ctx := context.Background()

			legacy, err := os.ReadFile("testdata/legacy/" + name + ".json")
			if err != nil {
				t.Fatal(err)
			}
			legacy = bytes.TrimSpace(legacy)
			var old map[string]any
			if err := json.Unmarshal(legacy, &old); err != nil {
				t.Fatal(err)
			}
			if _, ok := old["api_version"]; ok {
				t.Fatal("the legacy fixture has an api_version")
			}
			// Stored the way the previous release's Emit stored it.
			route := Event{
				ID: old["id"].(string), Type: old["type"].(string), MerchantID: old["merchant_id"].(string),
				CheckoutID: old["checkout_id"].(string), CreatedAt: f.clk.Now(),
			}
			if err := f.svc.store(ctx, route, legacy); err != nil {
				t.Fatal(err)
			}
			f.clk.Advance(time.Second)
			current := f.emit(t, "m_acme", TypePaid)

			page, _, err := f.svc.List(ctx, "m_acme", ListQuery{})
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if len(page) != 2 || page[0].ID != current.ID || page[1].ID != route.ID {
				t.Fatalf("listed %d events", len(page))
			}
			if page[0].Legacy != nil || page[0].APIVersion != APIVersion {
				t.Errorf("current event read as legacy (%q)", page[0].APIVersion)
			}
			rec := page[1]
			if rec.Legacy == nil || rec.Type != route.Type || rec.CheckoutID != route.CheckoutID || rec.APIVersion != "" {
				t.Fatalf("legacy record %+v", rec.Event)
			}
			typed, _, err := f.svc.List(ctx, "m_acme", ListQuery{Type: route.Type, CheckoutID: route.CheckoutID})
			if err != nil || len(typed) != 1 || typed[0].ID != route.ID {
				t.Fatalf("filtered list: %d events, %v", len(typed), err)
			}

			// Listed: the stored members unchanged, plus delivery.
			listed, err := json.Marshal(rec)
			if err != nil {
				t.Fatalf("marshal legacy record: %v", err)
			}
			var got map[string]any
			if err := json.Unmarshal(listed, &got); err != nil {
				t.Fatal(err)
			}
			if _, ok := got["delivery"].(map[string]any); !ok {
				t.Fatalf("no delivery in %s", listed)
			}
			delete(got, "delivery")
			if !reflect.DeepEqual(got, old) {
				t.Errorf("listed legacy event changed:\n%s", listed)
			}

			// Delivered, then resent: the same bytes, signed.
			f.tick(t, f.svc)
			if err := f.svc.Resend(ctx, "m_acme", route.ID); err != nil {
				t.Fatalf("Resend: %v", err)
			}
			f.tick(t, f.svc)
			var sent []delivery
			for _, d := range rc.deliveries() {
				if d.id == route.ID {
					sent = append(sent, d)
				}
			}
			if len(sent) != 2 {
				t.Fatalf("legacy event delivered %d times, want 2", len(sent))
			}
			for _, d := range sent {
				if !bytes.Equal(d.body, legacy) {
					t.Errorf("delivered body differs from the stored one:\n%s", d.body)
				}
				if err := Verify(d.body, d.sig, []string{secretNew}, time.Minute, f.clk.Now()); err != nil {
					t.Errorf("signature: %v", err)
				}
			}
			if r := f.record(t, "m_acme", route.ID); r.Delivery.State != "delivered" || len(r.Delivery.Attempts) != 2 {
				t.Errorf("delivery %+v", r.Delivery)
			}
		})
	}
}

// A stored body that is not JSON is an error naming the event, never a
// panic or an empty record.
func TestStoredGarbageBody(t *testing.T) {
	f := newFixture(t)
	f.merchant("m_acme", "")
	route := Event{ID: "evt_0123456789ABCDEFabcdefXY", Type: TypePaid, MerchantID: "m_acme",
		CheckoutID: "co_0123456789ABCDEFabcdefXY", CreatedAt: f.clk.Now()}
	if err := f.svc.store(context.Background(), route, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.List(context.Background(), "m_acme", ListQuery{}); err == nil {
		t.Fatal("garbage body listed without error")
	}
}

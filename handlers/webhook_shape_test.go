package handlers_test

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/apiobject"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/handlers"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// The events of a real paid flow (the sandbox's notify, a refund through
// the API, a cancel) are delivered with the API's objects: each delivered
// body validates against its webhook's schema, says api_version, and its
// data.checkout is, member for member, what GET /v1/checkouts/{id} answers
// at that moment (without the refunds list); a refund event's data.refund
// is the refund as that answer lists it.
func TestWebhookCarriesTheAPIObjects(t *testing.T) {
	e := newEvEnv(t)
	get := func(id string) map[string]any {
		t.Helper()
		r := handlers.Do(t, e.api, "GET", "/v1/checkouts/"+id, e.keyA, "")
		return r.JSON(t)
	}
	// delivered returns the body of the one delivery of type typ about
	// checkout id, checked against the description and the signature.
	delivered := func(typ, id string) map[string]any {
		t.Helper()
		e.tick()
		var found map[string]any
		for _, d := range e.rc.deliveries() {
			var body map[string]any
			if err := json.Unmarshal(d.body, &body); err != nil {
				t.Fatalf("delivery %s is not JSON: %v", d.id, err)
			}
			if d.typ != typ || body["checkout_id"] != id {
				continue
			}
			if found != nil {
				t.Fatalf("%s delivered twice", typ)
			}
			if err := e.oas.CheckWebhook(d.typ, d.body); err != nil {
				t.Error(err)
			}
			if err := webhook.Verify(d.body, d.sig, []string{evSecretNew}, time.Minute, e.clk.Now()); err != nil {
				t.Errorf("%s: signature: %v", typ, err)
			}
			found = body
		}
		if found == nil {
			t.Fatalf("no %s delivered for %s", typ, id)
		}
		if found["api_version"] != apiobject.APIVersion || found["object"] != "event" {
			t.Errorf("%s: api_version %v, object %v", typ, found["api_version"], found["object"])
		}
		return found
	}
	checkoutOf := func(ev map[string]any) map[string]any {
		t.Helper()
		co, _ := ev["data"].(map[string]any)["checkout"].(map[string]any)
		if co == nil {
			t.Fatalf("no data.checkout in %v", ev)
		}
		return co
	}

	paid := e.paidCheckout()
	ev := delivered(webhook.TypePaid, paid)
	api := get(paid)
	if !reflect.DeepEqual(checkoutOf(ev), api) {
		t.Errorf("checkout.paid's checkout differs from the API's:\nevent %v\napi   %v", checkoutOf(ev), api)
	}
	if api["status"] != "paid" || api["store"] != "main" || api["url"] != "https://pay.example/c/"+paid {
		t.Errorf("the API's checkout %v", api)
	}

	if r := handlers.Do(t, e.api, "POST", "/v1/checkouts/"+paid+"/refunds", e.keyA, `{"amount":300,"reason":"one was cold"}`,
		"Idempotency-Key", "shape-re-1"); r.Status != 201 {
		t.Fatalf("refund: %d %s", r.Status, r.Body)
	}
	ev = delivered(webhook.TypeRefundSucceeded, paid)
	api = get(paid)
	refunds, _ := api["refunds"].([]any)
	delete(api, "refunds")
	if len(refunds) != 1 {
		t.Fatalf("refunds %v", refunds)
	}
	if !reflect.DeepEqual(checkoutOf(ev), api) {
		t.Errorf("the refund event's checkout differs from the API's:\nevent %v\napi   %v", checkoutOf(ev), api)
	}
	if got := ev["data"].(map[string]any)["refund"]; !reflect.DeepEqual(got, refunds[0]) {
		t.Errorf("the refund event's refund differs from the API's:\nevent %v\napi   %v", got, refunds[0])
	}
	if api["refunded_amount"] != 300.0 || api["status"] != "partially_refunded" {
		t.Errorf("after the refund: %v", api)
	}

	r := handlers.Do(t, e.api, "POST", "/v1/checkouts", e.keyA, `{"amount":500,"description":"茶"}`, "Idempotency-Key", "shape-co-2")
	open, _ := r.JSON(t)["id"].(string)
	if r := handlers.Do(t, e.api, "POST", "/v1/checkouts/"+open+"/cancel", e.keyA, ""); r.Status != 200 {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	ev = delivered(webhook.TypeCancelled, open)
	if api := get(open); !reflect.DeepEqual(checkoutOf(ev), api) {
		t.Errorf("checkout.cancelled's checkout differs from the API's:\nevent %v\napi   %v", checkoutOf(ev), api)
	}
}

// An event the previous release stored (no api_version, the old checkout
// names) still lists, reads and resends through the API without error, in
// the shape it was written: the answers validate as LegacyEventRecord
// (every answer here goes through OpenAPIValidating) and the resend
// delivers the stored bytes. The old body is put in place of a real
// event's: the event's hash (in its merchant's shard, {wh:N}:evt:<id>) and
// its "body" field, as the previous release wrote them.
func TestLegacyEventThroughTheAPI(t *testing.T) {
	e := newEvEnv(t)
	paid := e.paidCheckout()
	l := e.list("?checkout_id="+paid, e.keyA)
	if len(l.Data) != 1 {
		t.Fatalf("%d events", len(l.Data))
	}
	id := l.Data[0].ID
	raw, err := os.ReadFile("../notify/webhook/testdata/legacy/checkout.paid.json")
	if err != nil {
		t.Fatal(err)
	}
	var old map[string]any
	if err := json.Unmarshal(raw, &old); err != nil {
		t.Fatal(err)
	}
	old["id"], old["merchant_id"], old["checkout_id"] = id, e.merchantA, paid
	old["data"].(map[string]any)["checkout"].(map[string]any)["id"] = paid
	legacy, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.rdb.HSet(t.Context(), e.prefix+"{wh:"+strconv.Itoa(checkout.ShardOf(e.merchantA))+"}:evt:"+id, "body", legacy).Err(); err != nil {
		t.Fatal(err)
	}

	for _, path := range []string{"/v1/events", "/v1/events?type=checkout.paid&checkout_id=" + paid, "/v1/events/" + id} {
		r := handlers.Do(t, e.api, "GET", path, e.keyA, "")
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
		got := r.JSON(t)
		if data, ok := got["data"].([]any); ok && got["object"] == "list" {
			if len(data) != 1 {
				t.Fatalf("GET %s: %d events", path, len(data))
			}
			got = data[0].(map[string]any)
		}
		if _, ok := got["delivery"]; !ok {
			t.Errorf("GET %s: no delivery", path)
		}
		delete(got, "delivery")
		if !reflect.DeepEqual(got, old) {
			t.Errorf("GET %s: the legacy event changed:\n%s", path, r.Body)
		}
	}

	e.tick() // its first delivery
	if r := handlers.Do(t, e.api, "POST", "/v1/events/"+id+"/resend", e.keyA, ""); r.Status != 202 {
		t.Fatalf("resend: %d %s", r.Status, r.Body)
	}
	e.tick()
	var sent int
	for _, d := range e.rc.deliveries() {
		if d.id != id {
			continue
		}
		sent++
		if !bytes.Equal(d.body, legacy) {
			t.Errorf("delivered %s, want the stored bytes", d.body)
		}
		if err := webhook.Verify(d.body, d.sig, []string{evSecretNew}, time.Minute, e.clk.Now()); err != nil {
			t.Errorf("signature: %v", err)
		}
	}
	if sent != 2 {
		t.Errorf("the legacy event was delivered %d times, want 2", sent)
	}
}

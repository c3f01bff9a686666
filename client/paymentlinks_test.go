package client

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

// DeletePaymentLink sends DELETE /v1/payment-links/{id} without an
// Idempotency-Key and decodes the answer; a 404 is ErrNotFound; a failure
// in transit is not retried (a second delete of a deleted link is a 404,
// so the caller decides: call again and read 404 as deleted).
func TestDeletePaymentLink(t *testing.T) {
	ctx := context.Background()
	const id = "pl_0123456789ABCDEFabcdefXY"
	rc := &recorder{answers: []func(http.ResponseWriter, *http.Request){answer(200, `{"id":"`+id+`","object":"payment_link","deleted":true}`)}}
	c := newTest(t, rc)
	d, err := c.DeletePaymentLink(ctx, id)
	if err != nil || d.ID != id || !d.Deleted || d.Object != "payment_link" {
		t.Fatalf("delete: %+v %v", d, err)
	}
	r := rc.requests()[0]
	if r.Method != http.MethodDelete || r.URL.Path != "/v1/payment-links/"+id || r.Header.Get("Idempotency-Key") != "" {
		t.Fatalf("sent %s %s key %q", r.Method, r.URL.Path, r.Header.Get("Idempotency-Key"))
	}

	rc = &recorder{answers: []func(http.ResponseWriter, *http.Request){errAnswer(404, "not_found", "id", "no such payment link")}}
	if _, err := newTest(t, rc).DeletePaymentLink(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("404: %v", err)
	}
	rc = &recorder{answers: []func(http.ResponseWriter, *http.Request){hangUp, answer(200, `{}`)}}
	if _, err := newTest(t, rc).DeletePaymentLink(ctx, id); err == nil || len(rc.requests()) != 1 {
		t.Fatalf("dropped connection: %v, sent %d times", err, len(rc.requests()))
	}
}

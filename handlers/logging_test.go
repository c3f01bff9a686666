package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/handlers"
)

// TestHandlerLogCarriesRequestID: a handler's own log line (not only the
// access log) names the request it belongs to, once, without the handler
// adding it.
func TestHandlerLogCarriesRequestID(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/v1/checkouts", e.keyA, `{"amount":1234,"description":"log"}`, "X-Request-Id", "req-log-1")
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"]
	created := handlers.LinesWith(t, e.logs.String(), "Checkout created")
	if len(created) != 1 {
		t.Fatalf("want one Checkout created line, got %d: %s", len(created), e.logs.String())
	}
	if created[0]["request_id"] != "req-log-1" || created[0]["checkout_id"] != id {
		t.Fatalf("Checkout created line: %v", created[0])
	}
	if n := strings.Count(e.logs.String(), `"request_id"`); n != 2 { // that line and the access log's
		t.Fatalf("request_id appears %d times; want once per line: %s", n, e.logs.String())
	}

	r = e.do("POST", "/v1/checkouts/"+id.(string)+"/cancel", e.keyA, "", "X-Request-Id", "req-log-2")
	if r.status != http.StatusOK {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	if ls := handlers.LinesWith(t, e.logs.String(), "Checkout cancelled"); len(ls) != 1 || ls[0]["request_id"] != "req-log-2" {
		t.Fatalf("Checkout cancelled lines: %v", ls)
	}
}

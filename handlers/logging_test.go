package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/handlers"
)

// TestHandlerLogCarriesRequestID: a handler's own log line (not only the
// access log) names the request it belongs to, once, without the handler
// adding it. A create logs one line (issue 11: a second line per create
// cost its share of the budget): its access line, which names the
// checkout made and its amount besides the merchant.
func TestHandlerLogCarriesRequestID(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/v1/checkouts", e.keyA, `{"amount":1234,"description":"log"}`, "X-Request-Id", "req-log-1")
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"]
	if n := strings.Count(e.logs.String(), "\n"); n != 1 {
		t.Fatalf("a create logged %d lines; want its access line only: %s", n, e.logs.String())
	}
	created := handlers.LinesWith(t, e.logs.String(), "Request")
	if len(created) != 1 {
		t.Fatalf("want one access line, got %d: %s", len(created), e.logs.String())
	}
	if l := created[0]; l["request_id"] != "req-log-1" || l["checkout_id"] != id || l["amount"] != float64(1234) || l["merchant_id"] == nil || l["status"] != float64(201) {
		t.Fatalf("a create's access line: %v", l)
	}
	if n := strings.Count(e.logs.String(), `"request_id"`); n != 1 {
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

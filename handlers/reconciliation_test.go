package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/gateway"
)

// quietGateway lists no orders, but one of the store's own POS on
// 2026-11-20 (a foreign order: an explained difference). Its other calls
// reach the real client, where nothing listens.
type quietGateway struct{ app.Gateway }

func (quietGateway) Orders(_ context.Context, _ *gateway.Store, q *gateway.OrderQuery) (*gateway.OrderPage, error) {
	if gateway.FormatTime(q.Since) == "2026-11-20 00:00:00" {
		return &gateway.OrderPage{TotalPage: 1, Page: 1, List: []gateway.Order{{OutNo: "POS1", OrdNo: "9001",
			OrdType: gateway.OrderPayment, TradeAmount: 100, Status: gateway.StatusPaid}}}, nil
	}
	return &gateway.OrderPage{TotalPage: 0, Page: 1}, nil
}

func (quietGateway) OrderView(context.Context, *gateway.Store, gateway.OrderRef) (*gateway.Order, error) {
	return nil, gateway.ErrOrderNotFound
}

func TestReconciliationsAPI(t *testing.T) {
	e := newEnv(t, withGateway(quietGateway{gateway.NewClient(gateway.WithRetries(0, 0, 0))})) // 2026-11-25 16:00 UTC+8

	// Auth first, then the error shape of every bad input.
	if r := e.do("POST", "/v1/reconciliations", "", `{"store_id":"main","date":"2026-11-24"}`); r.status != http.StatusUnauthorized {
		t.Fatalf("no key: %d", r.status)
	}
	bad := []struct {
		body, code, param string
		status            int
	}{
		{`{"store_id":"main"}`, "invalid_parameter", "date", 400},
		{`{"date":"2026-11-24"}`, "invalid_parameter", "store_id", 400},
		{`{"store_id":"nope","date":"2026-11-24"}`, "invalid_parameter", "store_id", 400},
		{`{"store_id":"live","date":"2026-11-24"}`, "invalid_parameter", "store_id", 400}, // a test key, a live store
		{`{"store_id":"main","date":"24/11/2026"}`, "invalid_parameter", "date", 400},
		{`{"store_id":"main","date":"2026-11-31"}`, "invalid_parameter", "date", 400},
		{`{"store_id":"main","date":"2026-11-26"}`, "invalid_parameter", "date", 400}, // not begun
		{`{"store_id":"main","date":20261124}`, "invalid_parameter", "date", 400},
		{`{"store_id":"main","date":"2026-11-24","x":1}`, "unknown_parameter", "x", 400},
		{`[1]`, "invalid_json", "", 400},
		{`{"store_id":`, "invalid_json", "", 400},
	}
	for _, b := range bad {
		r := e.do("POST", "/v1/reconciliations", e.keyA, b.body)
		if r.status != b.status {
			t.Errorf("%s: %d %s", b.body, r.status, r.body)
			continue
		}
		if code, param := r.errorOf(t); code != b.code || param != b.param {
			t.Errorf("%s: %s %s", b.body, code, param)
		}
	}
	if r := e.do("POST", "/v1/reconciliations", e.keyA, `{}`, "Content-Type", "text/plain"); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d", r.status)
	}
	if r := e.do("GET", "/v1/reconciliations", e.keyA, ""); r.status != 200 || len(r.json(t)["data"].([]any)) != 0 {
		t.Fatalf("bad input created runs: %s", r.body)
	}

	// Three days of A's main store, one of B's.
	var ids []string
	for _, d := range []string{"2026-11-21", "2026-11-22", "2026-11-23"} {
		r := e.do("POST", "/v1/reconciliations", e.keyA, fmt.Sprintf(`{"store_id":"main","date":%q}`, d))
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", d, r.status, r.body)
		}
		m := r.json(t)
		if m["object"] != "reconciliation" || m["date"] != d || m["store_id"] != "main" || len(m["differences"].([]any)) != 0 {
			t.Fatalf("run %s", r.body)
		}
		ids = append(ids, m["id"].(string))
		e.clk.Advance(1e9)
	}
	rb := e.do("POST", "/v1/reconciliations", e.keyB, `{"store_id":"main","date":"2026-11-23"}`)
	if rb.status != 200 {
		t.Fatalf("B: %d %s", rb.status, rb.body)
	}
	idB := rb.json(t)["id"].(string)
	if idB == ids[2] {
		t.Fatal("two merchants' runs share an id")
	}
	// A re-run is the same run.
	again := e.do("POST", "/v1/reconciliations", e.keyA, `{"store_id":"main","date":"2026-11-23"}`).json(t)
	if again["id"] != ids[2] || again["runs"].(float64) != 2 {
		t.Errorf("re-run: %v", again)
	}

	// Read: 404 across merchants, like a missing run.
	if r := e.do("GET", "/v1/reconciliations/"+ids[0], e.keyA, ""); r.status != 200 || r.json(t)["id"] != ids[0] {
		t.Errorf("get: %d %s", r.status, r.body)
	}
	for _, path := range []string{"/v1/reconciliations/" + idB, "/v1/reconciliations/rc_nope"} {
		r := e.do("GET", path, e.keyA, "")
		if code, _ := r.errorOf(t); r.status != 404 || code != "not_found" {
			t.Errorf("%s: %d %s", path, r.status, code)
		}
	}
	if r := e.do("POST", "/v1/reconciliations/"+idB+"/differences/df_012345678901234567890123", e.keyA, `{"status":"acknowledged"}`); r.status != 404 {
		t.Errorf("another merchant's difference: %d", r.status)
	}
	if r := e.do("POST", "/v1/reconciliations/"+ids[0]+"/differences/df_012345678901234567890123", e.keyA, `{"status":"open"}`); r.status != 400 {
		t.Errorf("status open: %d", r.status)
	}

	// A difference is resolved through the API; it stays resolved.
	pos := e.do("POST", "/v1/reconciliations", e.keyA, `{"store_id":"main","date":"2026-11-20"}`).json(t)
	diffs := pos["differences"].([]any)
	if len(diffs) != 1 || diffs[0].(map[string]any)["class"] != "foreign" || diffs[0].(map[string]any)["status"] != "acknowledged" {
		t.Fatalf("foreign order: %v", pos)
	}
	dpath := "/v1/reconciliations/" + pos["id"].(string) + "/differences/" + diffs[0].(map[string]any)["id"].(string)
	if r := e.do("POST", dpath, e.keyA, `{"status":"resolved","note":"our POS"}`); r.status != 200 ||
		r.json(t)["status"] != "resolved" || r.json(t)["note"] != "our POS" {
		t.Fatalf("resolve: %d %s", r.status, r.body)
	}
	if r := e.do("POST", dpath, e.keyA, `{"status":"acknowledged"}`); r.status != http.StatusConflict {
		t.Errorf("resolved → acknowledged: %d %s", r.status, r.body)
	} else if code, _ := r.errorOf(t); code != "invalid_transition" {
		t.Errorf("code %s", code)
	}
	if r := e.do("POST", dpath, e.keyB, `{"status":"resolved"}`); r.status != 404 {
		t.Errorf("B resolves A's difference: %d", r.status)
	}
	if r := e.do("POST", dpath, e.keyA, `{"status":"resolved","note":"two\nlines"}`); r.status != 400 {
		t.Errorf("two-line note: %d", r.status)
	}
	ids = append(ids, pos["id"].(string)) // the newest

	// List: newest first, cursor, filters.
	r := e.do("GET", "/v1/reconciliations?limit=2", e.keyA, "")
	page := r.json(t)
	data := page["data"].([]any)
	if len(data) != 2 || data[0].(map[string]any)["id"] != ids[3] || page["has_more"] != true || page["next_cursor"] != ids[2] {
		t.Fatalf("first page: %s", r.body)
	}
	if _, ok := data[0].(map[string]any)["differences"]; ok {
		t.Error("a list carries differences")
	}
	r = e.do("GET", "/v1/reconciliations?limit=2&starting_after="+ids[2], e.keyA, "")
	page = r.json(t)
	if data := page["data"].([]any); len(data) != 2 || data[0].(map[string]any)["id"] != ids[1] ||
		data[1].(map[string]any)["id"] != ids[0] || page["has_more"] != false {
		t.Fatalf("second page: %s", r.body)
	}
	filters := map[string]int{"date=2026-11-22": 1, "store_id=main": 4, "status=clean": 4, "status=has_open_differences": 0}
	for q, n := range filters {
		r := e.do("GET", "/v1/reconciliations?"+q, e.keyA, "")
		if r.status != 200 || len(r.json(t)["data"].([]any)) != n {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
	for _, q := range []string{"status=weird", "date=2026-1-1", "store_id=nope", "limit=0", "starting_after=" + idB} {
		r := e.do("GET", "/v1/reconciliations?"+q, e.keyA, "")
		if code, _ := r.errorOf(t); r.status != 400 || code != "invalid_parameter" {
			t.Errorf("%s: %d %s", q, r.status, code)
		}
	}
}

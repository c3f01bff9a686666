package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
)

// createLink makes a payment link for key and returns its JSON.
func (e *env) createLink(key, body string) map[string]any {
	e.t.Helper()
	r := e.do("POST", "/v1/payment-links", key, body)
	if r.status != http.StatusCreated {
		e.t.Fatalf("create link: %d %s", r.status, r.body)
	}
	return r.json(e.t)
}

// TestLinkCreateRefusals: each bad field of a create is a 400 naming it,
// and nothing is stored.
func TestLinkCreateRefusals(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("长", 101)
	for _, tc := range []struct {
		body, param string
	}{
		{`{}`, "min_amount"},
		{`{"amount":0}`, "amount"},
		{`{"amount":-5}`, "amount"},
		{`{"amount":500001}`, "amount"},
		{`{"amount":100,"min_amount":1}`, "min_amount"},
		{`{"amount":100,"presets":[100]}`, "presets"},
		{`{"min_amount":0,"max_amount":100}`, "min_amount"},
		{`{"min_amount":1}`, "max_amount"},
		{`{"min_amount":200,"max_amount":100}`, "min_amount"},
		{`{"min_amount":1,"max_amount":500001}`, "max_amount"},
		{`{"min_amount":100,"max_amount":200,"presets":[50]}`, "presets"},
		{`{"min_amount":100,"max_amount":200,"presets":[150,150]}`, "presets"},
		{`{"min_amount":1,"max_amount":200,"presets":[1,2,3,4,5,6,7,8,9]}`, "presets"},
		{`{"amount":100,"description":"` + long + `"}`, "description"},
		{`{"amount":100,"description":"a\u0000b"}`, "description"},
		{`{"amount":100,"reference":"` + strings.Repeat("r", 129) + `"}`, "reference"},
		{`{"amount":100,"store":"nope"}`, "store"},
		{`{"amount":100,"store":"live"}`, "store"},
		{`{"amount":100,"wallets":["paypal"]}`, "wallets"},
		{`{"amount":100,"wallets":["wechat","wechat"]}`, "wallets"},
		{`{"amount":100,"store":"wx","wallets":["alipay"]}`, "wallets"},
		{`{"amount":100,"success_url":"https://evil.example/x"}`, "success_url"},
		{`{"amount":100,"cancel_url":"javascript:alert(1)"}`, "cancel_url"},
		{`{"amount":100,"late_policy":"keep"}`, "late_policy"},
		{`{"amount":100,"active_until":"tomorrow"}`, "active_until"},
		{`{"amount":100,"active_until":"2020-01-01T00:00:00Z"}`, "active_until"},
		{`{"amount":100,"max_payments":-1}`, "max_payments"},
		{`{"amount":100,"max_payments":1000001}`, "max_payments"},
		{`{"amount":100,"inactive_message":"` + strings.Repeat("x", 201) + `"}`, "inactive_message"},
		{`{"amount":100,"metadata":{"":"v"}}`, "metadata"},
		{`{"amount":"100"}`, "amount"},
		{`{"amount":100,"colour":"red"}`, "colour"},
	} {
		t.Run(tc.body[:min(len(tc.body), 60)], func(t *testing.T) {
			r := e.do("POST", "/v1/payment-links", e.keyA, tc.body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if _, param := r.errorOf(t); param != tc.param {
				t.Fatalf("param %q, want %q: %s", param, tc.param, r.body)
			}
		})
	}
	list := e.do("GET", "/v1/payment-links", e.keyA, "")
	if data := list.json(t)["data"].([]any); len(data) != 0 {
		t.Fatalf("refused creates stored %d links", len(data))
	}
}

func TestLinkCreateGetListUpdate(t *testing.T) {
	e := newEnv(t)
	fixed := e.createLink(e.keyA, `{"amount":1500,"description":"拿铁","max_payments":10,"success_url":"https://shop.example/ok/{CHECKOUT_ID}","metadata":{"table":"7"}}`)
	id := fixed["id"].(string)
	e.clk.Advance(time.Second) // the list orders by creation time
	if !checkout.ValidLinkID(id) || fixed["url"] != "https://pay.example/l/"+id || fixed["amount_type"] != "fixed" ||
		fixed["amount"] != float64(1500) || fixed["active"] != true || fixed["payments"] != float64(0) || fixed["late_policy"] != "refund" {
		t.Fatalf("created %v", fixed)
	}
	entered := e.createLink(e.keyA, `{"min_amount":100,"max_amount":20000,"presets":[1000,2000],"description":"随意付"}`)
	if entered["amount_type"] != "entered" || entered["min_amount"] != float64(100) || len(entered["presets"].([]any)) != 2 {
		t.Fatalf("entered %v", entered)
	}
	if r := e.do("GET", "/v1/payment-links/"+id, e.keyB, ""); r.status != http.StatusNotFound {
		t.Fatalf("another merchant's link: %d", r.status)
	}
	if r := e.do("GET", "/v1/payment-links/pl_nope", e.keyA, ""); r.status != http.StatusNotFound {
		t.Fatalf("a malformed id: %d", r.status)
	}
	got := e.do("GET", "/v1/payment-links/"+id, e.keyA, "").json(t)
	if got["description"] != "拿铁" || got["metadata"].(map[string]any)["table"] != "7" {
		t.Fatalf("read back %v", got)
	}
	page := e.do("GET", "/v1/payment-links?limit=1", e.keyA, "").json(t)
	if page["has_more"] != true || page["data"].([]any)[0].(map[string]any)["id"] != entered["id"] {
		t.Fatalf("first page %v", page)
	}
	page = e.do("GET", "/v1/payment-links?limit=1&starting_after="+page["next_cursor"].(string), e.keyA, "").json(t)
	if page["has_more"] != false || page["data"].([]any)[0].(map[string]any)["id"] != id {
		t.Fatalf("second page %v", page)
	}
	if r := e.do("GET", "/v1/payment-links", e.keyB, ""); len(r.json(t)["data"].([]any)) != 0 {
		t.Fatal("merchant B lists A's links")
	}

	// Idempotent create: a replay creates nothing.
	r1 := e.do("POST", "/v1/payment-links", e.keyA, `{"amount":300}`, "Idempotency-Key", "link-1")
	r2 := e.do("POST", "/v1/payment-links", e.keyA, `{"amount":300}`, "Idempotency-Key", "link-1")
	if r1.status != 201 || r2.status != 201 || string(r1.body) != string(r2.body) || r2.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %d %s", r1.status, r2.status, r2.header)
	}
	if r := e.do("POST", "/v1/payment-links", e.keyA, `{"amount":301}`, "Idempotency-Key", "link-1"); r.status != http.StatusConflict {
		t.Fatalf("same key, other body: %d", r.status)
	}

	// Updates: amount while unused, then locked once a checkout used it.
	up := e.do("POST", "/v1/payment-links/"+id, e.keyA, `{"amount":1800,"description":"大杯拿铁"}`)
	if up.status != 200 || up.json(t)["amount"] != float64(1800) {
		t.Fatalf("update unused: %d %s", up.status, up.body)
	}
	l, err := e.repo.GetLink(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Payments.CheckoutFromLink(context.Background(), l, 1800, checkout.LinkTap{}); err != nil {
		t.Fatal(err)
	}
	if r := e.do("POST", "/v1/payment-links/"+id, e.keyA, `{"amount":1}`); r.status != http.StatusConflict {
		t.Fatalf("amount of a used link: %d %s", r.status, r.body)
	} else if code, _ := r.errorOf(t); code != "amount_locked" {
		t.Fatalf("code %s", code)
	}
	for _, tc := range []struct{ body, param string }{
		{`{"description":"` + strings.Repeat("x", 101) + `"}`, "description"},
		{`{"max_payments":-2}`, "max_payments"},
		{`{"active_until":"yesterday"}`, "active_until"},
		{`{"inactive_message":"a\nb"}`, "inactive_message"},
		{`{"active":"no"}`, "active"},
		{`{"min_amount":5}`, "max_amount"},
	} {
		r := e.do("POST", "/v1/payment-links/"+id, e.keyA, tc.body)
		if _, param := r.errorOf(t); r.status != 400 || param != tc.param {
			t.Errorf("update %s: %d %s", tc.body, r.status, r.body)
		}
	}
	off := e.do("POST", "/v1/payment-links/"+id, e.keyA, `{"active":false,"inactive_message":"今日售罄"}`).json(t)
	if off["active"] != false || off["deactivated_by"] != "merchant" || off["inactive_message"] != "今日售罄" || off["amount_locked"] != true {
		t.Fatalf("deactivated %v", off)
	}
	if r := e.do("POST", "/v1/payment-links/"+id, e.keyB, `{"active":true}`); r.status != http.StatusNotFound {
		t.Fatalf("B updates A's link: %d", r.status)
	}

	// The checkouts it produced.
	cs := e.do("GET", "/v1/checkouts?payment_link="+id, e.keyA, "").json(t)["data"].([]any)
	if len(cs) != 1 || cs[0].(map[string]any)["payment_link"] != id || cs[0].(map[string]any)["amount"] != float64(1800) {
		t.Fatalf("checkouts of the link %v", cs)
	}
	if r := e.do("GET", "/v1/checkouts?payment_link="+id, e.keyB, ""); r.status != 400 {
		t.Fatalf("B lists A's link's checkouts: %d", r.status)
	}
	if r := e.do("GET", "/v1/checkouts?payment_link=garbage", e.keyA, ""); r.status != 400 {
		t.Fatalf("garbage filter: %d", r.status)
	}

	// Events: created (×4 links), updated (×3), deactivated by the merchant.
	evs := e.do("GET", "/v1/events?type=payment_link.deactivated", e.keyA, "").json(t)["data"].([]any)
	if len(evs) != 1 {
		b, _ := json.Marshal(evs)
		t.Fatalf("deactivated events: %s", b)
	}
	if n := len(e.do("GET", "/v1/events?type=payment_link.created", e.keyA, "").json(t)["data"].([]any)); n != 3 {
		t.Fatalf("%d created events", n)
	}
}

// TestLinkReactivateAtLimit: `active: true` on a link whose max_payments
// are all paid would answer 200 and leave the link unpayable: it is a 400
// naming active (changing nothing) unless the same update raises
// max_payments above the payments made, or removes the limit.
func TestLinkReactivateAtLimit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.createLink(e.keyA, `{"amount":500,"max_payments":1}`)["id"].(string)
	l, err := e.repo.GetLink(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	co, err := e.repo.CreateFromLink(ctx, l, 500, "", checkout.LinkTap{})
	if err != nil {
		t.Fatal(err)
	}
	if u, err := e.repo.ConsumeLinkSlot(ctx, id, co.ID, false); err != nil || !u.Deactivated {
		t.Fatalf("the one payment: %+v %v", u, err)
	}
	for _, body := range []string{`{"active":true}`, `{"active":true,"max_payments":1}`, `{"active":true,"description":"再来"}`} {
		r := e.do("POST", "/v1/payment-links/"+id, e.keyA, body)
		if code, param := r.errorOf(t); r.status != 400 || param != "active" || code != "invalid_parameter" || !strings.Contains(string(r.body), "max_payments") {
			t.Fatalf("%s: %d %s", body, r.status, r.body)
		}
	}
	if got, _ := e.repo.GetLink(ctx, id); got.Active || got.Description != "" || got.MaxPayments != 1 {
		t.Fatalf("a refused update changed the link: %+v", got)
	}
	for _, body := range []string{`{"active":true,"max_payments":2}`, `{"active":true,"max_payments":0}`} {
		if r := e.do("POST", "/v1/payment-links/"+id, e.keyA, body); r.status != 200 || r.json(t)["active"] != true {
			t.Fatalf("%s: %d %s", body, r.status, r.body)
		}
	}
	// Active, no limit, one payment taken: a limit of 1 would leave it
	// active and unpayable.
	if r := e.do("POST", "/v1/payment-links/"+id, e.keyA, `{"max_payments":1}`); r.status != 400 {
		t.Fatalf("limit at the payments taken: %d %s", r.status, r.body)
	} else if _, param := r.errorOf(t); param != "max_payments" {
		t.Fatalf("param %q", param)
	}
	if r := e.do("POST", "/v1/payment-links/"+id, e.keyA, `{"max_payments":1,"active":false}`); r.status != 200 || r.json(t)["active"] != false {
		t.Fatalf("limit with active false: %d %s", r.status, r.body)
	}
}

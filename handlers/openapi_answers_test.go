package handlers_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/handlers"
)

// TestOpenAPIAnswers drives every operation of the description through the
// whole service (app.New, real Redis, the sandbox gateway, the wallet
// emulator) — successes and the representative refusals: 400, 401, 404,
// 409, 415 and 429 with its headers — and checks that each answer, and
// each accepted request, validated against the description
// (OpenAPIValidating, which every handler test's server also goes
// through). It fails when an operation has no validated success or lacks
// one of the answers below.
func TestOpenAPIAnswers(t *testing.T) {
	var checks []*handlers.OpenAPICheck

	// The merchant API on a paying sandbox.
	e := newEvEnv(t)
	checks = append(checks, e.oas)
	do := func(want int, method, path, key, body string, hdr ...string) *handlers.Response {
		t.Helper()
		r := handlers.Do(t, e.api, method, path, key, body, hdr...)
		if r.Status != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, r.Status, r.Body, want)
		}
		return r
	}
	idOf := func(r *handlers.Response) string {
		t.Helper()
		id, _ := r.JSON(t)["id"].(string)
		if id == "" {
			t.Fatalf("no id in %s", r.Body)
		}
		return id
	}

	do(200, "GET", "/v1/openapi.json", "", "")

	// Checkouts.
	open := idOf(do(201, "POST", "/v1/checkouts", e.keyA, `{"amount":1000,"description":"两杯咖啡","reference":"o-1","metadata":{"table":"7"},"wallets":["wechat"],"expires_in":900}`,
		"Idempotency-Key", "oas-1"))
	if r := do(201, "POST", "/v1/checkouts", e.keyA, `{"amount":1000,"description":"两杯咖啡","reference":"o-1","metadata":{"table":"7"},"wallets":["wechat"],"expires_in":900}`,
		"Idempotency-Key", "oas-1"); r.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay without Idempotent-Replayed")
	}
	do(409, "POST", "/v1/checkouts", e.keyA, `{"amount":2000}`, "Idempotency-Key", "oas-1")
	do(400, "POST", "/v1/checkouts", e.keyA, `{"amount":0}`)
	do(400, "POST", "/v1/checkouts", e.keyA, `{"amount":100,"colour":"red"}`)
	do(400, "POST", "/v1/checkouts", e.keyA, `{"amount":100}`, "Idempotency-Key", "bad key")
	do(415, "POST", "/v1/checkouts", e.keyA, `{"amount":100}`, "Content-Type", "text/plain")
	do(401, "POST", "/v1/checkouts", "", `{"amount":100}`)
	do(401, "POST", "/v1/checkouts", "sk_test_nope", `{"amount":100}`)
	do(200, "GET", "/v1/checkouts?status=open&limit=5", e.keyA, "")
	do(400, "GET", "/v1/checkouts?status=lost", e.keyA, "")
	do(400, "GET", "/v1/checkouts?starting_after=co_000000000000000000000000", e.keyA, "")
	do(200, "GET", "/v1/checkouts/"+open, e.keyA, "")
	do(404, "GET", "/v1/checkouts/co_000000000000000000000000", e.keyA, "")
	do(404, "GET", "/v1/checkouts/"+open, e.keyB, "")

	// Payment links, and the checkouts one produced.
	link := idOf(do(201, "POST", "/v1/payment-links", e.keyA, `{"min_amount":100,"max_amount":20000,"presets":[500],"description":"随意付","max_payments":5,"active_until":"2099-01-01T00:00:00Z"}`,
		"Idempotency-Key", "oas-link"))
	do(201, "POST", "/v1/payment-links", e.keyA, `{"amount":1200,"description":"拿铁"}`)
	do(400, "POST", "/v1/payment-links", e.keyA, `{"amount":0}`)
	do(409, "POST", "/v1/payment-links", e.keyA, `{"amount":1}`, "Idempotency-Key", "oas-link")
	do(200, "GET", "/v1/payment-links?limit=1", e.keyA, "")
	do(400, "GET", "/v1/payment-links?starting_after=pl_000000000000000000000000", e.keyA, "")
	do(200, "GET", "/v1/payment-links/"+link, e.keyA, "")
	svg := do(200, "GET", "/v1/payment-links/"+link+"/qr.svg", e.keyA, "")
	do(304, "GET", "/v1/payment-links/"+link+"/qr.svg", e.keyA, "", "If-None-Match", svg.Header.Get("ETag"))
	do(200, "GET", "/v1/payment-links/"+link+"/qr.png?size=512", e.keyA, "")
	do(400, "GET", "/v1/payment-links/"+link+"/qr.png?size=4096", e.keyA, "")
	do(400, "GET", "/v1/payment-links/"+link+"/qr.svg?size=1", e.keyA, "")
	do(404, "GET", "/v1/payment-links/"+link+"/qr.png", e.keyB, "")
	do(404, "GET", "/v1/payment-links/pl_000000000000000000000000/qr.svg", e.keyA, "")
	do(404, "GET", "/v1/payment-links/"+link, e.keyB, "")
	do(200, "POST", "/v1/payment-links/"+link, e.keyA, `{"description":"随意付款"}`)
	do(400, "POST", "/v1/payment-links/"+link, e.keyA, `{"max_payments":-1}`)
	do(404, "POST", "/v1/payment-links/pl_000000000000000000000000", e.keyA, `{"active":false}`)
	if l, err := e.repo.GetLink(t.Context(), link); err != nil {
		t.Fatal(err)
	} else if _, err := e.repo.CreateFromLink(t.Context(), l, 700, "", checkout.LinkTap{}); err != nil {
		t.Fatal(err)
	}
	do(409, "POST", "/v1/payment-links/"+link, e.keyA, `{"min_amount":1,"max_amount":2}`)
	gone := idOf(do(201, "POST", "/v1/payment-links", e.keyA, `{"amount":300}`))
	do(404, "DELETE", "/v1/payment-links/"+gone, e.keyB, "")
	do(200, "DELETE", "/v1/payment-links/"+gone, e.keyA, "")
	do(404, "DELETE", "/v1/payment-links/"+gone, e.keyA, "")
	do(200, "POST", "/v1/payment-links/"+link, e.keyA, `{"active":false,"inactive_message":"打烊了"}`)
	do(200, "GET", "/v1/checkouts?payment_link="+link, e.keyA, "")
	do(400, "GET", "/v1/checkouts?payment_link=pl_000000000000000000000000", e.keyA, "")

	// A paid checkout: refunds, its events, then cancels.
	paid := e.paidCheckout()
	do(201, "POST", "/v1/checkouts/"+paid+"/refunds", e.keyA, `{"amount":300,"reason":"one was cold"}`, "Idempotency-Key", "re-1")
	do(201, "POST", "/v1/checkouts/"+paid+"/refunds", e.keyA, `{"amount":300,"reason":"one was cold"}`, "Idempotency-Key", "re-1")
	do(400, "POST", "/v1/checkouts/"+paid+"/refunds", e.keyA, `{"amount":300}`)
	do(400, "POST", "/v1/checkouts/"+paid+"/refunds", e.keyA, `{"amount":-1}`, "Idempotency-Key", "re-2")
	do(409, "POST", "/v1/checkouts/"+paid+"/refunds", e.keyA, `{"amount":100000}`, "Idempotency-Key", "re-3")
	do(409, "POST", "/v1/checkouts/"+open+"/refunds", e.keyA, `{"amount":100}`, "Idempotency-Key", "re-4")
	do(404, "POST", "/v1/checkouts/co_000000000000000000000000/refunds", e.keyA, `{"amount":100}`, "Idempotency-Key", "re-5")
	if r := do(200, "GET", "/v1/checkouts/"+paid, e.keyA, ""); len(r.JSON(t)["refunds"].([]any)) != 1 {
		t.Errorf("the paid checkout without its refund: %s", r.Body)
	}
	do(200, "POST", "/v1/checkouts/"+open+"/cancel", e.keyA, "")
	do(200, "POST", "/v1/checkouts/"+open+"/cancel", e.keyA, "")
	do(409, "POST", "/v1/checkouts/"+paid+"/cancel", e.keyA, "")
	do(404, "POST", "/v1/checkouts/co_000000000000000000000000/cancel", e.keyA, "")

	// Reconciliation of the day, with one order of the store's own POS
	// (explained) and one with one of our numbers that no checkout has (an
	// open difference, and its event).
	day := time.Now().Add(-time.Hour)
	date := day.In(time.FixedZone("UTC+8", 8*3600)).Format("2006-01-02")
	for _, o := range []sandbox.FaultOrder{
		{OutNo: "POS" + strconv.FormatInt(day.UnixNano(), 36), Amount: 100, AddTime: day},
		{OutNo: checkout.OutNo("co_ZZZZZZZZZZZZZZZZZZZZZZZZ", 1), Amount: 500, AddTime: day, Remark: "co_ZZZZZZZZZZZZZZZZZZZZZZZZ"},
	} {
		if _, err := e.sb.AddOrder(e.gs.OpenID, o); err != nil {
			t.Fatal(err)
		}
	}
	var run struct {
		ID          string
		Differences []struct{ ID, Class, Status string }
	}
	r := do(200, "POST", "/v1/reconciliations", e.keyA, fmt.Sprintf(`{"store_id":"main","date":%q}`, date))
	if err := json.Unmarshal(r.Body, &run); err != nil || len(run.Differences) < 2 {
		t.Fatalf("reconciliation: %s", r.Body)
	}
	do(400, "POST", "/v1/reconciliations", e.keyA, `{"store_id":"main","date":"yesterday"}`)
	do(400, "POST", "/v1/reconciliations", e.keyA, `{"store_id":"nope","date":"`+date+`"}`)
	do(200, "GET", "/v1/reconciliations?store_id=main&status=has_open_differences&limit=10", e.keyA, "")
	do(400, "GET", "/v1/reconciliations?status=dirty", e.keyA, "")
	do(200, "GET", "/v1/reconciliations/"+run.ID, e.keyA, "")
	do(404, "GET", "/v1/reconciliations/rc_nope", e.keyA, "")
	diff := "/v1/reconciliations/" + run.ID + "/differences/" + run.Differences[0].ID
	do(200, "POST", diff, e.keyA, `{"status":"resolved","note":"seen at the till"}`)
	do(409, "POST", diff, e.keyA, `{"status":"acknowledged"}`)
	do(400, "POST", diff, e.keyA, `{"status":"forgotten"}`)
	do(404, "POST", "/v1/reconciliations/"+run.ID+"/differences/df_nope", e.keyA, `{"status":"resolved"}`)

	// Events: the payment's, the refund's and the reconciliation's.
	var events struct{ Data []struct{ ID, Type string } }
	r = do(200, "GET", "/v1/events?limit=100", e.keyA, "")
	if err := json.Unmarshal(r.Body, &events); err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, ev := range events.Data {
		types[ev.Type] = true
		do(200, "GET", "/v1/events/"+ev.ID, e.keyA, "")
	}
	for _, want := range []string{"checkout.paid", "checkout.refund.succeeded", "checkout.cancelled", "reconciliation.mismatch"} {
		if !types[want] {
			t.Errorf("no %s event listed: %s", want, r.Body)
		}
	}
	do(200, "GET", "/v1/events?type=checkout.paid&checkout_id="+paid, e.keyA, "")
	do(400, "GET", "/v1/events?type=checkout.exploded", e.keyA, "")
	do(400, "GET", "/v1/events?limit=101", e.keyA, "")
	do(404, "GET", "/v1/events/evt_000000000000000000000000", e.keyA, "")
	do(404, "GET", "/v1/events/"+events.Data[0].ID, e.keyB, "")
	do(202, "POST", "/v1/events/"+events.Data[0].ID+"/resend", e.keyA, "")
	// The stream: one event from the start, then closed (validated when
	// its handler returns); a cursor it does not know.
	stream := openMerchantStream(t, e.api.URL, "?since="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), e.keyA)
	stream.next(t)
	stream.close()
	for deadline := time.Now().Add(30 * time.Second); !slices.Contains(e.oas.Validated()["streamEvents"], 200); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the closed stream was not validated within 30 s")
		}
	}
	do(400, "GET", "/v1/events/stream", e.keyA, "", "Last-Event-ID", "evt_000000000000000000000000")
	do(404, "POST", "/v1/events/evt_000000000000000000000000/resend", e.keyA, "")

	// The webhooks those events became: every delivered body validates
	// against its webhook's schema (the service's real bodies, not only
	// the golden ones package api checks).
	e.tick()
	delivered := e.rc.deliveries()
	for _, d := range delivered {
		if err := e.oas.CheckWebhook(d.typ, d.body); err != nil {
			t.Errorf("delivery %s: %v", d.id, err)
		}
	}
	for _, typ := range []string{"checkout.paid", "checkout.refund.succeeded", "checkout.cancelled", "reconciliation.mismatch"} {
		if len(e.oas.Validated()["webhook."+typ]) == 0 {
			t.Errorf("no %s delivery validated (%d deliveries)", typ, len(delivered))
		}
	}

	// 429: a key over its limit, an address over its failed
	// authentications.
	limited := newEvEnv(t, rates(t, "1/h", "1/h", ""))
	checks = append(checks, limited.oas)
	for i, want := range []int{200, 429} {
		if r := handlers.Do(t, limited.api, "GET", "/v1/events", limited.keyA, ""); r.Status != want {
			t.Fatalf("request %d: %d %s", i, r.Status, r.Body)
		}
	}
	for i, want := range []int{401, 429} {
		if r := handlers.Do(t, limited.api, "POST", "/v1/checkouts", "sk_test_nope", `{"amount":1}`); r.Status != want {
			t.Fatalf("failure %d: %d %s", i, r.Status, r.Body)
		}
	}

	// The mini-program's payment, with the wallet emulator's login.
	pg := newPgEnv(t, rates(t, "", "", "3/h"))
	checks = append(checks, pg.oas)
	mini := func(want int, id string, body string) {
		t.Helper()
		if r := handlers.Do(t, pg.srv, "POST", "/v1/checkouts/"+id+"/wechat-mini-program-payments", "", body); r.Status != want {
			t.Fatalf("mini-program %s: %d %s, want %d", body, r.Status, r.Body, want)
		}
	}
	ck := pg.newCheckout("native", 1500)
	secret := fmt.Sprintf(`{"client_secret":%q,"code":%q}`, ck.ClientSecret, pg.sim.MintMiniProgramCode(pgMiniApp, "mini-payer"))
	mini(200, ck.ID, secret)
	mini(400, ck.ID, `[]`)
	mini(404, "co_000000000000000000000000", secret)
	other := pg.newCheckout("native", 100)
	mini(401, other.ID, `{"client_secret":"wrong","code":"c"}`)
	mini(400, other.ID, fmt.Sprintf(`{"client_secret":%q}`, other.ClientSecret))
	mini(401, other.ID, `{"client_secret":"wrong","code":"c"}`)
	mini(429, other.ID, `{"client_secret":"wrong","code":"c"}`)
	cancelled := pg.newCheckout("native", 100)
	if _, err := pg.repo.Cancel(t.Context(), cancelled.ID); err != nil {
		t.Fatal(err)
	}
	mini(409, cancelled.ID, fmt.Sprintf(`{"client_secret":%q,"code":"c"}`, cancelled.ClientSecret))

	// What was validated, against what the description has.
	validated := map[string][]int{}
	for _, k := range checks {
		for op, sts := range k.Validated() {
			validated[op] = append(validated[op], sts...)
		}
	}
	want := map[string][]int{
		"getOpenAPI":                     {200},
		"createCheckout":                 {201, 400, 401, 409, 415},
		"listCheckouts":                  {200, 400},
		"getCheckout":                    {200, 404},
		"cancelCheckout":                 {200, 404, 409},
		"createRefund":                   {201, 400, 404, 409},
		"createMiniProgramPayment":       {200, 400, 401, 404, 409, 429},
		"listEvents":                     {200, 400, 429},
		"getEvent":                       {200, 404},
		"resendEvent":                    {202, 404},
		"streamEvents":                   {200, 400},
		"createReconciliation":           {200, 400},
		"listReconciliations":            {200, 400},
		"getReconciliation":              {200, 404},
		"updateReconciliationDifference": {200, 400, 404, 409},
		"createPaymentLink":              {201, 400, 409},
		"listPaymentLinks":               {200, 400},
		"getPaymentLink":                 {200, 404},
		"getPaymentLinkQRSVG":            {200, 304, 400, 404},
		"getPaymentLinkQRPNG":            {200, 400, 404},
		"updatePaymentLink":              {200, 400, 404, 409},
		"deletePaymentLink":              {200, 404},
	}
	ops := checks[0].Operations()
	for _, op := range ops {
		sts := validated[op]
		if !slices.ContainsFunc(sts, func(s int) bool { return s < 300 }) {
			t.Errorf("operation %s: no success answer validated (validated: %v)", op, sts)
		}
		w, ok := want[op]
		if !ok {
			t.Errorf("operation %s is not driven by this test: add it to want and drive it", op)
		}
		for _, s := range w {
			if !slices.Contains(sts, s) {
				t.Errorf("operation %s: no %d answer validated (validated: %v)", op, s, sts)
			}
		}
	}
	if len(ops) != len(want) {
		t.Errorf("%d operations described, %d driven", len(ops), len(want))
	}
	if !slices.Contains(validated["createCheckout"], 429) && !slices.Contains(validated["createCheckout"], 401) {
		t.Errorf("no refused authentication validated")
	}
}

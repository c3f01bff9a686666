package payments_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
)

type refundAnswer struct {
	status int
	ID     string `json:"id"`
	Status string `json:"status"`
	Amount int64  `json:"amount"`
	Kind   string `json:"kind"`
	// Failure is the last refusal (pending) or why it failed.
	Failure string `json:"failure"`
	// NextAttemptAt is when a refused refund is sent again.
	NextAttemptAt string `json:"next_attempt_at"`
	Error         *struct {
		Code string `json:"code"`
	} `json:"error"`
}

// postRefund calls POST /v1/checkouts/:id/refunds.
func (e *env) postRefund(id, key, body string) refundAnswer {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.api.URL+"/v1/checkouts/"+id+"/refunds", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.apiKey)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var a refundAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		e.t.Fatalf("refund answer %d is not JSON: %q", res.StatusCode, b)
	}
	a.status = res.StatusCode
	return a
}

// paidCheckout makes a checkout paid through the real path.
func (e *env) paidCheckout(amount int64) (*checkout.Checkout, *checkout.Attempt) {
	e.t.Helper()
	c := e.newCheckout(amount, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	e.pay(a)
	if _, err := e.svc.Confirm(context.Background(), a.OutNo); err != nil {
		e.t.Fatal(err)
	}
	if got := e.get(c.ID); got.Status != checkout.StatusPaid {
		e.t.Fatalf("checkout %s", got.Status)
	}
	return c, a
}

// TestConcurrentRefunds: 20 refunds of 100 fen race over a 1000 fen
// payment: exactly ten succeed, the rest are refused before anything is
// sent, and the gateway and the checkout agree on 1000 fen refunded.
func TestConcurrentRefunds(t *testing.T) {
	spy := &gwSpy{}
	e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	c, a := e.paidCheckout(1000)
	const n = 20
	answers := make([]refundAnswer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = e.postRefund(c.ID, fmt.Sprintf("key-%d", i), `{"amount":100,"reason":"退货"}`)
		}()
	}
	wg.Wait()
	ok, refused := 0, 0
	for i, r := range answers {
		switch {
		case r.status == http.StatusCreated && r.Status == "succeeded" && r.Amount == 100:
			ok++
		case r.status == http.StatusConflict && r.Error != nil && r.Error.Code == "refund_exceeds_refundable":
			refused++
		default:
			t.Errorf("refund %d: %+v", i, r)
		}
	}
	if ok != 10 || refused != 10 {
		t.Fatalf("%d succeeded, %d refused", ok, refused)
	}
	if spy.refundCalls() != 10 {
		t.Fatalf("%d payrefund calls, want 10", spy.refundCalls())
	}
	got := e.get(c.ID)
	if got.Status != checkout.StatusRefunded || got.Refunded != 1000 {
		t.Fatalf("checkout %s refunded %d", got.Status, got.Refunded)
	}
	if o, _ := e.sb.Order(e.sbStore.OpenID, a.OrdNo); o.Refunded != 1000 {
		t.Fatalf("gateway refunded %d", o.Refunded)
	}
	if n := len(e.events.of(c.ID, webhook.TypeRefundSucceeded)); n != 10 {
		t.Fatalf("%d refund events", n)
	}
	rs, err := e.svc.Refunds(context.Background(), c.ID)
	if err != nil || len(rs) != 10 {
		t.Fatalf("%d refunds listed, %v", len(rs), err)
	}
	for _, r := range rs {
		if r.Status != payments.RefundSucceeded || r.Kind != payments.KindMerchant || !strings.HasPrefix(r.ID, "re_") {
			t.Fatalf("refund %+v", r)
		}
	}
}

// TestRefundRequests: idempotency and bad input.
func TestRefundRequests(t *testing.T) {
	spy := &gwSpy{}
	e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	c, _ := e.paidCheckout(1000)
	first := e.postRefund(c.ID, "k1", `{"amount":300,"reason":"部分退款"}`)
	if first.status != http.StatusCreated || first.Status != "succeeded" {
		t.Fatalf("first: %+v", first)
	}
	again := e.postRefund(c.ID, "k1", `{"amount":300,"reason":"部分退款"}`)
	if again.status != http.StatusCreated || again.ID != first.ID {
		t.Fatalf("replay: %+v", again)
	}
	if spy.refundCalls() != 1 {
		t.Fatalf("%d payrefund calls after a replay", spy.refundCalls())
	}
	if got := e.get(c.ID); got.Status != checkout.StatusPartiallyRefunded || got.Refunded != 300 {
		t.Fatalf("checkout %s refunded %d", got.Status, got.Refunded)
	}
	open := e.newCheckout(1000, 30*time.Minute)
	for _, tc := range []struct {
		name, id, key, body string
		status              int
		code                string
	}{
		{"same key, other amount", c.ID, "k1", `{"amount":301,"reason":"部分退款"}`, 409, "idempotency_conflict"},
		{"no key", c.ID, "", `{"amount":1}`, 400, "invalid_parameter"},
		{"zero", c.ID, "k2", `{"amount":0}`, 400, "invalid_parameter"},
		{"negative", c.ID, "k3", `{"amount":-5}`, 400, "invalid_parameter"},
		// The refund body is decoded like every merchant API body: the
		// member at fault is named.
		{"fraction", c.ID, "k4", `{"amount":1.5}`, 400, "invalid_parameter"},
		{"string amount", c.ID, "k5", `{"amount":"100"}`, 400, "invalid_parameter"},
		{"unknown field", c.ID, "k6", `{"amount":1,"to":"me"}`, 400, "unknown_parameter"},
		{"name in capitals", c.ID, "k13", `{"AMOUNT":1}`, 400, "unknown_parameter"},
		{"amount twice", c.ID, "k14", `{"amount":1,"amount":700}`, 400, "duplicate_parameter"},
		{"garbage", c.ID, "k7", `{{{`, 400, "invalid_json"},
		{"reason too long", c.ID, "k8", `{"amount":1,"reason":"` + strings.Repeat("长", 81) + `"}`, 400, "invalid_parameter"},
		{"more than left", c.ID, "k9", `{"amount":701}`, 409, "refund_exceeds_refundable"},
		{"unpaid checkout", open.ID, "k10", `{"amount":1}`, 409, "checkout_not_refundable"},
		{"no such checkout", mustID(t), "k11", `{"amount":1}`, 404, "not_found"},
		{"garbage id", "co_..", "k12", `{"amount":1}`, 404, "not_found"},
		{"encoded slash in the id", "co_..%2F", "k15", `{"amount":1}`, 400, "invalid_path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.postRefund(tc.id, tc.key, tc.body)
			if r.status != tc.status || r.Error == nil || r.Error.Code != tc.code {
				t.Fatalf("got %d %+v, want %d %s", r.status, r.Error, tc.status, tc.code)
			}
		})
	}
	if spy.refundCalls() != 1 {
		t.Fatalf("%d payrefund calls after refused requests", spy.refundCalls())
	}
	rest := e.postRefund(c.ID, "k13", `{"amount":700}`)
	if rest.status != http.StatusCreated || rest.Status != "succeeded" {
		t.Fatalf("rest: %+v", rest)
	}
	if got := e.get(c.ID); got.Status != checkout.StatusRefunded || got.Refunded != 1000 {
		t.Fatalf("checkout %s refunded %d", got.Status, got.Refunded)
	}
	// The merchant API shows the checkout with both refunds.
	req, _ := http.NewRequest(http.MethodGet, e.api.URL+"/v1/checkouts/"+c.ID, nil)
	req.Header.Set("Authorization", "Bearer "+e.apiKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var view struct {
		Status         string `json:"status"`
		RefundedAmount int64  `json:"refunded_amount"`
		Refunds        []struct {
			ID     string `json:"id"`
			Amount int64  `json:"amount"`
			Status string `json:"status"`
		} `json:"refunds"`
	}
	if err := json.NewDecoder(res.Body).Decode(&view); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || view.Status != "refunded" || view.RefundedAmount != 1000 || len(view.Refunds) != 2 ||
		view.Refunds[0].ID != first.ID || view.Refunds[0].Amount != 300 || view.Refunds[1].Amount != 700 ||
		view.Refunds[0].Status != "succeeded" || view.Refunds[1].Status != "succeeded" {
		t.Fatalf("GET checkout %d: %+v", res.StatusCode, view)
	}
}

// TestRefundRefused: the gateway refuses (magic amount ..40, 8040): the
// refund stays pending, with the refusal in failure and its next try in
// next_attempt_at, holding its reservation; the merchant hears of it once
// (checkout.refund.deferred), and nothing has failed yet.
func TestRefundRefused(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	c, _ := e.paidCheckout(1000 + sandbox.MagicAmountRefundFails)
	r := e.postRefund(c.ID, "k0", `{"amount":1040}`)
	if r.status != http.StatusAccepted || r.Status != "pending" || !strings.Contains(r.Failure, "8040") {
		t.Fatalf("refused refund: %+v", r)
	}
	if next, err := time.Parse(time.RFC3339, r.NextAttemptAt); err != nil || next.Sub(e.clk.Now()) < 4*time.Minute ||
		next.Sub(e.clk.Now()) > 5*time.Minute {
		t.Fatalf("next_attempt_at %q (now %s): %v", r.NextAttemptAt, e.clk.Now().UTC(), err)
	}
	if again := e.postRefund(c.ID, "k1", `{"amount":1040}`); again.status != http.StatusConflict || again.Error == nil ||
		again.Error.Code != "refund_exceeds_refundable" {
		t.Fatalf("second refund while the first waits: %+v", again)
	}
	if got := e.get(c.ID); got.Status != checkout.StatusPaid || got.Refunded != 0 {
		t.Fatalf("checkout %s refunded %d", got.Status, got.Refunded)
	}
	if n := len(e.events.of(c.ID, webhook.TypeRefundDeferred)); n != 1 {
		t.Fatalf("%d deferred events", n)
	}
	if n := len(e.events.of(c.ID, webhook.TypeRefundFailed)); n != 0 {
		t.Fatalf("%d failed events", n)
	}
}

// TestRefundUnknownThenRestart: payrefund's answer is lost (the refund was
// made upstream); the process "restarts" (new components on the same
// Redis); the new reconciler resolves the refund by its refund_out_no,
// never sending it again, and reports it once.
func TestRefundUnknownThenRestart(t *testing.T) {
	spy := &gwSpy{}
	e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	c, a := e.paidCheckout(1000)
	// Also a payment in flight: paid upstream, not yet known to us.
	c2 := e.newCheckout(500, 30*time.Minute)
	a2 := e.order(c2, checkout.ScenarioQR, "")
	e.pay(a2)

	spy.refundUnknown.Store(true)
	r := e.postRefund(c.ID, "k1", `{"amount":400}`)
	if r.status != http.StatusAccepted || r.Status != "pending" {
		t.Fatalf("refund with a lost answer: %+v", r)
	}
	spy.refundUnknown.Store(false)

	e.start() // restart: fresh service, reconciler and handlers, same Redis
	e.clk.Advance(10 * time.Second)
	if err := e.rec.Tick(context.Background(), e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if spy.refundCalls() != 1 {
		t.Fatalf("payrefund sent %d times", spy.refundCalls())
	}
	got := e.get(c.ID)
	if got.Status != checkout.StatusPartiallyRefunded || got.Refunded != 400 {
		t.Fatalf("checkout %s refunded %d", got.Status, got.Refunded)
	}
	if o, _ := e.sb.Order(e.sbStore.OpenID, a.OrdNo); o.Refunded != 400 {
		t.Fatalf("gateway refunded %d", o.Refunded)
	}
	if n := len(e.events.of(c.ID, webhook.TypeRefundSucceeded)); n != 1 {
		t.Fatalf("%d refund events", n)
	}
	if got := e.get(c2.ID); got.Status != checkout.StatusPaid {
		t.Fatalf("in-flight payment after restart: %s", got.Status)
	}
	// The same Idempotency-Key after the restart answers the same refund.
	again := e.postRefund(c.ID, "k1", `{"amount":400}`)
	if again.ID != r.ID || again.Status != "succeeded" {
		t.Fatalf("replay after restart: %+v", again)
	}
	if spy.refundCalls() != 1 {
		t.Fatalf("payrefund sent %d times", spy.refundCalls())
	}
}

// TestEffectsSurviveEmitFailure: the event store fails while a notify is
// applied: the notify is not acknowledged; the retry emits the event once.
func TestEffectsSurviveEmitFailure(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	c := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	e.pay(a)
	e.events.fail.Store(true)
	if code, body := e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode()); code != 503 || body == gateway.NotifySuccess {
		t.Fatalf("notify with events down: %d %q", code, body)
	}
	if got := e.get(c.ID); got.Status != checkout.StatusPaid {
		t.Fatalf("checkout %s", got.Status)
	}
	e.events.fail.Store(false)
	// The gateway's retry comes 30 s later; within 2 s of the first
	// notify's paystatus a copy is answered 503 from the unsettled store.
	e.clk.Advance(2 * time.Second)
	for range 3 {
		if code, body := e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode()); code != 200 || body != gateway.NotifySuccess {
			t.Fatalf("retried notify: %d %q", code, body)
		}
	}
	if n := len(e.events.of(c.ID, webhook.TypePaid)); n != 1 {
		t.Fatalf("%d paid events", n)
	}
}

// TestCrashAfterTransition: a process recorded the payment and died before
// its event (with or without having claimed it). The gateway's next notify
// (or the reconciler) finds the effect owed and emits it, once.
func TestCrashAfterTransition(t *testing.T) {
	for _, claimed := range []bool{false, true} {
		t.Run(map[bool]string{false: "before claiming", true: "holding the claim"}[claimed], func(t *testing.T) {
			e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
			ctx := context.Background()
			c := e.newCheckout(1000, 30*time.Minute)
			a := e.order(c, checkout.ScenarioQR, "")
			e.pay(a)
			if p, err := e.repo.MarkPaid(ctx, c.ID, a.Seq, a.OrdNo); err != nil || !p.Changed {
				t.Fatalf("mark paid: %v %v", p, err)
			}
			if claimed {
				// The dead process's claim, with a second of lease left:
				// notifies meanwhile are told to come back later.
				lease := "run:" + strconv.FormatInt(e.clk.Now().Add(time.Second).UnixMilli(), 10)
				if err := e.rdb.Set(ctx, e.prefix+"notify:fx:{"+c.ID+"}:paid", lease, time.Hour).Err(); err != nil {
					t.Fatal(err)
				}
				if code, body := e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode()); code != 503 || body == gateway.NotifySuccess {
					t.Fatalf("notify while the claim holds: %d %q", code, body)
				}
				e.clk.Advance(2 * time.Second)
			}
			if code, body := e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode()); code != 200 || body != gateway.NotifySuccess {
				t.Fatalf("notify: %d %q", code, body)
			}
			if n := len(e.events.of(c.ID, webhook.TypePaid)); n != 1 {
				t.Fatalf("%d paid events", n)
			}
			e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode())
			if n := len(e.events.of(c.ID, webhook.TypePaid)); n != 1 {
				t.Fatalf("%d paid events after a duplicate", n)
			}
		})
	}
}

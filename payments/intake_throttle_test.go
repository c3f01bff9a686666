package payments_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
)

// secondProcess builds another notify service and notify intake on the
// env's Redis, prefix, clock, gateway spy and event sink: a replica.
func secondProcess(t *testing.T, e *env) *httptest.Server {
	t.Helper()
	h := e.build().Handler
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// windowKey is the notify paystatus window of attempt a (see intake.go).
func windowKey(e *env, a *checkout.Attempt) string {
	return e.prefix + "notify:nchk:{" + a.CheckoutID + "}:" + a.OutNo
}

// TestNotifyBurstOnePaystatus: 50 copies of one notify at once, over two
// replicas on one Redis, with the service clock standing still: paystatus
// is asked once, the checkout moves once, one paid event and one published
// update, and every copy is answered notify_success or 503, never 429.
func TestNotifyBurstOnePaystatus(t *testing.T) {
	spy := &gwSpy{}
	e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	other := secondProcess(t, e)
	ctx := context.Background()
	ps := e.rdb.Subscribe(ctx, e.svc.Channel())
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	c := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	e.pay(a)
	raw := e.notifyQuery(a, gateway.StatusPaid).Encode()
	urls := []string{payments.NotifyURL(e.api.URL, e.gs.OpenID), payments.NotifyURL(other.URL, e.gs.OpenID)}

	const n = 50
	var wg sync.WaitGroup
	codes := make([]int, n)
	bodies := make([]string, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			codes[i], bodies[i] = e.getRaw(urls[i%2] + "?" + raw)
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for i := range n {
		switch {
		case codes[i] == http.StatusOK && bodies[i] == gateway.NotifySuccess:
			ok++
		case codes[i] == http.StatusServiceUnavailable && bodies[i] != gateway.NotifySuccess:
		default:
			t.Errorf("copy %d: %d %q (want notify_success or 503)", i, codes[i], bodies[i])
		}
	}
	if ok == 0 {
		t.Fatal("no copy was answered notify_success")
	}
	t.Logf("%d of %d copies answered notify_success, the rest 503", ok, n)
	if calls := spy.statusCalls(a.OutNo); calls != 1 {
		t.Fatalf("paystatus asked %d times, want 1", calls)
	}
	got := e.get(c.ID)
	if got.Status != checkout.StatusPaid || got.PaidAttempt != a.Seq {
		t.Fatalf("checkout %s, paid attempt %d", got.Status, got.PaidAttempt)
	}
	if evs := e.events.of(c.ID, webhook.TypePaid); len(evs) != 1 {
		t.Fatalf("%d paid events, want 1 (all: %v)", len(evs), e.events.all(c.ID))
	}
	if updates := paidUpdates(ps, c.ID); updates != 1 {
		t.Fatalf("%d paid updates published, want 1", updates)
	}
}

// TestNotifyAfterWindow: within 2 s of the service clock a copy never asks
// paystatus again; after it, a copy asks again only while the stored state
// is not final, and a settled order is answered from the store.
func TestNotifyAfterWindow(t *testing.T) {
	spy := &gwSpy{}
	e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	c := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	raw := e.notifyQuery(a, gateway.StatusPaid).Encode()
	for i, step := range []struct {
		name    string
		advance time.Duration
		pay     bool
		code    int
		calls   int
	}{
		{"first copy, not paid yet", 0, false, 503, 1},
		{"same instant", 0, false, 503, 1},
		{"1.999 s later", 1999 * time.Millisecond, false, 503, 1},
		{"2 s later", time.Millisecond, false, 503, 2},
		{"paid upstream, same window", 0, true, 503, 2},
		{"next window", 2 * time.Second, false, 200, 3},
		{"settled, same window", 0, false, 200, 3},
		{"settled, next window", 2 * time.Second, false, 200, 3},
		{"settled, an hour later", time.Hour, false, 200, 3},
	} {
		e.clk.Advance(step.advance)
		if step.pay {
			e.pay(a)
		}
		code, body := e.sendNotify(raw)
		if code != step.code || (body == gateway.NotifySuccess) != (step.code == 200) {
			t.Fatalf("step %d (%s): %d %q, want %d", i, step.name, code, body, step.code)
		}
		if calls := spy.statusCalls(a.OutNo); calls != step.calls {
			t.Fatalf("step %d (%s): %d paystatus calls, want %d", i, step.name, calls, step.calls)
		}
	}
	if evs := e.events.of(c.ID, webhook.TypePaid); len(evs) != 1 || e.get(c.ID).Status != checkout.StatusPaid {
		t.Fatalf("paid events %d, checkout %s", len(evs), e.get(c.ID).Status)
	}
}

// TestNotifyCancelledOrder: a cancelled order is answered from the store
// without paystatus, unless a notify says paid: that claim is checked once
// per window (money that arrives after all is still recorded), and its
// copies within the window are answered from the store.
func TestNotifyCancelledOrder(t *testing.T) {
	var cancelled atomic.Bool
	spy := &gwSpy{statusEdit: func(o *gateway.Order) {
		if cancelled.Load() {
			o.Status = gateway.StatusCanceled
		}
	}}
	e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	c := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	cancelledRaw := e.notifyQuery(a, gateway.StatusCanceled).Encode()
	paidRaw := e.notifyQuery(a, gateway.StatusPaid).Encode()
	cancelled.Store(true)
	for i, step := range []struct {
		name    string
		advance time.Duration
		raw     string
		code    int
		calls   int
	}{
		{"cancel notify", 0, cancelledRaw, 200, 1},
		{"cancel copy, same window", 0, cancelledRaw, 200, 1},
		{"cancel copy, next window", 2 * time.Second, cancelledRaw, 200, 1},
		{"paid claim: checked", 0, paidRaw, 200, 2},
		{"paid claim copy, same window: from the store", 0, paidRaw, 200, 2},
		{"paid claim, next window: checked again", 2 * time.Second, paidRaw, 200, 3},
	} {
		e.clk.Advance(step.advance)
		code, body := e.sendNotify(step.raw)
		if code != step.code || (body == gateway.NotifySuccess) != (step.code == 200) {
			t.Fatalf("step %d (%s): %d %q, want %d", i, step.name, code, body, step.code)
		}
		if calls := spy.statusCalls(a.OutNo); calls != step.calls {
			t.Fatalf("step %d (%s): %d paystatus calls, want %d", i, step.name, calls, step.calls)
		}
	}
	if at := e.attempt(c.ID, a.Seq); at.Status != checkout.AttemptCancelled {
		t.Fatalf("attempt %s", at.Status)
	}
}

// TestNotifyFailedOrder: an attempt taken out of play after an amount
// mismatch (failed, its alert raised) is answered from the store, unless a
// notify says paid: that claim is checked once per window, like a
// cancelled order's (TestNotifyCancelledOrder), and raises no second alert.
func TestNotifyFailedOrder(t *testing.T) {
	spy := &gwSpy{}
	e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	c := e.newCheckout(1000+sandbox.MagicAmountDiffers, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	e.pay(a)
	paidRaw := e.notifyQuery(a, gateway.StatusPaid).Encode()
	cancelledRaw := e.notifyQuery(a, gateway.StatusCanceled).Encode()
	for i, step := range []struct {
		name    string
		advance time.Duration
		raw     string
		calls   int
	}{
		{"paid notify: mismatch found", 0, paidRaw, 1},
		{"paid copy, same window: from the store", 0, paidRaw, 1},
		{"cancelled notify: from the store", 0, cancelledRaw, 1},
		{"paid claim, next window: checked again", 2 * time.Second, paidRaw, 2},
		{"cancelled notify, next window: from the store", 2 * time.Second, cancelledRaw, 2},
	} {
		e.clk.Advance(step.advance)
		if code, body := e.sendNotify(step.raw); code != 200 || body != gateway.NotifySuccess {
			t.Fatalf("step %d (%s): %d %q", i, step.name, code, body)
		}
		if calls := spy.statusCalls(a.OutNo); calls != step.calls {
			t.Fatalf("step %d (%s): %d paystatus calls, want %d", i, step.name, calls, step.calls)
		}
	}
	if at := e.attempt(c.ID, a.Seq); at.Status != checkout.AttemptFailed {
		t.Fatalf("attempt %s", at.Status)
	}
	if n := len(e.events.of(c.ID, webhook.TypeAmountMismatch)); n != 1 {
		t.Fatalf("%d mismatch alerts, want 1", n)
	}
	if got := e.get(c.ID); got.Status == checkout.StatusPaid {
		t.Fatal("checkout paid with the wrong amount")
	}
}

// TestNotifyWhileAnotherChecks: another replica holds the window (it is
// asking paystatus and applying the payment). A copy waits, without asking
// paystatus itself, and answers notify_success once that check ended with
// the payment and its event stored; if the check never ends (the replica
// died), the copy gives up after a bounded wait with 503.
func TestNotifyWhileAnotherChecks(t *testing.T) {
	spy := &gwSpy{}
	e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	open := func(a *checkout.Attempt) string {
		t.Helper()
		v := strconv.FormatInt(e.clk.Now().UnixMilli(), 10) + ":run"
		if err := e.rdb.Set(ctx, windowKey(e, a), v, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		return v
	}

	t.Run("the check ends", func(t *testing.T) {
		c := e.newCheckout(1000, 30*time.Minute)
		a := e.order(c, checkout.ScenarioQR, "")
		e.pay(a)
		v := open(a)
		type answer struct {
			code int
			body string
		}
		done := make(chan answer, 1)
		go func() {
			code, body := e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode())
			done <- answer{code, body}
		}()
		// The other replica's check: paystatus, the payment, its event.
		if _, err := e.svc.Confirm(ctx, a.OutNo); err != nil {
			t.Error(err)
		}
		if err := e.rdb.Set(ctx, windowKey(e, a), strings.TrimSuffix(v, ":run")+":end", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		got := <-done
		if got.code != 200 || got.body != gateway.NotifySuccess {
			t.Fatalf("copy: %d %q", got.code, got.body)
		}
		if calls := spy.statusCalls(a.OutNo); calls != 1 {
			t.Fatalf("%d paystatus calls, want the other replica's one", calls)
		}
		if evs := e.events.of(c.ID, webhook.TypePaid); len(evs) != 1 {
			t.Fatalf("%d paid events", len(evs))
		}
	})

	t.Run("the check never ends", func(t *testing.T) {
		c := e.newCheckout(1000, 30*time.Minute)
		a := e.order(c, checkout.ScenarioQR, "")
		e.pay(a)
		open(a)
		began := time.Now()
		code, body := e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode())
		if code != http.StatusServiceUnavailable || body == gateway.NotifySuccess {
			t.Fatalf("copy: %d %q", code, body)
		}
		if waited := time.Since(began); waited > 10*time.Second {
			t.Fatalf("waited %s: the wait must be bounded", waited)
		}
		if calls := spy.statusCalls(a.OutNo); calls != 0 {
			t.Fatalf("%d paystatus calls within the window", calls)
		}
		if got := e.get(c.ID); got.Status != checkout.StatusPending {
			t.Fatalf("checkout %s", got.Status)
		}
		// The window passes on the service clock: the next copy checks.
		e.clk.Advance(2 * time.Second)
		if code, body := e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode()); code != 200 || body != gateway.NotifySuccess {
			t.Fatalf("after the window: %d %q", code, body)
		}
		if calls := spy.statusCalls(a.OutNo); calls != 1 {
			t.Fatalf("%d paystatus calls, want 1", calls)
		}
	})
}

// TestNotifyRedisDown: with Redis unreachable a notify is answered 503,
// never notify_success, and paystatus is not asked.
func TestNotifyRedisDown(t *testing.T) {
	m, rdb := redistestMiniredis(t)
	spy := &gwSpy{}
	e := newEnv(t, envConfig{rdb: rdb, spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	a := e.order(e.newCheckout(1000, 30*time.Minute), checkout.ScenarioQR, "")
	e.pay(a)
	m.Close()
	for range 2 {
		code, body := e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode())
		if code != http.StatusServiceUnavailable || body == gateway.NotifySuccess {
			t.Fatalf("notify with Redis down: %d %q", code, body)
		}
	}
	if calls := spy.statusCalls(a.OutNo); calls != 0 {
		t.Fatalf("%d paystatus calls with Redis down", calls)
	}
}

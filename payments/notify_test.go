package payments_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// TestDuplicateNotifies sends 100 copies of the same valid notify at once:
// exactly one transition (one published update), one paid event, and every
// answer is notify_success or an error the gateway retries.
func TestDuplicateNotifies(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
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

	const n = 100
	var wg sync.WaitGroup
	codes := make([]int, n)
	bodies := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], bodies[i] = e.sendNotify(raw)
		}()
	}
	wg.Wait()
	ok := 0
	for i := range n {
		switch {
		case codes[i] == http.StatusOK && bodies[i] == gateway.NotifySuccess:
			ok++
		case codes[i] == http.StatusServiceUnavailable && bodies[i] != gateway.NotifySuccess:
		default:
			t.Errorf("copy %d: %d %q", i, codes[i], bodies[i])
		}
	}
	if ok == 0 {
		t.Fatal("no copy was answered notify_success")
	}
	t.Logf("%d of %d copies answered notify_success, the rest 503", ok, n)
	got := e.get(c.ID)
	if got.Status != checkout.StatusPaid || got.Late || got.PaidAttempt != a.Seq {
		t.Fatalf("checkout = %s late=%v paid_attempt=%d", got.Status, got.Late, got.PaidAttempt)
	}
	if evs := e.events.of(c.ID, webhook.TypePaid); len(evs) != 1 {
		t.Fatalf("%d paid events, want 1 (all: %v)", len(evs), e.events.all(c.ID))
	}
	// One more, later: still notify_success, still one event.
	if code, body := e.sendNotify(raw); code != 200 || body != gateway.NotifySuccess {
		t.Fatalf("late duplicate: %d %q", code, body)
	}
	if evs := e.events.of(c.ID, webhook.TypePaid); len(evs) != 1 {
		t.Fatalf("%d paid events after a late duplicate", len(evs))
	}
	// Exactly one transition was published.
	if updates := paidUpdates(ps, c.ID); updates != 1 {
		t.Fatalf("%d paid updates published, want 1", updates)
	}
}

// TestNotifyRejected: forged, tampered, replayed-with-changed-status and
// garbage notifies never get notify_success and change nothing.
func TestNotifyRejected(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	c := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	e.pay(a) // paid at the gateway: only a valid notify (or paystatus) may tell us
	valid := e.notifyQuery(a, gateway.StatusCanceled)
	otherKey := gateway.MustParseKey("ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ")
	forged := gateway.CallbackQuery(otherKey, gateway.Callback{OrdNo: a.OrdNo, OutNo: a.OutNo, Status: gateway.StatusPaid,
		Timestamp: time.Now(), RandStr: "x"})
	flipped := e.notifyQuery(a, gateway.StatusCanceled)
	flipped.Set("status", "1")
	extra := e.notifyQuery(a, gateway.StatusPaid)
	extra.Set("amount", "1")
	unknown := gateway.CallbackQuery(e.gs.Key, gateway.Callback{OrdNo: "X1", OutNo: checkout.OutNo(mustID(t), 1),
		Status: gateway.StatusPaid, Timestamp: time.Now(), RandStr: "x"})
	notOurs := gateway.CallbackQuery(e.gs.Key, gateway.Callback{OrdNo: "X1", OutNo: "someone-else's", Status: gateway.StatusPaid,
		Timestamp: time.Now(), RandStr: "x"})
	noSign := e.notifyQuery(a, gateway.StatusPaid)
	noSign.Del("sign")
	dupField := e.notifyQuery(a, gateway.StatusPaid).Encode() + "&status=1"

	for _, tc := range []struct {
		name string
		path string // empty: our store's notify URL
		raw  string
		want int
	}{
		{"no sign", "", noSign.Encode(), 400},
		{"forged with another key", "", forged.Encode(), 400},
		{"status changed after signing", "", flipped.Encode(), 400},
		{"field added after signing", "", extra.Encode(), 400},
		{"repeated field", "", dupField, 400},
		{"empty query", "", "", 400},
		{"garbage query", "", "%zz&&;=%", 400},
		{"huge query", "", "rand_str=" + strings.Repeat("a", 10000), 400},
		{"unknown store", "/notify/nosuchstore", valid.Encode(), 404},
		{"unknown order, valid sign", "", unknown.Encode(), 404},
		{"not our out_no, valid sign", "", notOurs.Encode(), 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := e.api.URL + tc.path
			if tc.path == "" {
				u = e.api.URL + "/notify/" + e.gs.OpenID
			}
			code, body := e.getRaw(u + "?" + tc.raw)
			if code != tc.want || body == gateway.NotifySuccess {
				t.Fatalf("got %d %q, want %d", code, body, tc.want)
			}
			if got := e.get(c.ID); got.Status != checkout.StatusPending {
				t.Fatalf("checkout moved to %s", got.Status)
			}
			if evs := e.events.all(c.ID); len(evs) != 0 {
				t.Fatalf("events emitted: %v", evs)
			}
		})
	}
	// The valid notify says cancelled, but paystatus says paid: paid it is.
	if code, body := e.sendNotify(valid.Encode()); code != 200 || body != gateway.NotifySuccess {
		t.Fatalf("valid notify: %d %q", code, body)
	}
	if got := e.get(c.ID); got.Status != checkout.StatusPaid {
		t.Fatalf("after a valid notify saying cancelled for a paid order: %s", got.Status)
	}
}

func mustID(t testing.TB) string {
	id, err := checkout.NewID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestNotifyNotYetPaid: a valid notify whose order paystatus still calls
// awaiting stores nothing and is not acknowledged, so the gateway retries.
func TestNotifyNotYetPaid(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	c := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	code, body := e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode())
	if code != http.StatusServiceUnavailable || body == gateway.NotifySuccess {
		t.Fatalf("got %d %q", code, body)
	}
	if got := e.get(c.ID); got.Status != checkout.StatusPending {
		t.Fatalf("checkout %s", got.Status)
	}
}

// TestSandboxNotifyEndToEnd: the sandbox's own notify (real HTTP, its retry
// schedule) pays the checkout, before and after the payer's front-end jump.
func TestSandboxNotifyEndToEnd(t *testing.T) {
	for _, jumpFirst := range []bool{false, true} {
		name := "notify before jump"
		if jumpFirst {
			name = "jump before notify"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envConfig{sandbox: sandbox.Config{NotifyStep: 50 * time.Millisecond, NotifyDelay: 300 * time.Millisecond}})
			amount := int64(1000)
			if jumpFirst {
				amount = 1000 + sandbox.MagicAmountNotifyDelayed // the notify comes after the jump
			}
			c := e.newCheckout(amount, 30*time.Minute)
			a := e.order(c, checkout.ScenarioJump, "")
			e.pay(a)
			// The jump proves nothing: the same six fields, signed, but
			// only the notify path (which asks paystatus) makes paid. A
			// jump callback verifies like a notify yet is never fed to it.
			if _, err := gateway.VerifyCallback(e.gs.Key, e.notifyQuery(a, gateway.StatusPaid)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "paid by the sandbox's notify", func() bool { return e.get(c.ID).Status == checkout.StatusPaid })
			waitFor(t, 5*time.Second, "notify acknowledged", func() bool {
				o, _ := e.sb.Order(e.sbStore.OpenID, a.OrdNo)
				return len(o.Notifies) > 0 && o.Notifies[len(o.Notifies)-1].Delivered
			})
			if evs := e.events.of(c.ID, webhook.TypePaid); len(evs) != 1 {
				t.Fatalf("%d paid events", len(evs))
			}
		})
	}
}

// TestRedisDownDuringNotify: with Redis gone the notify is answered 503
// (never notify_success); once Redis is back, the sandbox's retry pays.
func TestRedisDownDuringNotify(t *testing.T) {
	m, rdb := redistestMiniredis(t)
	e := newEnv(t, envConfig{rdb: rdb, sandbox: sandbox.Config{NotifyStep: 100 * time.Millisecond}})
	c := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	m.Close()
	e.pay(a)
	waitFor(t, 5*time.Second, "two failed notify attempts", func() bool {
		o, _ := e.sb.Order(e.sbStore.OpenID, a.OrdNo)
		return len(o.Notifies) >= 2
	})
	o, _ := e.sb.Order(e.sbStore.OpenID, a.OrdNo)
	for _, n := range o.Notifies {
		if n.Delivered {
			t.Fatal("a notify was acknowledged while Redis was down")
		}
	}
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "paid after Redis came back", func() bool {
		c2, err := e.repo.Get(context.Background(), c.ID)
		return err == nil && c2.Status == checkout.StatusPaid
	})
	waitFor(t, 5*time.Second, "notify acknowledged", func() bool {
		o, _ := e.sb.Order(e.sbStore.OpenID, a.OrdNo)
		return o.Notifies[len(o.Notifies)-1].Delivered
	})
	if evs := e.events.of(c.ID, webhook.TypePaid); len(evs) != 1 {
		t.Fatalf("%d paid events", len(evs))
	}
}

// TestPaystatusNotOurs: a validly signed notify whose paystatus answer
// describes another order (another out_no or ord_no, or a refund order)
// never pays anything and is answered 404, not notify_success.
func TestPaystatusNotOurs(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(o *gateway.Order)
	}{
		{"other out_no", func(o *gateway.Order) { o.OutNo = "someone-else" }},
		{"other ord_no", func(o *gateway.Order) { o.OrdNo = "X" + o.OrdNo }},
		{"refund order", func(o *gateway.Order) { o.OrdType = gateway.OrderRefund }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spy := &gwSpy{statusEdit: tc.edit}
			e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
			c := e.newCheckout(1000, 30*time.Minute)
			a := e.order(c, checkout.ScenarioQR, "")
			e.pay(a)
			code, body := e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode())
			if code != http.StatusNotFound || body == gateway.NotifySuccess {
				t.Fatalf("got %d %q", code, body)
			}
			if got := e.get(c.ID); got.Status != checkout.StatusPending {
				t.Fatalf("checkout %s", got.Status)
			}
			if at := e.attempt(c.ID, a.Seq); at.Status != checkout.AttemptPending {
				t.Fatalf("attempt %s", at.Status)
			}
			if evs := e.events.all(c.ID); len(evs) != 0 {
				t.Fatalf("events %v", evs)
			}
		})
	}
}

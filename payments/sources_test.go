package payments_test

import (
	"context"
	"errors"
	"net/http"
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

// updateCounter counts the transitions published on the service's channel.
type updateCounter struct {
	mu sync.Mutex
	n  map[string]int // "id status" → count
}

func countUpdates(t *testing.T, e *env) *updateCounter {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ps := e.rdb.Subscribe(ctx, e.svc.Channel())
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	u := &updateCounter{n: map[string]int{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range ps.Channel() {
			f := strings.Fields(m.Payload)
			if len(f) == 3 {
				u.mu.Lock()
				u.n[f[0]+" "+f[1]]++
				u.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { cancel(); _ = ps.Close(); <-done })
	return u
}

// of waits a moment for messages in flight, then counts id's updates to status.
func (u *updateCounter) of(id string, status checkout.Status) int {
	time.Sleep(200 * time.Millisecond)
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.n[id+" "+string(status)]
}

// jump sends the payer's browser back through the gateway's front-end jump
// (GET /c/:id/return with the signed query the cashier adds) and returns
// the status and where it was sent.
func (e *env) jump(c *checkout.Checkout, a *checkout.Attempt, status gateway.Status) (int, string) {
	e.t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(e.api.URL + "/c/" + c.ID + "/return?" + e.notifyQuery(a, status).Encode())
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Location")
}

// TestJumpCallbackAndNotify: the front-end jump before the payment, before
// the notify and after it. The jump (even one signed and saying paid) never
// marks anything paid by itself: it only makes the service ask paystatus
// sooner. Whatever the order, one transition and one paid event.
func TestJumpCallbackAndNotify(t *testing.T) {
	spy := &gwSpy{}
	e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	updates := countUpdates(t, e)
	// waitCheck waits for the jump's asynchronous paystatus.
	waitCheck := func(a *checkout.Attempt, calls int) {
		t.Helper()
		waitFor(t, 5*time.Second, "the jump's paystatus", func() bool { return spy.statusCalls(a.OutNo) >= calls })
		time.Sleep(50 * time.Millisecond) // let it store what it learnt
	}

	t.Run("jump before notify", func(t *testing.T) {
		c := e.newCheckout(1000, 30*time.Minute)
		a := e.order(c, checkout.ScenarioJump, "")
		// A jump saying paid while the order is unpaid upstream.
		if code, loc := e.jump(c, a, gateway.StatusPaid); code != http.StatusSeeOther || loc != "/c/"+c.ID+"/result?wallet=ok" {
			t.Fatalf("jump: %d %q", code, loc)
		}
		waitCheck(a, 1)
		if got := e.get(c.ID); got.Status != checkout.StatusPending {
			t.Fatalf("an unconfirmed jump moved the checkout to %s", got.Status)
		}
		if evs := e.events.all(c.ID); len(evs) != 0 {
			t.Fatalf("events after an unconfirmed jump: %v", evs)
		}
		// Paid upstream; the payer comes back before the gateway's notify.
		e.pay(a)
		e.clk.Advance(2 * time.Second) // past the check-now rate limit
		if code, _ := e.jump(c, a, gateway.StatusPaid); code != http.StatusSeeOther {
			t.Fatalf("jump: %d", code)
		}
		waitFor(t, 5*time.Second, "paid through paystatus", func() bool { return e.get(c.ID).Status == checkout.StatusPaid })
		// The notify arrives afterwards: acknowledged, nothing more happens.
		for range 2 {
			if code, body := e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode()); code != 200 || body != gateway.NotifySuccess {
				t.Fatalf("notify after the jump: %d %q", code, body)
			}
		}
		if n := len(e.events.of(c.ID, webhook.TypePaid)); n != 1 {
			t.Fatalf("%d paid events; all %v", n, e.events.all(c.ID))
		}
		if n := updates.of(c.ID, checkout.StatusPaid); n != 1 {
			t.Fatalf("%d paid transitions published", n)
		}
	})

	t.Run("notify before jump", func(t *testing.T) {
		c := e.newCheckout(1000, 30*time.Minute)
		a := e.order(c, checkout.ScenarioJump, "")
		e.pay(a)
		if code, body := e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode()); code != 200 || body != gateway.NotifySuccess {
			t.Fatalf("notify: %d %q", code, body)
		}
		if got := e.get(c.ID); got.Status != checkout.StatusPaid {
			t.Fatalf("checkout %s after the notify", got.Status)
		}
		calls := spy.statusCalls(a.OutNo)
		e.clk.Advance(2 * time.Second)
		if code, loc := e.jump(c, a, gateway.StatusPaid); code != http.StatusSeeOther || loc != "/c/"+c.ID+"/result?wallet=ok" {
			t.Fatalf("jump: %d %q", code, loc)
		}
		// The jump's check finds nothing left to ask (no unsettled attempt).
		time.Sleep(200 * time.Millisecond)
		if n := spy.statusCalls(a.OutNo); n != calls {
			t.Errorf("paystatus asked %d more times for a paid attempt", n-calls)
		}
		if n := len(e.events.of(c.ID, webhook.TypePaid)); n != 1 {
			t.Fatalf("%d paid events; all %v", n, e.events.all(c.ID))
		}
		if n := updates.of(c.ID, checkout.StatusPaid); n != 1 {
			t.Fatalf("%d paid transitions published", n)
		}
	})
}

// TestAllSourcesOnce: notifies, jump callbacks, the reconciler and "please
// check now" all race on one paid order: one transition, one paid event.
func TestAllSourcesOnce(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	updates := countUpdates(t, e)
	ctx := context.Background()
	for round := range 3 {
		c := e.newCheckout(1000, 30*time.Minute)
		a := e.order(c, checkout.ScenarioJump, "")
		e.pay(a)
		e.clk.Advance(6 * time.Second) // the attempt is due for the reconciler
		raw := e.notifyQuery(a, gateway.StatusPaid).Encode()
		replica := payments.NewReconciler(e.svc)
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch i % 4 {
				case 0:
					if code, body := e.sendNotify(raw); code != 200 && code != 503 || code == 503 && body == gateway.NotifySuccess {
						errs <- errors.New("notify answered " + body)
					}
				case 1:
					if code, _ := e.jump(c, a, gateway.StatusPaid); code != http.StatusSeeOther {
						errs <- errors.New("jump not redirected")
					}
				case 2:
					r := e.rec
					if i%8 == 2 {
						r = replica
					}
					if err := r.Tick(ctx, e.clk.Now()); err != nil {
						errs <- err
					}
				case 3:
					if _, err := e.svc.CheckNow(ctx, c.ID); err != nil && !errors.Is(err, payments.ErrRateLimited) {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("round %d: %v", round, err)
		}
		// Whatever was left (a busy effect, a claimed work item) settles.
		waitFor(t, 5*time.Second, "paid event", func() bool { return len(e.events.of(c.ID, webhook.TypePaid)) > 0 })
		if code, body := e.sendNotify(raw); code != 200 || body != gateway.NotifySuccess {
			t.Fatalf("round %d: notify after the race: %d %q", round, code, body)
		}
		if got := e.get(c.ID); got.Status != checkout.StatusPaid || got.PaidAttempt != a.Seq {
			t.Fatalf("round %d: checkout %s paid_attempt %d", round, got.Status, got.PaidAttempt)
		}
		if n := len(e.events.of(c.ID, webhook.TypePaid)); n != 1 {
			t.Fatalf("round %d: %d paid events; all %v", round, n, e.events.all(c.ID))
		}
		if n := updates.of(c.ID, checkout.StatusPaid); n != 1 {
			t.Fatalf("round %d: %d paid transitions published", round, n)
		}
	}
}

// TestNotifyGatewayDown: a valid notify while paystatus cannot be reached is
// answered 503, never notify_success, and changes nothing; the gateway's
// retry, once paystatus answers, pays.
func TestNotifyGatewayDown(t *testing.T) {
	spy := &gwSpy{}
	e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	c := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	e.pay(a)
	raw := e.notifyQuery(a, gateway.StatusPaid).Encode()
	spy.statusDown.Store(true)
	if code, body := e.sendNotify(raw); code != http.StatusServiceUnavailable || body == gateway.NotifySuccess {
		t.Fatalf("notify with the gateway down: %d %q", code, body)
	}
	if got := e.get(c.ID); got.Status != checkout.StatusPending {
		t.Fatalf("checkout %s without a paystatus", got.Status)
	}
	if evs := e.events.all(c.ID); len(evs) != 0 {
		t.Fatalf("events without a paystatus: %v", evs)
	}
	spy.statusDown.Store(false)
	// The gateway's retry comes 30 s later; within 2 s of the first
	// notify's paystatus a copy is answered 503 without asking again.
	e.clk.Advance(2 * time.Second)
	if code, body := e.sendNotify(raw); code != 200 || body != gateway.NotifySuccess {
		t.Fatalf("retried notify: %d %q", code, body)
	}
	if got := e.get(c.ID); got.Status != checkout.StatusPaid {
		t.Fatalf("checkout %s after the retry", got.Status)
	}
}

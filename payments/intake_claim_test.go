package payments_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
)

// TestNotifyPaidClaimCheckFailed: a notify says paid for an attempt we hold
// cancelled (money that may have arrived after all), and its paystatus
// check fails (the gateway is unreachable). A copy of that notify within
// the same window must not be answered success from the store: nothing
// confirmed the claim, and once the gateway has its success it stops
// sending, while the reconciler no longer watches a cancelled attempt. The
// payment would stay unrecorded. The copy is refused (503) and a retry in
// the next window checks, records the payment and is answered success.
func TestNotifyPaidClaimCheckFailed(t *testing.T) {
	spy := &gwSpy{}
	e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	c := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	if _, err := e.repo.UpdateAttempt(ctx, c.ID, a.Seq, checkout.AttemptCancelled, ""); err != nil {
		t.Fatal(err)
	}
	e.pay(a) // paid at the gateway all the same
	paid := func() error { return e.svc.Notify(ctx, e.gs.OpenID, e.notifyQuery(a, gateway.StatusPaid)) }

	spy.statusDown.Store(true)
	if err := paid(); err == nil {
		t.Fatal("notify answered success while paystatus was unreachable")
	}
	spy.statusDown.Store(false)
	calls := spy.statusCalls(a.OutNo)
	err := paid()
	if !errors.Is(err, payments.ErrRecentlyChecked) {
		t.Fatalf("copy in the failed check's window: %v, want ErrRecentlyChecked (503)", err)
	}
	if n := spy.statusCalls(a.OutNo); n != calls {
		t.Fatalf("the copy asked paystatus within the window (%d calls)", n-calls)
	}
	e.clk.Advance(2 * time.Second)
	if err := paid(); err != nil {
		t.Fatalf("retry in the next window: %v", err)
	}
	if at := e.attempt(c.ID, a.Seq); at.Status != checkout.AttemptPaid {
		t.Fatalf("attempt %s: the payment was not recorded", at.Status)
	}
	if got := e.get(c.ID); got.Status != checkout.StatusPaid {
		t.Fatalf("checkout %s", got.Status)
	}
	if n := len(e.events.of(c.ID, webhook.TypePaid)); n != 1 {
		t.Fatalf("%d paid events, want 1", n)
	}
}

package payments_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/payments"
)

// The cashier's signed "cancelled" marks the attempt returned unpaid and
// leaves it pending (a payment that lands later counts); "paid" and
// "awaiting" change nothing, nor does a forged jump.
func TestReturnedUnpaid(t *testing.T) {
	e := newEnv(t, envConfig{})
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		status gateway.Status
		marked bool
	}{
		{"cancelled at the cashier", gateway.StatusCanceled, true},
		{"paid", gateway.StatusPaid, false},
		{"still awaiting payment", gateway.StatusAwaiting, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.newCheckout(1500, 30*time.Minute)
			a := e.order(c, checkout.ScenarioJump, "")
			if err := e.svc.Returned(ctx, e.get(c.ID), e.notifyQuery(a, tc.status)); err != nil {
				t.Fatalf("returned: %v", err)
			}
			got := e.attempt(c.ID, a.Seq)
			if marked := !got.ReturnedUnpaid.IsZero(); marked != tc.marked || got.Status != checkout.AttemptPending {
				t.Errorf("attempt %s, returned unpaid %v; want pending, marked %v", got.Status, got.ReturnedUnpaid, tc.marked)
			}
		})
	}
	t.Run("a payment after the cancel counts", func(t *testing.T) {
		c := e.newCheckout(1600, 30*time.Minute)
		a := e.order(c, checkout.ScenarioJump, "")
		if err := e.svc.Returned(ctx, e.get(c.ID), e.notifyQuery(a, gateway.StatusCanceled)); err != nil {
			t.Fatal(err)
		}
		e.pay(a)
		if _, err := e.svc.Confirm(ctx, a.OutNo); err != nil {
			t.Fatal(err)
		}
		if got := e.get(c.ID); got.Status != checkout.StatusPaid {
			t.Errorf("checkout %s after paying the cancelled-at-the-cashier order, want paid", got.Status)
		}
	})
	t.Run("forged", func(t *testing.T) {
		c := e.newCheckout(1700, 30*time.Minute)
		a := e.order(c, checkout.ScenarioJump, "")
		q := e.notifyQuery(a, gateway.StatusCanceled)
		q.Set("sign", "0"+q.Get("sign")[1:])
		if err := e.svc.Returned(ctx, e.get(c.ID), q); !errors.Is(err, payments.ErrBadSignature) {
			t.Errorf("forged jump: %v, want ErrBadSignature", err)
		}
		if got := e.attempt(c.ID, a.Seq); !got.ReturnedUnpaid.IsZero() {
			t.Error("a forged jump marked the attempt")
		}
	})
}

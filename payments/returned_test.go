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
// "awaiting" do not mark it, a retry on the same order or such a return
// clears the mark, and a forged jump changes nothing.
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
			saidPaid, err := e.svc.Returned(ctx, e.get(c.ID), e.notifyQuery(a, tc.status))
			if err != nil {
				t.Fatalf("returned: %v", err)
			}
			if want := tc.status == gateway.StatusPaid; saidPaid != want {
				t.Errorf("said paid %v, want %v (only the cashier's signed paid is the wallet's OK)", saidPaid, want)
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
		if _, err := e.svc.Returned(ctx, e.get(c.ID), e.notifyQuery(a, gateway.StatusCanceled)); err != nil {
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
	t.Run("back on the same order", func(t *testing.T) {
		// After a cancel at the cashier the payer tries again: the same
		// order's cashier is handed out, and the order may be being paid,
		// so the mark goes; a later return that is not "cancelled" (the
		// payer paid, the money on its way) clears it too.
		c := e.newCheckout(1800, 30*time.Minute)
		req := payments.StartRequest{CheckoutID: c.ID, Wallet: checkout.MethodWeChat, Scenario: checkout.ScenarioJump,
			JumpURL: "https://pay.example/c/" + c.ID + "/return"}
		act, err := e.svc.Start(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		a := e.attempt(c.ID, act.AttemptSeq)
		for i, tc := range []struct {
			status gateway.Status
			again  bool
		}{{gateway.StatusCanceled, true}, {gateway.StatusCanceled, false}} {
			if _, err := e.svc.Returned(ctx, e.get(c.ID), e.notifyQuery(a, tc.status)); err != nil {
				t.Fatal(err)
			}
			if e.attempt(c.ID, a.Seq).ReturnedUnpaid.IsZero() {
				t.Fatalf("round %d: not marked", i+1)
			}
			if tc.again {
				again, err := e.svc.Start(ctx, req)
				if err != nil || !again.Reused || again.AttemptSeq != a.Seq {
					t.Fatalf("retry: %+v %v, want the same order again", again, err)
				}
			} else if _, err := e.svc.Returned(ctx, e.get(c.ID), e.notifyQuery(a, gateway.StatusAwaiting)); err != nil {
				t.Fatal(err)
			}
			if got := e.attempt(c.ID, a.Seq).ReturnedUnpaid; !got.IsZero() {
				t.Errorf("round %d: still marked returned unpaid (%v) with the payer back on the order", i+1, got)
			}
		}
	})
	t.Run("forged", func(t *testing.T) {
		c := e.newCheckout(1700, 30*time.Minute)
		a := e.order(c, checkout.ScenarioJump, "")
		q := e.notifyQuery(a, gateway.StatusCanceled)
		// Change the signature's first character to another one (setting
		// it to "0" left it valid whenever it began with "0": 1 run in 16).
		sign := q.Get("sign")
		first := "0"
		if sign[0] == '0' {
			first = "1"
		}
		q.Set("sign", first+sign[1:])
		if _, err := e.svc.Returned(ctx, e.get(c.ID), q); !errors.Is(err, payments.ErrBadSignature) {
			t.Errorf("forged jump: %v, want ErrBadSignature", err)
		}
		if got := e.attempt(c.ID, a.Seq); !got.ReturnedUnpaid.IsZero() {
			t.Error("a forged jump marked the attempt")
		}
	})
}

package payments_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
)

// TestLateRefundAfterMerchantRefund: a late payment (policy refund) is
// recorded paid, and the merchant refunds some or all of it before the
// policy's automatic refund reserves its amount (a crash or a slow notify
// in between). The policy refunds what is left, once, and its follow-up
// ends; before, the automatic refund was refused as exceeding what was
// left and the payment's follow-up failed again at every look, forever.
func TestLateRefundAfterMerchantRefund(t *testing.T) {
	for _, tc := range []struct {
		name     string
		merchant int64 // fen the merchant refunds first
		late     int64 // fen the policy then refunds
		event    string
	}{
		{"part", 300, 700, webhook.TypeLatePaymentRefunded},
		{"all", 1000, 0, webhook.TypePaid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envConfig{latePolicy: checkout.LatePolicyRefund, sandbox: sandbox.Config{DropNotifies: true}})
			ctx := context.Background()
			c := e.newCheckout(1000, time.Minute)
			a := e.order(c, checkout.ScenarioQR, "")
			e.clk.Advance(2 * time.Minute)
			if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
				t.Fatal(err)
			}
			e.pay(a)
			// Recorded paid by a confirmation that died right after.
			o, _ := e.sb.Order(e.sbStore.OpenID, a.OutNo)
			if _, err := e.repo.MarkPaid(ctx, c.ID, a.Seq, o.OrdNo); err != nil {
				t.Fatal(err)
			}
			r, err := e.svc.Refund(ctx, e.merchant.ID, c.ID, payments.RefundRequest{Amount: tc.merchant, IdempotencyKey: "k1"})
			if err != nil || r.Status != payments.RefundSucceeded {
				t.Fatalf("merchant refund %+v %v", r, err)
			}
			if _, err := e.svc.Confirm(ctx, a.OutNo); err != nil {
				t.Fatalf("confirm after the merchant's refund: %v", err)
			}
			got := e.get(c.ID)
			up, _ := e.sb.Order(e.sbStore.OpenID, a.OutNo)
			if got.Status != checkout.StatusRefunded || got.Refunded != 1000 || up.Refunded != 1000 {
				t.Fatalf("checkout %s refunded %d, upstream %d; want refunded 1000 both", got.Status, got.Refunded, up.Refunded)
			}
			rs, _ := e.svc.Refunds(ctx, c.ID)
			var late []payments.Refund
			for _, r := range rs {
				if r.Kind == payments.KindLate {
					late = append(late, r)
				}
			}
			switch {
			case tc.late == 0 && len(late) != 0:
				t.Fatalf("late refund made though nothing was left: %+v", late)
			case tc.late > 0 && (len(late) != 1 || late[0].Amount != tc.late || late[0].Status != payments.RefundSucceeded):
				t.Fatalf("late refunds %+v, want one of %d succeeded", late, tc.late)
			}
			if n := len(e.events.of(c.ID, tc.event)); n != 1 {
				t.Fatalf("%d %s events; all %v", n, tc.event, e.events.all(c.ID))
			}
			// Later looks find the follow-up done.
			e.clk.Advance(time.Hour)
			if _, err := e.svc.Confirm(ctx, a.OutNo); err != nil && !errors.Is(err, payments.ErrRecentlyChecked) {
				t.Fatalf("second confirm: %v", err)
			}
		})
	}
}

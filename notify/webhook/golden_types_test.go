package webhook

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/apiobject"
	"github.com/wallet-checkout/checkout/checkout"
)

// eventsGoldenDir holds one body of each event type (testdata/events/TYPE.json),
// the wire format merchants receive. The OpenAPI description's tests
// (package api) validate each against its webhook's schema.
const eventsGoldenDir = "testdata/events"

// goldenEvent is a representative event of typ, as the service emits it:
// the checkout in the state the type leaves it, and the details the type
// carries (refund, mismatch, reconciliation).
func goldenEvent(t *testing.T, typ string) Event {
	t.Helper()
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	if typ == TypeReconciliationMismatch {
		// One of a checkout's orders this time: checkout_id set, no snapshot.
		e, err := NewReconciliationEvent("m_acme", "co_0123456789ABCDEFabcdefXY", testReconciliation(), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		e.ID = "evt_9QwErTyUiOpAsDfGhJkLzXcV"
		return e
	}
	if typ == TypePing {
		e, err := NewPingEvent("m_acme", now)
		if err != nil {
			t.Fatal(err)
		}
		e.ID = "evt_3PiNgZxCvBnMaSdFgHjKlQwE"
		return e
	}
	if LinkType(typ) {
		l := &checkout.PaymentLink{
			ID: "pl_0123456789ABCDEFabcdefXY", MerchantID: "m_acme", StoreID: "s_main",
			MinAmount: 100, MaxAmount: 50000, Description: "门店收款", Active: true,
			MaxPayments: 10, Payments: 3, CreatedAt: now, UpdatedAt: now.Add(time.Minute),
			LatePolicy: checkout.LatePolicyRefund, Wallets: []checkout.Method{checkout.MethodWeChat, checkout.MethodAlipay},
		}
		if typ == TypePaymentLinkDeactivated {
			l.Active, l.DeactivatedBy, l.Payments = false, checkout.DeactivatedByLimit, 10
		}
		e, err := NewLinkEvent(typ, l, testPublicURL, now.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		e.ID = "evt_7PlInKzXcVbNmAsDfGhJkLqW"
		return e
	}
	c := testCheckout(t, "m_acme", now)
	c.ID = "co_0123456789ABCDEFabcdefXY"
	c.ClientSecret = "co_0123456789ABCDEFabcdefXY_secret_0123456789abcdefghijABCDEFGHIJ0123"
	c.ExpiresAt = now.Add(30 * time.Minute)
	switch typ {
	case TypeExpired:
		c.Status, c.PaidAt = checkout.StatusExpired, time.Time{}
	case TypeCancelled:
		c.Status, c.PaidAt = checkout.StatusCancelled, time.Time{}
	case TypeAmountMismatch:
		c.Status, c.PaidAt = checkout.StatusPending, time.Time{}
	case TypeRefundSucceeded:
		c.Status, c.Refunded = checkout.StatusPartiallyRefunded, 300
	case TypePaid:
		c.Metadata = nil
		c.PaymentLink = "pl_0123456789ABCDEFabcdefXY"
	case TypeDuplicatePaymentRefunded:
		c.Metadata = nil // a checkout without metadata: the member is left out
	case TypeLatePaymentRefunded:
		c.Status, c.Late, c.PaidAt = checkout.StatusExpired, true, time.Time{}
	}
	e, err := NewEvent(typ, c, testPublicURL, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	e.ID = "evt_4mZ2h1pQd8Kx0aT6bW3cY9rN"
	switch typ {
	case TypeRefundSucceeded:
		e.Data.Refund = testRefund(c, "re_1", 300, "merchant", "succeeded", "requested_by_customer", "", 1, now)
	case TypeRefundFailed:
		e.Data.Refund = testRefund(c, "re_1", 300, "merchant", "failed", "", "8040 退款金额超过当日收款", 1, now)
	case TypeRefundDeferred:
		e.Data.Refund = testRefund(c, "re_1", 300, "merchant", "pending", "requested_by_customer", "8040 退款金额超过当日收款", 1, now)
		e.Data.Refund.NextAttemptAt = apiobject.Time(now.Add(time.Hour))
	case TypeDuplicatePaymentRefunded:
		e.Data.Refund = testRefund(c, "re_0123456789ABCDEFabcdefXY2R1", 1000, "duplicate", "succeeded", "自动退款：重复支付", "", 2, now)
	case TypeLatePaymentRefunded:
		e.Data.Refund = testRefund(c, "re_0123456789ABCDEFabcdefXY1R1", 1000, "late", "succeeded", "自动退款：超时支付", "", 1, now)
	case TypeAmountMismatch:
		e.Data.Mismatch = &Mismatch{Attempt: 1, OutNo: "0123456789ABCDEFabcdefXY1", Expected: 1000, Reported: 999}
	}
	return e
}

// Every event type's body is pinned, one file per type (go test -run
// TestEventBodiesGolden -update rewrites them; review the diff).
func TestEventBodiesGolden(t *testing.T) {
	if *update {
		if err := os.MkdirAll(eventsGoldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, typ := range Types {
		t.Run(typ, func(t *testing.T) {
			got, err := json.MarshalIndent(goldenEvent(t, typ), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join(eventsGoldenDir, typ+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -run TestEventBodiesGolden -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("body of %s changed (go test -run TestEventBodiesGolden -update to accept):\n%s", typ, got)
			}
		})
	}
	entries, err := os.ReadDir(eventsGoldenDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(Types) {
		t.Errorf("%d files in %s for %d types: remove the stale ones", len(entries), eventsGoldenDir, len(Types))
	}
}

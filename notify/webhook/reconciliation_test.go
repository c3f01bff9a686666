package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"
)

func testReconciliation() Reconciliation {
	return Reconciliation{
		ID: "rc_7Hq2LmN4pR8sT1vW3xY5zA6b", StoreID: "main", Date: "2026-11-24",
		Difference: Difference{
			ID: "df_2Bc4De6Fg8Hj1Kl3Mn5Pq7Rs", Class: "amount_differs", OutNo: "0123456789ABCDEFabcdefXY1",
			OrdNo: "9179560080016467879965939", GatewayAmount: 999, ServiceAmount: 1000,
			GatewayState: "paid", ServiceState: "paid",
		},
	}
}

// The alert that belongs to no checkout is a wire format too: pin it.
func TestReconciliationEventGolden(t *testing.T) {
	now := time.Date(2026, 11, 24, 16, 10, 0, 0, time.UTC)
	e, err := NewReconciliationEvent("m_acme", "", testReconciliation(), now)
	if err != nil {
		t.Fatal(err)
	}
	e.ID = "evt_9QwErTyUiOpAsDfGhJkLzXcV"
	got, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/event_reconciliation.golden.json"
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(got)+"\n" != string(want) {
		t.Errorf("body changed (go test -run Golden -update to accept):\n%s", got)
	}
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["checkout_id"]; ok {
		t.Error("an event about no checkout carries checkout_id")
	}
	if _, ok := m["data"].(map[string]any)["checkout"]; ok {
		t.Error("an event about no checkout carries data.checkout")
	}
}

// An event about no checkout is stored, listed by merchant and type, and
// refused when incomplete; a checkout event still needs its checkout.
func TestEmitWithoutCheckout(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	e, err := NewReconciliationEvent("m_acme", "", testReconciliation(), f.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Emit(ctx, e); err != nil {
		t.Fatalf("Emit: %v", err)
	}
	for name, q := range map[string]ListQuery{"all": {}, "by type": {Type: TypeReconciliationMismatch}} {
		page, _, err := f.svc.List(ctx, "m_acme", q)
		if err != nil || len(page) != 1 || page[0].ID != e.ID || page[0].Data.Reconciliation == nil {
			t.Errorf("%s: %d events, %v", name, len(page), err)
		}
	}

	bad := map[string]func(*Event){
		"mismatch without its reconciliation": func(e *Event) { e.Data.Reconciliation = nil },
		"paid without a checkout":             func(e *Event) { e.Type = TypePaid },
		"bad checkout id":                     func(e *Event) { e.CheckoutID = "co_x y" },
	}
	for name, mutate := range bad {
		ev := e
		ev.ID, _ = NewID()
		mutate(&ev)
		if err := f.svc.Emit(ctx, ev); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("%s: Emit = %v, want ErrInvalidEvent", name, err)
		}
	}
	if _, err := NewReconciliationEvent("m_acme", "", Reconciliation{}, f.clk.Now()); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("event without run id: %v", err)
	}
}

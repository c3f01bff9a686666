package reconciliation

import (
	"context"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// TestInFlightNotJudgedYet: a run of today so far meets numbers sent a
// minute ago that the gateway does not have yet (a payorder still on its
// way, a list that lags): they are not differences yet, neither alerted
// nor recorded. Once the grace has passed, the same numbers, still missing,
// are judged like any other.
func TestInFlightNotJudgedYet(t *testing.T) {
	e := newEnv(t, noon, envOptions{})
	ctx := context.Background()
	open := e.sbStore.OpenID
	// Paid here (paystatus said so), not in the gateway's list yet.
	_, paidOut := e.paid(1000)
	if err := e.sb.DropOrder(open, paidOut); err != nil {
		t.Fatal(err)
	}
	// A payorder still on its way: pending here, nothing there yet.
	pendingCo, pendingAct := e.order(1200)
	if err := e.sb.DropOrder(open, pendingAct.OutNo); err != nil {
		t.Fatal(err)
	}

	e.clk.Advance(time.Minute)
	r := e.reconcile(day)
	if len(byOutNo(r, paidOut)) != 0 || len(byOutNo(r, pendingAct.OutNo)) != 0 || r.Counts.Open != 0 || r.InFlight != 2 {
		t.Errorf("numbers sent a minute ago judged:\n%s", describe(r))
	}
	if n := e.events.of(webhook.TypeReconciliationMismatch, ""); n != 0 {
		t.Errorf("%d alerts about orders in flight", n)
	}
	if a := e.attempt(pendingAct.OutNo); a.Status != checkout.AttemptPending {
		t.Errorf("the attempt in flight is %s", a.Status)
	}
	if sc, err := e.svc.Counts(ctx, e.merchant.ID, e.store.ID); err != nil || sc.Open != 0 || sc.Raised != 0 {
		t.Errorf("store counts %+v %v", sc, err)
	}

	// The grace has passed: still missing at the gateway, now judged.
	e.clk.Set(noon.Add(10 * time.Minute))
	r = e.reconcile(day)
	t.Log(describe(r))
	if r.InFlight != 0 {
		t.Errorf("%d numbers still in flight after the grace", r.InFlight)
	}
	if ds := byOutNo(r, paidOut); len(ds) != 1 || ds[0].Class != ClassUnknownToGateway || ds[0].Status != StatusOpen || ds[0].EventID == "" {
		t.Errorf("paid order the gateway lacks: %+v", ds)
	}
	// Pending and never created upstream: marked failed through Confirm.
	if ds := byOutNo(r, pendingAct.OutNo); len(ds) != 1 || ds[0].Class != ClassUnknownToGateway || ds[0].Status != StatusAutoFixed {
		t.Errorf("pending order the gateway never had: %+v", ds)
	}
	if a := e.attempt(pendingAct.OutNo); a.Status != checkout.AttemptFailed {
		t.Errorf("orphaned attempt of %s is %s", pendingCo.ID, a.Status)
	}
	if n := e.events.of(webhook.TypeReconciliationMismatch, ""); n != 1 {
		t.Errorf("%d alerts once the grace passed, want 1", n)
	}
}

// TestPastDayAfterDailyAfterJudgesTheLastMinute: a whole past day
// reconciled at 00:10 judges what was sent at its last second, as before;
// reconciled by hand at 00:05, that number is still in flight.
func TestPastDayAfterDailyAfterJudgesTheLastMinute(t *testing.T) {
	if InFlight > DailyAfter {
		t.Fatalf("InFlight %v outlasts DailyAfter %v: the daily run would leave the day's last numbers unjudged", InFlight, DailyAfter)
	}
	e := newEnv(t, china(2026, 12, 1, 23, 59, 59), envOptions{})
	_, out := e.paid(1000)
	if err := e.sb.DropOrder(e.sbStore.OpenID, out); err != nil {
		t.Fatal(err)
	}
	e.clk.Set(china(2026, 12, 2, 0, 5, 0))
	if r := e.reconcile(day); len(byOutNo(r, out)) != 0 {
		t.Errorf("at 00:05, sent at 23:59:59:\n%s", describe(r))
	}
	e.clk.Set(china(2026, 12, 2, 0, 10, 0))
	if n := e.svc.Daily(time.Minute).Tick(context.Background(), e.clk.Now()); n < 1 {
		t.Fatalf("daily run at 00:10: %d runs", n)
	}
	r, err := e.svc.Get(context.Background(), e.merchant.ID, RunID(e.merchant.ID, e.store.ID, day))
	if err != nil {
		t.Fatal(err)
	}
	if ds := byOutNo(r, out); len(ds) != 1 || ds[0].Class != ClassUnknownToGateway || ds[0].Status != StatusOpen {
		t.Errorf("daily run at 00:10:\n%s", describe(r))
	}
	if n := e.events.of(webhook.TypeReconciliationMismatch, ""); n != 1 {
		t.Errorf("%d alerts, want 1", n)
	}
}

func (e *env) attempt(outNo string) *checkout.Attempt {
	e.t.Helper()
	_, a, err := e.repo.AttemptByOutNo(context.Background(), outNo)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

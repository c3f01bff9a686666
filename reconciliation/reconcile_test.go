package reconciliation

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
)

// day is the gateway day the tests reconcile; noon is inside it.
var (
	day   = "2026-12-01"
	noon  = china(2026, 12, 1, 12, 0, 0)
	after = china(2026, 12, 2, 0, 30, 0)
)

// TestCleanDay: payments, a refund, an abandoned order and a declined one,
// all known to both sides: no differences, no alerts.
func TestCleanDay(t *testing.T) {
	e := newEnv(t, noon, envOptions{})
	ctx := context.Background()
	c, _ := e.paid(1000)
	if _, err := e.payments.Refund(ctx, e.merchant.ID, c.ID, payments.RefundRequest{Amount: 300, IdempotencyKey: "k1"}); err != nil {
		t.Fatal(err)
	}
	e.paid(2000)
	e.order(500) // never paid
	_, err := e.payments.Start(ctx, payments.StartRequest{CheckoutID: func() string {
		c, _ := checkout.NewCheckout(&checkout.Draft{MerchantID: e.merchant.ID, StoreID: e.store.ID,
			Amounts: checkout.Amounts{Original: 711, Trade: 711}, LatePolicy: checkout.LatePolicyAccept}, e.clk.Now())
		if err := e.repo.Create(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
		return c.ID
	}(), Wallet: checkout.MethodAlipay, Scenario: checkout.ScenarioQR})
	if !errors.Is(err, payments.ErrPaymentDeclined) {
		t.Fatalf("amount ..11 should be declined: %v", err)
	}

	e.clk.Set(after)
	r := e.reconcile(day)
	if len(r.Differences) != 0 || r.Counts.Open != 0 {
		t.Fatalf("clean day has differences:\n%s", describe(r))
	}
	if r.Gateway.Payments != 3 || r.Gateway.PaymentAmount != 3000 || r.Gateway.Refunds != 1 || r.Gateway.RefundAmount != 300 {
		t.Errorf("gateway totals %+v", r.Gateway)
	}
	// Three orders and the declined one, and the refund once notify notes
	// refund_out_nos in the index too.
	sent, err := e.repo.SentOn(ctx, e.merchant.ID, e.store.ID, noon)
	if err != nil || r.Sent != len(sent) || r.Sent < 4 {
		t.Errorf("sent %d, index %d %v", r.Sent, len(sent), err)
	}
	if n := e.events.of(webhook.TypeReconciliationMismatch, ""); n != 0 {
		t.Errorf("%d alerts on a clean day", n)
	}
	if r.ID != RunID(e.merchant.ID, e.store.ID, day) || r.Date != day || r.StoreID != "main" || r.Runs != 1 {
		t.Errorf("run %+v", r)
	}
}

// TestDifferencesClassified stages one of each difference on one day, then
// re-runs the day.
func TestDifferencesClassified(t *testing.T) {
	e := newEnv(t, noon, envOptions{})
	ctx := context.Background()
	open := e.sbStore.OpenID

	_, clean := e.paid(1000)
	// Another system of the store: foreign.
	if _, err := e.sb.AddOrder(open, sandbox.FaultOrder{OutNo: "POS20261201001", Amount: 880}); err != nil {
		t.Fatal(err)
	}
	// Ours (its remark is the checkout id), and the service lost it.
	ghostID, _ := checkout.NewID()
	ghost := checkout.OutNo(ghostID, 1)
	if _, err := e.sb.AddOrder(open, sandbox.FaultOrder{OutNo: ghost, Amount: 990, Remark: ghostID}); err != nil {
		t.Fatal(err)
	}
	// A refund the gateway made of our payment, under one of our numbers.
	refundedElsewhere, reOut := e.paid(1200)
	strayRefund := refundOutNo(refundedElsewhere.ID, 7)
	if _, err := e.sb.AddOrder(open, sandbox.FaultOrder{OutNo: strayRefund, Refund: true, OriginalOutNo: reOut, Amount: 200}); err != nil {
		t.Fatal(err)
	}
	// A refund from the gateway's console, under its own number.
	consoleRefunded, coOut := e.paid(1300)
	if _, err := e.sb.AddOrder(open, sandbox.FaultOrder{OutNo: "CONSOLE1", Refund: true, OriginalOutNo: coOut, Amount: 100}); err != nil {
		t.Fatal(err)
	}
	// A refund we count as made that the gateway lost.
	lostRefund, _ := e.paid(1400)
	rf, err := e.payments.Refund(ctx, e.merchant.ID, lostRefund.ID, payments.RefundRequest{Amount: 400, IdempotencyKey: "lost"})
	if err != nil || rf.Status != payments.RefundSucceeded {
		t.Fatalf("refund: %+v %v", rf, err)
	}
	if err := e.sb.DropOrder(open, rf.OutNo); err != nil {
		t.Fatal(err)
	}
	// Amount and state changed upstream.
	_, amountOut := e.paid(1500)
	if err := e.sb.SetOrderAmount(open, amountOut, 1505); err != nil {
		t.Fatal(err)
	}
	_, stateOut := e.paid(1600)
	if err := e.sb.SetOrderStatus(open, stateOut, gateway.StatusCanceled); err != nil {
		t.Fatal(err)
	}
	// Paid at the gateway, and the service never heard.
	behind, behindAct := e.order(1700)
	e.payerPays(behindAct)
	// Paid, then gone from the gateway.
	_, vanishedOut := e.paid(1800)
	if err := e.sb.DropOrder(open, vanishedOut); err != nil {
		t.Fatal(err)
	}
	// Money after expiry that the service had not seen: a late payment.
	late, lateAct := e.order(1900)
	e.clk.Set(china(2026, 12, 1, 13, 30, 0))
	if _, err := e.repo.Expire(ctx, late.ID); err != nil {
		t.Fatal(err)
	}
	e.payerPays(lateAct)
	// Created before midnight, paid just after.
	e.clk.Set(china(2026, 12, 1, 23, 58, 0))
	boundary, boundaryAct := e.order(2000)
	e.clk.Set(china(2026, 12, 2, 0, 3, 0))
	e.payerPays(boundaryAct)
	if _, err := e.payments.Confirm(ctx, boundaryAct.OutNo); err != nil {
		t.Fatal(err)
	}

	e.clk.Set(after)
	r := e.reconcile(day)
	t.Log(describe(r))
	want := []struct {
		outNo  string
		class  Class
		status Status
	}{
		{"POS20261201001", ClassForeign, StatusAcknowledged},
		{ghost, ClassUnknownToUs, StatusOpen},
		{strayRefund, ClassRefundMissingOurs, StatusOpen},
		{"CONSOLE1", ClassRefundMissingOurs, StatusOpen},
		{rf.OutNo, ClassRefundMissingGateway, StatusOpen},
		{amountOut, ClassAmountDiffers, StatusOpen},
		{stateOut, ClassStateDiffers, StatusOpen},
		{behindAct.OutNo, ClassStateDiffers, StatusAutoFixed},
		{vanishedOut, ClassUnknownToGateway, StatusOpen},
		{lateAct.OutNo, ClassLatePayment, StatusAutoFixed},
		{boundaryAct.OutNo, ClassDayBoundary, StatusAcknowledged},
	}
	if len(r.Differences) != len(want) {
		t.Errorf("%d differences, want %d", len(r.Differences), len(want))
	}
	ids := map[string]string{}
	for _, w := range want {
		ds := byOutNo(r, w.outNo)
		if len(ds) != 1 || ds[0].Class != w.class || ds[0].Status != w.status {
			t.Errorf("%s: %+v, want %s %s", w.outNo, ds, w.class, w.status)
			continue
		}
		ids[w.outNo] = ds[0].ID
	}
	if d := byOutNo(r, clean); len(d) != 0 {
		t.Errorf("the clean payment has differences: %+v", d)
	}
	if d := byOutNo(r, amountOut); len(d) == 1 && (d[0].GatewayAmount != 1505 || d[0].ServiceAmount != 1500) {
		t.Errorf("amounts %+v", d[0])
	}
	if d := byOutNo(r, "CONSOLE1"); len(d) == 1 && d[0].CheckoutID != consoleRefunded.ID {
		t.Errorf("console refund not tied to its checkout: %+v", d[0])
	}
	if r.Counts.Open != 7 || r.Counts.AutoFixed != 2 || r.Counts.Acknowledged != 2 {
		t.Errorf("counts %+v", r.Counts)
	}

	// Behind: confirmed through the normal path, one checkout.paid event.
	if c := e.get(behind.ID); c.Status != checkout.StatusPaid {
		t.Errorf("behind checkout is %s", c.Status)
	}
	if n := e.events.of(webhook.TypePaid, behind.ID); n != 1 {
		t.Errorf("%d checkout.paid events for the late-confirmed checkout", n)
	}
	if c := e.get(late.ID); c.Status != checkout.StatusPaid || !c.Late {
		t.Errorf("late checkout: %s late=%v", c.Status, c.Late)
	}
	if c := e.get(boundary.ID); c.Status != checkout.StatusPaid {
		t.Errorf("boundary checkout: %s", c.Status)
	}
	// One alert per open difference, with the difference's own id.
	if n := e.events.of(webhook.TypeReconciliationMismatch, ""); n != 7 {
		t.Errorf("%d alerts, want 7", n)
	}
	evs, _, err := e.hooks.List(ctx, e.merchant.ID, webhook.ListQuery{Type: webhook.TypeReconciliationMismatch, Limit: 100})
	if err != nil || len(evs) != 7 {
		t.Fatalf("stored alerts: %d %v", len(evs), err)
	}
	for _, ev := range evs {
		rc := ev.Data.Reconciliation
		if rc == nil || rc.ID != r.ID || rc.Date != day || ev.Data.Checkout != nil || ev.ID != eventID(rc.Difference.ID) {
			t.Errorf("alert %+v", ev)
		}
	}
	sc, err := e.svc.Counts(ctx, e.merchant.ID, e.store.ID)
	if err != nil || sc.Open != 7 || sc.Raised != 7 {
		t.Errorf("store counts %+v %v", sc, err)
	}

	// Re-run: the same run and differences, nothing raised twice; a fixed
	// amount resolves its difference, an acknowledged one stays so.
	if _, err := e.svc.SetStatus(ctx, e.merchant.ID, r.ID, ids[ghost], StatusAcknowledged, "our old POS"); err != nil {
		t.Fatal(err)
	}
	if err := e.sb.SetOrderAmount(open, amountOut, 1500); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Hour)
	r2 := e.reconcile(day)
	if r2.ID != r.ID || r2.Runs != 2 || len(r2.Differences) != len(r.Differences) {
		t.Fatalf("re-run:\n%s", describe(r2))
	}
	for outNo, id := range ids {
		ds := byOutNo(r2, outNo)
		if len(ds) != 1 || ds[0].ID != id {
			t.Errorf("re-run %s: %+v, want id %s", outNo, ds, id)
		}
	}
	if d := byOutNo(r2, amountOut)[0]; d.Status != StatusResolved {
		t.Errorf("fixed amount: %s", d.Status)
	}
	if d := byOutNo(r2, ghost)[0]; d.Status != StatusAcknowledged || d.Note != "our old POS" {
		t.Errorf("acknowledged: %+v", d)
	}
	if n := e.events.of(webhook.TypeReconciliationMismatch, ""); n != 7 {
		t.Errorf("%d alerts after the re-run", n)
	}
	if n := e.events.of(webhook.TypePaid, behind.ID); n != 1 {
		t.Errorf("%d checkout.paid events after the re-run", n)
	}
	if sc, _ := e.svc.Counts(ctx, e.merchant.ID, e.store.ID); sc.Open != 5 || sc.Raised != 7 {
		t.Errorf("store counts after the re-run %+v", sc)
	}
}

// TestSentJustBeforeMidnight: an order we sent at 23:59:58 that the
// gateway, its clock a little ahead, dated the next day is a day-boundary
// difference of the first day and nothing on the second.
func TestSentJustBeforeMidnight(t *testing.T) {
	e := newEnv(t, china(2026, 12, 1, 23, 59, 58), envOptions{sandboxAhead: 5 * time.Second, quirksOff: true})
	_, act := e.order(1000)
	e.payerPays(act)
	if _, err := e.payments.Confirm(context.Background(), act.OutNo); err != nil {
		t.Fatal(err)
	}
	e.clk.Set(china(2026, 12, 3, 1, 0, 0))
	r := e.reconcile(day)
	ds := byOutNo(r, act.OutNo)
	if len(ds) != 1 || ds[0].Class != ClassDayBoundary || ds[0].Status != StatusAcknowledged || r.Counts.Open != 0 {
		t.Fatalf("first day:\n%s", describe(r))
	}
	if next := e.reconcile("2026-12-02"); len(next.Differences) != 0 || next.Gateway.Payments != 1 {
		t.Fatalf("second day:\n%s", describe(next))
	}
}

// TestRefundDeferred: a refund the service holds pending after a refusal
// (8040, retried later) and the gateway does not have is explained.
func TestRefundDeferred(t *testing.T) {
	e := newEnv(t, noon, envOptions{})
	c, _ := e.paid(1040) // ..40: the sandbox refuses refunds with 8040
	rf, _ := e.payments.Refund(context.Background(), e.merchant.ID, c.ID, payments.RefundRequest{Amount: 100, IdempotencyKey: "d"})
	if rf == nil {
		t.Fatal("no refund record")
	}
	// Whatever notify does with the refusal now, the record a deferral
	// leaves is pending with the refusal in Failure.
	e.shim.refunds = func(id string, rs []payments.Refund) []payments.Refund {
		for i := range rs {
			if rs[i].OutNo == rf.OutNo {
				rs[i].Status, rs[i].Failure = payments.RefundPending, "gateway error 8040: refund exceeds today's takings"
			}
		}
		return rs
	}
	e.clk.Set(after)
	r := e.reconcile(day)
	ds := byOutNo(r, rf.OutNo)
	if len(ds) != 1 || ds[0].Class != ClassRefundDeferred || ds[0].Status != StatusAcknowledged || !ds[0].Explained || r.Counts.Open != 0 {
		t.Fatalf("deferred refund:\n%s", describe(r))
	}
	if n := e.events.of(webhook.TypeReconciliationMismatch, ""); n != 0 {
		t.Errorf("%d alerts for an explained difference", n)
	}
}

// TestDailyOneRun: two replicas ticking at once do one run of the day.
func TestDailyOneRun(t *testing.T) {
	e := newEnv(t, noon, envOptions{})
	e.paid(1000)
	e.clk.Set(china(2026, 12, 2, 0, 5, 0))
	if n := e.svc.Daily(time.Minute).Tick(context.Background(), e.clk.Now()); n != 0 {
		// Before 00:10 the due day is the day before yesterday: nothing there.
		if r, err := e.svc.Get(context.Background(), e.merchant.ID, RunID(e.merchant.ID, e.store.ID, day)); err == nil {
			t.Fatalf("ran the day before 00:10: %+v", r)
		}
	}
	e.clk.Set(china(2026, 12, 2, 0, 11, 0))
	var wg sync.WaitGroup
	ran := make([]int, 4)
	for i := range ran {
		s := e.service()
		wg.Go(func() { ran[i] = s.Daily(time.Minute).Tick(context.Background(), e.clk.Now()) })
	}
	wg.Wait()
	total := 0
	for _, n := range ran {
		total += n
	}
	r, err := e.svc.Get(context.Background(), e.merchant.ID, RunID(e.merchant.ID, e.store.ID, day))
	if err != nil {
		t.Fatal(err)
	}
	// The day before yesterday may have run too (one each, if at all).
	if r.Runs != 1 || total < 1 || total > 2 {
		t.Fatalf("runs %d, ticks ran %v", r.Runs, ran)
	}
	if n := e.service().Daily(time.Minute).Tick(context.Background(), e.clk.Now()); n != 0 {
		t.Errorf("the day ran again: %d", n)
	}
}

// TestLeaseOfACrashedRunner: a run claimed by a process that died is left
// alone until its lease runs out, then done by another.
func TestLeaseOfACrashedRunner(t *testing.T) {
	e := newEnv(t, noon, envOptions{})
	e.clk.Set(after)
	ctx := context.Background()
	if ok, err := e.svc.lease(ctx, e.merchant.ID, e.store.ID, compact(day), "crashed", false); !ok || err != nil {
		t.Fatalf("lease: %v %v", ok, err)
	}
	if _, err := e.svc.Reconcile(ctx, e.merchant.ID, e.store.ID, day); !errors.Is(err, ErrBusy) {
		t.Fatalf("while leased: %v", err)
	}
	if n := e.svc.Daily(time.Minute).Tick(ctx, e.clk.Now()); n != 0 {
		t.Fatalf("daily ran a leased day: %d", n)
	}
	e.clk.Advance(time.Minute + time.Second)
	if n := e.service().Daily(time.Minute).Tick(ctx, e.clk.Now()); n != 1 {
		t.Fatalf("after the lease ran out: %d runs", n)
	}
}

// TestBadInput: unknown stores, malformed and unfinished days, bad ids and
// statuses are refused and change nothing.
func TestBadInput(t *testing.T) {
	e := newEnv(t, noon, envOptions{})
	ctx := context.Background()
	for _, c := range []struct{ store, date string }{
		{"nope", day}, {"", day}, {"m{x}", day}, {"main", "2026-12-1"}, {"main", "2026-02-30"},
		{"main", "yesterday"}, {"main", "2026-12-02"}, {"main", "2027-01-01"}, {"main", "2020-01-01"},
	} {
		if _, err := e.svc.Reconcile(ctx, e.merchant.ID, c.store, c.date); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q %q: %v", c.store, c.date, err)
		}
	}
	if _, err := e.svc.Get(ctx, e.merchant.ID, "rc_x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("bad id: %v", err)
	}
	e.clk.Set(after)
	r := e.reconcile(day)
	if _, err := e.svc.Get(ctx, "another", r.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("another merchant's run: %v", err)
	}
	if _, err := e.svc.SetStatus(ctx, e.merchant.ID, r.ID, differenceID(r.ID, ClassForeign, "X"), StatusAcknowledged, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown difference: %v", err)
	}
	if _, err := e.svc.SetStatus(ctx, e.merchant.ID, r.ID, "df_x", StatusOpen, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("status open: %v", err)
	}
	page, next, err := e.svc.List(ctx, e.merchant.ID, ListQuery{})
	if err != nil || len(page) != 1 || next != "" || page[0].ID != r.ID {
		t.Errorf("list %v %q %v", page, next, err)
	}
	if _, _, err := e.svc.List(ctx, e.merchant.ID, ListQuery{After: "rc_" + "0123456789012345678901234"[:24]}); !errors.Is(err, ErrBadCursor) {
		t.Errorf("bad cursor: %v", err)
	}
}

func TestParseRefundOutNo(t *testing.T) {
	id, _ := checkout.NewID()
	for n := 1; n < 1000; n *= 7 {
		got, gn, ok := ParseRefundOutNo(refundOutNo(id, n))
		if !ok || got != id || gn != n {
			t.Errorf("%d: %q %d %v", n, got, gn, ok)
		}
	}
	for _, s := range []string{"", "R1", checkout.OutNo(id, 1), id[3:] + "R0", id[3:] + "R", id[3:] + "Rx", "POS1R1", id[3:] + "R-1"} {
		if _, _, ok := ParseRefundOutNo(s); ok {
			t.Errorf("%q parsed", s)
		}
	}
}

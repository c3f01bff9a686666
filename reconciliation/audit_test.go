package reconciliation

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
)

// TestForeignOutNoOfOurShape: a POS whose serials happen to have the shape
// of our out_nos (26 digits: 24 "random" characters and an attempt number)
// is foreign, not unknown_to_us; an order of ours whose record was lost
// (its remark is the checkout id, as every payorder of ours sends) stays
// unknown_to_us.
func TestForeignOutNoOfOurShape(t *testing.T) {
	e := newEnv(t, noon, envOptions{})
	open := e.sbStore.OpenID
	pos := "20261201120000123456789012" // date, time and a counter
	if _, _, ours := checkout.ParseOutNo(pos); !ours {
		t.Fatalf("%s does not have our shape: the test needs one that does", pos)
	}
	if _, err := e.sb.AddOrder(open, sandbox.FaultOrder{OutNo: pos, Amount: 880, Remark: "POS till 3"}); err != nil {
		t.Fatal(err)
	}
	lostID, _ := checkout.NewID()
	lost := checkout.OutNo(lostID, 1)
	if _, err := e.sb.AddOrder(open, sandbox.FaultOrder{OutNo: lost, Amount: 990, Remark: lostID}); err != nil {
		t.Fatal(err)
	}
	e.clk.Set(after)
	r := e.reconcile(day)
	if ds := byOutNo(r, pos); len(ds) != 1 || ds[0].Class != ClassForeign || ds[0].Status != StatusAcknowledged {
		t.Errorf("POS order of our shape:\n%s", describe(r))
	}
	if ds := byOutNo(r, lost); len(ds) != 1 || ds[0].Class != ClassUnknownToUs || ds[0].Status != StatusOpen {
		t.Errorf("lost order of ours:\n%s", describe(r))
	}
	if n := e.events.of(webhook.TypeReconciliationMismatch, ""); n != 1 {
		t.Errorf("%d alerts, want 1 (the lost order)", n)
	}
}

// TestLatePaymentOnALaterDay: a checkout created in the evening expires
// unpaid; its QR order (which the gateway cannot close) is paid the next
// day after that day's 00:10 run of the evening, and the service never
// hears (notify lost, watch over). The gateway lists the order under the
// day it was created, so only a look at the orders paid on the day finds
// it: the next day's run must, and confirm it through the normal path.
func TestLatePaymentOnALaterDay(t *testing.T) {
	e := newEnv(t, china(2026, 11, 30, 22, 0, 0), envOptions{})
	ctx := context.Background()
	late, act := e.order(1900)
	e.clk.Set(china(2026, 11, 30, 23, 30, 0))
	if _, err := e.repo.Expire(ctx, late.ID); err != nil {
		t.Fatal(err)
	}
	// The evening's run, at 00:11: the order awaits payment, nothing to say.
	e.clk.Set(china(2026, 12, 1, 0, 11, 0))
	if r := e.reconcile("2026-11-30"); r.Counts.Open != 0 {
		t.Fatalf("evening:\n%s", describe(r))
	}
	e.clk.Set(china(2026, 12, 1, 9, 0, 0))
	e.payerPays(act)

	e.clk.Set(after)
	r := e.reconcile(day)
	ds := byOutNo(r, act.OutNo)
	if len(ds) != 1 || ds[0].Class != ClassLatePayment || ds[0].Status != StatusAutoFixed {
		t.Errorf("late payment of the day before's order:\n%s", describe(r))
	}
	if c := e.get(late.ID); c.Status != checkout.StatusPaid || !c.Late {
		t.Errorf("late checkout: %s late=%v", c.Status, c.Late)
	}
	// The day's totals are the orders the gateway lists for it: not this one.
	if r.Gateway.Payments != 0 {
		t.Errorf("gateway totals %+v", r.Gateway)
	}
}

// TestManyOrdersPaged: a day of 250 orders is read over three pages, under
// both spellings of the paging object (quirks: "pages"; plain: "page").
func TestManyOrdersPaged(t *testing.T) {
	for _, quirksOff := range []bool{false, true} {
		t.Run(fmt.Sprintf("quirksOff=%v", quirksOff), func(t *testing.T) {
			e := newEnv(t, noon, envOptions{quirksOff: quirksOff})
			open := e.sbStore.OpenID
			for i := range 240 {
				if _, err := e.sb.AddOrder(open, sandbox.FaultOrder{OutNo: fmt.Sprintf("POS%05d", i), Amount: 100,
					AddTime: china(2026, 12, 1, 8, 0, i)}); err != nil {
					t.Fatal(err)
				}
			}
			var ours []string
			for range 10 {
				_, out := e.paid(1000)
				ours = append(ours, out)
			}
			e.clk.Set(after)
			r := e.reconcile(day)
			if r.Gateway.Payments != 250 || r.Gateway.PaymentAmount != 240*100+10*1000 {
				t.Errorf("gateway totals %+v", r.Gateway)
			}
			if r.Counts.ByClass[ClassForeign] != 240 || r.Counts.Open != 0 || len(r.Differences) != 240 {
				t.Errorf("counts %+v", r.Counts)
			}
			for _, out := range ours {
				if ds := byOutNo(r, out); len(ds) != 0 {
					t.Errorf("%s: %+v", out, ds)
				}
			}
		})
	}
}

// TestMidnightToTheSecond: orders added at 23:59:59.9 and 00:00:00.0 (UTC+8)
// belong to the day each is dated by the second.
func TestMidnightToTheSecond(t *testing.T) {
	e := newEnv(t, noon, envOptions{quirksOff: true})
	open := e.sbStore.OpenID
	last := china(2026, 12, 1, 23, 59, 59).Add(900 * time.Millisecond)
	first := china(2026, 12, 2, 0, 0, 0)
	for out, at := range map[string]time.Time{"POSLAST": last, "POSFIRST": first, "POSZERO": china(2026, 12, 1, 0, 0, 0)} {
		if _, err := e.sb.AddOrder(open, sandbox.FaultOrder{OutNo: out, Amount: 100, AddTime: at}); err != nil {
			t.Fatal(err)
		}
	}
	e.clk.Set(china(2026, 12, 3, 1, 0, 0))
	r := e.reconcile(day)
	if len(byOutNo(r, "POSLAST")) != 1 || len(byOutNo(r, "POSZERO")) != 1 || len(byOutNo(r, "POSFIRST")) != 0 || r.Gateway.Payments != 2 {
		t.Errorf("first day:\n%s", describe(r))
	}
	r2 := e.reconcile("2026-12-02")
	if len(byOutNo(r2, "POSFIRST")) != 1 || r2.Gateway.Payments != 1 {
		t.Errorf("second day:\n%s", describe(r2))
	}
}

// TestRefundOfAnOldCheckout: refunds made on the day of checkouts paid days
// before are compared too: one that went through is clean, one the
// gateway lost is refund_missing_gateway.
func TestRefundOfAnOldCheckout(t *testing.T) {
	e := newEnv(t, china(2026, 11, 27, 12, 0, 0), envOptions{})
	ctx := context.Background()
	okCo, _ := e.paid(1000)
	lostCo, _ := e.paid(2000)
	e.clk.Set(noon)
	if _, err := e.payments.Refund(ctx, e.merchant.ID, okCo.ID, payments.RefundRequest{Amount: 100, IdempotencyKey: "a"}); err != nil {
		t.Fatal(err)
	}
	rf, err := e.payments.Refund(ctx, e.merchant.ID, lostCo.ID, payments.RefundRequest{Amount: 200, IdempotencyKey: "b"})
	if err != nil || rf.Status != payments.RefundSucceeded {
		t.Fatalf("refund %+v %v", rf, err)
	}
	if err := e.sb.DropOrder(e.sbStore.OpenID, rf.OutNo); err != nil {
		t.Fatal(err)
	}
	e.clk.Set(after)
	r := e.reconcile(day)
	if ds := byOutNo(r, rf.OutNo); len(ds) != 1 || ds[0].Class != ClassRefundMissingGateway || ds[0].Status != StatusOpen ||
		len(r.Differences) != 1 || r.Gateway.Refunds != 1 || r.Gateway.RefundAmount != 100 {
		t.Errorf("refunds of old checkouts:\n%s", describe(r))
	}
}

// TestAnotherMerchantsOutNo: an order on this store's books under the out_no
// of another merchant's checkout (anyone who saw that checkout's link can
// derive it) tells this merchant nothing of the other's checkout: no
// checkout id, amount or state in the difference or its alert.
func TestAnotherMerchantsOutNo(t *testing.T) {
	e := newEnv(t, noon, envOptions{})
	ctx := context.Background()
	other := sandbox.GenerateStore()
	if err := e.sb.AddStore(other); err != nil {
		t.Fatal(err)
	}
	gs, err := gateway.NewStore(e.sbURL, other.OpenID, other.OpenKey, other.ShopPass)
	if err != nil {
		t.Fatal(err)
	}
	bStore := &checkout.Store{ID: "main", Name: "B", Sandbox: true, LatePolicy: checkout.LatePolicyAccept,
		Alipay: checkout.AlipayConfig{Enabled: true, Mode: checkout.ModeRedirect}}
	b := &checkout.Merchant{ID: "b_" + e.merchant.ID, Name: "B", Stores: []*checkout.Store{bStore}}
	dir, err := checkout.NewDirectory([]*checkout.Merchant{e.merchant, b})
	if err != nil {
		t.Fatal(err)
	}
	accounts := payments.NewAccounts()
	for _, add := range []struct {
		merchant string
		gs       *gateway.Store
	}{{e.merchant.ID, e.storeAccount()}, {b.ID, gs}} {
		if err := accounts.Add(add.merchant, "main", add.gs); err != nil {
			t.Fatal(err)
		}
	}
	bc, err := checkout.NewCheckout(&checkout.Draft{MerchantID: b.ID, StoreID: bStore.ID,
		Amounts: checkout.Amounts{Original: 4321, Trade: 4321}, TTL: time.Hour, LatePolicy: checkout.LatePolicyAccept}, e.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.repo.Create(ctx, bc, nil); err != nil {
		t.Fatal(err)
	}
	bPayments, err := payments.New(payments.Config{Redis: e.rdb, Repo: e.repo, Directory: dir, Accounts: accounts, Gateway: e.gw, Events: e.events,
		Logger: quiet(), Clock: e.clk.Now, Prefix: e.prefix + "n:", PublicURL: "https://pay.example"})
	if err != nil {
		t.Fatal(err)
	}
	act, err := bPayments.Start(ctx,
		payments.StartRequest{CheckoutID: bc.ID, Wallet: checkout.MethodAlipay, Scenario: checkout.ScenarioQR})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.sb.AddOrder(e.sbStore.OpenID, sandbox.FaultOrder{OutNo: act.OutNo, Amount: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sb.AddOrder(e.sbStore.OpenID, sandbox.FaultOrder{OutNo: refundOutNo(bc.ID, 1), Refund: true, Amount: 1}); err != nil {
		t.Fatal(err)
	}
	e.clk.Set(after)
	r := e.reconcile(day)
	for _, d := range r.Differences {
		if d.CheckoutID == bc.ID {
			t.Errorf("another merchant's checkout id in %s %s", d.Class, d.OutNo)
		}
	}
	ds := byOutNo(r, act.OutNo)
	if len(ds) != 1 || ds[0].CheckoutID != "" || ds[0].ServiceAmount != 0 || ds[0].ServiceState != "" {
		t.Errorf("another merchant's checkout shows through:\n%s%+v", describe(r), ds)
	}
	evs, _, err := e.hooks.List(ctx, e.merchant.ID, webhook.ListQuery{Limit: 100})
	for _, ev := range evs {
		if ev.CheckoutID == bc.ID {
			t.Errorf("alert about another merchant's checkout: %+v", ev)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

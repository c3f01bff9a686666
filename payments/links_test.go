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
)

// newLink stores an active fixed-amount link of the env's merchant.
func (e *env) newLink(amount int64, maxPayments int) *checkout.PaymentLink {
	e.t.Helper()
	l, err := checkout.NewPaymentLink(e.merchant.ID, e.store.ID, checkout.LinkTerms{
		Amount: amount, Description: "门店收款", LatePolicy: e.store.LatePolicy, MaxPayments: maxPayments, Active: true,
	}, e.clk.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.repo.CreateLink(context.Background(), l, nil, ""); err != nil {
		e.t.Fatal(err)
	}
	return l
}

// linkEvents returns the recorded events of type typ about link id.
func (r *recorder) linkEvents(id, typ string) []webhook.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []webhook.Event
	for _, e := range r.calls {
		if e.Type == typ && e.Data.PaymentLink != nil && e.Data.PaymentLink.ID == id {
			out = append(out, e)
		}
	}
	return out
}

// TestLinkSlotLifecycle: with a link limited to one payment, the expiry of
// the first payer's checkout frees the slot for a second payer; the first
// payer's money arriving after that finds the link full and is refunded
// although the late policy is "accept"; the second payer's payment counts,
// deactivates the link (one payment_link.deactivated) and carries
// payment_link on the checkout and its event.
func TestLinkSlotLifecycle(t *testing.T) {
	e := newEnv(t, envConfig{latePolicy: checkout.LatePolicyAccept, sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	l := e.newLink(1200, 1)
	c1, err := e.svc.CheckoutFromLink(ctx, l, 1200, checkout.LinkTap{})
	if err != nil {
		t.Fatal(err)
	}
	if c1.PaymentLink != l.ID || c1.Amounts.Trade != 1200 || c1.Description != "门店收款" {
		t.Fatalf("checkout from link %+v", c1)
	}
	if _, err := e.svc.CheckoutFromLink(ctx, l, 1200, checkout.LinkTap{}); !errors.Is(err, checkout.ErrLinkInactive) {
		t.Fatalf("second payer while the slot is held: %v", err)
	}
	a1 := e.order(c1, checkout.ScenarioJump, "")
	e.clk.Advance(checkout.LinkCheckoutTTL + time.Minute)
	if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if got := e.get(c1.ID); got.Status != checkout.StatusExpired {
		t.Fatalf("first checkout %s", got.Status)
	}
	c2, err := e.svc.CheckoutFromLink(ctx, l, 1200, checkout.LinkTap{})
	if err != nil {
		t.Fatalf("after the expiry released the slot: %v", err)
	}
	// The first payer's money comes late: the link has no room.
	e.pay(a1)
	if code, body := e.sendNotify(e.notifyQuery(a1, gateway.StatusPaid).Encode()); code != 200 || body != gateway.NotifySuccess {
		t.Fatalf("notify: %d %q", code, body)
	}
	got := e.get(c1.ID)
	o, _ := e.sb.Order(e.sbStore.OpenID, a1.OrdNo)
	if got.Status != checkout.StatusRefunded || !got.Late || o.Refunded != 1200 {
		t.Fatalf("late payment on a full link: %s late=%v upstream refunded %d", got.Status, got.Late, o.Refunded)
	}
	if n := len(e.events.of(c1.ID, webhook.TypeLatePaymentRefunded)); n != 1 {
		t.Fatalf("late refund events %d: %v", n, e.events.all(c1.ID))
	}
	// The second payer pays in time.
	a2 := e.order(c2, checkout.ScenarioJump, "")
	e.pay(a2)
	for range 2 { // and the notify comes twice
		if code, body := e.sendNotify(e.notifyQuery(a2, gateway.StatusPaid).Encode()); code != 200 || body != gateway.NotifySuccess {
			t.Fatalf("notify: %d %q", code, body)
		}
	}
	if got := e.get(c2.ID); got.Status != checkout.StatusPaid || got.Late {
		t.Fatalf("second checkout %s late=%v", got.Status, got.Late)
	}
	paid := e.events.of(c2.ID, webhook.TypePaid)
	if len(paid) != 1 || paid[0].Data.Checkout.PaymentLink != l.ID {
		t.Fatalf("paid events %+v", paid)
	}
	link, err := e.repo.GetLink(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if link.Payments != 1 || link.Active || link.DeactivatedBy != checkout.DeactivatedByLimit {
		t.Fatalf("link after its one payment: %+v", link)
	}
	if evs := e.events.linkEvents(l.ID, webhook.TypePaymentLinkDeactivated); len(evs) != 1 || evs[0].Data.PaymentLink.DeactivatedBy != "limit" {
		t.Fatalf("deactivated events %+v", evs)
	}
	if _, err := e.svc.CheckoutFromLink(ctx, l, 1200, checkout.LinkTap{}); !errors.Is(err, checkout.ErrLinkInactive) {
		t.Fatalf("a payer after the limit: %v", err)
	}
}

// TestLinkCancelReleasesSlot: the merchant's cancel of an unpaid checkout
// frees its link's slot; a late payment that still comes for it while the
// link has room is kept (late policy accept) and counted.
func TestLinkCancelReleasesSlot(t *testing.T) {
	e := newEnv(t, envConfig{latePolicy: checkout.LatePolicyAccept, sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	l := e.newLink(800, 1)
	c, err := e.svc.CheckoutFromLink(ctx, l, 800, checkout.LinkTap{})
	if err != nil {
		t.Fatal(err)
	}
	a := e.order(c, checkout.ScenarioJump, "")
	tr, err := e.repo.Cancel(ctx, c.ID)
	if err != nil || !tr.Changed {
		t.Fatalf("cancel: %+v %v", tr, err)
	}
	if err := e.svc.Cancelled(ctx, tr.Checkout); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.repo.LinkHeld(ctx, l.ID); n != 0 {
		t.Fatalf("%d slots held after the cancel", n)
	}
	e.pay(a)
	if code, _ := e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode()); code != 200 {
		t.Fatalf("notify: %d", code)
	}
	if got := e.get(c.ID); got.Status != checkout.StatusPaid || !got.Late {
		t.Fatalf("late payment with room: %s late=%v", got.Status, got.Late)
	}
	if link, _ := e.repo.GetLink(ctx, l.ID); link.Payments != 1 || link.Active {
		t.Fatalf("link %+v", link)
	}
}

// TestLinkLimitEventRetried: the payment that reaches a link's limit
// switches it off, but the emit of payment_link.deactivated fails. The
// payment itself goes on (paid, checkout.paid, notify answered), the
// notify's repeat does not lose or double the event, and the reconciler's
// pass after the lease sends it, exactly once.
func TestLinkLimitEventRetried(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	l := e.newLink(800, 1)
	c, err := e.svc.CheckoutFromLink(ctx, l, 800, checkout.LinkTap{})
	if err != nil {
		t.Fatal(err)
	}
	a := e.order(c, checkout.ScenarioJump, "")
	e.pay(a)
	e.events.failLinks.Store(true)
	for range 2 {
		if code, body := e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode()); code != 200 || body != gateway.NotifySuccess {
			t.Fatalf("notify: %d %q", code, body)
		}
	}
	if got := e.get(c.ID); got.Status != checkout.StatusPaid || len(e.events.of(c.ID, webhook.TypePaid)) != 1 {
		t.Fatalf("checkout %s, paid events %d", got.Status, len(e.events.of(c.ID, webhook.TypePaid)))
	}
	if link, _ := e.repo.GetLink(ctx, l.ID); link.Active || link.DeactivatedBy != checkout.DeactivatedByLimit {
		t.Fatalf("link after its limit: %+v", link)
	}
	if n := len(e.events.linkEvents(l.ID, webhook.TypePaymentLinkDeactivated)); n != 0 {
		t.Fatalf("%d deactivated events while emits fail", n)
	}
	e.events.failLinks.Store(false)
	for range 2 {
		e.clk.Advance(10 * time.Minute)
		if err := e.rec.Tick(ctx, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	evs := e.events.linkEvents(l.ID, webhook.TypePaymentLinkDeactivated)
	if len(evs) != 1 || evs[0].Data.PaymentLink.DeactivatedBy != "limit" || evs[0].Data.PaymentLink.Payments != 1 {
		t.Fatalf("deactivated events after the reconciler: %+v", evs)
	}
}

// TestLinkInTimePaymentOnRetakenSlotRefunded: a payment that comes in
// time for a checkout whose slot was released and retaken by another payer
// (its reservation lapsed) is refunded, although the late policy is
// "accept" and the payment is not late: the link never keeps more than
// max_payments.
func TestLinkInTimePaymentOnRetakenSlotRefunded(t *testing.T) {
	e := newEnv(t, envConfig{latePolicy: checkout.LatePolicyAccept, sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	l := e.newLink(1200, 1)
	c1, err := e.svc.CheckoutFromLink(ctx, l, 1200, checkout.LinkTap{})
	if err != nil {
		t.Fatal(err)
	}
	a1 := e.order(c1, checkout.ScenarioJump, "")
	if _, err := e.repo.ReleaseLinkSlot(ctx, l.ID, c1.ID); err != nil {
		t.Fatal(err)
	}
	c2, err := e.svc.CheckoutFromLink(ctx, l, 1200, checkout.LinkTap{})
	if err != nil {
		t.Fatalf("retake: %v", err)
	}
	a2 := e.order(c2, checkout.ScenarioJump, "")
	e.pay(a2)
	if code, _ := e.sendNotify(e.notifyQuery(a2, gateway.StatusPaid).Encode()); code != 200 {
		t.Fatalf("notify: %d", code)
	}
	e.pay(a1)
	if code, _ := e.sendNotify(e.notifyQuery(a1, gateway.StatusPaid).Encode()); code != 200 {
		t.Fatalf("notify: %d", code)
	}
	got := e.get(c1.ID)
	o, _ := e.sb.Order(e.sbStore.OpenID, a1.OrdNo)
	if got.Late || got.Status != checkout.StatusRefunded || o.Refunded != 1200 {
		t.Fatalf("in-time payment beyond the limit: %s late=%v upstream refunded %d", got.Status, got.Late, o.Refunded)
	}
	if link, _ := e.repo.GetLink(ctx, l.ID); link.Payments != 1 {
		t.Fatalf("link counts %d payments", link.Payments)
	}
}

// TestLinkDeactivatedOpenCheckoutFinishes: the merchant switches a
// limited link off while a payer's checkout from it is open: new payers
// are refused at once, but the open checkout is paid in time, kept (not
// refunded) and counted.
func TestLinkDeactivatedOpenCheckoutFinishes(t *testing.T) {
	e := newEnv(t, envConfig{latePolicy: checkout.LatePolicyRefund, sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	l := e.newLink(900, 3)
	c, err := e.svc.CheckoutFromLink(ctx, l, 900, checkout.LinkTap{})
	if err != nil {
		t.Fatal(err)
	}
	a := e.order(c, checkout.ScenarioJump, "")
	off := false
	if ch, err := e.repo.UpdateLink(ctx, e.merchant.ID, l.ID, checkout.LinkUpdate{Active: &off}, ""); err != nil || !ch.Deactivated {
		t.Fatalf("deactivate: %+v %v", ch, err)
	}
	if _, err := e.svc.CheckoutFromLink(ctx, l, 900, checkout.LinkTap{}); !errors.Is(err, checkout.ErrLinkInactive) {
		t.Fatalf("a new payer after the deactivation: %v", err)
	}
	e.pay(a)
	if code, body := e.sendNotify(e.notifyQuery(a, gateway.StatusPaid).Encode()); code != 200 || body != gateway.NotifySuccess {
		t.Fatalf("notify: %d %q", code, body)
	}
	o, _ := e.sb.Order(e.sbStore.OpenID, a.OrdNo)
	if got := e.get(c.ID); got.Status != checkout.StatusPaid || got.Late || o.Refunded != 0 {
		t.Fatalf("the open checkout after the deactivation: %s late=%v refunded %d", got.Status, got.Late, o.Refunded)
	}
	if link, _ := e.repo.GetLink(ctx, l.ID); link.Payments != 1 || link.Active || link.DeactivatedBy != checkout.DeactivatedByMerchant {
		t.Fatalf("link %+v", link)
	}
}

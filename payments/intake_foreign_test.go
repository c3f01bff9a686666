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

// TestNotifyForeignOrder: a notify, validly signed by its own store, that
// names an order of another store (of the same merchant, or of another
// merchant whose store has the same id) or another gateway order (ord_no
// different, or missing while ours is known) is refused with
// ErrUnknownOrder, asks no paystatus, changes nothing and holds no
// paystatus window: before the order is settled and after. The settled
// case matters most: since the intake script answers a settled duplicate
// without sending the records back, the store check there lives only in
// Lua, and a foreign notify must get the same refusal, never success.
func TestNotifyForeignOrder(t *testing.T) {
	spy := &gwSpy{}
	e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()

	// A second store of the same merchant, and another merchant whose
	// store is also called "main": each with its own gateway account.
	account := func() *gateway.Store {
		t.Helper()
		sb := sandbox.GenerateStore()
		if err := e.sb.AddStore(sb); err != nil {
			t.Fatal(err)
		}
		gs, err := gateway.NewStore(e.gs.BaseURL, sb.OpenID, sb.OpenKey, sb.ShopPass)
		if err != nil {
			t.Fatal(err)
		}
		return gs
	}
	second := &checkout.Store{ID: "second", Name: "Second", Sandbox: true, LatePolicy: e.store.LatePolicy,
		WeChat: e.store.WeChat, Alipay: e.store.Alipay}
	e.merchant.Stores = append(e.merchant.Stores, second)
	sameID := &checkout.Store{ID: e.store.ID, Name: "Other main", Sandbox: true, LatePolicy: e.store.LatePolicy,
		WeChat: e.store.WeChat, Alipay: e.store.Alipay}
	other := &checkout.Merchant{ID: e.merchant.ID + "x", Name: "Other", Stores: []*checkout.Store{sameID}}
	var err error
	if e.dir, err = checkout.NewDirectory([]*checkout.Merchant{e.merchant, other}); err != nil {
		t.Fatal(err)
	}
	gsSecond, gsOther := account(), account()
	if err := e.accounts.Add(e.merchant.ID, second.ID, gsSecond); err != nil {
		t.Fatal(err)
	}
	if err := e.accounts.Add(other.ID, sameID.ID, gsOther); err != nil {
		t.Fatal(err)
	}
	e.start() // the service with the new directory and accounts

	type notifier struct {
		name   string
		gs     *gateway.Store
		ordNo  func(a *checkout.Attempt) string
		status gateway.Status
	}
	own := func(a *checkout.Attempt) string { return a.OrdNo }
	var foreign []notifier
	for _, st := range []gateway.Status{gateway.StatusPaid, gateway.StatusCanceled} {
		foreign = append(foreign,
			notifier{"another store of the merchant", gsSecond, own, st},
			notifier{"another merchant's store of the same id", gsOther, own, st},
			notifier{"another gateway order", e.gs, func(a *checkout.Attempt) string { return a.OrdNo + "9" }, st},
			notifier{"no gateway order while ours is known", e.gs, func(*checkout.Attempt) string { return "" }, st},
		)
	}
	send := func(n notifier, a *checkout.Attempt) error {
		q := gateway.CallbackQuery(n.gs.Key, gateway.Callback{OrdNo: n.ordNo(a), OutNo: a.OutNo, Status: n.status,
			Timestamp: e.clk.Now(), RandStr: "r4nd0m"})
		return e.svc.Notify(ctx, n.gs.OpenID, q)
	}
	refusedAll := func(t *testing.T, c *checkout.Checkout, a *checkout.Attempt, wantStatus checkout.Status) {
		t.Helper()
		for _, n := range foreign {
			calls := spy.statusCalls(a.OutNo)
			err := send(n, a)
			if !errors.Is(err, payments.ErrUnknownOrder) {
				t.Errorf("%s, says %s: %v, want ErrUnknownOrder", n.name, n.status, err)
			}
			if got := spy.statusCalls(a.OutNo); got != calls {
				t.Errorf("%s, says %s: asked paystatus", n.name, n.status)
			}
			if got := e.get(c.ID); got.Status != wantStatus {
				t.Fatalf("%s, says %s: checkout moved to %s", n.name, n.status, got.Status)
			}
		}
	}

	c := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	e.pay(a) // paid at the gateway, not yet known to us

	t.Run("order not settled", func(t *testing.T) {
		refusedAll(t, c, a, checkout.StatusPending)
		if evs := e.events.all(c.ID); len(evs) != 0 {
			t.Fatalf("events emitted: %v", evs)
		}
	})
	// The refused notifies held no window: the owner's notify asks
	// paystatus at once and is taken.
	calls := spy.statusCalls(a.OutNo)
	if err := e.svc.Notify(ctx, e.gs.OpenID, e.notifyQuery(a, gateway.StatusPaid)); err != nil {
		t.Fatalf("the owner's notify: %v", err)
	}
	if got := spy.statusCalls(a.OutNo); got != calls+1 {
		t.Fatalf("the owner's notify made %d paystatus calls, want 1", got-calls)
	}
	t.Run("order settled", func(t *testing.T) {
		refusedAll(t, c, a, checkout.StatusPaid)
		if evs := e.events.of(c.ID, webhook.TypePaid); len(evs) != 1 {
			t.Fatalf("%d paid events, want 1", len(evs))
		}
	})
	// The owner's duplicate is still answered from the store.
	calls = spy.statusCalls(a.OutNo)
	if err := e.svc.Notify(ctx, e.gs.OpenID, e.notifyQuery(a, gateway.StatusPaid)); err != nil {
		t.Fatalf("the owner's duplicate: %v", err)
	}
	if got := spy.statusCalls(a.OutNo); got != calls {
		t.Fatalf("the owner's duplicate asked paystatus")
	}
}

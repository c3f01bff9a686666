package payments_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
)

// TestDuplicateNotifiesCountOnce: the gateway's notify of a payment, sent
// again, and again several at once, indexes the checkout as paid and
// counts it once in its day's sums (the overview's figures).
func TestDuplicateNotifiesCountOnce(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	c := e.newCheckout(1234, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	e.pay(a)
	q := e.notifyQuery(a, gateway.StatusPaid)
	if err := e.svc.Notify(ctx, e.gs.OpenID, q); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { _ = e.svc.Notify(ctx, e.gs.OpenID, q) })
	}
	wg.Wait()
	if err := e.svc.Notify(ctx, e.gs.OpenID, q); err != nil {
		t.Fatal(err)
	}
	sums, err := e.repo.DaySums(ctx, e.merchant.ID, []time.Time{e.get(c.ID).PaidAt})
	if err != nil {
		t.Fatal(err)
	}
	if want := (checkout.DaySums{Paid: 1, PaidFen: 1234}); sums[0] != want {
		t.Errorf("day sums %+v, want %+v", sums[0], want)
	}
	page, _, err := e.repo.List(ctx, e.merchant.ID, checkout.ListQuery{Status: checkout.StatusPaid})
	if err != nil || len(page) != 1 || page[0].ID != c.ID {
		t.Errorf("paid list: %d, %v", len(page), err)
	}
}

package webhook

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestList(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, always(http.StatusOK))
	f.merchant("m_acme", rc.URL)
	f.merchant("m_other", rc.URL)
	ctx := context.Background()

	// Seven events, one second apart, newest last; two of them share a
	// checkout; one belongs to another merchant.
	var ids []string
	types := []string{TypePaid, TypeExpired, TypePaid, TypeCancelled, TypePaid, TypeRefundSucceeded, TypeAmountMismatch}
	shared := testCheckout(t, "m_acme", f.clk.Now())
	for i, typ := range types {
		c := testCheckout(t, "m_acme", f.clk.Now())
		if i == 4 || i == 5 {
			c = shared
		}
		e, err := NewEvent(typ, c, testPublicURL, f.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
		f.clk.Advance(time.Second)
	}
	foreign := f.emit(t, "m_other", TypePaid)
	f.tick(t, f.svc)

	var all []string
	cursor := ""
	for pages := 0; ; pages++ {
		page, next, err := f.svc.List(ctx, "m_acme", ListQuery{Limit: 3, After: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			all = append(all, r.ID)
			if len(r.Delivery.Attempts) != 1 || r.Delivery.State != StateDelivered || r.Delivery.Attempts[0].Status != 200 {
				t.Errorf("%s: delivery %+v", r.ID, r.Delivery)
			}
		}
		if next == "" {
			if pages != 2 {
				t.Errorf("%d pages, want 3", pages+1)
			}
			break
		}
		cursor = next
	}
	if len(all) != len(ids) {
		t.Fatalf("listed %d, want %d", len(all), len(ids))
	}
	for i, id := range all {
		if id != ids[len(ids)-1-i] {
			t.Errorf("position %d: %s, want %s (newest first)", i, id, ids[len(ids)-1-i])
		}
	}

	count := func(q ListQuery) int {
		t.Helper()
		page, _, err := f.svc.List(ctx, "m_acme", q)
		if err != nil {
			t.Fatal(err)
		}
		return len(page)
	}
	filters := []struct {
		name string
		q    ListQuery
		want int
	}{
		{"type", ListQuery{Type: TypePaid}, 3},
		{"checkout", ListQuery{CheckoutID: shared.ID}, 2},
		{"checkout and type", ListQuery{CheckoutID: shared.ID, Type: TypeRefundSucceeded}, 1},
		{"unknown checkout", ListQuery{CheckoutID: "co_0123456789ABCDEFabcdefXY"}, 0},
		{"garbage checkout", ListQuery{CheckoutID: "../x"}, 0},
		{"other merchant's checkout", ListQuery{CheckoutID: foreign.CheckoutID}, 0},
	}
	for _, tc := range filters {
		if got := count(tc.q); got != tc.want {
			t.Errorf("%s: %d events, want %d", tc.name, got, tc.want)
		}
	}
	if _, _, err := f.svc.List(ctx, "m_acme", ListQuery{Type: "nope"}); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("unknown type filter: %v", err)
	}
	for _, cur := range []string{foreign.ID, "garbage", ids[0] + "x"} {
		if _, _, err := f.svc.List(ctx, "m_acme", ListQuery{After: cur}); !errors.Is(err, ErrBadCursor) {
			t.Errorf("cursor %q: %v, want ErrBadCursor", cur, err)
		}
	}
	if page, _, _ := f.svc.List(ctx, "m_nobody", ListQuery{}); len(page) != 0 {
		t.Errorf("a merchant without events sees %d", len(page))
	}
	if _, err := f.svc.Get(ctx, "m_acme", foreign.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("another merchant's event: %v", err)
	}
	if r, err := f.svc.Get(ctx, "m_other", foreign.ID); err != nil || r.ID != foreign.ID {
		t.Errorf("own event: %v", err)
	}
}

// BenchmarkEmit measures storing and scheduling one event: one Redis round
// trip (counted with a hook) and its allocations.
func BenchmarkEmit(b *testing.B) {
	f := newFixture(b)
	counter := &roundTrips{}
	f.rdb.AddHook(counter)
	c := testCheckout(b, "m_acme", f.clk.Now())
	now := f.clk.Now()
	events := make([]Event, b.N)
	for i := range events {
		e, err := NewEvent(TypePaid, c, testPublicURL, now)
		if err != nil {
			b.Fatal(err)
		}
		events[i] = e
	}
	ctx := context.Background()
	// Load the script once so the loop measures EVALSHA, as in production.
	if err := f.svc.Emit(ctx, events[0]); err != nil {
		b.Fatal(err)
	}
	counter.n.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := f.svc.Emit(ctx, events[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(counter.n.Load())/float64(b.N), "roundtrips/op")
}

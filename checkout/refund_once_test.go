package checkout

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// TestRecordRefundOnce: a refund recorded again (a retry after a crash)
// changes nothing, even once the checkout is fully refunded; each refund
// counts once, whatever the interleaving.
func TestRecordRefundOnce(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	c := stateOf(t, r, clk, "paid")
	tr, err := r.RecordRefund(ctx, c.ID, "R1", 300)
	if err != nil || !tr.Changed || tr.Checkout.Refunded != 300 {
		t.Fatalf("first: %+v %v", tr, err)
	}
	tr, err = r.RecordRefund(ctx, c.ID, "R1", 300)
	if err != nil || tr.Changed || tr.Checkout.Refunded != 300 || tr.To != StatusPartiallyRefunded {
		t.Fatalf("again: %+v %v", tr, err)
	}
	for _, bad := range []string{"", "R 1", "R1}", "{co_x}", string(make([]byte, 65))} {
		if _, err := r.RecordRefund(ctx, c.ID, bad, 1); !errors.Is(err, ErrInvalid) {
			t.Fatalf("key %q: %v", bad, err)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	changed := 0
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr, err := r.RecordRefund(ctx, c.ID, "R2", 700)
			if err != nil {
				t.Error(err)
				return
			}
			if tr.Changed {
				mu.Lock()
				changed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	got, err := r.Get(ctx, c.ID)
	if err != nil || changed != 1 || got.Refunded != 1000 || got.Status != StatusRefunded {
		t.Fatalf("concurrent: %d changed, %+v %v", changed, got, err)
	}
	// Recorded again once refunded: no error, nothing changes.
	tr, err = r.RecordRefund(ctx, c.ID, "R1", 300)
	if err != nil || tr.Changed || tr.Checkout.Refunded != 1000 {
		t.Fatalf("after the full refund: %+v %v", tr, err)
	}
}

package console

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/internal/redistest"
)

// TestRefundBudget: support refunds of a merchant share one budget per
// day in UTC+8; one form's key counts once however often it is posted;
// concurrent posts never pass the limit together; a released refund gives
// its amount back.
func TestRefundBudget(t *testing.T) {
	rdb := redistest.New(t)
	// 23:30 in UTC+8 on Dec 2; 31 minutes later it is Dec 3 there.
	now := time.Date(2026, 12, 2, 15, 30, 0, 0, time.UTC)
	b := NewRefundBudget(rdb, redistest.Prefix(t, rdb), func() time.Time { return now })
	ctx := t.Context()
	if err := b.Reserve(ctx, "shop", "k1", 600, 1000); err != nil {
		t.Fatal(err)
	}
	if err := b.Reserve(ctx, "shop", "k1", 600, 1000); err != nil {
		t.Errorf("the same form again: %v, want counted once", err)
	}
	if err := b.Reserve(ctx, "shop", "k2", 500, 1000); !errors.Is(err, ErrOverBudget) {
		t.Errorf("600 + 500 of 1000: %v, want ErrOverBudget", err)
	}
	if err := b.Reserve(ctx, "other", "k2", 500, 1000); err != nil {
		t.Errorf("another merchant's budget: %v", err)
	}
	if used, _ := b.Used(ctx, "shop"); used != 600 {
		t.Errorf("used %d, want 600", used)
	}
	if err := b.Release(ctx, "shop", "k1"); err != nil {
		t.Fatal(err)
	}
	if err := b.Release(ctx, "shop", "k1"); err != nil {
		t.Fatal(err)
	}
	if used, _ := b.Used(ctx, "shop"); used != 0 {
		t.Errorf("after release used %d, want 0", used)
	}
	for _, bad := range []int64{0, -5} {
		if err := b.Reserve(ctx, "shop", "k9", bad, 1000); err == nil {
			t.Errorf("amount %d reserved", bad)
		}
	}
	// Concurrent forms: at most the limit passes.
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed := 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if b.Reserve(ctx, "shop", "c"+string(rune('a'+i)), 100, 1000) == nil {
				mu.Lock()
				passed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if passed != 10 {
		t.Errorf("%d concurrent 100-fen refunds passed a 1000 budget, want 10", passed)
	}
	now = now.Add(31 * time.Minute)
	if err := b.Reserve(ctx, "shop", "next-day", 1000, 1000); err != nil {
		t.Errorf("the next day in UTC+8: %v", err)
	}
}

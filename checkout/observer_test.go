package checkout

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/wallet-checkout/checkout/internal/redistest"
)

// TestObserverOncePerMove: racing calls report one move, with the
// statuses and the merchant, and refused calls report nothing.
func TestObserverOncePerMove(t *testing.T) {
	clk := newClock()
	rdb := redistest.New(t)
	var (
		mu    sync.Mutex
		moves []string
	)
	r := NewRepo(rdb, WithPrefix(redistest.Prefix(t, rdb)), WithClock(clk.Now),
		WithObserver(func(from, to Status, merchantID string) {
			mu.Lock()
			defer mu.Unlock()
			moves = append(moves, fmt.Sprintf("%s %s>%s", merchantID, from, to))
		}))
	ctx := context.Background()
	c := create(t, r, clk, "m_obs")
	if _, _, err := r.AddAttempt(ctx, c.ID, MethodWeChat, ScenarioJSAPI); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.MarkPaid(ctx, c.ID, 1, "ORD1"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if _, err := r.Cancel(ctx, c.ID); err != nil { // refused: paid
		t.Fatal(err)
	}
	if _, err := r.RecordRefund(ctx, c.ID, "r1", 100); err != nil {
		t.Fatal(err)
	}
	want := []string{"m_obs open>pending", "m_obs pending>paid", "m_obs paid>partially_refunded"}
	if fmt.Sprint(moves) != fmt.Sprint(want) {
		t.Errorf("moves %q, want %q", moves, want)
	}
}

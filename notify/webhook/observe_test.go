package webhook

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestObserverAndQueueStats: each attempt is reported with its result and
// merchant; the schedule's depth and oldest due time follow the events,
// and a delivered event leaves it.
func TestObserverAndQueueStats(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []string
	)
	f := newFixture(t, WithObserver(func(result, merchantID string) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, merchantID+" "+result)
	}))
	ctx := context.Background()
	if n, due, err := f.svc.QueueStats(ctx); err != nil || n != 0 || !due.IsZero() {
		t.Fatalf("empty queue: %d %v %v", n, due, err)
	}
	rc := newReceiver(t, func(n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	f.merchant("m_obs", rc.URL+"/hooks")
	first := f.clk.Now()
	f.emit(t, "m_obs", TypePaid)
	f.clk.Advance(time.Second)
	f.emit(t, "m_obs", TypePaid)
	n, due, err := f.svc.QueueStats(ctx)
	if err != nil || n != 2 || due.UnixMilli() != first.UnixMilli() {
		t.Fatalf("queue %d, oldest due %v (%v); want 2, %v", n, due, err, first)
	}
	f.tick(t, f.svc) // one fails (retry), one is delivered
	n, _, err = f.svc.QueueStats(ctx)
	if err != nil || n != 1 {
		t.Fatalf("after one delivery and one failure: depth %d (%v), want 1", n, err)
	}
	mu.Lock()
	got := fmt.Sprint(seen)
	mu.Unlock()
	if got != "[m_obs retry m_obs ok]" && got != "[m_obs ok m_obs retry]" {
		t.Errorf("observed %s, want one retry and one ok", got)
	}
}

package checkout

import (
	"context"
	"sync"
	"testing"
	"time"
)

// BenchmarkConsoleList100k: one merchant with 100,000 checkouts over 10
// days; a console page (50) of one day read from the time index, and a
// page of the status filter (a bounded window of 1,000 at most).
//
//	go test -run '^$' -bench ConsoleList100k -benchtime 50x ./checkout/
func BenchmarkConsoleList100k(b *testing.B) {
	r, clk := newTestRepo(b)
	ctx := context.Background()
	const n = 100_000
	start := clk.Now()
	step := 10 * 24 * time.Hour / n
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				d := draft("m1")
				c, err := NewCheckout(d, start.Add(time.Duration(i)*step))
				if err == nil {
					err = r.Create(ctx, c, nil)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	day := start.Add(5 * 24 * time.Hour)
	b.Run("day", func(b *testing.B) {
		for b.Loop() {
			page, _, err := r.List(ctx, "m1", ListQuery{Limit: 50, From: day, To: day.Add(24*time.Hour - time.Millisecond)})
			if err != nil || len(page) != 50 {
				b.Fatalf("%d rows, %v", len(page), err)
			}
		}
	})
	b.Run("status-window", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := r.List(ctx, "m1", ListQuery{Limit: 50, Status: StatusPaid}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

package checkout

import (
	"context"
	"sync"
	"testing"
	"time"
)

// BenchmarkConsoleList100k: one merchant with 100,000 checkouts over 10
// days, a quarter of them paid and a quarter pending; a console page (50)
// of one day read from the time index, a page of paid ones (the status
// index), of paid ones created on one day (the status index by range),
// of those paid on one day (the paid index), and the overview's eight
// days of sums.
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
				if err == nil && i%4 < 2 {
					var a *Attempt
					a, _, err = r.AddAttempt(ctx, c.ID, MethodWeChat, ScenarioQR)
					if err == nil && i%4 == 0 {
						_, err = r.MarkPaid(ctx, c.ID, a.Seq, "")
					}
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
	// What the status index costs per checkout (every checkout is in one
	// set), and the paid index per paid checkout.
	var used int64
	for _, st := range indexStatuses {
		used += r.rdb.MemoryUsage(ctx, r.keyStatus("m1", st), 0).Val()
	}
	paid := r.rdb.MemoryUsage(ctx, r.keyMerchant("m1", string(ByPaid)), 0).Val()
	b.Logf("status index: %d bytes per checkout; paid index: %d bytes per paid checkout", used/n, paid/(n/4))
	// What the first start after the upgrade costs: the rebuild of a
	// merchant's whole index (idempotent: it finds everything indexed).
	began := time.Now()
	if k, err := r.RebuildStatusIndex(ctx, "m1"); err != nil || k != n {
		b.Fatalf("rebuild: %d, %v", k, err)
	}
	b.Logf("rebuild of %d checkouts: %v", n, time.Since(began))
	day := start.Add(5 * 24 * time.Hour)
	b.Run("day", func(b *testing.B) {
		for b.Loop() {
			page, _, err := r.List(ctx, "m1", ListQuery{Limit: 50, From: day, To: day.Add(24*time.Hour - time.Millisecond)})
			if err != nil || len(page) != 50 {
				b.Fatalf("%d rows, %v", len(page), err)
			}
		}
	})
	full := func(b *testing.B, q ListQuery) {
		for b.Loop() {
			page, next, err := r.List(ctx, "m1", q)
			if err != nil || len(page) != 50 || next == "" {
				b.Fatalf("%d rows, next %q, %v", len(page), next, err)
			}
		}
	}
	b.Run("status", func(b *testing.B) {
		full(b, ListQuery{Limit: 50, Status: StatusPaid})
	})
	b.Run("status-day", func(b *testing.B) {
		full(b, ListQuery{Limit: 50, Status: StatusPending, From: day, To: day.Add(24*time.Hour - time.Millisecond)})
	})
	b.Run("paid-on-day", func(b *testing.B) {
		// MarkPaid stamps the repository's clock, which stands still here:
		// every payment is at start.
		full(b, ListQuery{Limit: 50, By: ByPaid, From: start, To: start.Add(24*time.Hour - time.Millisecond)})
	})
	b.Run("overview-sums", func(b *testing.B) {
		days := make([]time.Time, 8)
		for i := range days {
			days[i] = start.AddDate(0, 0, i)
		}
		for b.Loop() {
			s, err := r.DaySums(ctx, "m1", days)
			if err != nil || s[0].Paid != n/4 {
				b.Fatalf("%+v, %v", s, err)
			}
		}
	})
}

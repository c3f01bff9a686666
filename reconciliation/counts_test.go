package reconciliation

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// sumRuns adds up what a store's kept runs say: open differences and
// alerts raised (differences with an event id).
func (e *env) sumRuns(dates ...string) StoreCounts {
	e.t.Helper()
	var sc StoreCounts
	for _, date := range dates {
		r, err := e.svc.Get(context.Background(), e.merchant.ID, RunID(e.merchant.ID, e.store.ID, date))
		if err != nil {
			e.t.Fatalf("get %s: %v", date, err)
		}
		sc.Open += int64(r.Counts.Open)
		for _, d := range r.Differences {
			if d.EventID != "" {
				sc.Raised++
			}
		}
	}
	return sc
}

// expire does to a run what Redis does when its lifetime ends.
func (e *env) expire(date string) {
	e.t.Helper()
	day := compact(date)
	if err := e.rdb.Del(context.Background(), e.svc.keyRun(e.merchant.ID, e.store.ID, day),
		e.svc.keyDiffs(e.merchant.ID, e.store.ID, day)).Err(); err != nil {
		e.t.Fatal(err)
	}
}

// TestStoreCountsFollowTheKeptRuns: a store's counts are those of its runs
// that still exist, exact after re-runs, acknowledgements and resolutions,
// and a run that expired takes its open differences and alerts with it.
func TestStoreCountsFollowTheKeptRuns(t *testing.T) {
	const first, second = "2026-11-30", "2026-12-01"
	e := newEnv(t, china(2026, 11, 30, 12, 0, 0), envOptions{})
	ctx := context.Background()
	open := e.sbStore.OpenID
	counts := func(when string, want StoreCounts) {
		t.Helper()
		got, err := e.svc.Counts(ctx, e.merchant.ID, e.store.ID)
		if err != nil || got != want {
			t.Errorf("%s: store counts %+v %v, want %+v", when, got, err, want)
		}
	}

	// The first day: two payments the gateway lost.
	var lostFirst []string
	for _, amount := range []int64{1000, 1100} {
		_, out := e.paid(amount)
		if err := e.sb.DropOrder(open, out); err != nil {
			t.Fatal(err)
		}
		lostFirst = append(lostFirst, out)
	}
	e.clk.Set(china(2026, 12, 1, 0, 30, 0))
	r1 := e.reconcile(first)
	if r1.Counts.Open != 2 {
		t.Fatalf("first day:\n%s", describe(r1))
	}
	counts("first day", e.sumRuns(first))

	// The second day: three more.
	e.clk.Set(noon)
	var lostSecond []string
	for _, amount := range []int64{1200, 1300, 1400} {
		_, out := e.paid(amount)
		if err := e.sb.DropOrder(open, out); err != nil {
			t.Fatal(err)
		}
		lostSecond = append(lostSecond, out)
	}
	e.clk.Set(after)
	r2 := e.reconcile(second)
	if r2.Counts.Open != 3 {
		t.Fatalf("second day:\n%s", describe(r2))
	}
	counts("both days", StoreCounts{Open: 5, Raised: 5})

	// Acknowledged, resolved by the merchant, re-run: still the runs' sum.
	if _, err := e.svc.SetStatus(ctx, e.merchant.ID, r2.ID, byOutNo(r2, lostSecond[0])[0].ID, StatusAcknowledged, "seen"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetStatus(ctx, e.merchant.ID, r2.ID, byOutNo(r2, lostSecond[1])[0].ID, StatusResolved, "refunded by hand"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetStatus(ctx, e.merchant.ID, r1.ID, byOutNo(r1, lostFirst[0])[0].ID, StatusResolved, ""); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Hour)
	e.reconcile(second)
	e.reconcile(first)
	want := e.sumRuns(first, second)
	// A resolution the re-run finds again is reopened: 2 + 2 open.
	if want.Open != 4 || want.Raised != 5 {
		t.Fatalf("runs add up to %+v", want)
	}
	counts("after acknowledgements and re-runs", want)

	// The first day's run reaches the end of its lifetime (the second day's
	// re-run renewed the store's other keys): its open difference and its
	// alerts go with it.
	e.expire(first)
	counts("after the first day's run expired", e.sumRuns(second))
	days := e.svc.keyDays(e.merchant.ID, e.store.ID)
	if got, err := e.rdb.ZRange(ctx, days, 0, -1).Result(); err != nil || len(got) != 1 || got[0] != compact(second) {
		t.Errorf("index of days after the first expired: %v %v", got, err)
	}
	e.expire(second)
	counts("after every run expired", StoreCounts{})
	if n, err := e.rdb.Exists(ctx, days).Result(); err != nil || n != 0 {
		t.Errorf("index of days outlives every run: %d %v", n, err)
	}
}

// TestStoreIndexBounded: every write drops the entries of runs that ended
// a retention ago or more, read or not; the old running total is gone.
func TestStoreIndexBounded(t *testing.T) {
	e := newEnv(t, noon, envOptions{})
	ctx := context.Background()
	days := e.svc.keyDays(e.merchant.ID, e.store.ID)
	stats := e.svc.keyStats(e.merchant.ID, e.store.ID)
	e.clk.Set(after)
	ended := e.clk.Now().Add(-e.svc.retention).Add(-time.Millisecond)
	if err := e.rdb.ZAdd(ctx, days, redis.Z{Score: float64(ended.UnixMilli()), Member: "20200101"}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.rdb.HSet(ctx, stats, "open", 9).Err(); err != nil {
		t.Fatal(err)
	}
	e.reconcile(day)
	got, err := e.rdb.ZRangeWithScores(ctx, days, 0, -1).Result()
	if err != nil || len(got) != 1 || got[0].Member != compact(day) ||
		int64(got[0].Score) != e.clk.Now().Add(e.svc.retention).UnixMilli() {
		t.Errorf("index of days %v %v", got, err)
	}
	if ttl, err := e.rdb.PTTL(ctx, days).Result(); err != nil || ttl <= 0 || ttl > e.svc.retention {
		t.Errorf("index of days lives %v %v", ttl, err)
	}
	if n, _ := e.rdb.Exists(ctx, stats).Result(); n != 0 {
		t.Error("the old running total is still there")
	}
}

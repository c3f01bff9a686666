package checkout

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// pay adds an attempt to c and marks it paid.
func pay(t testing.TB, r *Repo, id string) *Payment {
	t.Helper()
	ctx := context.Background()
	a, _, err := r.AddAttempt(ctx, id, MethodWeChat, ScenarioQR)
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.MarkPaid(ctx, id, a.Seq, "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStatusIndexFindsOldCheckouts: a status page is read from the
// per-status index, not a window of the time index: three paid checkouts
// older than more than a window (listScanMax) of open ones are one full
// page, with no cursor; each status change moves the checkout between
// the sets.
func TestStatusIndexFindsOldCheckouts(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	var paid, cancelled, pending []string
	for range 3 {
		c := create(t, r, clk, "m1")
		pay(t, r, c.ID)
		paid = append(paid, c.ID)
		clk.Advance(time.Millisecond)
	}
	c := create(t, r, clk, "m1")
	if _, err := r.Cancel(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	cancelled = append(cancelled, c.ID)
	c = create(t, r, clk, "m1")
	if _, _, err := r.AddAttempt(ctx, c.ID, MethodAlipay, ScenarioQR); err != nil {
		t.Fatal(err)
	}
	pending = append(pending, c.ID)
	for i := 0; i < listScanMax+50; i++ {
		clk.Advance(time.Millisecond)
		create(t, r, clk, "m1")
	}
	// A refund moves the first paid one on.
	if _, err := r.RecordRefund(ctx, paid[0], "rf_1", 100); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(paid)
	for _, tc := range []struct {
		st   Status
		want []string
	}{
		{StatusPaid, paid[:2]},
		{StatusPartiallyRefunded, paid[2:]},
		{StatusCancelled, cancelled},
		{StatusPending, pending},
	} {
		got, next, err := r.List(ctx, "m1", ListQuery{Status: tc.st, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(got), tc.want) || next != "" {
			t.Errorf("%s: %v next %q, want %v", tc.st, ids(got), next, tc.want)
		}
	}
	// Status and dates together: the day of the paid ones, and a day
	// without any.
	from := clk.Now().Add(-time.Hour)
	got, _, err := r.List(ctx, "m1", ListQuery{Status: StatusPaid, Limit: 50, From: from, To: clk.Now()})
	if err != nil || len(got) != 2 {
		t.Fatalf("paid today: %v, %v", ids(got), err)
	}
	got, _, err = r.List(ctx, "m1", ListQuery{Status: StatusPaid, Limit: 50, From: from.Add(-48 * time.Hour), To: from.Add(-24 * time.Hour)})
	if err != nil || len(got) != 0 {
		t.Fatalf("paid two days ago: %v, %v", ids(got), err)
	}
	// Another merchant's index is its own.
	got, _, err = r.List(ctx, "m2", ListQuery{Status: StatusPaid, Limit: 50})
	if err != nil || len(got) != 0 {
		t.Fatalf("m2: %v, %v", ids(got), err)
	}
}

// sumsOf reads m1's sums of the day of at.
func sumsOf(t *testing.T, r *Repo, at time.Time) DaySums {
	t.Helper()
	s, err := r.DaySums(context.Background(), "m1", []time.Time{at})
	if err != nil {
		t.Fatal(err)
	}
	return s[0]
}

// TestDaySumsCountOnce: a payment counts once in its day's sums whatever
// repeats it: the same notify again, the index written again, a rebuild;
// a refund counts once on the day it was recorded, however often it is
// recorded.
func TestDaySumsCountOnce(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	c := create(t, r, clk, "m1")
	a, _, err := r.AddAttempt(ctx, c.ID, MethodWeChat, ScenarioQR)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // the first notify and two duplicates
		if _, err := r.MarkPaid(ctx, c.ID, a.Seq, "ord1"); err != nil {
			t.Fatal(err)
		}
		if err := r.IndexStatus(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	paidAt := clk.Now()
	if got, want := sumsOf(t, r, paidAt), (DaySums{Paid: 1, PaidFen: 1000}); got != want {
		t.Fatalf("after duplicate notifies: %+v, want %+v", got, want)
	}
	clk.Advance(25 * time.Hour) // refunded the next day, twice (a retry)
	for range 2 {
		if _, err := r.RecordRefund(ctx, c.ID, "rf_1", 300); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(25 * time.Hour) // and recorded again a day later
	if _, err := r.RecordRefund(ctx, c.ID, "rf_1", 300); err != nil {
		t.Fatal(err)
	}
	if got, want := sumsOf(t, r, paidAt.Add(25*time.Hour)), (DaySums{Refunds: 1, RefundFen: 300}); got != want {
		t.Fatalf("refund day: %+v, want %+v", got, want)
	}
	if got := sumsOf(t, r, clk.Now()); got != (DaySums{}) {
		t.Fatalf("the retry's day counted %+v", got)
	}
	// A rebuild (marker gone) counts nothing again.
	if err := r.rdb.Del(ctx, r.statusIndexMarker("m1")).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := r.RebuildStatusIndex(ctx, "m1"); err != nil || n != 1 {
		t.Fatalf("rebuild: %d, %v", n, err)
	}
	if got, want := sumsOf(t, r, paidAt), (DaySums{Paid: 1, PaidFen: 1000}); got != want {
		t.Fatalf("after a rebuild: %+v, want %+v", got, want)
	}
}

// TestStatusIndexGapClosedByExpiry: a payment whose index write was lost
// (MarkPaidThen leaves it to its caller, who died) is indexed by the
// expiry poller's Expire, which is refused for a paid checkout.
func TestStatusIndexGapClosedByExpiry(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	c := create(t, r, clk, "m1")
	a, _, err := r.AddAttempt(ctx, c.ID, MethodWeChat, ScenarioQR)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.MarkPaidThen(ctx, c.ID, a.Seq, "", NewPayScript("return 0"), nil); err != nil {
		t.Fatal(err)
	}
	list := func(s Status) []string {
		got, _, err := r.List(ctx, "m1", ListQuery{Status: s})
		if err != nil {
			t.Fatal(err)
		}
		return ids(got)
	}
	if got := list(StatusPaid); len(got) != 0 {
		t.Fatalf("indexed before the poller: %v", got)
	}
	clk.Advance(c.ExpiresAt.Sub(clk.Now()) + time.Second)
	if tr, err := r.Expire(ctx, c.ID); err != nil || tr.Changed {
		t.Fatalf("expire a paid checkout: %+v, %v", tr, err)
	}
	if got := list(StatusPaid); !slices.Equal(got, []string{c.ID}) {
		t.Fatalf("paid after the poller: %v", got)
	}
	if got := list(StatusPending); len(got) != 0 {
		t.Fatalf("still pending: %v", got)
	}
	if got := sumsOf(t, r, c.ExpiresAt); got.Paid != 1 {
		t.Fatalf("sums %+v", got)
	}
}

// TestRebuildStatusIndex: checkouts stored before the index existed are
// indexed at the first start, once.
func TestRebuildStatusIndex(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	var paid []string
	for i := range 5 {
		c := create(t, r, clk, "m1")
		if i%2 == 0 {
			pay(t, r, c.ID)
			paid = append([]string{c.ID}, paid...)
		}
		clk.Advance(time.Millisecond)
	}
	// As before the index: no status sets, no sums, no marker.
	keys, err := r.rdb.Keys(ctx, r.prefix+"m:{m1}:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k != r.keyList("m1") && !strings.Contains(k, ":ref:") {
			if err := r.rdb.Del(ctx, k).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// This replica's clock is days behind the one that created them.
	clk.Advance(-72 * time.Hour)
	defer clk.Advance(72 * time.Hour)
	if n, err := r.RebuildStatusIndex(ctx, "m1"); err != nil || n != 5 {
		t.Fatalf("rebuild: %d, %v", n, err)
	}
	got, _, err := r.List(ctx, "m1", ListQuery{Status: StatusPaid})
	if err != nil || !slices.Equal(ids(got), paid) {
		t.Fatalf("paid after the rebuild: %v, %v; want %v", ids(got), err, paid)
	}
	if s := sumsOf(t, r, clk.Now().Add(72*time.Hour)); s.Paid != 3 || s.PaidFen != 3000 {
		t.Fatalf("sums %+v", s)
	}
	if n, err := r.RebuildStatusIndex(ctx, "m1"); err != nil || n != 0 {
		t.Fatalf("second rebuild: %d, %v", n, err)
	}
}

// TestStatusIndexCursorMoves: the next page of a status list continues
// after the previous page's last checkout even when that one has left
// the status since (paid between two pages), with dates or without.
func TestStatusIndexCursorMoves(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	var open []string
	for range 5 {
		open = append([]string{create(t, r, clk, "m1").ID}, open...)
		clk.Advance(time.Millisecond)
	}
	for _, q := range []ListQuery{
		{Status: StatusOpen, Limit: 2},
		{Status: StatusOpen, Limit: 2, From: clk.Now().Add(-time.Hour), To: clk.Now()},
	} {
		page, next, err := r.List(ctx, "m1", q)
		if err != nil || !slices.Equal(ids(page), open[:2]) || next != open[1] {
			t.Fatalf("first page: %v next %q, %v", ids(page), next, err)
		}
		pay(t, r, open[1])
		q.After = next
		page, _, err = r.List(ctx, "m1", q)
		if err != nil || !slices.Equal(ids(page), open[2:4]) {
			t.Fatalf("after a paid cursor: %v, %v; want %v", ids(page), err, open[2:4])
		}
		open = slices.Delete(open, 1, 2)
	}
	// A cursor that is no checkout of the merchant is still refused.
	if _, _, err := r.List(ctx, "m1", ListQuery{Status: StatusOpen, After: "co_notinthelist0000000000000"}); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("unknown cursor: %v", err)
	}
}

// TestRebuildStatusIndexScriptNotLoaded: the rebuild pipelines its script,
// and a pipelined script cannot fall back to EVAL; on a Redis that has not
// seen it (a fresh or restarted server, miniredis in CI) the rebuild
// failed with NOSCRIPT and the service did not start.
func TestRebuildStatusIndexScriptNotLoaded(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	for range 3 {
		create(t, r, clk, "m1")
		clk.Advance(time.Millisecond)
	}
	if err := r.rdb.Del(ctx, r.statusIndexMarker("m1")).Err(); err != nil {
		t.Fatal(err)
	}
	// Every script goes; other tests on the same server do not mind, as
	// Run falls back to EVAL.
	if err := r.rdb.Do(ctx, "SCRIPT", "FLUSH").Err(); err != nil {
		t.Skipf("SCRIPT FLUSH: %v", err)
	}
	if n, err := r.RebuildStatusIndex(ctx, "m1"); err != nil || n != 3 {
		t.Fatalf("rebuild on a server without the script: %d, %v", n, err)
	}
}

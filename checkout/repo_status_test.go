package checkout

import (
	"context"
	"slices"
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

package checkout

import (
	"errors"
	"testing"
	"time"
)

// TestEachCreated: the range is [from, to), oldest first, only the
// merchant's own, across batches and across many checkouts created in one
// millisecond (the batch boundary falls inside one score).
func TestEachCreated(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := t.Context()
	start := clk.Now()
	var want []string
	// 2.5 batches in the same millisecond, then some a second apart.
	for range rangeBatch*2 + rangeBatch/2 {
		want = append(want, create(t, r, clk, "m_a").ID)
	}
	for range 5 {
		clk.Advance(time.Second)
		want = append(want, create(t, r, clk, "m_a").ID)
		create(t, r, clk, "m_b")
	}
	end := clk.Now()
	clk.Advance(time.Second)
	create(t, r, clk, "m_a") // at end+1s: outside [start, end+1ms)

	var got []string
	if err := r.EachCreated(ctx, "m_a", start, end.Add(time.Millisecond), func(c *Checkout) error {
		got = append(got, c.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d checkouts, want %d", len(got), len(want))
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Fatalf("%s read twice", id)
		}
		seen[id] = true
	}
	for _, id := range want {
		if !seen[id] {
			t.Fatalf("%s not read", id)
		}
	}
	if got[len(got)-1] != want[len(want)-1] {
		t.Errorf("not oldest first: last is %s, want %s", got[len(got)-1], want[len(want)-1])
	}
	// An empty or reversed range reads nothing; fn's error stops the walk.
	n := 0
	_ = r.EachCreated(ctx, "m_a", end, start, func(*Checkout) error { n++; return nil })
	if n != 0 {
		t.Errorf("reversed range: %d", n)
	}
	stop := errors.New("stop")
	if err := r.EachCreated(ctx, "m_a", start, end, func(*Checkout) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("stop: %v after %d", err, n)
	}
}

// TestEachPaidCreated: only paid checkouts (refunded ones too) of the
// merchant, with their amount, payment time and late mark.
func TestEachPaidCreated(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := t.Context()
	start := clk.Now()
	paid := create(t, r, clk, "m_a")
	a, _, err := r.AddAttempt(ctx, paid.ID, MethodWeChat, ScenarioJSAPI)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if _, err := r.MarkPaid(ctx, paid.ID, a.Seq, "ord1"); err != nil {
		t.Fatal(err)
	}
	create(t, r, clk, "m_a") // open
	other := create(t, r, clk, "m_b")
	b, _, _ := r.AddAttempt(ctx, other.ID, MethodWeChat, ScenarioJSAPI)
	if _, err := r.MarkPaid(ctx, other.ID, b.Seq, "ord2"); err != nil {
		t.Fatal(err)
	}
	var got []PaidSummary
	if err := r.EachPaidCreated(ctx, "m_a", start, clk.Now().Add(time.Second), func(p PaidSummary) error {
		got = append(got, p)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != paid.ID || got[0].Trade != 1000 || !got[0].PaidAt.Equal(start.Add(time.Minute).Truncate(time.Millisecond)) || got[0].Late {
		t.Errorf("got %+v", got)
	}
}

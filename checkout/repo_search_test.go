package checkout

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestSearchIndexes: a reference, an ord_no and an out_no find the
// merchant's own checkout by key reads; another merchant's is not found.
func TestSearchIndexes(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	old := create(t, r, clk, "m1") // reference order-42
	clk.Advance(time.Second)
	newer := create(t, r, clk, "m1")
	foreign := create(t, r, clk, "m2")

	got, err := r.FindByReference(ctx, "m1", "order-42", 10)
	if err != nil || len(got) != 2 || got[0].ID != newer.ID || got[1].ID != old.ID {
		t.Fatalf("FindByReference = %v, %v; want newer then old", ids(got), err)
	}
	if got, _ := r.FindByReference(ctx, "m1", "order-43", 10); len(got) != 0 {
		t.Errorf("unknown reference found %v", ids(got))
	}

	a, _, err := r.AddAttempt(ctx, newer.ID, MethodWeChat, ScenarioJump)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.UpdateAttempt(ctx, newer.ID, a.Seq, "", "ORD20261202000042"); err != nil {
		t.Fatal(err)
	}
	fa, _, err := r.AddAttempt(ctx, foreign.ID, MethodAlipay, ScenarioJump)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.UpdateAttempt(ctx, foreign.ID, fa.Seq, "", "ORD20261202000099"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.MarkPaid(ctx, foreign.ID, fa.Seq, "ORD20261202000099"); err != nil {
		t.Fatal(err)
	}
	if c, err := r.FindByOrdNo(ctx, "m1", "ORD20261202000042"); err != nil || c.ID != newer.ID {
		t.Errorf("FindByOrdNo own = %v, %v", c, err)
	}
	if c, err := r.FindByOrdNo(ctx, "m2", "ORD20261202000099"); err != nil || c.ID != foreign.ID {
		t.Errorf("FindByOrdNo of a paid attempt = %v, %v", c, err)
	}
	for _, q := range []struct{ m, ord string }{{"m1", "ORD20261202000099"}, {"m1", "nope"}, {"m1", "{x}"}, {"m1", ""}} {
		if _, err := r.FindByOrdNo(ctx, q.m, q.ord); !errors.Is(err, ErrNotFound) {
			t.Errorf("FindByOrdNo(%q, %q): %v, want ErrNotFound", q.m, q.ord, err)
		}
	}
	if c, err := r.FindByOutNo(ctx, "m1", a.OutNo); err != nil || c.ID != newer.ID {
		t.Errorf("FindByOutNo = %v, %v", c, err)
	}
	if _, err := r.FindByOutNo(ctx, "m1", fa.OutNo); !errors.Is(err, ErrNotFound) {
		t.Errorf("FindByOutNo of another merchant's: %v", err)
	}
}

// TestListRangeAndFilter: a time range is read from the index (the page
// holds only checkouts in it, newest first, and its cursor pages on inside
// it); a filter keeps only its matches.
func TestListRangeAndFilter(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	var made []*Checkout
	for i := range 10 {
		d := draft("m1")
		if i%2 == 1 {
			d.Amounts = Amounts{Original: 5000, Trade: 5000}
		}
		c, err := NewCheckout(d, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Create(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
		made = append(made, c)
		clk.Advance(time.Minute)
	}
	// [3] .. [7], newest first, two a page.
	q := ListQuery{Limit: 2, From: made[3].CreatedAt, To: made[7].CreatedAt}
	var seen []string
	for range 10 {
		page, next, err := r.List(ctx, "m1", q)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, ids(page)...)
		if next == "" {
			break
		}
		q.After = next
	}
	want := []string{made[7].ID, made[6].ID, made[5].ID, made[4].ID, made[3].ID}
	if len(seen) != len(want) {
		t.Fatalf("range pages = %v, want %v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Fatalf("range pages = %v, want %v", seen, want)
		}
	}
	page, _, err := r.List(ctx, "m1", ListQuery{Limit: 20, Filter: Filter{MinAmount: 4000}})
	if err != nil || len(page) != 5 {
		t.Fatalf("amount filter: %d rows, %v", len(page), err)
	}
	for _, c := range page {
		if c.Amounts.Trade != 5000 {
			t.Errorf("amount filter kept %d", c.Amounts.Trade)
		}
	}
	a, _, err := r.AddAttempt(ctx, made[2].ID, MethodAlipay, ScenarioJump)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.MarkPaid(ctx, made[2].ID, a.Seq, "ORDALI1"); err != nil {
		t.Fatal(err)
	}
	page, _, err = r.List(ctx, "m1", ListQuery{Limit: 20, Filter: Filter{Wallet: MethodAlipay}})
	if err != nil || len(page) != 1 || page[0].ID != made[2].ID {
		t.Errorf("wallet filter = %v, %v", ids(page), err)
	}
	if page, _, _ := r.List(ctx, "m1", ListQuery{Limit: 20, Filter: Filter{StoreID: "other"}}); len(page) != 0 {
		t.Errorf("store filter kept %v", ids(page))
	}
	if _, _, err := r.List(ctx, "m1", ListQuery{Limit: 2, From: made[3].CreatedAt, After: "co_notinthelist0000000000000"}); !errors.Is(err, ErrBadCursor) {
		t.Errorf("unknown cursor in a range: %v", err)
	}
}

func ids(cs []*Checkout) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

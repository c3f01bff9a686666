package webhook

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestLogArrivalOrder: the log follows the order events were stored, not
// their creation times, so a reader resuming after an event sees one that
// was created earlier but stored later; another merchant's events, a
// repeated Emit and garbage positions change nothing.
func TestLogArrivalOrder(t *testing.T) {
	f := newFixture(t)
	f.merchant("m_acme", "")
	f.merchant("m_other", "")
	ctx := context.Background()

	if h, err := f.svc.Head(ctx, "m_acme"); err != nil || h != 0 {
		t.Fatalf("head of an empty log: %d, %v", h, err)
	}
	first := f.emit(t, "m_acme", TypePaid)
	// Created a minute before the first one, stored after it: a late emit.
	late, err := NewEvent(TypeExpired, testCheckout(t, "m_acme", f.clk.Now()), "https://pay.example", f.clk.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Emit(ctx, late); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Emit(ctx, late); err != nil { // again: a no-op
		t.Fatal(err)
	}
	f.emit(t, "m_other", TypePaid)
	third := f.emit(t, "m_acme", TypeCancelled)

	pos, err := f.svc.Position(ctx, "m_acme", first.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, next, err := f.svc.LogAfter(ctx, "m_acme", pos, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != late.ID || got[1].ID != third.ID {
		t.Fatalf("after the first: %+v, want %s then %s", got, late.ID, third.ID)
	}
	if got[0].Type != TypeExpired || string(got[0].Body) == "" || got[1].Seq != got[0].Seq+1 {
		t.Errorf("streamed %+v", got)
	}
	if head, _ := f.svc.Head(ctx, "m_acme"); next != head || head != 3 {
		t.Errorf("next %d, head %d, want both 3", next, head)
	}
	if more, n, err := f.svc.LogAfter(ctx, "m_acme", next, 10); err != nil || len(more) != 0 || n != next {
		t.Errorf("after the head: %v %d %v", more, n, err)
	}
	// One at a time gives the same, in order.
	if one, n, _ := f.svc.LogAfter(ctx, "m_acme", 0, 1); len(one) != 1 || one[0].ID != first.ID || n != 1 {
		t.Errorf("first of one: %+v %d", one, n)
	}

	// From a time: the first event created at or after it.
	at, err := f.svc.PositionAt(ctx, "m_acme", third.CreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := f.svc.LogAfter(ctx, "m_acme", at, 10); len(got) == 0 || got[0].ID != first.ID && got[0].ID != third.ID {
		t.Errorf("from %s: %+v", third.CreatedAt, got)
	}
	if at, _ := f.svc.PositionAt(ctx, "m_acme", f.clk.Now().Add(time.Hour)); at != 3 {
		t.Errorf("from the future: %d, want the head 3", at)
	}

	// The log and its counter expire with the retention, like the
	// indexes.
	for _, k := range []string{f.svc.keyLog("m_acme"), f.svc.keySeq("m_acme")} {
		if ttl := f.rdb.TTL(ctx, k).Val(); ttl <= 0 || ttl > f.svc.retention {
			t.Errorf("%s: TTL %v, want up to the retention %v", k, ttl, f.svc.retention)
		}
	}

	for _, bad := range []struct{ merchant, id string }{
		{"m_other", first.ID},       // another merchant's
		{"m_acme", "evt_nope"},      // not an id
		{"m_acme", "evt_" + "x{}:"}, // garbage
		{"m{x}", first.ID},          // not a merchant id
	} {
		if _, err := f.svc.Position(ctx, bad.merchant, bad.id); !errors.Is(err, ErrBadCursor) {
			t.Errorf("Position(%q, %q) = %v, want ErrBadCursor", bad.merchant, bad.id, err)
		}
	}
}

package checkout

import (
	"context"
	"errors"
	"testing"
)

// TestLinkOutbox: each change of a link leaves its notice in the link's
// outbox in the same step (read back, sent, done); an intent the
// reconciler retired first makes the late writer change nothing; a
// deletion removes the link's keys and leaves the notice of the link as
// it was.
func TestLinkOutbox(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	l, err := NewPaymentLink("m1", "s1", LinkTerms{Amount: 990, Active: true, Description: "茶"}, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.CreateLink(ctx, l, nil, "CREATE1"); err != nil {
		t.Fatal(err)
	}
	n, err := r.LinkNotice(ctx, l.ID, "CREATE1")
	if err != nil || n == nil || len(n.Kinds) != 1 || n.Kinds[0] != LinkCreated || n.Link.Amount != 990 || n.Link.Description != "茶" {
		t.Fatalf("created notice %+v %v", n, err)
	}
	if err := r.LinkNoticeDone(ctx, n); err != nil {
		t.Fatal(err)
	}
	if n, _ := r.LinkNotice(ctx, l.ID, "CREATE1"); n != nil {
		t.Fatal("a done notice stays")
	}
	off := false
	ch, err := r.UpdateLink(ctx, "m1", l.ID, LinkUpdate{Active: &off}, "UPDATE1")
	if err != nil || ch.Notice == nil || len(ch.Notice.Kinds) != 2 || ch.Notice.Kinds[1] != LinkDeactivated || ch.Notice.Link.Active {
		t.Fatalf("update notice %+v %v", ch, err)
	}
	if got, _ := r.RetireLinkIntent(ctx, l.ID, "UPDATE1"); got == nil || got.Causes[1] != ch.Notice.Causes[1] {
		t.Fatalf("the reconciler's look at a sent-not-done notice: %+v", got)
	}

	// A writer slower than its intent's lease: the intent is retired
	// (fenced) first, and the change is refused.
	if got, err := r.RetireLinkIntent(ctx, l.ID, "LATE1"); got != nil || err != nil {
		t.Fatalf("retire an intent that never ran: %+v %v", got, err)
	}
	desc := "迟到"
	if _, err := r.UpdateLink(ctx, "m1", l.ID, LinkUpdate{Description: &desc}, "LATE1"); !errors.Is(err, ErrLinkIntentRetired) {
		t.Fatalf("late update: %v", err)
	}
	if got, _ := r.GetLink(ctx, l.ID); got.Description != "茶" {
		t.Fatalf("a refused update changed the link: %q", got.Description)
	}
	if _, err := r.DeleteLink(ctx, "m1", l.ID, "LATE1"); !errors.Is(err, ErrLinkIntentRetired) {
		t.Fatalf("late delete: %v", err)
	}

	if _, err := r.DeleteLink(ctx, "m2", l.ID, "DEL1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another merchant's delete: %v", err)
	}
	del, err := r.DeleteLink(ctx, "m1", l.ID, "DEL1")
	if err != nil || del.Kinds[0] != LinkDeleted || del.Link.ID != l.ID {
		t.Fatalf("delete notice %+v %v", del, err)
	}
	if _, err := r.GetLink(ctx, l.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted link read: %v", err)
	}
	if _, err := r.DeleteLink(ctx, "m1", l.ID, "DEL2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	for _, k := range []string{r.keyLink(l.ID), r.keyLinkHeld(l.ID), r.keyLinkCos(l.ID)} {
		if n, _ := r.rdb.Exists(ctx, k).Result(); n != 0 {
			t.Errorf("%s left after delete", k)
		}
	}
	if err := r.LinkNoticeDone(ctx, del); err != nil {
		t.Fatal(err)
	}
	// The creation's notice sent after the deletion's (a late reconciler)
	// does not list the deleted link again.
	if err := r.LinkNoticeDone(ctx, n); err != nil {
		t.Fatal(err)
	}
	if err := r.LinkNoticeDone(ctx, ch.Notice); err != nil {
		t.Fatal(err)
	}
	if n, _ := r.rdb.Exists(ctx, r.keyLinkOut(l.ID), r.keyLinkList("m1")).Result(); n != 0 {
		t.Errorf("outbox or list left after every notice is done: %d", n)
	}
}

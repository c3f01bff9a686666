package checkout

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/internal/redistest"
)

// TestRepoOnCluster runs the repository through go-redis's cluster client,
// which refuses a MULTI/EXEC whose keys span hash slots (ErrCrossSlot) before
// sending anything. miniredis answers CLUSTER SLOTS as a one-node cluster,
// so this catches every cross-slot transaction or script the code would
// send to a real Redis Cluster.
func TestRepoOnCluster(t *testing.T) {
	_, rdb := redistest.MiniCluster(t)
	repoOnCluster(t, rdb, "")
}

// TestRepoOnRealCluster runs the same on a real Redis Cluster
// (REDIS_CLUSTER_URL), which also refuses a script whose keys span slots:
// the checkouts, their expiry shards, lists and idempotency keys land on
// all three primaries. Skipped without one, failed in CI (REDIS_REQUIRED).
func TestRepoOnRealCluster(t *testing.T) {
	rdb := redistest.Cluster(t)
	repoOnCluster(t, rdb, redistest.Prefix(t, rdb))
}

func repoOnCluster(t *testing.T, rdb *redis.ClusterClient, prefix string) {
	clk := newClock()
	r := NewRepo(rdb, WithClock(clk.Now), WithPrefix(prefix))
	ctx := context.Background()
	if n, err := r.MigrateLegacy(ctx); err != nil || n != 0 {
		t.Fatalf("migrate an empty layout: %d %v", n, err)
	}

	body := []byte(`{"amount":1000}`)
	if rep, err := r.BeginIdempotent(ctx, "m1", "k1", body); err != nil || rep != nil {
		t.Fatalf("begin idempotent: %v %v", rep, err)
	}
	c, err := NewCheckout(draft("m1"), clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Create(ctx, c, &IdempotentResponse{MerchantID: "m1", Key: "k1", Status: 201, Body: []byte(`{"id":"` + c.ID + `"}`)}); err != nil {
		t.Fatalf("create on a cluster: %v", err)
	}
	if rep, err := r.BeginIdempotent(ctx, "m1", "k1", body); err != nil || rep == nil || rep.Status != 201 {
		t.Fatalf("replay on a cluster: %+v %v", rep, err)
	}
	if got, err := r.GetFor(ctx, "m1", c.ID); err != nil || got.Amounts != c.Amounts {
		t.Fatalf("get: %+v %v", got, err)
	}
	page, _, err := r.List(ctx, "m1", ListQuery{})
	if err != nil || len(page) != 1 || page[0].ID != c.ID {
		t.Fatalf("list: %v %v", page, err)
	}
	unlock, err := r.Lock(ctx, c.ID, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a, tr, err := r.AddAttempt(ctx, c.ID, MethodWeChat, ScenarioQR)
	if err != nil || !tr.Changed || tr.To != StatusPending {
		t.Fatalf("add attempt: %+v %v", tr, err)
	}
	if err := unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.UpdateAttempt(ctx, c.ID, a.Seq, "", "ORD1"); err != nil {
		t.Fatal(err)
	}
	if gc, ga, err := r.AttemptByOutNo(ctx, a.OutNo); err != nil || gc.ID != c.ID || ga.OrdNo != "ORD1" {
		t.Fatalf("attempt by out_no: %v", err)
	}
	p, err := r.MarkPaid(ctx, c.ID, a.Seq, "ORD1")
	if err != nil || !p.Changed || p.To != StatusPaid {
		t.Fatalf("mark paid: %+v %v", p, err)
	}
	if tr, err := r.RecordRefund(ctx, c.ID, "R1", 1000); err != nil || tr.To != StatusRefunded {
		t.Fatalf("refund: %+v %v", tr, err)
	}

	// Expiry and cancel of other checkouts.
	c2 := create(t, r, clk, "m1")
	c3 := create(t, r, clk, "m1")
	if tr, err := r.Cancel(ctx, c3.ID); err != nil || !tr.Changed {
		t.Fatalf("cancel: %+v %v", tr, err)
	}
	clk.Advance(31 * time.Minute)
	// The refunded checkout's entry is still queued (the pay script does
	// not touch the queue's slot); its Expire is refused and drops it.
	due, err := r.DueForExpiry(ctx, clk.Now(), 10)
	if err != nil || len(due) != 2 || !slices.Contains(due, c.ID) || !slices.Contains(due, c2.ID) {
		t.Fatalf("due: %v %v", due, err)
	}
	if tr, err := r.Expire(ctx, c.ID); err != nil || tr.Changed || tr.To != StatusRefunded {
		t.Fatalf("expire a refunded checkout: %+v %v", tr, err)
	}
	if tr, err := r.Expire(ctx, c2.ID); err != nil || tr.To != StatusExpired {
		t.Fatalf("expire: %+v %v", tr, err)
	}
	if due, err := r.DueForExpiry(ctx, clk.Now(), 10); err != nil || len(due) != 0 {
		t.Fatalf("due after expiring: %v %v", due, err)
	}
	if _, err := r.Get(ctx, "co_AAAAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}

	// The status index, the other indexes and the day sums: each script
	// in the merchant's slot (the payment's write is best effort, so its
	// result is checked here).
	for st, want := range map[Status]string{StatusRefunded: c.ID, StatusExpired: c2.ID, StatusCancelled: c3.ID} {
		page, _, err := r.List(ctx, "m1", ListQuery{Status: st})
		if err != nil || len(page) != 1 || page[0].ID != want {
			t.Fatalf("%s list: %d %v", st, len(page), err)
		}
	}
	for _, by := range []ListBy{ByPaid, ByRefund} {
		page, _, err := r.List(ctx, "m1", ListQuery{By: by, From: c.CreatedAt, To: clk.Now()})
		if err != nil || len(page) != 1 || page[0].ID != c.ID {
			t.Fatalf("%s list: %d %v", by, len(page), err)
		}
	}
	sums, err := r.DaySums(ctx, "m1", []time.Time{c.CreatedAt})
	if err != nil || sums[0] != (DaySums{Paid: 1, PaidFen: 1000, Refunds: 1, RefundFen: 1000}) {
		t.Fatalf("day sums: %+v %v", sums, err)
	}
	if n, err := r.CountDuplicates(ctx, "m1", c.CreatedAt, clk.Now()); err != nil || n != 0 {
		t.Fatalf("duplicates: %d %v", n, err)
	}
	if n, err := r.RebuildStatusIndex(ctx, "m1"); err != nil || n != 3 {
		t.Fatalf("rebuild: %d %v", n, err)
	}
	if n, err := r.RebuildStatusIndex(ctx, "m1"); err != nil || n != 0 {
		t.Fatalf("second rebuild: %d %v", n, err)
	}
}

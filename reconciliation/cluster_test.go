package reconciliation

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/internal/redistest"
)

// TestReconcileOnCluster stores, re-runs, reads and lists a day's run, with
// a difference marked, through go-redis's cluster client on miniredis,
// which refuses a transaction (the run's MULTI under WATCH) spanning slots.
func TestReconcileOnCluster(t *testing.T) {
	_, rdb := redistest.MiniCluster(t)
	reconcileOnCluster(t, rdb)
}

// TestReconcileOnRealCluster does the same on a real Redis Cluster
// (REDIS_CLUSTER_URL), whose nodes refuse any cross-slot script or
// transaction. Skipped without one, failed in CI (REDIS_REQUIRED=1).
func TestReconcileOnRealCluster(t *testing.T) {
	reconcileOnCluster(t, redistest.Cluster(t))
}

func reconcileOnCluster(t *testing.T, rdb *redis.ClusterClient) {
	e := newEnv(t, noon, envOptions{rdb: rdb})
	ctx := context.Background()
	e.paid(1000)
	e.order(500) // never paid
	e.clk.Set(after)
	first := e.reconcile(day)
	again := e.reconcile(day)
	if again.ID != first.ID || again.Runs != 2 {
		t.Fatalf("re-run: %+v after %+v", again, first)
	}
	got, err := e.svc.Get(ctx, e.merchant.ID, first.ID)
	if err != nil || got.ID != first.ID || got.Gateway != first.Gateway || got.Gateway.PaymentAmount != 1000 {
		t.Fatalf("get: %+v %v", got, err)
	}
	runs, _, err := e.svc.List(ctx, e.merchant.ID, ListQuery{})
	if err != nil || len(runs) != 1 || runs[0].ID != first.ID {
		t.Fatalf("list: %v %v", runs, err)
	}
	if _, err := e.svc.Counts(ctx, e.merchant.ID, e.store.ID); err != nil {
		t.Fatalf("counts: %v", err)
	}
}

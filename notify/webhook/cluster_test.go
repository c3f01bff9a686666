package webhook

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/internal/redistest"
)

// TestWebhooksOnCluster runs every script of the package through
// go-redis's cluster client on miniredis, which refuses a transaction
// spanning slots before sending it.
func TestWebhooksOnCluster(t *testing.T) {
	_, rdb := redistest.MiniCluster(t)
	webhooksOnCluster(t, rdb)
}

// TestWebhooksOnRealCluster runs them on a real Redis Cluster
// (REDIS_CLUSTER_URL), which refuses any script whose keys span slots:
// merchants in many shards, so on every primary. Skipped without one,
// failed in CI (REDIS_REQUIRED=1).
func TestWebhooksOnRealCluster(t *testing.T) {
	webhooksOnCluster(t, redistest.Cluster(t))
}

func webhooksOnCluster(t *testing.T, rdb *redis.ClusterClient) {
	f := newFixtureOn(t, rdb, WithBatch(5, 2))
	ctx := context.Background()
	fails := true
	rc := newReceiver(t, func(int) int {
		if fails {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	// Merchants in at least 8 shards.
	var merchants []string
	shards := map[int]bool{}
	for i := 0; len(shards) < 8; i++ {
		id := fmt.Sprintf("m_%d", i)
		shards[checkout.ShardOf(id)] = true
		merchants = append(merchants, id)
		f.merchant(id, rc.URL)
	}
	var events []Event
	for _, m := range merchants {
		events = append(events, f.emit(t, m, TypePaid))
	}
	if n, err := f.svc.Pending(ctx); err != nil || n != int64(len(events)) {
		t.Fatalf("pending %d %v, want %d", n, err, len(events))
	}
	// Batches of 5 claim across shards until every event was tried once.
	tried := 0
	for tried < len(events) {
		n := f.tick(t, f.svc)
		if n == 0 {
			t.Fatalf("tick claimed nothing with %d of %d tried", tried, len(events))
		}
		tried += n
	}
	if tried != len(events) {
		t.Fatalf("claimed %d deliveries for %d events", tried, len(events))
	}
	// A resend and the retries go through, once each.
	fails = false
	if err := f.svc.Resend(ctx, events[0].MerchantID, events[0].ID); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Hour)
	for f.tick(t, f.svc) > 0 {
	}
	got := map[string]int{}
	for _, d := range rc.deliveries() {
		got[d.id]++
	}
	for _, e := range events {
		if got[e.ID] != 2 {
			t.Errorf("event %s sent %d times, want 2 (refused, then retried or resent)", e.ID, got[e.ID])
		}
		r := f.record(t, e.MerchantID, e.ID)
		if r.Delivery.State != StateDelivered || len(r.Delivery.Attempts) != 2 {
			t.Errorf("event %s: %+v", e.ID, r.Delivery)
		}
		page, _, err := f.svc.List(ctx, e.MerchantID, ListQuery{CheckoutID: e.CheckoutID})
		if err != nil || len(page) != 1 || page[0].ID != e.ID {
			t.Errorf("list %s: %v %v", e.MerchantID, page, err)
		}
	}
	if n, err := f.svc.Pending(ctx); err != nil || n != 0 {
		t.Errorf("pending after delivery %d %v", n, err)
	}
	if n, err := f.svc.MigrateLegacy(ctx, slices.Clip(merchants)); err != nil || n != 0 {
		t.Errorf("migrate an empty layout: %d %v", n, err)
	}
}

package handlers

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/internal/redistest"
)

// TestRateLimitOnCluster spends budgets of keys in many slots through the
// limiter's coalescer on go-redis's cluster client over miniredis, which
// refuses a transaction spanning slots: each key's script is one slot.
func TestRateLimitOnCluster(t *testing.T) {
	_, rdb := redistest.MiniCluster(t)
	rateLimitOnCluster(t, rdb)
}

// TestRateLimitOnRealCluster does the same on a real Redis Cluster
// (REDIS_CLUSTER_URL), whose nodes refuse any cross-slot script. Skipped
// without one, failed in CI (REDIS_REQUIRED=1).
func TestRateLimitOnRealCluster(t *testing.T) {
	rateLimitOnCluster(t, redistest.Cluster(t))
}

func rateLimitOnCluster(t *testing.T, rdb *redis.ClusterClient) {
	co := newCoalescer(redis_rate.NewLimiter(rdb))
	limit := redis_rate.PerHour(3)
	ctx := context.Background()
	p := "test:" + rand.Text() + ":"
	t.Cleanup(func() { _ = redistest.Clean(rdb, "rate:"+p) })
	for k := range 12 {
		key := p + "api:" + string(rune('a'+k))
		for i := range 4 {
			v, err := co.allow(ctx, key, limit)
			if err != nil {
				t.Fatalf("key %s, request %d: %v", key, i+1, err)
			}
			if v.allowed != (i < 3) {
				t.Fatalf("key %s, request %d: allowed %v", key, i+1, v.allowed)
			}
		}
	}
}

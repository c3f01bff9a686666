package redistest

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestNewRoundTrip(t *testing.T) {
	c := New(t)
	ctx := context.Background()
	key := "redistest:" + rand.Text()
	if err := c.Set(ctx, key, "v", time.Minute).Err(); err != nil {
		t.Fatalf("set: %v", err)
	}
	got, err := c.Get(ctx, key).Result()
	if err != nil || got != "v" {
		t.Fatalf("get = %q, %v; want v", got, err)
	}
	if err := c.Del(ctx, key).Err(); err != nil {
		t.Fatalf("del: %v", err)
	}
}

func TestMiniredisFastForward(t *testing.T) {
	m, c := Miniredis(t)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", time.Second).Err(); err != nil {
		t.Fatalf("set: %v", err)
	}
	m.FastForward(2 * time.Second)
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("exists after expiry = %d, %v; want 0", n, err)
	}
}

func TestFallbackToMiniredis(t *testing.T) {
	t.Setenv("REDIS_URL", "redis://127.0.0.1:1/0")
	t.Setenv("REDIS_REQUIRED", "")
	c := New(t)
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("fallback client does not answer: %v", err)
	}
}

func TestForcedMiniredis(t *testing.T) {
	t.Setenv(ForceEnv, "miniredis")
	t.Setenv("REDIS_URL", "")
	t.Setenv("REDIS_REQUIRED", "1")
	c, ok := New(t).(*redis.Client)
	if !ok {
		t.Fatal("New did not return a *redis.Client")
	}
	// miniredis listens on a random port, never on the real server's.
	if addr := c.Options().Addr; addr == DefaultAddr {
		t.Fatalf("REDISTEST=miniredis still gave the real server at %s", addr)
	}
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("forced miniredis does not answer: %v", err)
	}
}

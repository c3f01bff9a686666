package redistest

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"strings"
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

// slowProxy forwards connections to addr, holding back each connection's
// first answer for delay: a real server on a loaded machine.
func slowProxy(t *testing.T, addr string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, c) }()
				time.Sleep(delay)
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestSlowNamedServer: a server named by REDIS_URL that answers slowly (as
// under the whole suite with -race on two cores) is waited for, not
// replaced by miniredis, and with REDIS_REQUIRED=1 not a failure.
func TestSlowNamedServer(t *testing.T) {
	m, _ := Miniredis(t)
	proxy := slowProxy(t, m.Addr(), 600*time.Millisecond)
	t.Setenv(ForceEnv, "")
	t.Setenv("REDIS_URL", "redis://"+proxy+"/0")
	t.Setenv("REDIS_REQUIRED", "1")
	c, ok := New(t).(*redis.Client)
	if !ok || c.Options().Addr != proxy {
		t.Fatalf("got a client for %v, want the slow server at %s", c.Options().Addr, proxy)
	}
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestClusterClean: on a real Cluster the per-test prefix keeps hash tags
// working (keys of one tag share a slot) and Clean finds the test's keys on
// every primary.
func TestClusterClean(t *testing.T) {
	c := Cluster(t)
	ctx := context.Background()
	p := "test:" + rand.Text() + ":"
	var keys []string
	slots := map[int64]bool{}
	for i := 0; i < 32; i++ {
		k := p + "{tag" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "}:x"
		keys = append(keys, k)
		if err := c.Set(ctx, k, "v", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		s, err := c.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		slots[s] = true
	}
	if len(slots) < 3 {
		t.Fatalf("keys landed in %d slots; want them spread", len(slots))
	}
	// Two keys of one tag share a slot, whatever the prefix.
	a, _ := c.ClusterKeySlot(ctx, p+"{same}:1").Result()
	b, _ := c.ClusterKeySlot(ctx, p+"{same}:2").Result()
	if a != b {
		t.Errorf("one tag, two slots: %d %d", a, b)
	}
	if err := Clean(c, p); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if n, err := c.Exists(ctx, k).Result(); err != nil || n != 0 {
			t.Errorf("%s left after Clean: %d %v", k, n, err)
		}
	}
}

// TestClusterRefusesCrossSlotScript shows what the cluster run of the suite
// relies on: a real Cluster refuses a script whose keys span slots.
func TestClusterRefusesCrossSlotScript(t *testing.T) {
	c := Cluster(t)
	p := Prefix(t, c)
	err := c.Eval(context.Background(), "return redis.call('SET', KEYS[1], 1) and redis.call('SET', KEYS[2], 1)", []string{p + "{a}", p + "{b}"}).Err()
	if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("cross-slot script: %v, want CROSSSLOT", err)
	}
}

// TestClusterMissing: without REDIS_CLUSTER_URL a cluster test is skipped
// with a message, never passed silently.
func TestClusterMissing(t *testing.T) {
	t.Setenv(ClusterURLEnv, "")
	t.Setenv("REDIS_REQUIRED", "")
	var inner *testing.T
	t.Run("inner", func(t *testing.T) {
		inner = t
		Cluster(t)
		t.Error("Cluster returned without a cluster")
	})
	if !inner.Skipped() {
		t.Error("not skipped")
	}
}

// TestMiniClusterRefusesCrossSlotTx: the miniredis cluster client refuses
// a MULTI whose keys span slots before sending it.
func TestMiniClusterRefusesCrossSlotTx(t *testing.T) {
	_, c := MiniCluster(t)
	ctx := context.Background()
	_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "{a}", 1, 0)
		p.Set(ctx, "{b}", 1, 0)
		return nil
	})
	if !errors.Is(err, redis.ErrCrossSlot) {
		t.Fatalf("cross-slot MULTI: %v, want ErrCrossSlot", err)
	}
}

// TestSentinelRoundTrip: the failover client reaches the primary the
// Sentinels name, and writes there.
func TestSentinelRoundTrip(t *testing.T) {
	c := Sentinel(t)
	p := Prefix(t, c)
	ctx := context.Background()
	if err := c.Set(ctx, p+"k", "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, p+"k").Result(); err != nil || got != "v" {
		t.Fatalf("get = %q, %v", got, err)
	}
	role, err := c.Do(ctx, "ROLE").Slice()
	if err != nil || len(role) == 0 || role[0] != "master" {
		t.Fatalf("the failover client is on a %v, want the primary: %v", role, err)
	}
}

// TestPrefixCleansItsKeys: the keys under a test's prefix are gone when the
// test ends, and so are the rate limiter's, which redis_rate writes as
// "rate:" followed by the prefix (app.Config.Prefix); another prefix's keys
// stay.
func TestPrefixCleansItsKeys(t *testing.T) {
	c := New(t)
	ctx := context.Background()
	other := "redistest-other:" + rand.Text()
	if err := c.Set(ctx, other, "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Del(context.Background(), other) })
	var keys []string
	t.Run("writes", func(t *testing.T) {
		p := Prefix(t, c)
		keys = []string{p + "checkout", "rate:" + p + "payer:co_x:127.0.0.1"}
		for _, k := range keys {
			if err := c.Set(ctx, k, "v", time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
		}
	})
	for _, k := range keys {
		if n, err := c.Exists(ctx, k).Result(); err != nil || n != 0 {
			t.Errorf("%s left behind after the test (exists %d, %v)", k, n, err)
		}
	}
	if n, err := c.Exists(ctx, other).Result(); err != nil || n != 1 {
		t.Errorf("a key outside the prefix was deleted (exists %d, %v)", n, err)
	}
}

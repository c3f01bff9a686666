// Package redistest gives tests a Redis client: the real server when one is
// reachable, so the suite exercises real Redis semantics, and miniredis
// otherwise, so it still runs on a bare machine.
//
// It never flushes the database: packages run their tests in parallel
// against the same server, so code under test must use unique keys.
//
// REDISTEST=miniredis forces miniredis even when a real server answers, so
// that CI can run the whole suite against both (.ci/run does).
// REDISTEST=cluster hands every test a cluster client on the real Redis
// Cluster REDIS_CLUSTER_URL names (.ci/redis-topologies.sh starts one), so
// that a script or transaction spanning hash slots fails the suite.
package redistest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// DefaultAddr is the address probed when REDIS_URL is not set.
const DefaultAddr = "127.0.0.1:6379"

// ForceEnv is the environment variable that, set to "miniredis", makes New
// use miniredis whatever else is set.
const ForceEnv = "REDISTEST"

// ClusterURLEnv and SentinelURLEnv name the real topologies' URLs, in
// go-redis's syntax for REDIS_MODE=cluster and sentinel.
const (
	ClusterURLEnv  = "REDIS_CLUSTER_URL"
	SentinelURLEnv = "REDIS_SENTINEL_URL"
)

// ForcedCluster reports whether REDISTEST=cluster asks every test for the
// real Redis Cluster.
func ForcedCluster() bool { return os.Getenv(ForceEnv) == "cluster" }

// ForcedMiniredis reports whether REDISTEST=miniredis asks every test for
// miniredis; tests that need a real server skip then.
func ForcedMiniredis() bool { return os.Getenv(ForceEnv) == "miniredis" }

// pingTimeout bounds the probe of DefaultAddr. A missing server refuses the
// connection at once; the bound only matters for one that accepts and does
// not answer, and must leave room for a real server slowed by a loaded
// machine (the whole suite under -race), or tests would quietly fall back.
const pingTimeout = time.Second

// namedPingTimeout bounds the probe of a server the run names (REDIS_URL)
// or requires (REDIS_REQUIRED=1): it is expected to be there, so a slow
// answer is waited for rather than failing the test.
const namedPingTimeout = 5 * time.Second

// New returns a client for the real Redis when reachable (REDIS_URL if set,
// else DefaultAddr if it answers PING within a second) and a miniredis
// otherwise. It logs which one it picked. With REDIS_REQUIRED=1 a missing
// real server fails the test instead of falling back; REDISTEST=miniredis
// skips the real server altogether. The client is closed when the test ends.
func New(t testing.TB) redis.UniversalClient {
	t.Helper()
	if ForcedMiniredis() {
		_, c := Miniredis(t)
		return c
	}
	if ForcedCluster() {
		return Cluster(t)
	}
	if c, desc, ok := dialReal(t); ok {
		t.Log("redis: real " + desc)
		return c
	}
	if os.Getenv("REDIS_REQUIRED") == "1" {
		t.Fatal("redis: REDIS_REQUIRED=1 but no real Redis answered")
	}
	_, c := Miniredis(t)
	return c
}

// Miniredis starts an in-process miniredis for tests that need to
// fast-forward time or stop the server, and returns it with a client. Both
// are closed when the test ends.
func Miniredis(t testing.TB) (*miniredis.Miniredis, redis.UniversalClient) {
	t.Helper()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	if ForcedMiniredis() {
		t.Log("redis: miniredis (" + ForceEnv + "=miniredis)")
	} else {
		t.Log("redis: miniredis")
	}
	return m, c
}

// MiniCluster returns go-redis's cluster client on a miniredis, which
// answers CLUSTER SLOTS as a one-node cluster: the client then refuses a
// transaction whose keys span hash slots (ErrCrossSlot) before sending it,
// so a test catches those without a real Cluster. (A script's keys are not
// checked by the client; only a real Cluster, Cluster, refuses those.)
func MiniCluster(t testing.TB) (*miniredis.Miniredis, *redis.ClusterClient) {
	t.Helper()
	m := miniredis.RunT(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{m.Addr()}})
	t.Cleanup(func() { _ = c.Close() })
	return m, c
}

// Cluster returns a client on the real Redis Cluster REDIS_CLUSTER_URL
// names. Without one the test is skipped with a message saying so, and
// fails with REDIS_REQUIRED=1 (CI), so that it never passes silently;
// REDISTEST=miniredis skips it.
func Cluster(t testing.TB) *redis.ClusterClient {
	t.Helper()
	if ForcedMiniredis() {
		t.Skip("redis: " + ForceEnv + "=miniredis: this test needs a real Redis Cluster")
	}
	raw := os.Getenv(ClusterURLEnv)
	if raw == "" {
		missing(t, ClusterURLEnv+" is not set: no real Redis Cluster (start one with .ci/redis-topologies.sh)")
	}
	opts, err := redis.ParseClusterURL(raw)
	if err != nil {
		t.Fatalf("redis: %s does not parse: %s", ClusterURLEnv, redactErr(err))
	}
	c := redis.NewClusterClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), namedPingTimeout)
	defer cancel()
	info, err := c.ClusterInfo(ctx).Result()
	if err == nil && !strings.Contains(info, "cluster_state:ok") {
		err = errors.New("cluster_state is not ok")
	}
	if err != nil {
		_ = c.Close()
		missing(t, fmt.Sprintf("the Redis Cluster at %s does not answer: %v", strings.Join(opts.Addrs, ","), err))
	}
	t.Cleanup(func() { _ = c.Close() })
	t.Log("redis: real cluster " + strings.Join(opts.Addrs, ","))
	return c
}

// Sentinel returns a failover client on the primary the Sentinels at
// REDIS_SENTINEL_URL watch, skipped or failed like Cluster.
func Sentinel(t testing.TB) redis.UniversalClient {
	t.Helper()
	if ForcedMiniredis() {
		t.Skip("redis: " + ForceEnv + "=miniredis: this test needs a real Sentinel set")
	}
	raw := os.Getenv(SentinelURLEnv)
	if raw == "" {
		missing(t, SentinelURLEnv+" is not set: no Sentinel set (start one with .ci/redis-topologies.sh)")
	}
	opts, err := redis.ParseFailoverURL(raw)
	if err != nil {
		t.Fatalf("redis: %s does not parse: %s", SentinelURLEnv, redactErr(err))
	}
	c := redis.NewFailoverClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), namedPingTimeout)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		missing(t, fmt.Sprintf("the Sentinels at %s do not give a primary that answers: %v", strings.Join(opts.SentinelAddrs, ","), err))
	}
	t.Cleanup(func() { _ = c.Close() })
	t.Log("redis: real sentinel " + strings.Join(opts.SentinelAddrs, ",") + " master " + opts.MasterName)
	return c
}

// missing skips the test for want of a real topology, or fails it when
// REDIS_REQUIRED=1 says the run provides one.
func missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("REDIS_REQUIRED") == "1" {
		t.Fatal("redis: REDIS_REQUIRED=1 but " + why)
	}
	t.Skip("redis: " + why)
}

// Prefix returns a key prefix of the test's own ("test:<random>:") and
// deletes every key under it when the test ends, so that runs leave
// nothing behind on a shared server. Call it after New, so the keys are
// deleted before the client closes.
//
// The rate limiter's keys are cleaned too: redis_rate writes its own
// "rate:" before the prefix it is given (handlers.RateLimits.Prefix), so
// they start "rate:test:<random>:", outside the prefix.
func Prefix(t testing.TB, c redis.UniversalClient) string {
	t.Helper()
	p := "test:" + rand.Text() + ":"
	t.Cleanup(func() {
		for _, under := range []string{p, rateLimiterPrefix + p} {
			if err := Clean(c, under); err != nil {
				t.Logf("redis: keys under %s not all deleted: %v", under, err)
			}
		}
	})
	return p
}

// rateLimiterPrefix is what github.com/go-redis/redis_rate puts before
// every key it writes.
const rateLimiterPrefix = "rate:"

// Clean deletes every key under prefix, one SCAN page per UNLINK. On a
// Cluster it scans every primary and unlinks key by key (one UNLINK may not
// span slots).
func Clean(c redis.UniversalClient, prefix string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			return cleanNode(ctx, n, prefix, true)
		})
	}
	return cleanNode(ctx, c, prefix, false)
}

// cleanNode deletes the keys under prefix on one server.
func cleanNode(ctx context.Context, c redis.Cmdable, prefix string, oneByOne bool) error {
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 && oneByOne {
			_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, k := range keys {
					p.Unlink(ctx, k)
				}
				return nil
			})
			if err != nil {
				return err
			}
		} else if len(keys) > 0 {
			if err := c.Unlink(ctx, keys...).Err(); err != nil {
				return err
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// unreachable remembers addresses that did not answer PING.
var unreachable sync.Map

// dialReal connects to REDIS_URL or DefaultAddr and reports whether it answered
// PING. desc names the server without any password.
func dialReal(t testing.TB) (redis.UniversalClient, string, bool) {
	t.Helper()
	var opts *redis.Options
	desc := DefaultAddr
	if u := os.Getenv("REDIS_URL"); u != "" {
		o, err := redis.ParseURL(u)
		if err != nil {
			// The URL may embed a password: never echo it.
			t.Fatalf("redis: REDIS_URL does not parse: %v", redactErr(err))
		}
		opts = o
		desc = o.Addr
	} else {
		opts = &redis.Options{Addr: DefaultAddr}
	}
	if down, _ := unreachable.Load(desc); down == true && os.Getenv("REDIS_REQUIRED") != "1" {
		// Probed already: don't pay the timeout again in every test.
		return nil, "", false
	}
	probe := pingTimeout
	if os.Getenv("REDIS_URL") != "" || os.Getenv("REDIS_REQUIRED") == "1" {
		probe = namedPingTimeout
	}
	opts.DialTimeout = probe
	opts.MaxRetries = 0
	// One dial: a refused connection means no server, at once.
	opts.DialerRetries = 1
	c := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), probe)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		unreachable.Store(desc, true)
		if os.Getenv("REDIS_URL") != "" && os.Getenv("REDIS_REQUIRED") == "1" {
			t.Fatalf("redis: %s did not answer PING: %v", desc, err)
		}
		return nil, "", false
	}
	_ = c.Close()
	// Reconnect with ordinary timeouts for the test itself.
	opts.DialTimeout = 0
	opts.MaxRetries = 0
	opts.DialerRetries = 0
	c = redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c, desc, true
}

// redactErr hides the text of URL parse errors, which can quote the URL.
func redactErr(error) string { return "invalid URL (not shown: it may contain a password)" }

// Keys lists the keys matching pattern, on every primary of a Cluster (a
// cluster client's KEYS asks one node only). For tests' checks of what
// they stored, under their own prefix.
func Keys(c redis.UniversalClient, pattern string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		return c.Keys(ctx, pattern).Result()
	}
	var (
		mu  sync.Mutex
		out []string
	)
	err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		ks, err := n.Keys(ctx, pattern).Result()
		mu.Lock()
		out = append(out, ks...)
		mu.Unlock()
		return err
	})
	return out, err
}

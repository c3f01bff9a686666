// Package redistest gives tests a Redis client: the real server when one is
// reachable, so the suite exercises real Redis semantics, and miniredis
// otherwise, so it still runs on a bare machine.
//
// It never flushes the database: packages run their tests in parallel
// against the same server, so code under test must use unique keys.
//
// REDISTEST=miniredis forces miniredis even when a real server answers, so
// that CI can run the whole suite against both (.ci/run does).
package redistest

import (
	"context"
	"crypto/rand"
	"os"
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

// Clean deletes every key under prefix, one SCAN page per UNLINK.
func Clean(c redis.UniversalClient, prefix string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
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

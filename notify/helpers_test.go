package notify_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/internal/redistest"
)

// redistestMiniredis is redistest.Miniredis with a client that fails fast
// when the server is gone, as tests that stop Redis need.
func redistestMiniredis(t testing.TB) (*miniredis.Miniredis, redis.UniversalClient) {
	m, _ := redistest.Miniredis(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return m, c
}

func parseQuery(s string) (url.Values, error) { return url.ParseQuery(s) }

package payments_test

import (
	"net/url"
	"strings"
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

// paidUpdates counts the "paid" updates of checkout id that reach the
// subscription ps over the next 300 ms: the tests that send a notify many
// times expect exactly one.
func paidUpdates(ps *redis.PubSub, id string) int {
	updates := 0
	timeout := time.After(300 * time.Millisecond)
	for {
		select {
		case m := <-ps.Channel():
			if strings.Contains(m.Payload, id+" paid") {
				updates++
			}
		case <-timeout:
			return updates
		}
	}
}

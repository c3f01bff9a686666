package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/metrics"
)

// BenchmarkObservedRequest is what the metrics' middleware adds to a
// request: GET /healthz (no Redis) through the whole router, without
// metrics and with them (the route's series cached after the first).
func BenchmarkObservedRequest(b *testing.B) {
	for _, mode := range []string{"off", "on"} {
		b.Run(mode, func(b *testing.B) {
			var opts []option
			if mode == "on" {
				opts = append(opts, func(c *app.Config, _ *config.Settings) { c.Metrics = metrics.New(metrics.Options{}) })
			}
			e := newEnv(b, opts...)
			req := httptest.NewRequest("GET", "/healthz", nil)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				w := httptest.NewRecorder()
				e.handler.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

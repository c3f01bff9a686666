package handlers_test

import (
	"crypto/rand"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/handlers"
	"github.com/wallet-checkout/checkout/internal/redistest"
)

// option changes what a test's service is built from.
type option func(*app.Config, *config.Settings)

func publicURL(u string) option {
	return func(_ *app.Config, s *config.Settings) { s.PublicURL = u }
}

// allowPrivateWebhooks is CHECKOUT_ALLOW_PRIVATE_WEBHOOKS.
func allowPrivateWebhooks(_ *app.Config, s *config.Settings) { s.AllowPrivateWebhooks = true }

// build assembles the whole service with app.New, as the binary does: the
// settings of an empty environment (config.FromEnv), changed by opts; Redis
// (real when reachable) under a key prefix of its own, so that parallel
// runs never share keys; a silent logger unless cfg has one. It starts no
// loop. cfg ends up as the service was built from it.
func build(t testing.TB, cfg *app.Config, opts ...option) *app.App {
	t.Helper()
	s, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(cfg, s)
	}
	cfg.Settings = s
	if cfg.Redis == nil {
		cfg.Redis = redistest.New(t)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "test:" + rand.Text() + ":"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a, err := app.New(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

type testClock struct{ ns atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

type response struct {
	status int
	header http.Header
	body   []byte
}

// errorOf returns code and param of an error body, failing on any other shape.
func (r *response) errorOf(t testing.TB) (string, string) {
	t.Helper()
	return handlers.ErrorOf(t, r.status, r.body)
}

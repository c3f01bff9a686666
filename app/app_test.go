package app_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/payments"
)

// TestNewRequiresWhatTheServiceAlwaysHas: the settings, Redis, the
// directory and a gateway account for each of its stores, no fewer, no
// more; a service missing one does not start.
func TestNewRequiresWhatTheServiceAlwaysHas(t *testing.T) {
	settings, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	rdb := redistest.New(t)
	dir, err := checkout.NewDirectory([]*checkout.Merchant{{ID: "m", Stores: []*checkout.Store{{ID: "a"}, {ID: "b"}}}})
	if err != nil {
		t.Fatal(err)
	}
	account := func(openID string) *gateway.Store {
		gs, err := gateway.NewStore("http://127.0.0.1:9/mct1", openID, strings.Repeat("k", 32), "pass")
		if err != nil {
			t.Fatal(err)
		}
		return gs
	}
	onlyA := payments.NewAccounts()
	if err := onlyA.Add("m", "a", account("OA")); err != nil {
		t.Fatal(err)
	}
	both := payments.NewAccounts()
	for _, id := range []string{"a", "b"} {
		if err := both.Add("m", id, account("O"+id)); err != nil {
			t.Fatal(err)
		}
	}
	full := app.Config{Settings: settings, Redis: rdb, Directory: dir, Accounts: both, Prefix: "test:app:"}
	for name, tc := range map[string]struct {
		edit func(*app.Config)
		want string
	}{
		"no settings":         {func(c *app.Config) { c.Settings = nil }, "Settings"},
		"no redis":            {func(c *app.Config) { c.Redis = nil }, "Redis"},
		"no directory":        {func(c *app.Config) { c.Directory = nil }, "Directory"},
		"no accounts":         {func(c *app.Config) { c.Accounts = nil }, "Accounts"},
		"a store without one": {func(c *app.Config) { c.Accounts = onlyA }, "store b has no gateway account"},
	} {
		cfg := full
		tc.edit(&cfg)
		if _, err := app.New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", name, err, tc.want)
		} else if name == "a store without one" && !errors.Is(err, payments.ErrInvalidAccounts) {
			t.Errorf("%s: %v is not ErrInvalidAccounts", name, err)
		}
	}
	a, err := app.New(full)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if a.Handler == nil || a.Payments == nil || a.Reconciliation == nil || a.Hub == nil {
		t.Fatalf("New left parts unbuilt: %+v", a)
	}
}

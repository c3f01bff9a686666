package app_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/internal/redistest"
)

// merchantsYAML is a one-merchant file with id, key and open_id filled in.
func merchantsYAML(id, key, openID, extra string) string {
	return `merchants:
  - id: ` + id + `
    name: Shop
    api_keys: [` + config.HashAPIKeyLine(key) + `]
    redirect_hosts: [shop.example]
    stores:
      - id: main
        gateway:
          base_url: https://api.gateway.example/mct1
          open_id: ` + openID + `
          open_key: 0828e83720fdbe3685a7b94214af04f9
          shop_pass: "123456"
        wechat: {enabled: true, mode: redirect}
` + extra
}

func parse(t *testing.T, yaml string) *config.Merchants {
	t.Helper()
	m, err := config.ParseMerchants([]byte(yaml), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestReloadSwapsMerchants: after Reload, the handler the service was built
// with answers for the new file's merchants and keys, the use cases find the
// new store's gateway account, and the old merchant is gone; a file that
// changes the identity providers is refused and changes nothing.
func TestReloadSwapsMerchants(t *testing.T) {
	settings, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	rdb := redistest.New(t)
	oldKey, newKey := "sk_live_AppReloadOld0123456789abcdefghijk", "sk_live_AppReloadNew0123456789abcdefghijk"
	first := parse(t, merchantsYAML("old", oldKey, "11112222333344445555666677778888", ""))
	a, err := app.New(app.Config{Settings: settings, Redis: rdb, Directory: first.Directory, Accounts: first.Accounts,
		Providers: first.Providers, Prefix: redistest.Prefix(t, rdb)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler)
	defer srv.Close()
	status := func(key string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/v1/checkouts", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(oldKey); got != http.StatusOK {
		t.Fatalf("old key before: %d", got)
	}

	next := parse(t, merchantsYAML("new", newKey, "99998888777766665555444433332222", ""))
	if err := a.Reload(next); err != nil {
		t.Fatal(err)
	}
	if got := status(newKey); got != http.StatusOK {
		t.Errorf("new key after Reload: %d, want 200", got)
	}
	if got := status(oldKey); got != http.StatusUnauthorized {
		t.Errorf("old key after Reload: %d, want 401", got)
	}
	if _, ok := first.Directory.Merchant("old"); ok {
		t.Error("the directory the service holds still has the old merchant")
	}
	if _, ok := first.Accounts.Of("new", "main"); !ok {
		t.Error("the accounts the use cases hold lack the new store's")
	}

	// Other identity providers: refused, naming the field; nothing changes.
	moved := parse(t, merchantsYAML("other", oldKey, "12121212121212121212121212121212",
		"identity_providers:\n  wechat:\n    api_base: https://wx.example\n"))
	err = a.Reload(moved)
	var cerr *config.Error
	if !errors.As(err, &cerr) || cerr.Path != "identity_providers" {
		t.Fatalf("Reload with other providers = %v, want a config.Error at identity_providers", err)
	}
	if got := status(newKey); got != http.StatusOK {
		t.Errorf("after a refused reload the running key answers %d, want 200", got)
	}
	if got := status(oldKey); got != http.StatusUnauthorized {
		t.Errorf("after a refused reload the refused file's key answers %d, want 401", got)
	}
	if err := a.Reload(nil); err == nil || !strings.Contains(err.Error(), "reload") {
		t.Errorf("Reload(nil) = %v", err)
	}
}

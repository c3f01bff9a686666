package app_test

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/payments"
)

// TestEmulatorRefusals: app.New builds the identity emulator only from
// sandbox stores whose apps agree, and never beside a WalletSim given by
// the caller: each such service does not start, with a message naming the
// cause (config refuses the same files first; this guards other callers).
func TestEmulatorRefusals(t *testing.T) {
	settings, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	settings.PublicURL = "http://127.0.0.1:8080"
	rdb := redistest.New(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	store := func(id, secret string, sandbox bool) *checkout.Store {
		return &checkout.Store{ID: id, Sandbox: sandbox, WeChat: checkout.WeChatConfig{
			Enabled: true, Mode: checkout.ModeNative, AppID: "wx00000000000000oa", AppSecret: checkout.Secret(secret)}}
	}
	tests := []struct {
		name   string
		stores []*checkout.Store
		sim    http.Handler
		noKey  bool
		want   string
	}{
		{name: "live store", stores: []*checkout.Store{store("a", "s1", true), store("b", "s1", false)}, want: "store m/b is not a sandbox store"},
		{name: "one appid, two secrets", stores: []*checkout.Store{store("a", "s1", true), store("b", "s2", true)}, want: "WeChat appid wx00000000000000oa has two different secrets (m/b)"},
		{name: "a WalletSim too", stores: []*checkout.Store{store("a", "s1", true)}, sim: http.NotFoundHandler(), want: "WalletSim and Providers.Emulator both set"},
		{name: "no key", stores: []*checkout.Store{store("a", "s1", true)}, noKey: true, want: "needs EmulatorAlipayKey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, err := checkout.NewDirectory([]*checkout.Merchant{{ID: "m", Stores: tt.stores}})
			if err != nil {
				t.Fatal(err)
			}
			accounts := payments.NewAccounts()
			for i, st := range tt.stores {
				gs, err := gateway.NewStore("http://127.0.0.1:9/mct1", "open"+string(rune('a'+i)), strings.Repeat("k", 32), "pass")
				if err != nil {
					t.Fatal(err)
				}
				if err := accounts.Add("m", st.ID, gs); err != nil {
					t.Fatal(err)
				}
			}
			pv := config.Providers{Emulator: true, EmulatorAlipayKey: key}
			if tt.noKey {
				pv.EmulatorAlipayKey = nil
			}
			_, err = app.New(app.Config{Settings: settings, Redis: rdb, Prefix: redistest.Prefix(t, rdb), Directory: dir, Accounts: accounts, Providers: pv, WalletSim: tt.sim})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("app.New: %v, want an error with %q", err, tt.want)
			}
		})
	}
}

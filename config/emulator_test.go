package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/wallet"
)

func emulatorEnv() map[string]string {
	return map[string]string{
		"TRIAL_WECHAT_SECRET":      testAppSecret,
		"TRIAL_MP_SECRET":          testAppSecret + "-mp",
		"TRIAL_ALIPAY_PRIVATE_KEY": testKeys().privPKCS8,
	}
}

// TestEmulatorProviders: identity_providers.emulator turns the emulator on,
// leaves the provider URLs to the service (it serves the emulator itself),
// and gives the sandbox store the emulator's Alipay key to trust: the public
// half of the key the emulator signs with.
func TestEmulatorProviders(t *testing.T) {
	got, err := ParseMerchants([]byte(readFixture(t, "emulator.yaml")), Options{Getenv: envOf(emulatorEnv())})
	if err != nil {
		t.Fatal(err)
	}
	pv := got.Providers
	if !pv.Emulator || pv.EmulatorAlipayKey == nil {
		t.Fatalf("providers = %+v, want the emulator with its key", pv)
	}
	st, ok := got.Directory.Store("trial", "lab")
	if !ok {
		t.Fatal("store trial/lab missing")
	}
	pub, err := wallet.ParseRSAPublicKey(st.Alipay.AlipayPublicKey)
	if err != nil {
		t.Fatalf("the store's alipay_public_key: %v", err)
	}
	if !pub.Equal(&pv.EmulatorAlipayKey.PublicKey) {
		t.Error("the store trusts a key other than the emulator's")
	}
	if _, err := wallet.ParseAlipayApp(st.Alipay.AppID, st.Alipay.PrivateKey.Reveal(), st.Alipay.AlipayPublicKey); err != nil {
		t.Errorf("the store's Alipay app does not parse as the pages parse it: %v", err)
	}
	// Without the setting nothing changes: the real providers, no key.
	plain, err := ParseMerchants([]byte(readFixture(t, "minimal.yaml")), Options{Getenv: envOf(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if plain.Providers != DefaultProviders() {
		t.Errorf("providers without the emulator = %+v", plain.Providers)
	}
}

// TestEmulatorRefusals: the emulator approves every payer, so a store that
// takes real money must never trust it; and the setting names one source of
// identities, so URLs beside it, or an Alipay key it would replace, are
// mistakes to point out rather than to guess about.
func TestEmulatorRefusals(t *testing.T) {
	k := testKeys()
	tests := []struct {
		name, old, new string
		want           string
	}{
		{
			name: "live store",
			old:  "        sandbox: true\n", new: "        sandbox: false\n",
			want: "config: identity_providers.emulator: merchants[0].stores[0] is not a sandbox store",
		},
		{
			name: "sandbox left out",
			old:  "        sandbox: true\n", new: "",
			want: "config: identity_providers.emulator: merchants[0].stores[0] is not a sandbox store",
		},
		{
			name: "a second, live store",
			old:  "    stores:\n",
			new: "    stores:\n      - id: real\n        gateway: {base_url: https://api.gateway.example/mct1, open_id: 11112222333344445555666677778888, open_key: 0828e83720fdbe3685a7b94214af04f9, shop_pass: \"1\"}\n" +
				"        wechat: {enabled: true, mode: redirect}\n",
			want: "config: identity_providers.emulator: merchants[0].stores[0] is not a sandbox store",
		},
		{
			name: "emulator and a URL",
			old:  "  emulator: true\n", new: "  emulator: true\n  wechat:\n    api_base: https://api.weixin.qq.com\n",
			want: "config: identity_providers.wechat.api_base: leave the URLs out with emulator: true",
		},
		{
			name: "emulator not a bool",
			old:  "  emulator: true\n", new: "  emulator: builtin\n",
			want: `config: identity_providers.emulator: must be true or false (got "builtin")`,
		},
		{
			name: "alipay_public_key given",
			old:  "          private_key: ${TRIAL_ALIPAY_PRIVATE_KEY}\n",
			new:  "          private_key: ${TRIAL_ALIPAY_PRIVATE_KEY}\n          alipay_public_key: \"" + strings.ReplaceAll(k.pubBare, "\n", "") + "\"\n",
			want: "config: merchants[0].stores[0].alipay.alipay_public_key: leave it out with identity_providers.emulator",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := readFixture(t, "emulator.yaml")
			if !strings.Contains(src, tt.old) {
				t.Fatalf("fixture lacks %q", tt.old)
			}
			src = strings.Replace(src, tt.old, tt.new, 1)
			_, err := ParseMerchants([]byte(src), Options{Getenv: envOf(emulatorEnv())})
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *config.Error", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %q\nwant prefix %q", err, tt.want)
			}
			if strings.Contains(err.Error(), testAppSecret) || strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("the message carries a secret: %q", err)
			}
		})
	}
}

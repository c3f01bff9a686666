package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
)

// emulatorFile writes testdata/emulator.yaml with the store's sandbox flag
// and the hash of key, and returns its path.
func emulatorFile(t *testing.T, sandbox, key string) string {
	t.Helper()
	src, err := os.ReadFile("testdata/emulator.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src = bytes.ReplaceAll(src, []byte("HASH_OF_TEST_KEY"), []byte(config.HashAPIKeyLine(key)))
	src = bytes.ReplaceAll(src, []byte("SANDBOX"), []byte(sandbox))
	path := filepath.Join(t.TempDir(), "merchants.yaml")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func emulatorEnv(path string) map[string]string {
	return map[string]string{
		"CHECKOUT_CONFIG":         path,
		"CHECKOUT_SESSION_KEYS":   testSessionKey,
		"CHECKOUT_SIGNING_SECRET": testSigning,
		"SHOP_OPEN_KEY":           "0828e83720fdbe3685a7b94214af04f9",
		"SHOP_PASS":               "supervisor",
		"SHOP_OA_SECRET":          "official-account-secret",
		"SHOP_MP_SECRET":          "mini-program-secret",
	}
}

// TestConfiguredEmulator: the binary, started with a merchants file of
// sandbox stores and identity_providers.emulator, serves the emulator at
// its own address (the public URL it derived): the mini-program login
// stand-in hands out a code, and the OAuth page sends a payer back to the
// service's host, not elsewhere. With the store not a sandbox store, the
// start is refused with the field named.
func TestConfiguredEmulator(t *testing.T) {
	key, err := checkout.NewAPIKey(false)
	if err != nil {
		t.Fatal(err)
	}
	in := start(t, emulatorEnv(emulatorFile(t, "true", key)))
	if strings.Contains(in.stdout.String(), "DEMO MODE") {
		t.Error("demo banner printed with a merchants file")
	}
	res, err := http.Get(in.base + "/walletsim/wxa/login?appid=wx00000000000000mp&payer=bin")
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ Code string }
	err = json.NewDecoder(res.Body).Decode(&login)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || login.Code == "" {
		t.Fatalf("wx.login stand-in: %d %+v %v", res.StatusCode, login, err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		back   string
		status int
	}{
		{in.base + "/c/co_x/oauth/wechat", http.StatusFound},
		{"https://elsewhere.example/steal", http.StatusBadRequest},
	} {
		q := url.Values{"appid": {"wx0000000000000bin"}, "redirect_uri": {tc.back}, "response_type": {"code"}, "scope": {"snsapi_base"}, "state": {"s"}}
		res, err := noFollow.Get(in.base + "/walletsim/connect/oauth2/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.status || (tc.status == http.StatusFound && !strings.HasPrefix(res.Header.Get("Location"), tc.back+"?")) {
			t.Errorf("authorize back to %s: %d to %q, want %d", tc.back, res.StatusCode, res.Header.Get("Location"), tc.status)
		}
	}

	// A live store beside the emulator: the start stops before listening.
	var stdout, stderr bytes.Buffer
	env := emulatorEnv(emulatorFile(t, "false", key))
	env["CHECKOUT_ADDR"] = "127.0.0.1:0"
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	code := run(ctx, nil, envOf(env), &stdout, &stderr)
	if code != exitUsage || !strings.HasPrefix(stderr.String(), "config: identity_providers.emulator: merchants[0].stores[0] is not a sandbox store") {
		t.Errorf("live store with the emulator: exit %d, stderr %q", code, stderr.String())
	}
}

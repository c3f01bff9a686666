package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/config"
)

// writeMerchants writes testdata/merchants.yaml to path with key's hash as
// the merchant's API key, then applies edit to the text.
func writeMerchants(t *testing.T, path, key string, edit func(string) string) {
	t.Helper()
	src, err := os.ReadFile("testdata/merchants.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(src), "HASH_OF_TEST_KEY", config.HashAPIKeyLine(key))
	if edit != nil {
		text = edit(text)
	}
	// Written beside and renamed over, as an operator's deploy does: the
	// process never reads half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// authStatus is the status of GET /v1/checkouts with key.
func authStatus(t *testing.T, base, key string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/checkouts", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSIGHUPReloadsMerchants starts the real process (main, signal handling
// included) with a merchants file, replaces the merchant's API key in the
// file and sends SIGHUP: the new key works and the old one is refused,
// without a restart. Then a bad file and SIGHUP: one log line names the bad
// field, and the running configuration (the new key) stays.
func TestSIGHUPReloadsMerchants(t *testing.T) {
	oldKey := "sk_live_ReloadOldKey0123456789abcdefghijklmn"
	newKey := "sk_live_ReloadNewKey0123456789abcdefghijklmn"
	dir := t.TempDir()
	path := filepath.Join(dir, "merchants.yaml")
	writeMerchants(t, path, oldKey, nil)

	addrFile := filepath.Join(dir, "addr")
	cmd := exec.Command(os.Args[0], "-addr", "127.0.0.1:0", "-addr-file", addrFile)
	cmd.Env = append(os.Environ(), childEnv+"=1", "GIN_MODE=", "REDIS_URL=",
		"CHECKOUT_CONFIG="+path,
		"CHECKOUT_SESSION_KEYS="+testSessionKey,
		"CHECKOUT_SIGNING_SECRET="+testSigning,
		"CHECKOUT_PUBLIC_URL=https://pay.example.com",
		"SHOP_OPEN_KEY=0828e83720fdbe3685a7b94214af04f9",
		"SHOP_PASS=supervisor-password-not-to-log",
	)
	var stdout bytes.Buffer
	stderr := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	var base string
	deadline := time.Now().Add(30 * time.Second)
	for base == "" {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			base = "http://" + string(b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the process did not listen within 30 s\nstderr:\n%s", stderr)
		}
		select {
		case err := <-exited:
			t.Fatalf("the process exited before listening: %v\nstderr:\n%s", err, stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if got := authStatus(t, base, oldKey); got != http.StatusOK {
		t.Fatalf("old key before the reload: %d, want 200", got)
	}

	// until polls cond for a final state, resending SIGHUP: the signal
	// may only arrive after the check ran.
	until := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s within 30 s\nstderr:\n%s", what, stderr)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	writeMerchants(t, path, newKey, nil)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	until("the new key did not work", func() bool { return authStatus(t, base, newKey) == http.StatusOK })
	if got := authStatus(t, base, oldKey); got != http.StatusUnauthorized {
		t.Errorf("old key after the reload: %d, want 401", got)
	}
	until("no reload logged", func() bool { return strings.Contains(stderr.String(), `"msg":"Merchants file reloaded"`) })

	// A bad file: the open_key is the wrong length.
	writeMerchants(t, path, "sk_live_ReloadBadKey0123456789abcdefghijklmn", func(s string) string {
		return strings.Replace(s, "${SHOP_OPEN_KEY}", "too-short", 1)
	})
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	const refused = `"msg":"Merchants file not reloaded; the running configuration is kept"`
	until("no refusal logged", func() bool { return strings.Contains(stderr.String(), refused) })
	var line string
	for l := range strings.Lines(stderr.String()) {
		if strings.Contains(l, refused) {
			line = l
		}
	}
	if !strings.Contains(line, "merchants[0].stores[0].gateway.open_key") {
		t.Errorf("the refusal does not name the field:\n%s", line)
	}
	if strings.Count(stderr.String(), refused) != 1 {
		t.Errorf("want one refusal line:\n%s", stderr)
	}
	if got := authStatus(t, base, newKey); got != http.StatusOK {
		t.Errorf("key of the running configuration after a bad file: %d, want 200", got)
	}
	if strings.Contains(stderr.String(), "supervisor-password-not-to-log") || strings.Contains(stderr.String(), newKey) {
		t.Errorf("a secret in the logs:\n%s", stderr)
	}
	select {
	case err := <-exited:
		t.Fatalf("the process exited: %v\nstderr:\n%s", err, stderr)
	default:
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/internal/redistest"
)

// syncBuffer is an io.Writer the test reads while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// instance is a running `checkout` started through run.
type instance struct {
	base   string // http://127.0.0.1:port
	addr   string
	stdout *syncBuffer
	stderr *syncBuffer
	stop   func() int // cancels the context and returns run's exit code
}

// start runs the binary's run function with env and args, waits until it
// listens (through -addr-file) and returns it. It fails the test if run
// exits first.
func start(t *testing.T, env map[string]string, args ...string) *instance {
	t.Helper()
	if env["CHECKOUT_ADDR"] == "" {
		env["CHECKOUT_ADDR"] = "127.0.0.1:0"
	}
	addrFile := filepath.Join(t.TempDir(), "addr")
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	exited := make(chan int, 1)
	began := time.Now()
	go func() {
		exited <- run(ctx, append([]string{"-addr-file", addrFile}, args...), envOf(env), in.stdout, in.stderr)
	}()
	var once sync.Once
	code := -1
	in.stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-exited:
			case <-time.After(30 * time.Second):
				var dump strings.Builder
				_ = pprof.Lookup("goroutine").WriteTo(&dump, 1)
				t.Errorf("run did not return within 30 s of cancellation; goroutines:\n%s", dump.String())
			}
		})
		return code
	}
	t.Cleanup(func() { in.stop() })

	deadline := time.After(30 * time.Second)
	for {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			in.addr = string(b)
			in.base = "http://" + in.addr
			t.Logf("listening on %s after %s", in.addr, time.Since(began).Round(time.Millisecond))
			return in
		}
		select {
		case code := <-exited:
			t.Fatalf("run exited with %d before listening\nstderr:\n%s", code, in.stderr)
		case <-deadline:
			t.Fatalf("run did not listen within 30 s\nstderr:\n%s", in.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// runToExit runs the binary's run function and expects it to return by
// itself (a start-up failure).
func runToExit(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb syncBuffer
	code = run(ctx, args, envOf(env), &out, &errb)
	if ctx.Err() != nil {
		t.Fatalf("run only returned when its context timed out (code %d)\nstderr:\n%s", code, errb.String())
	}
	return code, out.String(), errb.String()
}

func do(t *testing.T, method, url, apiKey string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

// realRedisURL returns the URL of a real Redis for a test that runs the
// binary on one: a redis-server process of the test's own, killed when it
// ends. It skips the test when there is no redis-server binary, unless
// REDIS_REQUIRED=1 (CI), where it fails. With REDISTEST=miniredis (the
// suite's miniredis pass) it skips too.
func realRedisURL(t *testing.T) string {
	t.Helper()
	if redistest.ForcedMiniredis() {
		t.Skip("REDISTEST=miniredis: this test needs a real Redis")
	}
	// The binary writes its keys without a prefix (a deployment owns its
	// Redis), so it gets a redis-server of its own: nothing lands on a
	// server other tests or people share.
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("REDIS_REQUIRED") == "1" {
			t.Fatal("REDIS_REQUIRED=1 but there is no redis-server binary to start a private Redis")
		}
		t.Skip("no redis-server binary on PATH")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	_ = l.Close()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + port
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 7)
			n, _ := io.ReadFull(c, buf)
			_ = c.Close()
			if n == 7 && string(buf) == "+PONG\r\n" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the private redis-server on %s did not answer PING", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("redis: a private redis-server on %s", addr)
	return "redis://" + addr + "/0"
}

var (
	apiKeyRe   = regexp.MustCompile(`API key:\s+(sk_test_[0-9A-Za-z]+)`)
	checkoutRe = regexp.MustCompile(`(http://\S+)/c/(co_[0-9A-Za-z]+)`)
	openIDRe   = regexp.MustCompile(`open_id\s+(\S+)`)
	openKeyRe  = regexp.MustCompile(`open_key\s+(\S+)`)
	shopPassRe = regexp.MustCompile(`shop_pass\s+(\S+)`)
	baseURLRe  = regexp.MustCompile(`base URL\s+(\S+)`)
)

func match(t *testing.T, re *regexp.Regexp, s string) string {
	t.Helper()
	m := re.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("output has no match for %s:\n%s", re, s)
	}
	return m[1]
}

// TestDemoMode starts the binary as a newcomer does (no configuration at
// all, on a free port), and uses what it prints: the API key against the
// merchant API, the checkout it created, and the sandbox store's credentials
// against the mounted sandbox gateway.
func TestDemoMode(t *testing.T) {
	in := start(t, map[string]string{})
	out := in.stdout.String()
	t.Logf("demo banner:\n%s", out)

	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := do(t, "GET", in.base+path, "", nil); code != http.StatusOK {
			t.Errorf("GET %s = %d %v", path, code, body)
		}
	}

	key := match(t, apiKeyRe, out)
	m := checkoutRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no checkout URL in the banner")
	}
	if m[1] != in.base {
		t.Errorf("checkout URL starts with %s, want the bound address %s", m[1], in.base)
	}
	id := m[2]
	code, body := do(t, "GET", in.base+"/v1/checkouts/"+id, key, nil)
	if code != http.StatusOK || body["id"] != id || body["status"] != "open" {
		t.Errorf("GET the demo checkout: %d %v", code, body)
	}
	if code, _ := do(t, "GET", in.base+"/v1/checkouts/"+id, "sk_test_wrong", nil); code != http.StatusUnauthorized {
		t.Errorf("a wrong key gets %d, want 401", code)
	}

	// The curl example of the banner works as printed.
	code, body = do(t, "POST", in.base+"/v1/checkouts", key, map[string]any{
		"amount": 1999, "description": "Demo order", "success_url": in.base + "/c/{CHECKOUT_ID}",
	})
	if code != http.StatusCreated {
		t.Fatalf("POST /v1/checkouts = %d %v", code, body)
	}
	if u, _ := body["url"].(string); !strings.HasPrefix(u, in.base+"/c/co_") {
		t.Errorf("hosted url %v", body["url"])
	}

	// The printed sandbox credentials work with any gateway client.
	st, err := gateway.NewStore(match(t, baseURLRe, out), match(t, openIDRe, out), match(t, openKeyRe, out), match(t, shopPassRe, out))
	if err != nil {
		t.Fatal(err)
	}
	methods, err := gateway.NewClient().PayList(context.Background(), st, "2,3,4")
	if err != nil || len(methods) == 0 {
		t.Errorf("paylist through the mounted sandbox: %v %v", methods, err)
	}

	// The wallet emulator is mounted too: WeChat's authorize page
	// auto-approves back to the redirect URI.
	code, _ = do(t, "GET", in.base+"/walletsim/connect/oauth2/authorize?appid="+demoWeChatAppID+
		"&redirect_uri="+in.base+"/back&response_type=code&scope=snsapi_base&state=s1", "", nil)
	if code != http.StatusFound {
		t.Errorf("walletsim authorize = %d, want 302", code)
	}

	if got := in.stop(); got != exitOK {
		t.Errorf("exit code after shutdown %d, want 0\nstderr:\n%s", got, in.stderr)
	}
	logs := in.stderr.String()
	if !strings.Contains(logs, "IN-PROCESS Redis") {
		t.Errorf("no loud warning about the in-memory Redis in the logs:\n%s", logs)
	}
	// Logs never carry the demo secrets (the banner on stdout does, on purpose).
	for _, secret := range []string{key, match(t, openKeyRe, out)} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain a secret")
		}
	}
	if !strings.Contains(logs, "Stopped") {
		t.Errorf("no graceful shutdown in the logs:\n%s", logs)
	}
}

// TestDemoPaysEndToEnd pays the printed demo checkout the way a payer in a
// desktop browser does (QR code), with the sandbox console standing in for
// the phone that scans it, and watches the checkout become paid through the
// whole chain: sandbox notify → /notify → paystatus → Redis → merchant API.
func TestDemoPaysEndToEnd(t *testing.T) {
	in := start(t, map[string]string{})
	out := in.stdout.String()
	key := match(t, apiKeyRe, out)
	id := checkoutRe.FindStringSubmatch(out)[2]

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(path string) string {
		t.Helper()
		resp, err := browser.Get(in.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %s\n%s", path, resp.Status, b)
		}
		return string(b)
	}
	page := get("/c/" + id)
	if !strings.Contains(page, "演示订单 Demo order") || !strings.Contains(page, "19.99") {
		t.Errorf("the checkout page does not show the description and amount")
	}
	csrf := regexp.MustCompile(`data-csrf="([^"]+)"`).FindStringSubmatch(page)
	if csrf == nil {
		t.Fatalf("no CSRF token on the checkout page")
	}
	req, _ := http.NewRequest("POST", in.base+"/c/"+id+"/pay", strings.NewReader(`{"wallet":"wechat","scenario":"qr"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", csrf[1])
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"qr_image_url"`) {
		t.Fatalf("POST /c/%s/pay = %s %s", id, resp.Status, body)
	}
	if code, b := do(t, "GET", in.base+"/v1/checkouts/"+id, key, nil); code != http.StatusOK || b["status"] != "pending" {
		t.Errorf("after the QR order the checkout is %v, want pending", b["status"])
	}

	// The phone: the sandbox console lists the order and pays it.
	ord := regexp.MustCompile(`console/pay/(\d+)`).FindStringSubmatch(get("/sandbox/"))
	if ord == nil {
		t.Fatal("the sandbox console lists no order awaiting payment")
	}
	resp, err = (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Post(in.base+"/sandbox/console/pay/"+ord[1], "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sandbox console pay = %s", resp.Status)
	}

	deadline := time.Now().Add(20 * time.Second)
	for {
		_, b := do(t, "GET", in.base+"/v1/checkouts/"+id, key, nil)
		if b["status"] == "paid" {
			if b["paid_at"] == nil || b["late"] != false {
				t.Errorf("paid checkout %v", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the checkout is still %v 20 s after the payment\nlogs:\n%s", b["status"], in.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(get("/c/"+id+"/status"), "paid") {
		t.Error("the payer's status endpoint does not say paid")
	}
}

// TestDemoModeRealRedis runs the demo default against a configured real
// Redis: the same service, data in Redis.
func TestDemoModeRealRedis(t *testing.T) {
	in := start(t, map[string]string{"REDIS_URL": realRedisURL(t)})
	if code, body := do(t, "GET", in.base+"/readyz", "", nil); code != http.StatusOK {
		t.Errorf("GET /readyz = %d %v", code, body)
	}
	if strings.Contains(in.stderr.String(), "IN-PROCESS Redis") {
		t.Error("warned about the in-process Redis although REDIS_URL is set")
	}
	key := match(t, apiKeyRe, in.stdout.String())
	id := checkoutRe.FindStringSubmatch(in.stdout.String())[2]
	if code, body := do(t, "GET", in.base+"/v1/checkouts/"+id, key, nil); code != http.StatusOK {
		t.Errorf("GET the demo checkout = %d %v", code, body)
	}
	if got := in.stop(); got != exitOK {
		t.Errorf("exit code %d", got)
	}
}

// TestDemoModeOnTopologies starts the binary on a real Redis Cluster and on
// a Sentinel-managed primary (REDIS_MODE), as .ci/redis-topologies.sh
// provides them: it connects, says which topology in its start log, and
// serves the demo checkout and a new one from there. Skipped without the
// topologies, failed in CI (REDIS_REQUIRED=1).
func TestDemoModeOnTopologies(t *testing.T) {
	for _, tc := range []struct {
		mode string
		url  func(t *testing.T) string
	}{
		{"cluster", func(t *testing.T) string { redistest.Cluster(t); return os.Getenv(redistest.ClusterURLEnv) }},
		{"sentinel", func(t *testing.T) string { redistest.Sentinel(t); return os.Getenv(redistest.SentinelURLEnv) }},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			in := start(t, map[string]string{"REDIS_MODE": tc.mode, "REDIS_URL": tc.url(t)})
			if code, body := do(t, "GET", in.base+"/readyz", "", nil); code != http.StatusOK {
				t.Errorf("GET /readyz = %d %v", code, body)
			}
			if !strings.Contains(in.stderr.String(), `"redis_mode":"`+tc.mode+`"`) {
				t.Errorf("the start log does not name the topology:\n%s", in.stderr.String())
			}
			key := match(t, apiKeyRe, in.stdout.String())
			id := checkoutRe.FindStringSubmatch(in.stdout.String())[2]
			if code, body := do(t, "GET", in.base+"/v1/checkouts/"+id, key, nil); code != http.StatusOK {
				t.Errorf("GET the demo checkout = %d %v", code, body)
			}
			code, body := do(t, "POST", in.base+"/v1/checkouts", key, map[string]any{"amount": 123, "description": "topology"})
			if code != http.StatusCreated {
				t.Fatalf("POST /v1/checkouts = %d %v", code, body)
			}
			if code, got := do(t, "GET", in.base+"/v1/checkouts/"+body["id"].(string), key, nil); code != http.StatusOK || got["amount"] != float64(123) {
				t.Errorf("GET the new checkout = %d %v", code, got)
			}
			if got := in.stop(); got != exitOK {
				t.Errorf("exit code %d", got)
			}
		})
	}
}

const (
	testSessionKey = "test-session-key-0123456789abcdef0123"
	testSigning    = "test-signing-secret-0123456789abcdef"
)

// TestConfigured serves merchants from a file, with a known API key.
func TestConfigured(t *testing.T) {
	key := "sk_live_TestConfiguredKey0123456789abcdefghij"
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/merchants.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "merchants.yaml")
	if err := os.WriteFile(path, bytes.ReplaceAll(src, []byte("HASH_OF_TEST_KEY"), []byte(config.HashAPIKeyLine(key))), 0o600); err != nil {
		t.Fatal(err)
	}
	in := start(t, map[string]string{
		"CHECKOUT_CONFIG":         path,
		"CHECKOUT_SESSION_KEYS":   testSessionKey,
		"CHECKOUT_SIGNING_SECRET": testSigning,
		"CHECKOUT_PUBLIC_URL":     "https://pay.example.com",
		"SHOP_OPEN_KEY":           "0828e83720fdbe3685a7b94214af04f9",
		"SHOP_PASS":               "supervisor",
	})
	if strings.Contains(in.stdout.String(), "DEMO MODE") {
		t.Error("demo banner printed with a merchants file")
	}
	code, body := do(t, "POST", in.base+"/v1/checkouts", key, map[string]any{
		"amount": 100, "description": "Configured", "success_url": "https://shop.example.com/ok?c={CHECKOUT_ID}",
	})
	if code != http.StatusCreated {
		t.Fatalf("POST /v1/checkouts = %d %v", code, body)
	}
	if u, _ := body["url"].(string); !strings.HasPrefix(u, "https://pay.example.com/c/co_") {
		t.Errorf("hosted url %v does not start with CHECKOUT_PUBLIC_URL", body["url"])
	}
	// No sandbox without demo mode.
	if code, _ := do(t, "GET", in.base+"/sandbox/mct1/paylist", "", nil); code != http.StatusNotFound {
		t.Errorf("/sandbox/ answers %d in configured mode, want 404", code)
	}
}

func TestStartFailures(t *testing.T) {
	prod := func(kv ...string) map[string]string {
		m := map[string]string{
			"CHECKOUT_ADDR":           "127.0.0.1:0",
			"CHECKOUT_CONFIG":         "testdata/invalid.yaml",
			"CHECKOUT_SESSION_KEYS":   testSessionKey,
			"CHECKOUT_SIGNING_SECRET": testSigning,
			"SHOP_OPEN_KEY":           "0828e83720fdbe3685a7b94214af04f",
			"SHOP_PASS":               "supervisor",
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string // the whole of stderr when exact, else a part
		// exact: stderr must be exactly want (one line).
		exact bool
		// line: stderr, beside the JSON log, is one line.
		line bool
	}{
		{
			name: "unreachable REDIS_URL", code: exitFailed, line: true,
			env:  map[string]string{"CHECKOUT_ADDR": "127.0.0.1:0", "REDIS_URL": "redis://:hunter2-secret@127.0.0.1:1/0"},
			want: "checkout: REDIS_URL (REDIS_MODE=single) is set but the Redis single 127.0.0.1:1 db 0 does not answer",
		},
		{
			name: "unreachable cluster", code: exitFailed, line: true,
			env:  map[string]string{"CHECKOUT_ADDR": "127.0.0.1:0", "REDIS_MODE": "cluster", "REDIS_URL": "redis://:hunter2-secret@127.0.0.1:1?addr=127.0.0.1:2"},
			want: "checkout: REDIS_URL (REDIS_MODE=cluster) is set but the Redis cluster seeds 127.0.0.1:1,127.0.0.1:2 does not answer",
		},
		{
			name: "unreachable sentinels", code: exitFailed, line: true,
			env:  map[string]string{"CHECKOUT_ADDR": "127.0.0.1:0", "REDIS_MODE": "sentinel", "REDIS_URL": "redis://u:hunter2-secret@127.0.0.1:1?master_name=checkout&password=hunter2-secret"},
			want: "checkout: REDIS_URL (REDIS_MODE=sentinel) is set but the Redis sentinel master \"checkout\" via 127.0.0.1:1 db 0 does not answer",
		},
		{
			name: "bad REDIS_MODE", code: exitUsage, exact: true, args: []string{"-redis-mode", "replicas"},
			want: "config: REDIS_MODE: \"replicas\" is not one of single, cluster, sentinel\n",
		},
		{
			name: "sentinel URL without master", code: exitUsage, line: true,
			env:  map[string]string{"REDIS_MODE": "sentinel", "REDIS_URL": "redis://127.0.0.1:26379?password=hunter2-secret"},
			want: "config: REDIS_URL: not a Redis URL for REDIS_MODE=sentinel",
		},
		{
			name: "invalid merchants file", code: exitUsage, exact: true, env: prod(),
			want: "config: merchants[0].stores[0].gateway.open_key: must be exactly 32 bytes (got 31)\n",
		},
		{
			name: "missing merchants file", code: exitUsage, env: prod("CHECKOUT_CONFIG", "testdata/nope.yaml"),
			want: "config: CHECKOUT_CONFIG: cannot read the merchants file",
		},
		{
			name: "missing secret env var", code: exitUsage, exact: true, env: prod("SHOP_PASS", "", "SHOP_OPEN_KEY", "0828e83720fdbe3685a7b94214af04f9"),
			want: "config: merchants[0].stores[0].gateway.shop_pass: environment variable SHOP_PASS is not set (or is empty)\n",
		},
		{
			name: "no session keys outside demo", code: exitUsage, env: prod("CHECKOUT_SESSION_KEYS", ""),
			want: "config: CHECKOUT_SESSION_KEYS: required when CHECKOUT_CONFIG is set",
		},
		{
			name: "bad log level", code: exitUsage, exact: true, env: map[string]string{"CHECKOUT_LOG_LEVEL": "loud"},
			want: "config: CHECKOUT_LOG_LEVEL: \"loud\" is not one of debug, info, warn, error\n",
		},
		{
			name: "bad flag value", code: exitUsage, args: []string{"-max-amount", "lots"}, exact: true,
			want: "config: CHECKOUT_MAX_AMOUNT: \"lots\" is not a positive whole number of fen\n",
		},
		{name: "unknown flag", code: exitUsage, args: []string{"-nope"}, want: "flag provided but not defined: -nope"},
		{name: "unknown command", code: exitUsage, args: []string{"serve"}, want: `checkout: unknown command "serve"`},
		{name: "unusable address", code: exitFailed, env: map[string]string{"CHECKOUT_ADDR": "256.0.0.1:80"}, want: "checkout: listen on 256.0.0.1:80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env == nil {
				tt.env = map[string]string{}
			}
			code, stdout, stderr := runToExit(t, tt.env, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d", code, tt.code)
			}
			if tt.exact && stderr != tt.want || !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr:\n%s\nwant %s:\n%s", stderr, map[bool]string{true: "exactly", false: "it to contain"}[tt.exact], tt.want)
			}
			if strings.Contains(stderr+stdout, "hunter2-secret") {
				t.Error("output shows the Redis password")
			}
			if tt.line {
				// Beside the JSON log, the error is one line.
				var plain int
				for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
					if !strings.HasPrefix(l, "{") {
						plain++
					}
				}
				if plain != 1 {
					t.Errorf("the error is not one line:\n%s", stderr)
				}
			}
		})
	}
}

// TestFlagsWinOverEnv: a flag given on the command line beats its variable.
func TestFlagsWinOverEnv(t *testing.T) {
	in := start(t, map[string]string{"CHECKOUT_ADDR": "not-an-address", "CHECKOUT_LOG_LEVEL": "loud"},
		"-addr", "127.0.0.1:0", "-log-level", "debug", "-public-url", "https://flag.example")
	if !strings.Contains(in.stdout.String(), "https://flag.example/c/co_") {
		t.Errorf("banner does not use -public-url:\n%s", in.stdout)
	}
}

func TestHealthcheck(t *testing.T) {
	in := start(t, map[string]string{})
	if code, _, stderr := runToExit(t, map[string]string{"CHECKOUT_ADDR": in.addr}, "-healthcheck"); code != exitOK {
		t.Errorf("healthcheck of a running service: exit %d: %s", code, stderr)
	}
	_, port, _ := net.SplitHostPort(in.addr)
	if code, _, _ := runToExit(t, map[string]string{}, "-healthcheck", "-addr", ":"+port); code != exitOK {
		t.Errorf("healthcheck with -addr :%s: exit %d", port, code)
	}
	in.stop()
	code, _, stderr := runToExit(t, map[string]string{"CHECKOUT_ADDR": in.addr}, "-healthcheck")
	if code != exitFailed || !strings.HasPrefix(stderr, "healthcheck: ") {
		t.Errorf("healthcheck of a stopped service: exit %d, stderr %q", code, stderr)
	}
}

func TestHashKey(t *testing.T) {
	key, err := checkout.NewAPIKey(true)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"live key", []string{"hash-key", key}, exitOK, "sha256:" + checkout.HashAPIKey(key) + "\n", ""},
		{"test key", []string{"hash-key", "sk_test_abc"}, exitOK, "sha256:" + checkout.HashAPIKey("sk_test_abc") + "\n", ""},
		{"two keys", []string{"hash-key", key, key}, exitUsage, "", "Usage:"},
		{"not a key", []string{"hash-key", "password123"}, exitUsage, "", "an API key starts with sk_live_ or sk_test_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runToExit(t, nil, tt.args...)
			if code != tt.code || stdout != tt.stdout || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d stdout %q stderr %q; want %d %q %q", code, stdout, stderr, tt.code, tt.stdout, tt.stderr)
			}
			if strings.Contains(stderr, "password123") {
				t.Error("the rejected value is echoed")
			}
		})
	}

	for _, live := range []bool{true, false} {
		args := []string{"hash-key", "-new"}
		prefix := checkout.LiveKeyPrefix
		if !live {
			args, prefix = append(args, "-test"), checkout.TestKeyPrefix
		}
		code, stdout, _ := runToExit(t, nil, args...)
		m := regexp.MustCompile(`key:\s+(sk_\w+).*\nhash:\s+(sha256:[0-9a-f]{64})`).FindStringSubmatch(stdout)
		if code != exitOK || m == nil {
			t.Fatalf("hash-key -new: exit %d, %q", code, stdout)
		}
		if !strings.HasPrefix(m[1], prefix) || m[2] != config.HashAPIKeyLine(m[1]) {
			t.Errorf("hash-key -new (live=%v): key %s hash %s", live, m[1], m[2])
		}
	}
}

// TestHashKeyStdin: an API key is a secret, so hash-key reads it from
// standard input (never the process list or the shell history); a key
// given as an argument still works, with a loud warning on stderr.
func TestHashKeyStdin(t *testing.T) {
	key, err := checkout.NewAPIKey(true)
	if err != nil {
		t.Fatal(err)
	}
	want := config.HashAPIKeyLine(key) + "\n"
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string
		stderr string
	}{
		{"from stdin", nil, key + "\n", exitOK, want, ""},
		{"from stdin, no newline", nil, key, exitOK, want, ""},
		{"empty stdin", nil, "", exitUsage, "", "Usage:"},
		{"stdin not a key", nil, "password123\n", exitUsage, "", "an API key starts with sk_live_ or sk_test_"},
		{"argument: warned", []string{key}, "", exitOK, want, "warning: the key is on the command line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := hashKey(tt.args, strings.NewReader(tt.stdin), &out, &errb)
			if code != tt.code || out.String() != tt.stdout || !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("exit %d stdout %q stderr %q; want %d %q %q", code, out.String(), errb.String(), tt.code, tt.stdout, tt.stderr)
			}
			if tt.args == nil && strings.Contains(errb.String(), "hash-key: warning:") {
				t.Errorf("a key from stdin is warned about: %q", errb.String())
			}
			if strings.Contains(errb.String(), key) || strings.Contains(errb.String(), "password123") {
				t.Error("stderr echoes the key")
			}
		})
	}
}

// TestSandboxCommand: `checkout sandbox` runs the standalone sandbox until
// its context ends.
func TestSandboxCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"sandbox", "-addr", "127.0.0.1:0"}, envOf(nil), &out, &errb) }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "open_key") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "/mct1") {
		t.Errorf("sandbox printed no protocol URL:\n%s\n%s", out.String(), errb.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("sandbox exit %d: %s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("sandbox did not stop")
	}
}

// TestShutdownEndsStreams: a SIGTERM while a payer's result page holds its
// live status stream open still ends in a clean exit, with the stream
// ended, and well before the hard shutdown timeout. The stream (HTTP/1.1)
// has taken its connection over from the server, so the server's shutdown
// does not wait for it: it ends when the loops stop (the Hub's end).
func TestShutdownEndsStreams(t *testing.T) {
	in := start(t, map[string]string{})
	id := checkoutRe.FindStringSubmatch(in.stdout.String())[2]
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.Get(in.base + "/c/" + id)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = browser.Get(in.base + "/c/" + id + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("GET /events = %s %s", resp.Status, ct)
	}
	buf := make([]byte, 256)
	if n, err := resp.Body.Read(buf); err != nil || !strings.Contains(string(buf[:n]), "retry:") {
		t.Fatalf("no first event: %q %v", buf[:n], err)
	}
	began := time.Now()
	if code := in.stop(); code != exitOK {
		t.Errorf("exit code %d with an open stream, want 0\n%s", code, in.stderr)
	}
	took := time.Since(began)
	t.Logf("stopped %s after the signal", took.Round(time.Millisecond))
	if took > streamGrace+loopStopTimeout+5*time.Second {
		t.Errorf("shutdown with an open stream took %s; want at most a little over the %s grace", took, streamGrace)
	}
	// The stream was ended (the process is still this test's).
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Errorf("the stream did not end cleanly: %v", err)
	}
}

// BenchmarkDemoStartup measures what a newcomer waits for after the build:
// from run to a listening demo service (sandbox, wallet emulator, demo
// merchant and checkout, embedded Redis). Shutdown is not timed.
func BenchmarkDemoStartup(b *testing.B) {
	dir := b.TempDir()
	for i := 0; b.Loop(); i++ {
		addrFile := filepath.Join(dir, fmt.Sprintf("addr%d", i))
		ctx, cancel := context.WithCancel(context.Background())
		exited := make(chan int, 1)
		go func() {
			exited <- run(ctx, []string{"-addr", "127.0.0.1:0", "-addr-file", addrFile}, envOf(nil), io.Discard, io.Discard)
		}()
		for {
			if fi, err := os.Stat(addrFile); err == nil && fi.Size() > 0 {
				break
			}
			select {
			case code := <-exited:
				b.Fatalf("run exited with %d", code)
			default:
			}
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		cancel()
		if code := <-exited; code != exitOK {
			b.Fatalf("exit %d", code)
		}
		b.StartTimer()
	}
}

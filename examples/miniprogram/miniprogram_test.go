// Package miniprogram_test runs the example mini-program's tests (Node's
// built-in test runner, test/pay.test.js, against a stubbed wx) against
// the real service: app.New on httptest with real Redis, the sandbox
// gateway under /sandbox/ and the wallet identity emulator under
// /walletsim/, as demo mode runs them, here from a merchants file whose
// sandbox store uses the emulator (identity_providers.emulator). The
// contract between the API and the mini-program is tested, not described.
package miniprogram_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/internal/porttest"
	"github.com/wallet-checkout/checkout/internal/redistest"
)

// The store's apps at WeChat, as the emulator knows them from the file.
const (
	officialApp = "wxe1000000000000oa"
	miniApp     = "wxe1000000000000mp"
)

// miniProgramUA is WeChat's User-Agent inside the web-view of the
// mini-program appID.
func miniProgramUA(appID string) string {
	return "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800322c) NetType/WIFI Language/zh_CN miniProgram/" + appID
}

// merchantsFile is what docs/sandbox.md tells a merchant to write to try
// native flows against the sandbox with the built-in emulator.
const merchantsFile = `
identity_providers:
  emulator: true
merchants:
  - id: mini
    name: 小程序示例 Mini Shop
    api_keys: ["${MP_API_KEY_HASH}"]
    redirect_hosts: [shop.example]
    stores:
      - id: lab
        sandbox: true
        gateway:
          base_url: ${MP_GATEWAY}
          open_id: ${MP_OPEN_ID}
          open_key: ${MP_OPEN_KEY}
          shop_pass: ${MP_SHOP_PASS}
        wechat:
          enabled: true
          mode: native
          app_id: ` + officialApp + `
          app_secret: ${MP_OA_SECRET}
          mini_program_app_id: ` + miniApp + `
          mini_program_secret: ${MP_MP_SECRET}
        alipay:
          enabled: true
          mode: native
          app_id: "2021000000000088"
          private_key: ${MP_ALIPAY_KEY}
`

// shiftClock is real time plus an offset the test moves, to expire a
// checkout without waiting for it.
type shiftClock struct{ offset atomic.Int64 }

func (c *shiftClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *shiftClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// service is the running service, its merchant's API key and the
// store's mini-program appid.
type service struct {
	url     string
	apiKey  string
	miniApp string
	clock   *shiftClock // nil for the demo binary, which keeps real time
}

func startService(t *testing.T) *service {
	t.Helper()
	rdb := redistest.New(t)
	prefix := redistest.Prefix(t, rdb)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	var h atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hh, ok := h.Load().(http.Handler); ok {
			hh.ServeHTTP(w, r)
			return
		}
		http.Error(w, "starting", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))

	sb, err := sandbox.New(sandbox.Config{PublicURL: srv.URL + "/sandbox", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	st := sandbox.GenerateStore()
	if err := sb.AddStore(st); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{officialApp, miniApp} {
		if err := sb.BindAppID(st.OpenID, "Weixin", a); err != nil {
			t.Fatal(err)
		}
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	apiKey, err := checkout.NewAPIKey(false)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"MP_API_KEY_HASH": config.HashAPIKeyLine(apiKey),
		"MP_GATEWAY":      srv.URL + "/sandbox" + sb.Prefix(),
		"MP_OPEN_ID":      st.OpenID,
		"MP_OPEN_KEY":     st.OpenKey,
		"MP_SHOP_PASS":    st.ShopPass,
		"MP_OA_SECRET":    rand.Text(),
		"MP_MP_SECRET":    rand.Text(),
		"MP_ALIPAY_KEY":   string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
	}
	ms, err := config.ParseMerchants([]byte(merchantsFile), config.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	settings, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	settings.PublicURL = srv.URL
	clock := &shiftClock{}
	a, err := app.New(app.Config{
		Settings: settings, Redis: rdb, Prefix: prefix, Logger: log, Clock: clock.Now,
		Directory: ms.Directory, Accounts: ms.Accounts, Providers: ms.Providers,
		Sandbox: sb.Handler(), ReconcileEvery: 250 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Store(a.Handler)
	wait := a.Start(ctx)
	t.Cleanup(func() { cancel(); wait() })
	return &service{url: srv.URL, apiKey: apiKey, miniApp: miniApp, clock: clock}
}

// api calls the merchant API and decodes the answer into out.
func (s *service) api(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.apiKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		t.Fatalf("%s %s: %d: %v", method, path, res.StatusCode, err)
	}
	return res.StatusCode
}

type created struct {
	ID           string `json:"id"`
	ClientSecret string `json:"client_secret"`
	Status       string `json:"status"`
}

// TestMain sets gin's process-wide mode for the tests, as the binary's
// main does for the service.
func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

var reMPPath = regexp.MustCompile(`data-mp-path="([^"]+)"`)

// TestMiniProgramExample runs examples/miniprogram/test/pay.test.js under
// `node --test` against the service, then checks through the API what
// each case did: the checkouts paid in the mini-program are paid, the
// others are not.
func TestMiniProgramExample(t *testing.T) {
	node := needNode(t)
	s := startService(t)
	// Two minutes on, only the "expired" checkout has expired.
	runExample(t, node, s, func(string) { s.clock.Advance(checkout.MinTTL + time.Minute) })
}

// needNode returns the node command, or skips the test without it.
func needNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the mini-program example's tests need Node.js 20 or later (apt-get install nodejs)")
	}
	return node
}

// runExample creates one checkout per case of test/pay.test.js, lets
// expire end the "expired" one, runs the Node tests against s and checks
// through the API what each case did.
func runExample(t *testing.T, node string, s *service, expire func(id string)) {
	t.Helper()

	// One checkout per case, created as the merchant's server does.
	cases := map[string]map[string]string{}
	secrets := map[string]string{}
	for _, name := range []string{"ok", "cancel", "fail", "relogin", "expired", "handoff"} {
		req := map[string]any{"amount": 1999, "description": "小程序订单 " + name, "reference": "mp-" + name}
		if name == "expired" {
			req["expires_in"] = int64(checkout.MinTTL / time.Second)
		}
		var c created
		if code := s.api(t, http.MethodPost, "/v1/checkouts", req, &c); code != http.StatusCreated || c.ClientSecret == "" {
			t.Fatalf("create %s: %d %+v", name, code, c)
		}
		cases[name] = map[string]string{"id": c.ID, "secret": c.ClientSecret}
		secrets[c.ID] = c.ClientSecret
	}
	// The "expired" checkout lives the shortest time allowed; the others
	// the default 30 minutes.
	expire(cases["expired"]["id"])

	// The hand-off path is the one the hosted page itself emits in a
	// mini-program's web-view.
	req, err := http.NewRequest(http.MethodGet, s.url+"/c/"+cases["handoff"]["id"], nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", miniProgramUA(s.miniApp))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := reMPPath.FindSubmatch(page)
	if res.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("hosted page in a web-view: %d, no data-mp-path in\n%s", res.StatusCode, page)
	}
	cases["handoff"]["path"] = html.UnescapeString(string(m[1]))

	// The merchant's server: hands a checkout's client secret to its
	// mini-program (lib/merchant.js).
	var mu sync.Mutex
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/checkouts/"), "/client-secret")
		mu.Lock()
		secret, known := secrets[id]
		mu.Unlock()
		if !ok || !known {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"client_secret": secret})
	}))
	t.Cleanup(merchant.Close)

	// Where no service answers: a port this test holds, which refuses
	// every connection. (A closed server's port was given to another
	// test's server when packages ran side by side, which answered 404.)
	unreachable := "http://" + porttest.Refusing(t)

	casesJSON, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=tap", "test/pay.test.js")
	cmd.Env = append(os.Environ(),
		"CHECKOUT_SERVICE="+s.url,
		"CHECKOUT_UNREACHABLE="+unreachable,
		"CHECKOUT_MERCHANT="+merchant.URL,
		"CHECKOUT_MINI_APPID="+s.miniApp,
		"CHECKOUT_CASES="+string(casesJSON),
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test test/pay.test.js: %v\n%s", err, out)
	}
	// The runner must have run every test, none skipped: a skip would mean
	// the environment above did not reach it.
	if !bytes.Contains(out, []byte("# pass 10")) || !bytes.Contains(out, []byte("# skipped 0")) {
		t.Fatalf("node ran other than 10 passing tests:\n%s", out)
	}
	t.Logf("node --test:\n%s", out)

	// What the service holds now: only the gateway's confirmation makes a
	// checkout paid, so wait for it (the sandbox notifies, the reconciler
	// asks) with a deadline generous for a loaded machine.
	for _, name := range []string{"ok", "handoff"} {
		id := cases[name]["id"]
		deadline := time.Now().Add(60 * time.Second)
		for {
			var c created
			s.api(t, http.MethodGet, "/v1/checkouts/"+id, nil, &c)
			if c.Status == string(checkout.StatusPaid) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: checkout %s is %q a minute after the mini-program paid, want paid", name, id, c.Status)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for _, name := range []string{"cancel", "fail", "relogin"} {
		var c created
		s.api(t, http.MethodGet, "/v1/checkouts/"+cases[name]["id"], nil, &c)
		if c.Status != string(checkout.StatusOpen) && c.Status != string(checkout.StatusPending) {
			t.Errorf("%s: checkout is %q, want still payable (open or pending)", name, c.Status)
		}
	}
	var c created
	s.api(t, http.MethodGet, "/v1/checkouts/"+cases["expired"]["id"], nil, &c)
	if c.Status != string(checkout.StatusExpired) {
		t.Errorf("expired: checkout is %q", c.Status)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

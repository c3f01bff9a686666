package handlers_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/app"
	clientwebhook "github.com/wallet-checkout/checkout/client/webhook"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/web/templates"
)

const opsWebhookSecret = "whsec_console_test_secret_0123456789"

// newOpsEnv is newConsoleEnv with shop's webhook at hook (private
// addresses allowed) and its API key labelled.
func newOpsEnv(t *testing.T, hook string) *consoleEnv {
	t.Helper()
	return newOpsEnvWith(t, hook, nil)
}

// newOpsEnvWith is newOpsEnv on gateway gw (nil: the real client).
func newOpsEnvWith(t *testing.T, hook string, gw app.Gateway) *consoleEnv {
	t.Helper()
	return newOpsEnvUsers(t, hook, gw, shopUsers())
}

// newOpsEnvUsers is newOpsEnvWith with shop's console users as given.
func newOpsEnvUsers(t *testing.T, hook string, gw app.Gateway, users string) *consoleEnv {
	t.Helper()
	e := &consoleEnv{t: t}
	e.now.Store(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC).UnixNano())
	settings, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	settings.AllowPrivateWebhooks = true
	src := consoleMerchants(users)
	key := config.HashAPIKeyLine("sk_live_ConsoleShopKey0123456789abcdefghi")
	src = strings.Replace(src, "api_keys: ["+key+"]", `api_keys: [{hash: "`+key+`", label: "前台收银", hint: "sk_live_…fghi"}]
    webhook: {url: "`+hook+`", secrets: ["`+opsWebhookSecret+`"]}`, 1)
	m, err := config.ParseMerchants([]byte(src), config.Options{AllowPrivateWebhooks: true, Getenv: func(k string) string {
		if k == "OWNER_TOTP" {
			return consoleTOTP
		}
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	rdb := redistest.New(t)
	e.app, err = app.New(app.Config{Settings: settings, Redis: rdb, Directory: m.Directory, Accounts: m.Accounts,
		Providers: m.Providers, Prefix: redistest.Prefix(t, rdb), Clock: e.clock, Gateway: gw})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.app.Handler)
	t.Cleanup(e.srv.Close)
	return e
}

// received is a delivery the merchant's endpoint got.
type received struct {
	body   []byte
	header http.Header
}

// TestConsoleDevelopers: keys by label and hint, the webhook URL, a test
// event (ping) signed like every other and listed with its delivery,
// failing deliveries first; a viewer has no button and its POST is
// refused; the Node snippet verifies a real delivery.
func TestConsoleDevelopers(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	var mu sync.Mutex
	var got []received
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, received{b, r.Header.Clone()})
		mu.Unlock()
		if fail.Load() {
			http.Error(w, "boom: handler crashed", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	e := newOpsEnv(t, hook.URL+"/hooks")
	ctx := t.Context()
	admin := e.loginOwner()
	page := e.do(admin, "GET", "/console/developers", nil)
	for _, want := range []string{"前台收银", "sk_live_…fghi", hook.URL + "/hooks", `data-testid="send-ping"`, `data-testid="deliveries-empty"`, "webhook.Verify("} {
		if !strings.Contains(page.body, want) {
			t.Errorf("developers page lacks %q", want)
		}
	}
	if strings.Contains(page.body, opsWebhookSecret) || strings.Contains(page.body, "ConsoleShopKey") {
		t.Fatal("the page shows a secret")
	}
	token := e.csrf(admin, "/console/developers")
	ping := func() string {
		a := e.do(admin, "POST", "/console/developers/ping", url.Values{"csrf": {token}})
		if a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, "/console/developers?sent=evt_") {
			t.Fatalf("ping: %d %s\n%s", a.status, a.location, a.body)
		}
		id, _, _ := strings.Cut(strings.TrimPrefix(a.location, "/console/developers?sent="), "#")
		if _, err := e.app.Webhooks.Tick(ctx, e.clock()); err != nil {
			t.Fatal(err)
		}
		return id
	}
	failed := ping()
	e.advance(time.Second)
	fail.Store(false)
	delivered := ping()

	mu.Lock()
	deliveries := append([]received(nil), got...)
	mu.Unlock()
	if len(deliveries) != 2 {
		t.Fatalf("%d deliveries, want 2", len(deliveries))
	}
	d := deliveries[1]
	if d.header.Get("Checkout-Event-Type") != "ping" || !strings.Contains(string(d.body), `"type":"ping"`) || !strings.Contains(string(d.body), delivered) {
		t.Errorf("delivery: %s %s", d.header, d.body)
	}
	if err := clientwebhook.Verify(d.body, d.header.Get(clientwebhook.HeaderSignature), []string{opsWebhookSecret}, time.Hour, e.clock()); err != nil {
		t.Errorf("the ping's signature does not verify: %v", err)
	}

	page = e.do(admin, "GET", "/console/developers", nil)
	i, j := strings.Index(page.body, `data-event-id="`+failed+`"`), strings.Index(page.body, `data-event-id="`+delivered+`"`)
	if i < 0 || j < 0 || i > j {
		t.Errorf("the failing delivery (older) is not listed first: %d %d", i, j)
	}
	if !strings.Contains(page.body, "HTTP 500") || !strings.Contains(page.body, "boom: handler crashed") || !strings.Contains(page.body, "HTTP 204") {
		t.Errorf("attempts not shown:\n%s", page.body)
	}
	if !strings.Contains(e.do(admin, "GET", "/console/audit", nil).body, "webhook.ping") {
		t.Error("the test event is not in the audit log")
	}
	if v, href := figureOf(t, e.do(admin, "GET", "/console/overview", nil).body, "today-failing"); v != "1" || href != "/console/developers#deliveries" {
		t.Errorf("overview's failing deliveries: %q %q", v, href)
	}

	// A viewer: no button, and the POST is refused, storing nothing.
	viewer := e.loginViewer()
	if p := e.do(viewer, "GET", "/console/developers", nil); p.status != 200 || strings.Contains(p.body, `data-testid="send-ping"`) {
		t.Errorf("viewer's page: %d, with the button", p.status)
	}
	if a := e.do(viewer, "POST", "/console/developers/ping", url.Values{"csrf": {e.csrf(viewer, "/console/")}}); a.status != http.StatusForbidden {
		t.Errorf("viewer's ping: %d", a.status)
	}
	if recs, _, _ := e.app.Webhooks.List(ctx, "shop", webhook.ListQuery{Limit: 10}); len(recs) != 2 {
		t.Errorf("%d events, want 2", len(recs))
	}

	// The plain snippet verifies the real delivery (and refuses a changed body).
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("no node: the Node.js snippet is not run")
	}
	dir := t.TempDir()
	script := templates.VerifyNodeSnippet + `
const fs = require("node:fs");
const body = fs.readFileSync(process.argv[2]);
const header = fs.readFileSync(process.argv[3], "utf8");
Date.now = () => Number(process.argv[5]) * 1000;
const ok = verify(body, header, process.argv[4]);
const bad = verify(Buffer.concat([body, Buffer.from(" ")]), header, process.argv[4]);
process.stdout.write(ok + " " + bad);
`
	for name, data := range map[string][]byte{"verify.js": []byte(script), "body": d.body, "header": []byte(d.header.Get("Checkout-Signature"))} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("node", filepath.Join(dir, "verify.js"), filepath.Join(dir, "body"), filepath.Join(dir, "header"),
		opsWebhookSecret, strings.TrimSpace(strings.TrimPrefix(strings.Split(d.header.Get("Checkout-Signature"), ",")[0], "t="))).CombinedOutput()
	if err != nil || string(out) != "true false" {
		t.Errorf("node snippet: %v %s", err, out)
	}
}

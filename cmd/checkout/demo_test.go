package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	cwebhook "github.com/wallet-checkout/checkout/client/webhook"
)

// TestDemoRedirectHosts: the demo merchant accepts success and cancel URLs on
// the public URL's host, whatever address the service runs on, and on the
// loopback names the README's examples use (localhost), so that they work
// as written on any port or public URL.
func TestDemoRedirectHosts(t *testing.T) {
	for _, tt := range []struct {
		public string
		want   []string
	}{
		{"http://localhost:8080", []string{"localhost", "127.0.0.1", "::1"}},
		{"http://127.0.0.1:9090", []string{"127.0.0.1", "localhost", "::1"}},
		{"http://[::1]:9090", []string{"::1", "localhost", "127.0.0.1"}},
		{"https://pay.example.test", []string{"pay.example.test", "localhost", "127.0.0.1", "::1"}},
		{"http://Demo.Example.Test:8000", []string{"demo.example.test", "localhost"}},
	} {
		t.Run(tt.public, func(t *testing.T) {
			d, err := newDemo(tt.public, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			got := d.merchant.RedirectHosts
			for _, h := range tt.want {
				if !slices.Contains(got, h) {
					t.Errorf("redirect hosts %q lack %q", got, h)
				}
			}
			if got[0] != tt.want[0] {
				t.Errorf("redirect hosts %q: the public URL's host %q is not first (the banner prints them)", got, tt.want[0])
			}
			seen := map[string]bool{}
			for _, h := range got {
				if seen[h] {
					t.Errorf("redirect hosts %q repeat %q", got, h)
				}
				seen[h] = true
			}
		})
	}
}

// TestREADMECreateExample runs the README's first create example, as
// written (its body, its Idempotency-Key, its localhost success_url), against
// the demo on an address other than the default one.
func TestREADMECreateExample(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	_, section, ok := strings.Cut(readme, "### Create a checkout: `POST /v1/checkouts`")
	if !ok {
		t.Fatal("README has no section \"Create a checkout\"")
	}
	block := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(section)
	if block == nil {
		t.Fatal("the create section has no sh block")
	}
	body := regexp.MustCompile(`(?s)-d '(\{.*\})'`).FindStringSubmatch(block[1])
	idem := regexp.MustCompile(`-H 'Idempotency-Key: ([^']+)'`).FindStringSubmatch(block[1])
	if body == nil || idem == nil {
		t.Fatalf("the create example has no -d body or Idempotency-Key:\n%s", block[1])
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(body[1]), &fields); err != nil {
		t.Fatalf("the create example's body is not JSON: %v\n%s", err, body[1])
	}
	if su, _ := fields["success_url"].(string); !strings.HasPrefix(su, "http://localhost:8080/") {
		t.Fatalf("the example's success_url %q is not on http://localhost:8080, the address the README tells to substitute", su)
	}

	in := start(t, map[string]string{}) // 127.0.0.1, a free port: not the default address
	key := match(t, apiKeyRe, in.stdout.String())
	req, err := http.NewRequest("POST", in.base+"/v1/checkouts", strings.NewReader(body[1]))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idem[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("the README's create example on %s: %s %s", in.base, resp.Status, raw)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	id, _ := got["id"].(string)
	if got["success_url"] != strings.ReplaceAll(fields["success_url"].(string), "{CHECKOUT_ID}", id) || got["amount"] != fields["amount"] {
		t.Errorf("created %s", raw)
	}
}

// TestDemoOff: with CHECKOUT_DEMO=off (the Docker image's setting) and no
// merchants file the service refuses to start, with one line saying what to
// set; asked for explicitly (-demo, or CHECKOUT_DEMO=on) it starts the demo;
// with nothing set at all it starts the demo, as `go run ./cmd/checkout` on a
// fresh machine does (TestDemoMode).
func TestDemoOff(t *testing.T) {
	code, stdout, stderr := runToExit(t, map[string]string{"CHECKOUT_ADDR": "127.0.0.1:0", "CHECKOUT_DEMO": "off"})
	const want = "config: CHECKOUT_CONFIG: required: CHECKOUT_DEMO is off (the Docker image sets it), so the demo does not start; set CHECKOUT_CONFIG to the merchants file, or CHECKOUT_DEMO=on to try the demo\n"
	if code != exitUsage || stderr != want || stdout != "" {
		t.Errorf("CHECKOUT_DEMO=off without CHECKOUT_CONFIG: exit %d, stdout %q, stderr %q; want %d and %q", code, stdout, stderr, exitUsage, want)
	}
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"-demo over CHECKOUT_DEMO=off", map[string]string{"CHECKOUT_DEMO": "off"}, []string{"-demo"}},
		{"CHECKOUT_DEMO=on", map[string]string{"CHECKOUT_DEMO": "on"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := start(t, tt.env, tt.args...)
			if !strings.Contains(in.stdout.String(), "DEMO MODE") {
				t.Errorf("no demo banner:\n%s", in.stdout)
			}
		})
	}
}

// TestDemoWebhooks: a demo user sees webhooks. A checkout's webhook_url on
// loopback is accepted and gets its events delivered, signed with the
// banner's webhook secret; the banner's `checkout listen` command, run as
// printed (with the endpoint's URL for --forward-to), forwards the events.
func TestDemoWebhooks(t *testing.T) {
	in := start(t, map[string]string{})
	out := in.stdout.String()
	key := match(t, apiKeyRe, out)
	secret := match(t, regexp.MustCompile(`webhook secret\s+(whsec_\S+)`), out)
	cmd := regexp.MustCompile(`CHECKOUT_API_KEY=(\S+) checkout listen (.+)`).FindStringSubmatch(out)
	if cmd == nil || cmd[1] != key {
		t.Fatalf("no listen command with the API key in the banner:\n%s", out)
	}

	type delivery struct {
		id, typ string
		err     error
	}
	got := make(chan delivery, 100)
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct{ ID, Type string }
		_ = json.Unmarshal(body, &ev)
		got <- delivery{ev.ID, ev.Type, cwebhook.Verify(body, r.Header.Get(cwebhook.HeaderSignature), []string{secret}, 0, time.Now())}
	}))
	t.Cleanup(hooks.Close)

	// The service's own delivery, to a checkout's loopback webhook_url.
	code, body := do(t, "POST", in.base+"/v1/checkouts", key, map[string]any{"amount": 500, "webhook_url": hooks.URL + "/hooks"})
	if code != http.StatusCreated {
		t.Fatalf("a loopback webhook_url in demo mode: %d %v", code, body)
	}
	id := body["id"].(string)
	if code, body := do(t, "POST", in.base+"/v1/checkouts/"+id+"/cancel", key, nil); code != http.StatusOK {
		t.Fatalf("cancel: %d %v", code, body)
	}
	select {
	case d := <-got:
		if d.typ != "checkout.cancelled" || d.err != nil {
			t.Fatalf("delivered %+v", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the cancelled event was not delivered within 30 s")
	}

	// The banner's listen command, its --forward-to aimed at a verifying
	// endpoint of listen's own secret.
	fields := strings.Fields(cmd[2])
	i := slices.Index(fields, "--forward-to")
	if i < 0 || i+1 >= len(fields) {
		t.Fatalf("the listen command has no --forward-to: %s", cmd[0])
	}
	var lout syncBuffer
	took := make(chan string, 100)
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m := secretLine.FindStringSubmatch(lout.String())
		if m == nil || cwebhook.Verify(body, r.Header.Get(cwebhook.HeaderSignature), []string{m[1]}, 0, time.Now()) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var ev struct{ ID string }
		_ = json.Unmarshal(body, &ev)
		took <- ev.ID
	}))
	t.Cleanup(local.Close)
	fields[i+1] = local.URL
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- listenCmd(ctx, append(fields, "--since", "1h", "--cache-dir", t.TempDir()), envOf(map[string]string{listenKeyVar: cmd[1]}), nil, &lout, io.Discard)
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case ev := <-took:
		if !strings.HasPrefix(ev, "evt_") {
			t.Errorf("forwarded %q", ev)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the banner's listen command forwarded nothing within 30 s:\n%s", lout.String())
	}
}

// TestDemoPaymentLink: the demo prints a payment link's URL next to the
// demo checkout, and its page answers.
func TestDemoPaymentLink(t *testing.T) {
	in := start(t, map[string]string{})
	u := regexp.MustCompile(`(http://\S+/l/pl_[0-9A-Za-z]{24})\n`).FindStringSubmatch(in.stdout.String())
	if u == nil {
		t.Fatalf("no payment link in the banner:\n%s", in.stdout)
	}
	resp, err := http.Get(u[1])
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), "演示收款码") || !strings.Contains(string(raw), `inputmode="decimal"`) {
		t.Fatalf("the demo link's page: %s\n%s", resp.Status, raw)
	}
}

// TestDemoPoster: the banner prints the demo link's printable store code
// next to it, and the poster answers with the code and "输入金额".
func TestDemoPoster(t *testing.T) {
	in := start(t, map[string]string{})
	u := regexp.MustCompile(`(http://\S+/l/pl_[0-9A-Za-z]{24}/poster)\n`).FindStringSubmatch(in.stdout.String())
	if u == nil {
		t.Fatalf("no poster in the banner:\n%s", in.stdout)
	}
	resp, err := http.Get(u[1])
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), "输入金额") || !strings.Contains(string(raw), `data-testid="poster-qr"`) {
		t.Fatalf("the demo poster: %s\n%s", resp.Status, raw)
	}
}

package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	cwebhook "github.com/wallet-checkout/checkout/client/webhook"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
)

// listenService is the whole service (app.New) on httptest, with one
// merchant whose events the test emits as the use cases do.
type listenService struct {
	srv      *httptest.Server
	app      *app.App
	key      string
	merchant string
}

func newListenService(t *testing.T) *listenService {
	t.Helper()
	s, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	key, _ := checkout.NewAPIKey(false)
	m := &checkout.Merchant{ID: "listen", Name: "Listen Shop", APIKeys: []checkout.APIKey{checkout.APIKeyFor(key)},
		RedirectHosts: []string{"shop.example"},
		Stores: []*checkout.Store{{ID: "main", Name: "Main", Sandbox: true, LatePolicy: checkout.LatePolicyAccept,
			WeChat: checkout.WeChatConfig{Enabled: true, Mode: checkout.ModeRedirect}}}}
	dir, err := checkout.NewDirectory([]*checkout.Merchant{m})
	if err != nil {
		t.Fatal(err)
	}
	accounts := payments.NewAccounts()
	gs, err := gateway.NewStore("http://127.0.0.1:9/mct1", "Olisten", "0123456789abcdef0123456789abcdef", "supervisor")
	if err != nil {
		t.Fatal(err)
	}
	if err := accounts.Add(m.ID, "main", gs); err != nil {
		t.Fatal(err)
	}
	rdb := redistest.New(t)
	a, err := app.New(app.Config{Settings: s, Redis: rdb, Prefix: redistest.Prefix(t, rdb), Directory: dir, Accounts: accounts,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(srv.Close)
	return &listenService{srv: srv, app: a, key: key, merchant: m.ID}
}

// emit stores one event of the merchant about a fresh checkout.
func (s *listenService) emit(t *testing.T, typ string) string {
	t.Helper()
	c, err := checkout.NewCheckout(&checkout.Draft{MerchantID: s.merchant, StoreID: "main",
		Amounts: checkout.Amounts{Original: 100, Trade: 100}, LatePolicy: checkout.LatePolicyAccept, TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ev, err := webhook.NewEvent(typ, c, "https://pay.example", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.app.Webhooks.Emit(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	return ev.ID
}

// receiver is the merchant's local endpoint: it verifies each delivery
// with the secret listen printed (once known) and keeps the ids it took.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	secret string
	// out, when set, is listen's output: the secret is read from the
	// line listen prints before it forwards anything.
	out      *syncBuffer
	verify   bool
	took     []string
	refused  int
	failOnce map[string]bool // answer 500 to the first delivery of these
	never    string          // always answer 500 to this one
}

func newReceiver(t *testing.T, verify bool) *receiver {
	rc := &receiver{verify: verify, failOnce: map[string]bool{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.out != nil {
			if m := secretLine.FindStringSubmatch(rc.out.String()); m != nil {
				rc.secret = m[1]
			}
		}
		if rc.verify {
			err := cwebhook.Verify(body, r.Header.Get(cwebhook.HeaderSignature), []string{rc.secret}, 0, time.Now())
			if err != nil {
				rc.refused++
				http.Error(w, `{"error":"`+err.Error()+`"}`, http.StatusBadRequest)
				return
			}
		}
		var ev struct{ ID, Type string }
		if err := json.Unmarshal(body, &ev); err != nil || ev.ID != r.Header.Get(cwebhook.HeaderEventID) || ev.Type != r.Header.Get(cwebhook.HeaderEventType) {
			http.Error(w, "body and headers disagree", http.StatusBadRequest)
			return
		}
		if rc.failOnce[ev.ID] || ev.ID == rc.never {
			delete(rc.failOnce, ev.ID)
			http.Error(w, "not now", http.StatusInternalServerError)
			return
		}
		rc.took = append(rc.took, ev.ID)
		io.WriteString(w, `{"received":true}`)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) ids() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.took)
}

// listenRun is `checkout listen` running in the background.
type listenRun struct {
	out, errOut *syncBuffer
	cancel      context.CancelFunc
	done        chan int
}

// startListen runs listen with out as its output.
func startListen(t *testing.T, out *syncBuffer, env map[string]string, stdin io.Reader, args ...string) *listenRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &listenRun{out: out, errOut: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() { l.done <- listenCmd(ctx, args, envOf(env), stdin, l.out, l.errOut) }()
	t.Cleanup(func() { l.stop(t) })
	return l
}

// stop interrupts it and returns its exit code.
func (l *listenRun) stop(t *testing.T) int {
	l.cancel()
	select {
	case code := <-l.done:
		l.done <- code
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("listen did not stop\n%s", l.out)
	}
	return -1
}

// wait waits, generously, until cond holds.
func wait(t *testing.T, what string, cond func() bool, show ...*syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, s := range show {
				b.WriteString(s.String())
			}
			t.Fatalf("%s: not within 30 s\n%s", what, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var secretLine = regexp.MustCompile(`Your local webhook secret is (whsec_[0-9a-f]+)`)

// TestListen runs `checkout listen` against the real service and a local
// endpoint that verifies every delivery with the secret listen printed:
// events arrive in order, each once; a delivery the endpoint fails is
// retried, one it always fails is given up and the next still comes; the
// stream's connection killed mid-way resumes after the last event; a new
// run resumes from the cursor on disk, with nothing lost or repeated;
// --replay forwards one event again.
func TestListen(t *testing.T) {
	svc := newListenService(t)
	rc := newReceiver(t, true)
	cache := t.TempDir()
	env := map[string]string{listenKeyVar: svc.key}
	args := []string{"--forward-to", rc.URL + "/hooks", "-api", svc.srv.URL, "--cache-dir", cache, "--retry-wait", "10ms", "--retries", "2"}

	var want []string
	for range 3 {
		want = append(want, svc.emit(t, webhook.TypePaid))
	}
	rc.failOnce[want[1]] = true
	rc.out = &syncBuffer{}
	l := startListen(t, rc.out, env, nil, append(args, "--since", "1h")...)
	wait(t, "the first three", func() bool { return len(rc.ids()) == 3 }, l.out, l.errOut)

	// Kill the stream's connection under it, then emit more: listen
	// reconnects after the last event it forwarded.
	svc.srv.CloseClientConnections()
	for range 2 {
		want = append(want, svc.emit(t, webhook.TypeExpired))
	}
	wait(t, "the two after the drop", func() bool { return len(rc.ids()) == 5 }, l.out, l.errOut)
	if !strings.Contains(l.out.String(), "stream dropped") {
		t.Errorf("the drop is not reported:\n%s", l.out)
	}

	// One the endpoint always refuses: given up, and the next comes.
	rc.mu.Lock()
	rc.never = svc.emit(t, webhook.TypeCancelled)
	rc.mu.Unlock()
	want = append(want, svc.emit(t, webhook.TypePaid))
	wait(t, "the one after the refused one", func() bool { return len(rc.ids()) == 6 }, l.out, l.errOut)
	if !strings.Contains(l.out.String(), rc.never+"  gave up after 3 attempts") {
		t.Errorf("no give-up line for %s:\n%s", rc.never, l.out)
	}
	if code := l.stop(t); code != exitOK {
		t.Fatalf("listen exit %d\n%s", code, l.errOut)
	}

	// Stopped: these come while nothing listens; a new run (the key on
	// stdin, no --since) starts from the cursor on disk.
	for range 2 {
		want = append(want, svc.emit(t, webhook.TypeRefundSucceeded))
	}
	rc.mu.Lock()
	first := rc.secret
	rc.out = &syncBuffer{}
	rc.mu.Unlock()
	l2 := startListen(t, rc.out, nil, strings.NewReader(svc.key+"\n"), args...)
	wait(t, "the two missed while stopped", func() bool { return len(rc.ids()) == 8 }, l2.out, l2.errOut)
	if got := secretLine.FindStringSubmatch(l2.out.String()); got == nil || got[1] != first {
		t.Errorf("the second run's secret is not the first's:\n%s", l2.out)
	}
	l2.stop(t)
	if got := rc.ids(); !slices.Equal(got, want) {
		t.Fatalf("the endpoint took\n%v\nwant (each once, in order)\n%v", got, want)
	}
	if rc.refused != 0 {
		t.Errorf("%d deliveries failed verification", rc.refused)
	}
	// One line per delivery: id, type, status, time, the answer's start.
	if !regexp.MustCompile(`(?m)^` + want[0] + `  checkout\.paid +200 +\d+ ms  \{"received":true\}$`).MatchString(l.out.String()) {
		t.Errorf("no delivery line for %s:\n%s", want[0], l.out)
	}
	files, _ := filepath.Glob(filepath.Join(cache, "*.cursor"))
	if len(files) != 1 {
		t.Fatalf("cursor files %v", files)
	}
	if b, _ := os.ReadFile(files[0]); strings.TrimSpace(string(b)) != want[len(want)-1] {
		t.Errorf("cursor %q, want %s", b, want[len(want)-1])
	}

	// --replay: that one event again, verified, then exit 0; no cursor
	// change.
	var out, errOut syncBuffer
	if code := listenCmd(context.Background(), append(args, "--replay", want[2]), envOf(env), nil, &out, &errOut); code != exitOK {
		t.Fatalf("replay exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if got := rc.ids(); len(got) != len(want)+1 || got[len(got)-1] != want[2] {
		t.Errorf("after the replay the endpoint took %v", got)
	}
	if b, _ := os.ReadFile(files[0]); strings.TrimSpace(string(b)) != want[len(want)-1] {
		t.Errorf("the replay moved the cursor to %q", b)
	}
	// An event that is not the merchant's: exit 1.
	if code := listenCmd(context.Background(), append(args, "--replay", "evt_000000000000000000000000"), envOf(env), nil, &out, &errOut); code != exitFailed {
		t.Errorf("replay of an unknown event: exit %d", code)
	}
}

// TestListenCheckForgery: an endpoint that verifies signatures refuses
// the forged delivery (exit 0); one that takes anything fails the check,
// loudly (exit 1).
func TestListenCheckForgery(t *testing.T) {
	svc := newListenService(t)
	svc.emit(t, webhook.TypePaid)
	env := map[string]string{listenKeyVar: svc.key}
	for _, tc := range []struct {
		name   string
		verify bool
		code   int
		says   string
	}{
		{"verifying endpoint", true, exitOK, "ok: the endpoint refused"},
		{"endpoint taking anything", false, exitFailed, "FORGERY ACCEPTED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, tc.verify)
			// The verifying endpoint has a secret: the forgery is refused
			// because its signature is wrong, not for want of one.
			cache := t.TempDir()
			secret, err := localSecret(filepath.Join(cache, "x.secret"))
			if err != nil {
				t.Fatal(err)
			}
			rc.secret = secret
			var out, errOut syncBuffer
			code := listenCmd(context.Background(), []string{"--forward-to", rc.URL, "-api", svc.srv.URL, "--cache-dir", cache, "--check-forgery"},
				envOf(env), nil, &out, &errOut)
			if code != tc.code || !strings.Contains(out.String()+errOut.String(), tc.says) {
				t.Fatalf("exit %d, want %d saying %q\n%s%s", code, tc.code, tc.says, out.String(), errOut.String())
			}
		})
	}
}

// TestListenArguments: no key, a key as a flag, no --forward-to, a bad
// --since are refused before anything is sent.
func TestListenArguments(t *testing.T) {
	cache := t.TempDir()
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		says string
	}{
		{"no key", nil, []string{"--forward-to", "http://127.0.0.1:9/"}, "no API key"},
		{"key as a flag", map[string]string{listenKeyVar: "sk_test_x"}, []string{"--forward-to", "http://127.0.0.1:9/", "--api-key", "sk_test_x"}, "not defined"},
		{"no forward-to", map[string]string{listenKeyVar: "sk_test_x"}, nil, "--forward-to URL is required"},
		{"forward-to not http", map[string]string{listenKeyVar: "sk_test_x"}, []string{"--forward-to", "ftp://x/"}, "not an http(s) URL"},
		{"bad since", map[string]string{listenKeyVar: "sk_test_x"}, []string{"--forward-to", "http://127.0.0.1:9/", "--since", "last tuesday"}, "--since"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut syncBuffer
			code := listenCmd(context.Background(), append(tc.args, "--cache-dir", cache), envOf(tc.env), strings.NewReader(""), &out, &errOut)
			if code != exitUsage || !strings.Contains(errOut.String(), tc.says) {
				t.Fatalf("exit %d, want %d saying %q\n%s", code, exitUsage, tc.says, errOut.String())
			}
		})
	}
}

// gapProxy stands between listen and the service: it counts the event
// streams the service opened (answered 200) and, while down, answers every
// request 503 without passing it on, as a network that is gone would
// leave listen retrying.
type gapProxy struct {
	*httptest.Server
	down   atomic.Bool
	opened atomic.Int32
	tried  atomic.Int32 // requests refused while down
}

func newGapProxy(t *testing.T, target string) *gapProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &gapProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	rp.ModifyResponse = func(r *http.Response) error {
		if r.Request.URL.Path == "/v1/events/stream" && r.StatusCode == http.StatusOK {
			p.opened.Add(1)
		}
		return nil
	}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() {
			p.tried.Add(1)
			http.Error(w, `{"error":{"code":"unavailable","message":"down"}}`, http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// TestListenDropBeforeFirstEvent: a first run (no cursor, no --since)
// whose stream drops before any event came — the laptop slept, the
// network went — gets, once back, the events stored while it was away:
// it resumes from where its first stream started, not from the events
// stored after it came back.
func TestListenDropBeforeFirstEvent(t *testing.T) {
	svc := newListenService(t)
	proxy := newGapProxy(t, svc.srv.URL)
	rc := newReceiver(t, true)
	rc.out = &syncBuffer{}
	l := startListen(t, rc.out, map[string]string{listenKeyVar: svc.key},
		nil, "--forward-to", rc.URL+"/hooks", "-api", proxy.URL, "--cache-dir", t.TempDir())
	wait(t, "the stream open", func() bool { return proxy.opened.Load() == 1 }, l.out, l.errOut)

	// Away: the stream's connection dies and nothing gets through; two
	// events are stored meanwhile.
	proxy.down.Store(true)
	proxy.CloseClientConnections()
	svc.srv.CloseClientConnections()
	want := []string{svc.emit(t, webhook.TypePaid), svc.emit(t, webhook.TypeRefundSucceeded)}
	wait(t, "a reconnection refused", func() bool { return proxy.tried.Load() > 0 }, l.out, l.errOut)

	// Back.
	proxy.down.Store(false)
	wait(t, "the two stored while away", func() bool { return len(rc.ids()) >= 2 }, l.out, l.errOut)
	if got := rc.ids(); !slices.Equal(got, want) {
		t.Fatalf("the endpoint took %v, want %v", got, want)
	}
}

// TestListenSinceUnknownEvent: --since an event the service does not keep
// fails naming --since, not the cursor file (which was not read).
func TestListenSinceUnknownEvent(t *testing.T) {
	svc := newListenService(t)
	var out, errOut syncBuffer
	code := listenCmd(context.Background(), []string{"--forward-to", "http://127.0.0.1:9/", "-api", svc.srv.URL, "--cache-dir", t.TempDir(),
		"--since", "evt_000000000000000000000000"}, envOf(map[string]string{listenKeyVar: svc.key}), nil, &out, &errOut)
	if code != exitFailed || !strings.Contains(errOut.String(), "--since evt_000000000000000000000000 is not one of your events") || strings.Contains(errOut.String(), ".cursor") {
		t.Fatalf("exit %d, want %d naming --since and no cursor file\n%s", code, exitFailed, errOut.String())
	}
}

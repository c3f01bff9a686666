package chaos

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/wallet/walletsim"
)

// Identities of the chaos merchant's apps at the emulated wallets.
const (
	merchantID  = "chaos"
	oaAppID     = "wxc4a05000000000oa" // WeChat official account
	mpAppID     = "wxc4a05000000000mp" // WeChat mini-program
	alipayAppID = "2021000000000042"
	storeNative = "native"   // pays in the wallets' JS bridges; late policy accept
	storeRedir  = "redirect" // pays on the gateway's page; late policy refund
)

// options shape one chaos run.
type options struct {
	seed     uint64
	duration time.Duration // traffic
	quiet    time.Duration // upper bound of the quiet period
	fsync    string        // redis --appendfsync
	// serviceKills enables kill -9 of the service (random and targeted).
	serviceKills bool
	killEvery    [2]time.Duration // random kill interval bounds
	// redisGraceful restarts Redis once with SHUTDOWN; redisKills kill -9s
	// it that many times.
	redisGraceful bool
	redisKills    int
	workers       int
	claimLease    time.Duration
	lateDelay     time.Duration // sandbox -late-pay-delay (magic ..25)
	// replicas, when set, leaves the service to the caller (the replicas
	// drive starts several of the binary from world.env); redisURL and
	// redisMode then name the Redis they share (a Cluster, a Sentinel
	// set), else the world starts its own redis-server.
	replicas  int
	redisURL  string
	redisMode string
}

// world is everything one run starts.
type world struct {
	t        *testing.T
	opt      options
	logDir   string
	apiKey   string
	rdb      *redisServer
	sb       *proc
	sbURL    string
	gwStores map[string]*gateway.Store // by our store id
	sim      *walletsim.Sim
	simSrv   *httptest.Server
	recv     *receiver
	front    *frontProxy
	gwFront  string
	svc      *service
	gwClient *gateway.Client
	// bin, work and env start the service: the chaos run's one, or the
	// replicas drive's several.
	bin  string
	work string
	env  []string
	// gwHold, when set, sees every protocol request at the gateway proxy
	// first (the replicas drive holds one of the replica it kills);
	// false answers 502 without forwarding it. gwKeys decrypt them.
	gwHold atomic.Pointer[gwHoldFunc]
	gwKeys map[string]gateway.Key
}

// gwHoldFunc sees a protocol request at the gateway proxy (world.gwHold).
type gwHoldFunc func(r *http.Request, endpoint string, body []byte) bool

func randHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// logDirFor is where the processes' logs go: $ARTIFACTS_DIR when set (CI
// keeps it), else a directory removed when the test passes and kept, with
// its path printed, when it fails.
func logDirFor(t *testing.T, seed uint64) string {
	t.Helper()
	name := fmt.Sprintf("chaos-%s-seed%d-", strings.ReplaceAll(t.Name(), "/", "_"), seed)
	if a := os.Getenv("ARTIFACTS_DIR"); a != "" {
		d, err := os.MkdirTemp(a, name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { t.Logf("logs of the service, the sandbox and redis: %s", d) })
		return d
	}
	d, err := os.MkdirTemp("", name)
	if err != nil {
		t.Fatal(err)
	}
	live.addDir(d)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of the service, the sandbox and redis kept in %s (remove it when done)", d)
			return
		}
		_ = os.RemoveAll(d)
	})
	return d
}

func newWorld(t *testing.T, opt options, hook lineHook, aim aimFunc) *world {
	t.Helper()
	redisBin := needReal(t)
	bin := checkoutBinary(t)
	w := &world{t: t, opt: opt, gwStores: map[string]*gateway.Store{}, gwClient: gateway.NewClient()}
	w.logDir = logDirFor(t, opt.seed)
	// The work directory (Redis's AOF, address files): removed at the end
	// whatever the outcome, or by TestMain on an interrupt.
	work, err := os.MkdirTemp("", "chaos-work-")
	if err != nil {
		t.Fatal(err)
	}
	live.addDir(work)
	t.Cleanup(func() { _ = os.RemoveAll(work) })

	redisURL := opt.redisURL
	if redisURL == "" {
		w.rdb = newRedis(t, redisBin, work, w.logDir, opt.fsync)
		redisURL = w.rdb.url()
	}

	// The sandbox gateway: its own process, never restarted.
	type gwStore struct{ id, openID, key, pass string }
	var stores []gwStore
	args := []string{"sandbox", "-addr", "127.0.0.1:0", "-addr-file", filepath.Join(work, "sandbox.addr"),
		"-journal", "-duplicate-notifies", "1", "-notify-step", "1s", "-notify-give-up", "30m",
		"-notify-delay", "5s", "-late-pay-delay", opt.lateDelay.String(),
		// A real gateway takes tens of milliseconds: a kill then often
		// lands while a request is in flight.
		"-latency", "15ms"}
	for _, id := range []string{storeNative, storeRedir} {
		gs := sandbox.GenerateStore()
		gs.ShopPass = randHex(t, 6)
		stores = append(stores, gwStore{id, gs.OpenID, gs.OpenKey, gs.ShopPass})
		args = append(args, "-store", gs.OpenID+":"+gs.OpenKey+":"+gs.ShopPass)
	}
	w.sb = startProc(t, "sandbox", filepath.Join(w.logDir, "sandbox.log"), nil, bin, args, os.Environ())
	addr, err := waitAddrFile(t, w.sb, filepath.Join(work, "sandbox.addr"), 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w.sbURL = "http://" + addr
	for _, s := range stores {
		st, err := gateway.NewStore(w.sbURL+"/mct1", s.openID, s.key, s.pass)
		if err != nil {
			t.Fatal(err)
		}
		w.gwStores[s.id] = st
	}
	// Native JSAPI and mini-program orders need their appids bound, as on
	// the real gateway.
	for _, app := range []string{oaAppID, mpAppID} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := w.gwClient.MPConfigAdd(ctx, w.gwStores[storeNative], gateway.MPConfig{PmtTag: "Weixin", SubAppID: gateway.Text(app)})
		cancel()
		if err != nil {
			t.Fatalf("mpconfig/add %s: %v", app, err)
		}
	}

	// The service reaches the gateway through a proxy of the test's, which
	// can kill the service while a payrefund or payorder is in flight:
	// before the gateway got it, or after it acted but before the answer.
	keys := map[string]gateway.Key{}
	for _, st := range w.gwStores {
		keys[st.OpenID] = st.Key
	}
	w.gwKeys = keys
	w.gwFront = newGatewayProxy(t, w.sbURL, aim, keys, func(r *http.Request, endpoint string, body []byte) bool {
		if h := w.gwHold.Load(); h != nil {
			return (*h)(r, endpoint, body)
		}
		return true
	})

	w.front = newFrontProxy(t)
	frontHost := strings.TrimPrefix(w.front.url(), "http://")

	// The wallets' identity services, emulated in the test.
	appKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	oaSecret, mpSecret := randHex(t, 16), randHex(t, 16)
	var simHandler http.Handler
	var simMu sync.RWMutex
	w.simSrv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		simMu.RLock()
		h := simHandler
		simMu.RUnlock()
		h.ServeHTTP(rw, r)
	}))
	t.Cleanup(w.simSrv.Close)
	w.sim = walletsim.New(walletsim.Config{
		PublicURL:     w.simSrv.URL,
		Apps:          map[string]string{oaAppID: oaSecret, mpAppID: mpSecret},
		AlipayApps:    map[string]*rsa.PublicKey{alipayAppID: &appKey.PublicKey},
		RedirectHosts: []string{frontHost},
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	simMu.Lock()
	simHandler = w.sim
	simMu.Unlock()

	whSecret := randHex(t, 24)
	w.recv = newReceiver(t, whSecret, opt.seed)

	key, err := checkout.NewAPIKey(false)
	if err != nil {
		t.Fatal(err)
	}
	w.apiKey = key
	yaml := fmt.Sprintf(`identity_providers:
  wechat:
    authorize_base: %[1]s
    api_base: %[1]s
  alipay:
    authorize_base: %[1]s
    gateway_url: %[1]s/gateway.do
merchants:
  - id: %[2]s
    name: 混沌咖啡 Chaos Coffee
    api_keys: [%[3]s]
    webhook:
      url: %[4]s/hooks
      secrets: ["${CHAOS_WEBHOOK_SECRET}"]
    redirect_hosts: [127.0.0.1]
    stores:
      - id: %[5]s
        late_payment: accept
        sandbox: true
        gateway:
          base_url: %[6]s/mct1
          open_id: %[7]s
          open_key: ${CHAOS_NATIVE_OPEN_KEY}
          shop_pass: ${CHAOS_NATIVE_SHOP_PASS}
        wechat:
          enabled: true
          mode: native
          app_id: %[8]s
          app_secret: ${CHAOS_OA_SECRET}
          mini_program_app_id: %[9]s
          mini_program_secret: ${CHAOS_MP_SECRET}
        alipay:
          enabled: true
          mode: native
          app_id: "%[10]s"
          private_key: ${CHAOS_ALIPAY_PRIVATE_KEY}
          alipay_public_key: ${CHAOS_ALIPAY_PUBLIC_KEY}
      - id: %[11]s
        late_payment: refund
        sandbox: true
        gateway:
          base_url: %[6]s/mct1
          open_id: %[12]s
          open_key: ${CHAOS_REDIRECT_OPEN_KEY}
          shop_pass: ${CHAOS_REDIRECT_SHOP_PASS}
        wechat:
          enabled: true
          mode: redirect
        alipay:
          enabled: true
          mode: redirect
`, w.simSrv.URL, merchantID, config.HashAPIKeyLine(key), w.recv.srv.URL, storeNative, w.gwFront, stores[0].openID,
		oaAppID, mpAppID, alipayAppID, storeRedir, stores[1].openID)
	cfgPath := filepath.Join(work, "merchants.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(appKey)
	simPub, _ := x509.MarshalPKIXPublicKey(w.sim.AlipayPublicKey())
	env := append(os.Environ(),
		"CHECKOUT_CONFIG="+cfgPath,
		"REDIS_URL="+redisURL,
		"CHECKOUT_PUBLIC_URL="+w.front.url(),
		"CHECKOUT_SESSION_KEYS="+randHex(t, 24),
		"CHECKOUT_SIGNING_SECRET="+randHex(t, 24),
		"CHECKOUT_ALLOW_PRIVATE_WEBHOOKS=true",
		"CHECKOUT_CLAIM_LEASE="+opt.claimLease.String(),
		"CHECKOUT_WEBHOOK_RETRY=1s",
		"CHECKOUT_LOG_LEVEL=info",
		"CHAOS_WEBHOOK_SECRET="+whSecret,
		"CHAOS_NATIVE_OPEN_KEY="+stores[0].key,
		"CHAOS_NATIVE_SHOP_PASS="+stores[0].pass,
		"CHAOS_REDIRECT_OPEN_KEY="+stores[1].key,
		"CHAOS_REDIRECT_SHOP_PASS="+stores[1].pass,
		"CHAOS_OA_SECRET="+oaSecret,
		"CHAOS_MP_SECRET="+mpSecret,
		"CHAOS_ALIPAY_PRIVATE_KEY="+string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
		"CHAOS_ALIPAY_PUBLIC_KEY="+string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: simPub})),
	)
	if opt.redisMode != "" {
		env = append(env, "REDIS_MODE="+opt.redisMode)
	}
	w.bin, w.work, w.env = bin, work, env
	if opt.replicas > 0 {
		return w
	}
	w.svc = &service{t: t, bin: bin, env: env, logPath: filepath.Join(w.logDir, "service.log"), dir: work, front: w.front, hook: hook}
	if err := w.svc.start(); err != nil {
		t.Fatalf("service: %v (see %s)", err, w.svc.logPath)
	}
	return w
}

// journal reads the sandbox's journal and order dump.
func (w *world) journal() (*sandbox.Journal, error) {
	resp, err := http.Get(w.sbURL + sandbox.PathJournal)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("journal: HTTP %d", resp.StatusCode)
	}
	var j sandbox.Journal
	if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
		return nil, err
	}
	return &j, nil
}

// delivery is one webhook request the receiver got with a valid signature.
type delivery struct {
	At    time.Time
	ID    string
	Type  string
	Event webhook.Event
}

// receiver is the merchant's webhook endpoint: it verifies every delivery's
// signature, records it, and fails a seeded share of them with 500 so that
// retries happen too.
type receiver struct {
	srv    *httptest.Server
	secret string
	mu     sync.Mutex
	got    []delivery
	bad    []string // deliveries refused: bad signature or body
	n      uint64
	seed   uint64
	// hold, when set, sees each delivery once recorded and may hold its
	// answer (the replicas drive keeps one in flight at a replica it
	// kills); it returns whether to answer at all.
	hold func(req *http.Request, d delivery) bool
}

func newReceiver(t *testing.T, secret string, seed uint64) *receiver {
	r := &receiver{secret: secret, seed: seed}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, 1<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	id, typ := req.Header.Get(webhook.HeaderEventID), req.Header.Get(webhook.HeaderEventType)
	if err := webhook.Verify(body, req.Header.Get(webhook.HeaderSignature), []string{r.secret}, 0, time.Now()); err != nil {
		r.mu.Lock()
		r.bad = append(r.bad, fmt.Sprintf("%s %s: %v", id, typ, err))
		r.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var e webhook.Event
	if err := json.Unmarshal(body, &e); err != nil || e.ID != id || e.Type != typ {
		r.mu.Lock()
		r.bad = append(r.bad, fmt.Sprintf("%s %s: body %q does not match its headers", id, typ, body))
		r.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.n++
	// One delivery in 12 fails (after being recorded as received: the
	// merchant saw it, the service must still retry).
	fail := (r.n*0x9E3779B97F4A7C15+r.seed)%12 == 0
	got := delivery{At: time.Now(), ID: id, Type: typ, Event: e}
	r.got = append(r.got, got)
	hold := r.hold
	r.mu.Unlock()
	if hold != nil && !hold(req, got) {
		return
	}
	if fail {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) deliveries() ([]delivery, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...), append([]string(nil), r.bad...)
}

// url helper for the sandbox's payer actions.
func (w *world) sandboxURL(path string) string { return w.sbURL + path }

// aimFunc decides whether to kill the service with a request to endpoint
// about checkoutID (read from its out_no; empty when unknown) in flight.
type aimFunc func(endpoint, checkoutID string) (kill, before bool, fired func() bool)

// newGatewayProxy forwards the service's protocol requests to the sandbox.
// For each payorder and payrefund it asks aim whether to kill the service
// with this request in flight, and when: before forwarding it (the gateway
// never gets it) or after the gateway answered (the answer is lost).
func newGatewayProxy(t *testing.T, target string, aim aimFunc, keys map[string]gateway.Key, hold gwHoldFunc) string {
	t.Helper()
	hc := &http.Client{Timeout: 30 * time.Second}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		endpoint := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		if hold != nil && !hold(r, endpoint, body) {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		var checkoutID string
		if endpoint == "payrefund" {
			checkoutID = checkoutOfRequest(body, keys)
		}
		kill, before, fired := aim(endpoint, checkoutID)
		if kill && before && fired() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		out, _ := http.NewRequest(r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
		out.Header = r.Header.Clone()
		resp, err := hc.Do(out)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		answer, err := io.ReadAll(resp.Body)
		if err != nil || (kill && !before && fired()) {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(answer)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// checkoutOfRequest reads the checkout a protocol request is about from
// the out_no in its encrypted data.
func checkoutOfRequest(body []byte, keys map[string]gateway.Key) string {
	id, _, _ := checkout.ParseOutNo(outNoOfRequest(body, keys))
	return id
}

// outNoOfRequest reads the out_no in a protocol request's encrypted data
// (a payrefund's is the payment's); empty when it has none.
func outNoOfRequest(body []byte, keys map[string]gateway.Key) string {
	out, _ := numbersOfRequest(body, keys)
	return out
}

// numbersOfRequest reads the out_no and refund_out_no (a payrefund's) in a
// protocol request's encrypted data.
func numbersOfRequest(body []byte, keys map[string]gateway.Key) (outNo, refundOutNo string) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "", ""
	}
	key, ok := keys[form.Get("open_id")]
	if !ok {
		return "", ""
	}
	plain, err := gateway.Decrypt(key, form.Get("data"))
	if err != nil {
		return "", ""
	}
	var d struct {
		OutNo       string `json:"out_no"`
		RefundOutNo string `json:"refund_out_no"`
	}
	if json.Unmarshal(plain, &d) != nil {
		return "", ""
	}
	return d.OutNo, d.RefundOutNo
}

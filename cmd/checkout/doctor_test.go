package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/internal/porttest"
	"github.com/wallet-checkout/checkout/internal/redistest"
)

var updateDoctor = flag.Bool("update-doctor", false, "rewrite testdata/doctor.golden")

// The doctor tests' store and apps. The appids have the shape config
// requires (wx and 16 lowercase letters or digits).
const (
	docOpenID   = "d0c70d0c70d0c70d0c70d0c70d0c70aa"
	docOpenKey  = "DoctorDoctorDoctorDoctorDoctor01"
	docOAAppID  = "wx1234567890abcdef" // official account
	docMPAppID  = "wxfedcba0987654321" // mini-program
	docSecret   = "doctor-app-secret-0123456789abcdef"
	docHookSecr = "doctor-webhook-secret-0123456789abcdef"
)

// doctorFixture is a sandbox gateway served over real HTTP, one store in
// it, and the service's environment pointing a merchants file at it.
type doctorFixture struct {
	sb     *sandbox.Server
	gwURL  string // protocol base, http://127.0.0.1:port/mct1
	env    map[string]string
	dir    string
	hook   string // the merchant's webhook block, "" for none
	wxTag  string // wechat.pmt_tag, "" for none
	public string
}

type fixtureOpts struct {
	clock   func() time.Time
	payList []sandbox.PayMethod
	bind    []string // appids bound to Weixin at the start
}

func newDoctorFixture(t *testing.T, o fixtureOpts) *doctorFixture {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sb, err := sandbox.New(sandbox.Config{Clock: o.clock, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	if err := sb.AddStore(sandbox.Store{OpenID: docOpenID, OpenKey: docOpenKey, PayList: o.payList}); err != nil {
		t.Fatal(err)
	}
	for _, app := range o.bind {
		if err := sb.BindAppID(docOpenID, "Weixin", app); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	f := &doctorFixture{sb: sb, gwURL: srv.URL + sb.Prefix(), dir: t.TempDir(), public: "https://pay.example.com"}
	f.env = map[string]string{
		"CHECKOUT_SESSION_KEYS":   testSessionKey,
		"CHECKOUT_SIGNING_SECRET": testSigning,
		"REDIS_URL":               redisURL(t),
		"SHOP_OPEN_KEY":           docOpenKey,
		"SHOP_PASS":               "supervisor",
		"WX_SECRET":               docSecret,
		"HOOK_SECRET":             docHookSecr,
	}
	return f
}

// redisURL is the URL of the tests' Redis (internal/redistest: the real
// server when one answers). Doctor only reads from it (PING, INFO): it
// writes no key, so there is nothing to prefix or clean.
func redisURL(t *testing.T) string {
	t.Helper()
	c, ok := redistest.New(t).(*redis.Client)
	if !ok {
		t.Fatal("redistest gave no *redis.Client")
	}
	o := c.Options()
	u := url.URL{Scheme: "redis", Host: o.Addr, Path: fmt.Sprintf("/%d", o.DB)}
	if o.Password != "" {
		u.User = url.UserPassword(o.Username, o.Password)
	}
	return u.String()
}

// write writes the merchants file and points CHECKOUT_CONFIG at it.
func (f *doctorFixture) write(t *testing.T) {
	t.Helper()
	tag := ""
	if f.wxTag != "" {
		tag = "\n          pmt_tag: " + f.wxTag
	}
	yaml := fmt.Sprintf(`merchants:
  - id: shop
    name: Test Shop
    api_keys: [%s]
    redirect_hosts: [shop.example.com]%s
    stores:
      - id: main
        sandbox: true
        gateway:
          base_url: %s
          open_id: %s
          open_key: ${SHOP_OPEN_KEY}
          shop_pass: ${SHOP_PASS}
        wechat:
          enabled: true
          mode: native
          app_id: %s
          app_secret: ${WX_SECRET}
          mini_program_app_id: %s
          mini_program_secret: ${WX_SECRET}%s
        alipay: {enabled: true, mode: redirect}
`, config.HashAPIKeyLine("sk_test_DoctorKey0123456789abcdefghijklmn"), f.hook, f.gwURL, docOpenID, docOAAppID, docMPAppID, tag)
	path := filepath.Join(f.dir, "merchants.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	f.env["CHECKOUT_CONFIG"] = path
	f.env["CHECKOUT_PUBLIC_URL"] = f.public
}

// webhookTo sets the merchant's webhook URL.
func (f *doctorFixture) webhookTo(u string) {
	f.hook = fmt.Sprintf("\n    webhook:\n      url: %s\n      secrets: [\"${HOOK_SECRET}\"]", u)
}

// runCLI runs `checkout doctor args...` as the binary does.
func (f *doctorFixture) runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	f.write(t)
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"doctor"}, args...), envOf(f.env), &out, &errOut)
	if errOut.Len() > 0 {
		t.Logf("stderr: %s", errOut.String())
	}
	t.Logf("doctor %v exit %d:\n%s", args, code, out.String())
	return code, out.String()
}

// runWith runs doctor with options the command line cannot give.
func (f *doctorFixture) runWith(t *testing.T, o doctorOptions) (int, string) {
	t.Helper()
	f.write(t)
	var out bytes.Buffer
	code := runDoctor(context.Background(), envOf(f.env), o, &out)
	t.Logf("doctor exit %d:\n%s", code, out.String())
	return code, out.String()
}

// line returns the report's line for a check and status, or "".
func line(out, status, check string) string {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == status && f[1] == check {
			return l
		}
	}
	return ""
}

// wantLine finds the report's line for a check and status that contains
// every one of contains, and fails the test when there is none.
func wantLine(t *testing.T, out, status, check string, contains ...string) string {
	t.Helper()
	var found []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != status || f[1] != check {
			continue
		}
		found = append(found, l)
		all := true
		for _, c := range contains {
			all = all && strings.Contains(l, c)
		}
		if all {
			return l
		}
	}
	if len(found) == 0 {
		t.Fatalf("no %s %s line in:\n%s", status, check, out)
	}
	t.Fatalf("no %s %s line contains all of %q; the lines:\n%s", status, check, contains, strings.Join(found, "\n"))
	return ""
}

// answering is an HTTP server answering every request with status.
func answering(t *testing.T, status int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "https://elsewhere.example/")
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestDoctorAllGood: a store whose credentials, pay methods and appids are
// right, a Redis that answers and a webhook that answers: exit 0, and no
// line fails.
func TestDoctorAllGood(t *testing.T) {
	f := newDoctorFixture(t, fixtureOpts{bind: []string{docOAAppID, docMPAppID}})
	f.env["CHECKOUT_ALLOW_PRIVATE_WEBHOOKS"] = "true"
	f.webhookTo(answering(t, http.StatusMethodNotAllowed) + "/hooks")
	code, out := f.runCLI(t)
	if code != exitOK {
		t.Fatalf("exit %d, want 0", code)
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("a check failed:\n%s", out)
	}
	for _, check := range []string{"config", "public", "redis", "clock", "gateway", "pmt_tag", "appid"} {
		wantLine(t, out, statusOK, check)
	}
	wantLine(t, out, statusOK, "gateway", "open_id "+docOpenID, "paylist: Weixin, Alipay")
	wantLine(t, out, statusWarn, "webhook", "(loopback)", "allowed by CHECKOUT_ALLOW_PRIVATE_WEBHOOKS", "HTTP 405")
	wantLine(t, out, statusSkip, "public", "-public-check")
	if strings.Contains(out, docOpenKey) || strings.Contains(out, docSecret) || strings.Contains(out, docHookSecr) {
		t.Error("a secret is in the report")
	}
}

// TestDoctorGolden pins one whole report: both clocks fixed, the ports and
// the Redis server's own description (which depends on the machine)
// replaced.
func TestDoctorGolden(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	fixed := func() time.Time { return at }
	f := newDoctorFixture(t, fixtureOpts{clock: fixed, bind: []string{docOAAppID}})
	f.wxTag = "Weixin"
	code, out := f.runWith(t, doctorOptions{Now: fixed})
	if code != exitFailed {
		t.Errorf("exit %d, want 1 (the mini-program's appid is unbound)", code)
	}
	got := regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAllString(out, "127.0.0.1:PORT")
	got = regexp.MustCompile(`/tmp/[^ :]*merchants\.yaml`).ReplaceAllString(got, "TMP/merchants.yaml")
	got = regexp.MustCompile(`(?m)^(ok    redis    .+?): PING answered.*$`).ReplaceAllString(got, "$1: PING answered; REDIS-DESCRIPTION")
	path := filepath.Join("testdata", "doctor.golden")
	if *updateDoctor {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update-doctor)", err)
	}
	if got != string(want) {
		t.Errorf("report differs from %s (run with -update-doctor):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestDoctorWrongOpenKey: the gateway refuses the signature; the report
// says which setting to correct, and never prints the key.
func TestDoctorWrongOpenKey(t *testing.T) {
	f := newDoctorFixture(t, fixtureOpts{bind: []string{docOAAppID, docMPAppID}})
	f.env["SHOP_OPEN_KEY"] = "WrongWrongWrongWrongWrongWrong01"
	code, out := f.runCLI(t)
	if code != exitFailed {
		t.Fatalf("exit %d, want 1", code)
	}
	wantLine(t, out, statusFail, "gateway", "open_key is refused", "errcode 5", "merchants[0].stores[0].gateway.open_key")
	wantLine(t, out, statusOK, "clock") // an error answer still carries the gateway's time
	if strings.Contains(out, "WrongWrong") {
		t.Error("the key is in the report")
	}
	if line(out, statusOK, "pmt_tag") != "" || line(out, statusOK, "appid") != "" {
		t.Error("pay methods or appids judged without working credentials")
	}
}

// TestDoctorUnknownOpenID: errcode 3002 names open_id, not open_key.
func TestDoctorUnknownOpenID(t *testing.T) {
	f := newDoctorFixture(t, fixtureOpts{})
	// Another sandbox, with no store: it has never heard of this open_id.
	empty, err := sandbox.New(sandbox.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(empty.Close)
	srv := httptest.NewServer(empty.Handler())
	t.Cleanup(srv.Close)
	f.gwURL = srv.URL + empty.Prefix()
	code, out := f.runCLI(t)
	if code != exitFailed {
		t.Fatalf("exit %d, want 1", code)
	}
	wantLine(t, out, statusFail, "gateway", "no store with open_id "+docOpenID, "errcode 3002", ".gateway.open_id")
}

// TestDoctorPmtTags: a configured pmt_tag the paylist lacks is named, and a
// paylist with no method for an enabled wallet fails too.
func TestDoctorPmtTags(t *testing.T) {
	tests := []struct {
		name    string
		payList []sandbox.PayMethod
		wxTag   string
		want    []string
	}{
		{"configured tag missing", nil, "WeixinBERL", []string{`WeChat pmt_tag "WeixinBERL" is not in the store's paylist (Weixin, Alipay)`, "errcode 8007", "merchants[0].stores[0].wechat.pmt_tag"}},
		{"another wallet's tag", nil, "Alipay", []string{"WeChat pmt_tag Alipay is in the paylist, but it belongs to the alipay wallet", "merchants[0].stores[0].wechat.pmt_tag"}},
		{"no WeChat method", []sandbox.PayMethod{{Tag: "Alipay", Name: "支付宝", Types: "2,3,4"}, {Tag: "Cash", Name: "现金", Types: "0"}},
			"", []string{"the paylist (Alipay) has no WeChat method", "wechat.enabled: false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDoctorFixture(t, fixtureOpts{payList: tt.payList})
			f.wxTag = tt.wxTag
			code, out := f.runCLI(t)
			if code != exitFailed {
				t.Fatalf("exit %d, want 1", code)
			}
			wantLine(t, out, statusFail, "pmt_tag", tt.want...)
			wantLine(t, out, statusOK, "pmt_tag", "Alipay") // the other wallet is fine
			wantLine(t, out, statusSkip, "appid", "no WeChat pay method")
		})
	}
}

// TestDoctorFixBindsAppID: an unbound appid fails with the exact
// mpconfig/add call; -fix makes that call, and the next run passes.
func TestDoctorFixBindsAppID(t *testing.T) {
	f := newDoctorFixture(t, fixtureOpts{bind: []string{docOAAppID}})
	code, out := f.runCLI(t)
	if code != exitFailed {
		t.Fatalf("exit %d, want 1", code)
	}
	wantLine(t, out, statusOK, "appid", "official account "+docOAAppID+" is bound to Weixin")
	wantLine(t, out, statusFail, "appid", "mini-program "+docMPAppID+" is not bound to Weixin", "errcode 8011",
		`mpconfig/add {"pmt_tag":"Weixin","sub_appid":"`+docMPAppID+`"} for open_id `+docOpenID, "checkout doctor -fix")

	// Without -fix nothing changed at the gateway.
	code, out = f.runCLI(t)
	if code != exitFailed || line(out, statusFail, "appid") == "" {
		t.Fatalf("second run without -fix: exit %d\n%s", code, out)
	}

	code, out = f.runCLI(t, "-fix")
	if code != exitOK {
		t.Fatalf("-fix: exit %d, want 0", code)
	}
	wantLine(t, out, statusFixed, "appid", "mini-program "+docMPAppID+" bound to Weixin", "mpconfig/query lists it now")

	code, out = f.runCLI(t)
	if code != exitOK {
		t.Fatalf("after -fix: exit %d, want 0", code)
	}
	wantLine(t, out, statusOK, "appid", "mini-program "+docMPAppID+" is bound to Weixin")
	if line(out, statusFixed, "appid") != "" {
		t.Error("a run without -fix reports a fix")
	}
}

// staticResolver answers fixed addresses, as a DNS server would for a name
// the test cannot publish.
type staticResolver map[string][]netip.Addr

func (r staticResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("lookup %s: no such host", host)
}

// TestDoctorWebhooks: a name that resolves to a private address fails (the
// delivery guard would refuse it), and so do an unknown name, a 5xx and a
// redirect; a public answer passes.
func TestDoctorWebhooks(t *testing.T) {
	res := staticResolver{
		"hooks.doctor.test":  {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.1.2.3")},
		"mapped.doctor.test": {netip.MustParseAddr("::ffff:192.168.1.9")},
	}
	tests := []struct {
		name   string
		url    string
		allow  bool
		status string
		want   []string
	}{
		{"private address", "https://hooks.doctor.test/x", false, statusFail, []string{"10.1.2.3 (private)", "deliveries to it are refused", "merchants[0].webhook.url"}},
		{"mapped private address", "https://mapped.doctor.test/x", false, statusFail, []string{"192.168.1.9 (private)"}},
		{"unknown name", "https://nowhere.doctor.test/x", false, statusFail, []string{"does not resolve"}},
		{"5xx", answering(t, http.StatusBadGateway), true, statusFail, []string{"HTTP 502"}},
		{"redirect", answering(t, http.StatusFound), true, statusFail, []string{"never follow redirects"}},
		{"down", "http://127.0.0.1:1/hooks", true, statusFail, []string{"GET:"}},
		{"answers", answering(t, http.StatusOK), true, statusWarn, []string{"HTTP 200"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDoctorFixture(t, fixtureOpts{bind: []string{docOAAppID, docMPAppID}})
			if tt.allow {
				f.env["CHECKOUT_ALLOW_PRIVATE_WEBHOOKS"] = "true"
			}
			f.webhookTo(tt.url)
			code, out := f.runWith(t, doctorOptions{Resolver: res, Timeout: 5 * time.Second})
			want := exitOK
			if tt.status == statusFail {
				want = exitFailed
			}
			if code != want {
				t.Errorf("exit %d, want %d", code, want)
			}
			wantLine(t, out, tt.status, "webhook", tt.want...)
		})
	}
}

// TestDoctorClockSkew: a gateway an hour ahead refuses every call (errcode
// 9); the clock check fails and says so, and the credentials are not
// blamed.
func TestDoctorClockSkew(t *testing.T) {
	for _, skew := range []time.Duration{time.Hour, -15 * time.Minute} {
		t.Run(skew.String(), func(t *testing.T) {
			f := newDoctorFixture(t, fixtureOpts{clock: func() time.Time { return time.Now().Add(skew) }})
			code, out := f.runCLI(t)
			if code != exitFailed {
				t.Fatalf("exit %d, want 1", code)
			}
			where := "ahead of"
			if skew < 0 {
				where = "behind"
			}
			l := wantLine(t, out, statusFail, "clock", where+" ours", "±600 s", "NTP")
			checkOffset(t, l, skew)
			wantLine(t, out, statusSkip, "gateway", "errcode 9", "see clock")
		})
	}
	// A small skew is pointed out without failing.
	f := newDoctorFixture(t, fixtureOpts{clock: func() time.Time { return time.Now().Add(5 * time.Minute) }, bind: []string{docOAAppID, docMPAppID}})
	code, out := f.runCLI(t)
	if code != exitOK {
		t.Fatalf("5 min skew: exit %d, want 0", code)
	}
	checkOffset(t, wantLine(t, out, statusWarn, "clock", "ahead of ours"), 5*time.Minute)
}

// checkOffset checks the offset a clock line reports, to within 5 s: both
// clocks are read in whole seconds, and the call takes time.
func checkOffset(t *testing.T, l string, want time.Duration) {
	t.Helper()
	m := regexp.MustCompile(`is (\S+) (ahead of|behind) ours`).FindStringSubmatch(l)
	if m == nil {
		t.Fatalf("no offset in %q", l)
	}
	got, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatalf("offset %q: %v", m[1], err)
	}
	if m[2] == "behind" {
		got = -got
	}
	if d := got - want; d > 5*time.Second || d < -5*time.Second {
		t.Errorf("offset %s, want %s", got, want)
	}
}

// TestDoctorGatewayUnreachable: a closed port and a server that is not the
// gateway fail cleanly, naming the base URL's setting.
func TestDoctorGatewayUnreachable(t *testing.T) {
	closedURL := "http://" + porttest.Refusing(t)
	notGateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html>welcome to nginx</html>")
	}))
	t.Cleanup(notGateway.Close)
	tests := []struct {
		name, base, check string
		want              []string
	}{
		{"closed port", closedURL + "/mct1", "clock", []string{"unreachable", "merchants[0].stores[0].gateway.base_url"}},
		{"not the gateway", notGateway.URL + "/mct1", "gateway", []string{"paylist failed", "malformed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDoctorFixture(t, fixtureOpts{})
			f.gwURL = tt.base
			code, out := f.runCLI(t)
			if code != exitFailed {
				t.Fatalf("exit %d, want 1", code)
			}
			wantLine(t, out, statusFail, tt.check, tt.want...)
			if !strings.HasPrefix(strings.Split(strings.TrimSpace(out), "\n")[len(strings.Split(strings.TrimSpace(out), "\n"))-1], "doctor: ") {
				t.Error("no summary line: the run did not finish")
			}
		})
	}
}

// TestDoctorRedisDown: a REDIS_URL that does not answer fails, naming the
// address and never the URL's password.
func TestDoctorRedisDown(t *testing.T) {
	f := newDoctorFixture(t, fixtureOpts{bind: []string{docOAAppID, docMPAppID}})
	f.env["REDIS_URL"] = "redis://:hunter2secret@127.0.0.1:1/0"
	code, out := f.runCLI(t)
	if code != exitFailed {
		t.Fatalf("exit %d, want 1", code)
	}
	wantLine(t, out, statusFail, "redis", "127.0.0.1:1", "PING")
	if strings.Contains(out, "hunter2secret") {
		t.Error("the Redis password is in the report")
	}
}

// TestDoctorPublicCheck requests the notify URL through a public URL in
// front of the real service: the service answers an unsigned notify with
// 400, which proves the path works; a public URL in front of something
// else fails.
func TestDoctorPublicCheck(t *testing.T) {
	var target atomic.Pointer[url.URL]
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := target.Load()
		if u == nil {
			http.NotFound(w, r)
			return
		}
		httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	f := newDoctorFixture(t, fixtureOpts{bind: []string{docOAAppID, docMPAppID}})
	f.public = front.URL
	code, out := f.runCLI(t, "-public-check")
	if code != exitFailed {
		t.Fatalf("nothing behind the public URL: exit %d, want 1", code)
	}
	wantLine(t, out, statusFail, "public", "HTTP 404", "not the checkout service")

	f.write(t)
	// The service runs on its in-process Redis: it has no key prefix, and
	// the shared server must not get keys this test cannot clean up.
	served := map[string]string{}
	for k, v := range f.env {
		if k != "REDIS_URL" {
			served[k] = v
		}
	}
	in := start(t, served)
	u, _ := url.Parse(in.base)
	target.Store(u)
	code, out = f.runCLI(t, "-public-check")
	if code != exitOK {
		t.Fatalf("service behind the public URL: exit %d, want 0", code)
	}
	wantLine(t, out, statusOK, "public", "/notify/"+docOpenID, "reaches the service")
	wantLine(t, out, statusWarn, "public", "plain http on a loopback host")
}

// TestDoctorConfigErrors: a configuration the service would refuse is a
// failed check, not a crash; bad flags are exit 2.
func TestDoctorConfigErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	env := map[string]string{"CHECKOUT_CONFIG": filepath.Join(t.TempDir(), "missing.yaml"),
		"CHECKOUT_SESSION_KEYS": testSessionKey, "CHECKOUT_SIGNING_SECRET": testSigning}
	if code := run(context.Background(), []string{"doctor"}, envOf(env), &out, &errOut); code != exitFailed {
		t.Errorf("missing merchants file: exit %d, want 1", code)
	}
	wantLine(t, out.String(), statusFail, "config", "cannot read the merchants file")

	out.Reset()
	env = map[string]string{"CHECKOUT_PUBLIC_URL": "ftp://nope"}
	if code := run(context.Background(), []string{"doctor"}, envOf(env), &out, &errOut); code != exitFailed {
		t.Errorf("bad public URL: exit %d, want 1", code)
	}
	wantLine(t, out.String(), statusFail, "config", "CHECKOUT_PUBLIC_URL")

	var usage bytes.Buffer
	if code := run(context.Background(), []string{"doctor", "-h"}, envOf(nil), io.Discard, &usage); code != exitOK ||
		!strings.Contains(usage.String(), "-fix") || !strings.Contains(usage.String(), "-public-check") {
		t.Errorf("doctor -h: exit %d\n%s", code, usage.String())
	}
	for _, args := range [][]string{{"doctor", "extra"}, {"doctor", "-nope"}, {"doctor", "-redis-url", "redis://x"}} {
		if code := run(context.Background(), args, envOf(nil), io.Discard, io.Discard); code != exitUsage {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestDoctorDemo: with nothing configured doctor checks the demo set-up,
// as `checkout` would start it, and finds no problem.
func TestDoctorDemo(t *testing.T) {
	var out bytes.Buffer
	code := run(context.Background(), []string{"doctor"}, envOf(map[string]string{}), &out, io.Discard)
	t.Logf("%s", out.String())
	if code != exitOK {
		t.Fatalf("exit %d, want 0", code)
	}
	wantLine(t, out.String(), statusOK, "config", "demo mode")
	wantLine(t, out.String(), statusOK, "appid", "official account "+demoWeChatAppID)
	wantLine(t, out.String(), statusOK, "appid", "mini-program "+demoMiniAppID)
	wantLine(t, out.String(), statusWarn, "public", "demo mode")
}

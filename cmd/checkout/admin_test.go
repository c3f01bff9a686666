package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// adminAddr is the admin listener's address from the start log ("Admin
// listening"), empty when there is none.
func adminAddr(t *testing.T, logs string) string {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "Admin listening" {
			return rec.Addr
		}
	}
	return ""
}

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAdminListener: with CHECKOUT_ADMIN_ADDR the binary serves metrics,
// pprof and the probes there, and none of them on the public port; the
// start log and the build info name the version.
func TestAdminListener(t *testing.T) {
	in := start(t, map[string]string{"CHECKOUT_ADMIN_ADDR": "127.0.0.1:0"})
	// The admin listener's line may come after the public one's: wait for it.
	admin := adminAddr(t, in.stderr.String())
	for deadline := time.Now().Add(30 * time.Second); admin == "" && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		admin = adminAddr(t, in.stderr.String())
	}
	if admin == "" || admin == in.addr {
		t.Fatalf("admin listener %q (public %s); logs:\n%s", admin, in.addr, in.stderr)
	}
	ver, rev := buildVersion()
	code, body := getBody(t, "http://"+admin+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, `checkout_build_info{commit="`+rev+`"`) || !strings.Contains(body, `version="`+ver+`"`) {
		t.Errorf("admin /metrics = %d without the build info of %s %s", code, ver, rev)
	}
	// The demo's own requests (its checkout's creation) went through the
	// router: the public port's traffic is counted.
	if code, _ := getBody(t, in.base+"/healthz"); code != http.StatusOK {
		t.Fatal("public /healthz")
	}
	if _, body := getBody(t, "http://"+admin+"/metrics"); !strings.Contains(body, `checkout_http_requests_total{method="GET",route="/healthz",status="200"}`) {
		t.Errorf("the public request is not counted")
	}
	for path, want := range map[string]int{"/debug/pprof/": 200, "/healthz": 200, "/readyz": 200, "/v1/checkouts": 404} {
		if code, _ := getBody(t, "http://"+admin+path); code != want {
			t.Errorf("admin %s = %d, want %d", path, code, want)
		}
	}
	for _, path := range []string{"/metrics", "/debug/pprof/"} {
		if code, _ := getBody(t, in.base+path); code != http.StatusNotFound {
			t.Errorf("public %s = %d, want 404", path, code)
		}
	}
	if !strings.Contains(in.stderr.String(), `"msg":"Starting","version":"`+ver+`","commit":"`+rev+`"`) {
		t.Errorf("the start log does not name version %s and commit %s:\n%s", ver, rev, in.stderr)
	}
	if code := in.stop(); code != exitOK {
		t.Errorf("exit %d", code)
	}
	if _, err := net.Dial("tcp", admin); err == nil {
		t.Error("the admin listener still accepts after the shutdown")
	}
}

// TestAdminOffByDefault: without CHECKOUT_ADMIN_ADDR no admin listener
// starts and the public port has no /metrics.
func TestAdminOffByDefault(t *testing.T) {
	in := start(t, map[string]string{})
	if a := adminAddr(t, in.stderr.String()); a != "" {
		t.Errorf("an admin listener on %s without CHECKOUT_ADMIN_ADDR", a)
	}
	if code, _ := getBody(t, in.base+"/metrics"); code != http.StatusNotFound {
		t.Errorf("public /metrics = %d, want 404", code)
	}
}

// TestAdminAddrTaken: a taken admin port stops the start, naming the
// setting.
func TestAdminAddrTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, stderr := runToExit(t, map[string]string{"CHECKOUT_ADDR": "127.0.0.1:0", "CHECKOUT_ADMIN_ADDR": ln.Addr().String()})
	if code != exitFailed || !strings.Contains(stderr, "checkout: CHECKOUT_ADMIN_ADDR: listen on "+ln.Addr().String()) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

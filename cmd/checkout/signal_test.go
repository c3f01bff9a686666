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

	"github.com/gin-gonic/gin"
)

// childEnv, set in a re-executed test binary, makes it run the real main
// (signal handling included) instead of the tests.
const childEnv = "CHECKOUT_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		return
	}
	// The tests drive run, not main, which sets gin's mode for the process:
	// keep gin's debug lines out of their output.
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// TestSIGTERM starts the real process (main, not run) in demo mode, sends it
// SIGTERM as a container runtime does, and expects a graceful stop: exit
// code 0 and the shutdown logged, well within the shutdown timeout.
func TestSIGTERM(t *testing.T) {
	addrFile := filepath.Join(t.TempDir(), "addr")
	cmd := exec.Command(os.Args[0], "-addr", "127.0.0.1:0", "-addr-file", addrFile)
	cmd.Env = append(os.Environ(), childEnv+"=1", "REDIS_URL=", "CHECKOUT_CONFIG=", "GIN_MODE=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	waited := false
	t.Cleanup(func() {
		if !waited {
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	var addr string
	deadline := time.Now().Add(30 * time.Second)
	for addr == "" {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			addr = string(b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the process did not listen within 30 s\nstderr:\n%s", stderr.String())
		}
		select {
		case err := <-exited:
			waited = true
			t.Fatalf("the process exited before listening: %v\nstderr:\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /readyz = %s", resp.Status)
	}

	began := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		waited = true
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v, want code 0\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatalf("still running %s after SIGTERM", shutdownTimeout+5*time.Second)
	}
	t.Logf("stopped %s after SIGTERM", time.Since(began).Round(time.Millisecond))
	logs := stderr.String()
	for _, want := range []string{`"msg":"Shutting down"`, `"msg":"Stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	if !strings.Contains(stdout.String(), "DEMO MODE") {
		t.Errorf("no demo banner on stdout:\n%s", stdout.String())
	}
	// main puts gin in release mode: no route listing, no debug warnings.
	if out := stdout.String() + logs; strings.Contains(out, "[GIN") {
		t.Errorf("gin's debug output in the process's output:\n%s", out)
	}
}

// TestSIGTERMDrains: with CHECKOUT_DRAIN_PAUSE the real process, on
// SIGTERM, first keeps serving with /readyz at 503 "draining" on the
// public port and on the admin listener, so that a balancer takes it out
// before its port closes; only after the pause does it shut down, exit 0.
// The pause (10 s) is far longer than the checks made in it, so a loaded
// machine cannot make the test miss it.
func TestSIGTERMDrains(t *testing.T) {
	const pause = 10 * time.Second
	addrFile := filepath.Join(t.TempDir(), "addr")
	cmd := exec.Command(os.Args[0], "-addr", "127.0.0.1:0", "-addr-file", addrFile)
	cmd.Env = append(os.Environ(), childEnv+"=1", "REDIS_URL=", "CHECKOUT_CONFIG=", "GIN_MODE=",
		"CHECKOUT_DRAIN_PAUSE="+pause.String(), "CHECKOUT_ADMIN_ADDR=127.0.0.1:0")
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	waited := false
	t.Cleanup(func() {
		if !waited {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	var addr, admin string
	for deadline := time.Now().Add(30 * time.Second); addr == "" || admin == ""; {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			addr = string(b)
		}
		admin = adminAddr(t, stderr.String())
		if time.Now().After(deadline) {
			t.Fatalf("the process did not listen within 30 s\nstderr:\n%s", stderr.String())
		}
		select {
		case err := <-exited:
			waited = true
			t.Fatalf("the process exited before listening: %v\nstderr:\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	for _, base := range []string{"http://" + addr, "http://" + admin} {
		if code, body := getBody(t, base+"/readyz"); code != http.StatusOK {
			t.Fatalf("GET %s/readyz before SIGTERM = %d %s", base, code, body)
		}
	}

	began := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The signal is handled at once; the pause leaves ample time to see it.
	var code int
	var body string
	for deadline := time.Now().Add(pause / 2); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if code, body = getBody(t, "http://"+addr+"/readyz"); code == http.StatusServiceUnavailable {
			break
		}
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"reason":"draining"`) {
		t.Fatalf("public /readyz after SIGTERM = %d %s, want 503 draining", code, body)
	}
	if code, body := getBody(t, "http://"+admin+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, `"reason":"draining"`) {
		t.Errorf("admin /readyz while draining = %d %s, want 503 draining", code, body)
	}
	// Still serving: requests the balancer sends before it notices work.
	if code, _ := getBody(t, "http://"+addr+"/healthz"); code != http.StatusOK {
		t.Errorf("public /healthz while draining = %d, want 200", code)
	}
	if code, _ := getBody(t, "http://"+addr+"/"); code >= 500 {
		t.Errorf("public / while draining = %d", code)
	}
	select {
	case err := <-exited:
		waited = true
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v, want code 0\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(pause + shutdownTimeout + 5*time.Second):
		t.Fatalf("still running %s after SIGTERM", pause+shutdownTimeout+5*time.Second)
	}
	if took := time.Since(began); took < pause {
		t.Errorf("stopped %s after SIGTERM, before the %s drain pause ended", took.Round(time.Millisecond), pause)
	}
	logs := stderr.String()
	drain, down := strings.Index(logs, `"msg":"Draining"`), strings.Index(logs, `"msg":"Shutting down"`)
	if drain < 0 || down < drain || !strings.Contains(logs, `"msg":"Stopped"`) {
		t.Errorf("logs lack Draining, then Shutting down and Stopped:\n%s", logs)
	}
}

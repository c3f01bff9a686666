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

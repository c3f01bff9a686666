package miniprogram_test

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
)

// demoMiniApp is the demo store's mini-program appid (demoMiniAppID in
// cmd/checkout/demo.go): a mismatch fails the Node tests' appId check.
const demoMiniApp = "wxdemo0000000000mp"

var reDemoAPIKey = regexp.MustCompile(`API key:\s+(\S+)`)

// TestMiniProgramExampleDemo runs the same Node tests against the demo as
// a developer starts it: the checkout binary with nothing configured
// (in-process Redis, sandbox gateway, wallet emulator, demo merchant),
// its API key read from the banner. The demo keeps real time, so the
// "expired" case waits out the shortest lifetime a checkout may have.
func TestMiniProgramExampleDemo(t *testing.T) {
	node := needNode(t)
	s := startDemo(t)
	runExample(t, node, s, func(id string) {
		deadline := time.Now().Add(checkout.MinTTL + 2*time.Minute)
		for {
			var c created
			s.api(t, http.MethodGet, "/v1/checkouts/"+id, nil, &c)
			if c.Status == string(checkout.StatusExpired) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("checkout %s is %q %s after it was created with the shortest lifetime, want expired", id, c.Status, checkout.MinTTL+2*time.Minute)
			}
			time.Sleep(time.Second)
		}
	})
}

// startDemo builds cmd/checkout (with -race when this test is, so the
// build reuses the packages this test's build left in the cache) and
// starts it in demo mode on a free loopback port.
func startDemo(t *testing.T) *service {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the demo binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "checkout")
	args := []string{"build", "-o", bin}
	if raceBuild {
		args = append(args, "-race")
	}
	if out, err := exec.Command(goTool, append(args, "github.com/wallet-checkout/checkout/cmd/checkout")...).CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/checkout: %v\n%s", err, out)
	}

	addrFile := filepath.Join(dir, "addr")
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-addr-file", addrFile)
	// The demo is what starts with nothing set: none of this machine's
	// settings reach it.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CHECKOUT_") && !strings.HasPrefix(kv, "REDIS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("demo stderr:\n%s", stderr.String())
		}
	})

	// A race-built binary starts slowly on a loaded machine: generous.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		addr, err := os.ReadFile(addrFile)
		if m := reDemoAPIKey.FindStringSubmatch(stdout.String()); err == nil && len(addr) > 0 && m != nil {
			return &service{url: "http://" + string(addr), apiKey: m[1], miniApp: demoMiniApp}
		}
		select {
		case <-done:
			t.Fatalf("the demo exited before it listened:\n%s\n%s", stdout.String(), stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo printed no API key and no address in 2 minutes:\n%s\n%s", stdout.String(), stderr.String())
		}
	}
}

// lockedBuffer is a bytes.Buffer the process's output goroutine writes
// while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

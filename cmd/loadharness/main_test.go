package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/internal/redistest"
)

// TestMain lets the test binary serve as the sse kind's child processes,
// as the harness's own binary does.
func TestMain(m *testing.M) {
	if code, ok := childMain(); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestHarnessRuns keeps the harness working: one short round of every kind
// against miniredis (the numbers mean nothing here), every answer the
// expected status, one row per kind, and a few event streams held, paid
// and closed in each child process.
func TestHarnessRuns(t *testing.T) {
	mr, _ := redistest.Miniredis(t)
	firstNotifies = 20
	var out strings.Builder
	if err := run(&out, "redis://"+mr.Addr(), 1, 300*time.Millisecond, 2, 20, ""); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, row := range []string{"page ", "status ", "create ", "notify ", "notify-first ", "sse opens/s ", "sse KB per held stream (RSS) ", "sse RSS after close "} {
		if !strings.Contains(out.String(), "\n"+row) {
			t.Errorf("no %q row in\n%s", row, out.String())
		}
	}
}

package main

import (
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/internal/redistest"
)

// TestHarnessRuns keeps the harness working: one short round of every kind
// against miniredis (the numbers mean nothing here), every answer the
// expected status, one row per kind.
func TestHarnessRuns(t *testing.T) {
	mr, _ := redistest.Miniredis(t)
	var out strings.Builder
	if err := run(&out, "redis://"+mr.Addr(), 1, 300*time.Millisecond, 2, ""); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, row := range []string{"page ", "status ", "create ", "notify "} {
		if !strings.Contains(out.String(), "\n"+row) {
			t.Errorf("no %q row in\n%s", row, out.String())
		}
	}
}

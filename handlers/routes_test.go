package handlers_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/payments"
)

// TestRoutesGolden pins the service's map: every method, path and handler
// gin has registered with the demo mounts (sandbox, wallet emulator) on, against
// testdata/routes.txt. A route added outside routes.go's reading order, or
// one lost in a move, changes this list (go test -run TestRoutesGolden
// -update rewrites it; review the diff).
func TestRoutesGolden(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { rdb.Close() })
	dir, err := checkout.NewDirectory(nil)
	if err != nil {
		t.Fatal(err)
	}
	noop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	a := build(t, &app.Config{Redis: rdb, Directory: dir, Accounts: payments.NewAccounts(), Sandbox: noop, WalletSim: noop})
	engine, ok := a.Handler.(interface{ Routes() gin.RoutesInfo })
	if !ok {
		t.Fatalf("New returned %T, not a gin engine", a.Handler)
	}
	var lines []string
	for _, r := range engine.Routes() {
		name := strings.TrimPrefix(r.Handler, "github.com/wallet-checkout/checkout/")
		if strings.Contains(name, ".WrapH.") {
			// A mounted http.Handler is a closure named after the function
			// that wrapped it and its rank there: the path says which.
			name = "gin.WrapH(http.Handler)"
		}
		lines = append(lines, fmt.Sprintf("%-7s %-55s %s", r.Method, r.Path, name))
	}
	// gin lists routes in its trees' order, which follows registration
	// order and priorities; sorted, the list changes only with the routes.
	slices.Sort(lines)
	got := []byte(strings.Join(lines, "\n") + "\n")

	path := filepath.Join("testdata", "routes.txt")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("registered routes differ from %s (a route registered outside routes.go, or lost?):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

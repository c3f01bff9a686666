package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/internal/redistest"
)

// TestReconcileCommand runs `checkout reconcile` against a sandbox gateway
// on httptest and the test Redis: its exit codes and its one line.
func TestReconcileCommand(t *testing.T) {
	// The command writes its keys without a prefix, some of them shared
	// ({wh}:due) and some not named after the merchant ({wh}:evt:…): on a
	// Redis of its own, as the tests that run the service do, so nothing is
	// left on a server others share.
	var redisURL string
	if _, err := exec.LookPath("redis-server"); redistest.ForcedMiniredis() || err != nil && os.Getenv("REDIS_REQUIRED") != "1" {
		m, _ := redistest.Miniredis(t)
		redisURL = "redis://" + m.Addr() + "/0"
	} else {
		redisURL = realRedisURL(t)
	}
	ropts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(ropts)
	t.Cleanup(func() { _ = rdb.Close() })

	sb, err := sandbox.New(sandbox.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DropNotifies: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(func() { srv.Close(); sb.Close() })
	st := sandbox.GenerateStore()
	if err := sb.AddStore(st); err != nil {
		t.Fatal(err)
	}
	merchant := "cli" + strings.ToLower(rand.Text()[:10])
	yaml := fmt.Sprintf(`merchants:
  - id: %s
    name: CLI Shop
    redirect_hosts: [shop.example.com]
    api_keys: [%s]
    stores:
      - id: main
        sandbox: true
        gateway:
          base_url: %s
          open_id: %s
          open_key: ${CLI_OPEN_KEY}
          shop_pass: ${CLI_SHOP_PASS}
        alipay: {enabled: true, mode: redirect}
`, merchant, "sha256:"+strings.Repeat("ab", 32), srv.URL+sb.Prefix(), st.OpenID)
	path := filepath.Join(t.TempDir(), "merchants.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"CHECKOUT_CONFIG": path, "REDIS_URL": redisURL, "CHECKOUT_SESSION_KEYS": testSessionKey,
		"CHECKOUT_SIGNING_SECRET": testSigning, "CLI_OPEN_KEY": st.OpenKey, "CLI_SHOP_PASS": st.ShopPass,
		"CHECKOUT_LOG_LEVEL": "error",
	}
	cn := gateway.ChinaTime()
	now := time.Now().In(cn)
	yesterday := time.Date(now.Year(), now.Month(), now.Day(), 12, 0, 0, 0, cn).AddDate(0, 0, -1)
	date := yesterday.Format("2006-01-02")
	line := regexp.MustCompile(`^reconciliation rc_\w{24}: store main ` + date +
		`: (\d+) gateway orders \(\d+ payments, \d+ refunds\), (\d+) sent; (\d+) open, (\d+) auto-fixed, (\d+) explained, \d+ acknowledged, \d+ resolved\n$`)
	runCLI := func(t *testing.T, env map[string]string, args ...string) (int, string, string) {
		t.Helper()
		return runToExit(t, env, append([]string{"reconcile"}, args...)...)
	}
	counts := func(t *testing.T, out string) []string {
		t.Helper()
		m := line.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("output %q does not match %s", out, line)
		}
		return m[1:]
	}

	t.Run("clean day", func(t *testing.T) {
		code, out, errOut := runCLI(t, env, "-store", "main", "-date", date)
		if code != exitOK {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		if c := counts(t, out); c[0] != "0" || c[2] != "0" {
			t.Errorf("counts %v", c)
		}
	})
	t.Run("foreign order: explained", func(t *testing.T) {
		if _, err := sb.AddOrder(st.OpenID, sandbox.FaultOrder{OutNo: "POS1", Amount: 500, AddTime: yesterday}); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI(t, env, "-store", "main", "-date", date, "-merchant", merchant)
		if c := counts(t, out); code != exitOK || c[0] != "1" || c[2] != "0" || c[4] != "1" {
			t.Fatalf("exit %d, counts %v\n%s", code, c, errOut)
		}
	})
	t.Run("unknown order: open", func(t *testing.T) {
		id, _ := checkout.NewID()
		if _, err := sb.AddOrder(st.OpenID, sandbox.FaultOrder{OutNo: checkout.OutNo(id, 1), Amount: 600, AddTime: yesterday, Remark: id}); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI(t, env, "-store", "main", "-date", date)
		if c := counts(t, out); code != exitDifferences || c[0] != "2" || c[2] != "1" {
			t.Fatalf("exit %d, counts %v\n%s", code, c, errOut)
		}
	})
	t.Run("explained and resolved: counted once", func(t *testing.T) {
		// The merchant resolves the foreign order's difference (as POST
		// …/differences/{id} does).
		ctx := context.Background()
		key := "rc:{m:" + merchant + ":main}:run:" + strings.ReplaceAll(date, "-", "") + ":d"
		diffs, err := rdb.HGetAll(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		for id, v := range diffs {
			if strings.Contains(v, `"out_no":"POS1"`) {
				rdb.HSet(ctx, key, id, strings.Replace(v, `"status":"acknowledged"`, `"status":"resolved"`, 1))
			}
		}
		code, out, errOut := runCLI(t, env, "-store", "main", "-date", date)
		if !strings.HasSuffix(out, " 1 open, 0 auto-fixed, 0 explained, 0 acknowledged, 1 resolved\n") || code != exitDifferences {
			t.Fatalf("exit %d %q\n%s", code, out, errOut)
		}
	})
	t.Run("bad arguments", func(t *testing.T) {
		demo := map[string]string{}
		for _, args := range [][]string{
			{"-date", date},                        // no store
			{"-store", "nope", "-date", date},      // unknown store
			{"-store", "main", "-date", "1.12.26"}, // bad date
			{"-store", "main", "-date", now.AddDate(0, 0, 2).Format("2006-01-02")}, // not begun
			{"-store", "main", "stray"},
		} {
			if code, _, errOut := runCLI(t, env, args...); code != exitUsage || errOut == "" {
				t.Errorf("%v: exit %d %q", args, code, errOut)
			}
		}
		if code, _, errOut := runCLI(t, demo, "-store", "main"); code != exitUsage || !strings.Contains(errOut, "CHECKOUT_CONFIG") {
			t.Errorf("demo mode: exit %d %q", code, errOut)
		}
	})
	t.Run("gateway down", func(t *testing.T) {
		srv.Close()
		code, out, errOut := runCLI(t, env, "-store", "main", "-date", date)
		if code != exitFailed || out != "" || !strings.Contains(errOut, "gateway") {
			t.Errorf("exit %d %q %q", code, out, errOut)
		}
		if strings.Contains(errOut, st.OpenKey) {
			t.Error("the open_key is in the output")
		}
	})
}

package metrics

import (
	"context"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

type stubPool struct{}

func (stubPool) PoolStats() *redis.PoolStats { return &redis.PoolStats{TotalConns: 3} }

// exported builds the registry as app wires it, touches every metric once
// (a vector shows no series before its first child) and returns the names
// of the checkout_ families, histograms' series suffixes included.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	m := New(Options{Version: "v", Commit: "c"})
	m.AddProbes(Probes{
		WebhookQueue:     func(context.Context) (int64, time.Time, error) { return 0, time.Time{}, nil },
		ReconcilerOldest: func(context.Context) (time.Time, error) { return time.Time{}, nil },
	})
	m.AddRedisPool(stubPool{})
	m.Request("/x", "GET", 200, time.Millisecond)
	m.GatewayCall("paystatus", "ok", time.Millisecond)
	m.NotifyReceived("success")
	m.Confirmed("notify", "m")
	m.Transition("open", "pending", "m")
	m.LatePayment()
	m.DuplicatePayment()
	m.AutoRefund("late")
	m.RefundFinished("succeeded", "m")
	m.WebhookDelivery("ok", "m")
	m.RateLimited("api")
	m.StreamOpened()
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range fams {
		n := f.GetName()
		if !strings.HasPrefix(n, namespace+"_") {
			continue
		}
		names[n] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_count", "_sum"} {
				names[n+s] = true
			}
		}
	}
	return names
}

var metricName = regexp.MustCompile(`\bcheckout_[a-z0-9_]*[a-z0-9]`)

// TestDocumentedNamesExist: every metric name docs/operations.md (its
// table and its alert rules) and the Grafana dashboard use is one the
// service exports, and operations.md lists every one it exports.
func TestDocumentedNamesExist(t *testing.T) {
	have := exported(t)
	used := map[string][]string{}
	for _, file := range []string{"../docs/operations.md", "../docs/grafana-dashboard.json"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range metricName.FindAllString(string(b), -1) {
			used[n] = append(used[n], file)
		}
	}
	for n, files := range used {
		if !have[n] {
			t.Errorf("%s (used in %s) is not a metric the service exports", n, files[0])
		}
	}
	doc, _ := os.ReadFile("../docs/operations.md")
	var missing []string
	for n := range have {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_count"), "_sum")
		if base == n && !strings.Contains(string(doc), "`"+n+"`") {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("docs/operations.md does not list %v", missing)
	}
	if len(used) < 20 {
		t.Errorf("only %d names found in the docs: is the pattern right?", len(used))
	}
}

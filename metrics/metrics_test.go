package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRequestLabelsBounded: an unmatched path and a made-up method fold
// into fixed values, so a scanner cannot grow the series.
func TestRequestLabelsBounded(t *testing.T) {
	m := New(Options{})
	for i := range 100 {
		m.Request("", "M"+strings.Repeat("X", i), 404, time.Millisecond)
	}
	m.Request("/c/:id", http.MethodGet, 200, time.Millisecond)
	m.Request("/c/:id", http.MethodGet, 200, time.Millisecond)
	if n := testutil.CollectAndCount(m.httpRequests); n != 2 {
		t.Errorf("%d request series, want 2", n)
	}
	if v := testutil.ToFloat64(m.httpRequests.WithLabelValues("unmatched", "OTHER", "404")); v != 100 {
		t.Errorf("unmatched OTHER 404 = %v, want 100", v)
	}
	if v := testutil.ToFloat64(m.httpRequests.WithLabelValues("/c/:id", "GET", "200")); v != 2 {
		t.Errorf("/c/:id GET 200 = %v, want 2", v)
	}
}

// TestProbes: the scrape-time reads give the queue's depth and the ages
// of what is overdue; a failing read leaves its series out, never fails
// the scrape.
func TestProbes(t *testing.T) {
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	m := New(Options{})
	m.AddProbes(Probes{
		WebhookQueue: func(context.Context) (int64, time.Time, error) { return 7, now.Add(-90 * time.Second), nil },
		ReconcilerOldest: func(context.Context) (time.Time, error) {
			return time.Time{}, errors.New("redis down")
		},
		Clock: func() time.Time { return now },
	})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := testutil.GatherAndCount(m.reg, NameWebhookQueueDepth, NameWebhookOldestDueAge, NameReconcilerLag)
	if err != nil || got != 2 || resp.StatusCode != http.StatusOK {
		t.Fatalf("%d series (%v), scrape %s; want the two webhook ones", got, err, resp.Status)
	}
	want := `
# HELP checkout_webhook_oldest_due_age_seconds How long the oldest due webhook delivery has been due (0 when none is due).
# TYPE checkout_webhook_oldest_due_age_seconds gauge
checkout_webhook_oldest_due_age_seconds 90
# HELP checkout_webhook_queue_depth Webhook deliveries waiting in Redis (due now or later, claimed or not).
# TYPE checkout_webhook_queue_depth gauge
checkout_webhook_queue_depth 7
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want), NameWebhookQueueDepth, NameWebhookOldestDueAge); err != nil {
		t.Error(err)
	}
	if pastSeconds(now, now.Add(time.Minute)) != 0 || pastSeconds(now, time.Time{}) != 0 {
		t.Error("a future or zero due time is no lag")
	}
}

// BenchmarkRequest is the cost the middleware adds to a request: a cached
// route's counter and histogram; "parallel" on every core at once, on the
// same series (the worst case: one hot route).
func BenchmarkRequest(b *testing.B) {
	m := New(Options{})
	m.Request("/c/:id", http.MethodGet, 200, time.Millisecond)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			m.Request("/c/:id", http.MethodGet, 200, time.Millisecond)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Request("/c/:id", http.MethodGet, 200, time.Millisecond)
			}
		})
	})
}

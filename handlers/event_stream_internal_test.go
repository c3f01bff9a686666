package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// countingLog counts the Redis reads a merchant stream would make.
type countingLog struct {
	EventLog
	heads, reads atomic.Int64
}

func (l *countingLog) Head(context.Context, string) (int64, error) { l.heads.Add(1); return 0, nil }
func (l *countingLog) LogAfter(_ context.Context, _ string, pos int64, _ int) ([]webhook.Streamed, int64, error) {
	l.reads.Add(1)
	return nil, pos, nil
}

// TestMerchantStreamReadSlots: merchant streams read Redis only through
// the streams' read slots, which the payers' streams share, so however
// many merchants stream they never hold more connections than
// StreamLimits.Reads: with every slot taken a stream does not open (503,
// no read), and a held stream skips its polls until a slot is free.
func TestMerchantStreamReadSlots(t *testing.T) {
	log := &countingLog{}
	h := &handler{log: slog.New(slog.DiscardHandler), events: log, merchantStreams: newStreamCounts(merchantStreamLimits),
		pages: &pages{slots: make(readSlots, 1), PagesDeps: PagesDeps{Heartbeat: time.Hour}}}
	r := gin.New()
	r.Use(h.serve)
	r.GET("/v1/events/stream", func(c *gin.Context) { requestOf(c).api.merchant = &checkout.Merchant{ID: "m"} }, h.streamEvents)
	srv := httptest.NewServer(r)
	defer srv.Close()

	taken, _ := h.pages.slots.try()
	res, err := http.Get(srv.URL + "/v1/events/stream")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || log.heads.Load() != 0 || log.reads.Load() != 0 {
		t.Fatalf("with no slot free: %d, %d heads, %d reads; want 503 and no read", res.StatusCode, log.heads.Load(), log.reads.Load())
	}
	taken()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/events/stream", nil)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || log.heads.Load() != 1 {
		t.Fatalf("with a slot: %d, %d heads", res.StatusCode, log.heads.Load())
	}
	// Polls happen while the slot is free ...
	deadline := time.Now().Add(30 * time.Second)
	for log.reads.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the held stream does not poll")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// ... and are skipped while it is taken: wait until a poll is
	// certainly due, then check none read.
	for {
		if rel, ok := h.pages.slots.try(); ok {
			taken = rel
			break
		}
	}
	before := log.reads.Load()
	time.Sleep(3 * merchantStreamPoll)
	if n := log.reads.Load(); n != before {
		t.Fatalf("%d reads while every slot was taken", n-before)
	}
	taken()
}

// TestSSEEvent: one event, and a body with line breaks split into data
// lines that an SSE reader joins back.
func TestSSEEvent(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"id":"evt_1"}`, "id: evt_1\nevent: checkout.paid\ndata: {\"id\":\"evt_1\"}\n\n"},
		{"{\n\"id\":\"evt_1\"\r\n}", "id: evt_1\nevent: checkout.paid\ndata: {\ndata: \"id\":\"evt_1\"\ndata: }\n\n"},
	} {
		if got := string(sseEvent(webhook.Streamed{ID: "evt_1", Type: "checkout.paid", Body: []byte(tc.body)})); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.body, got, tc.want)
		}
	}
}

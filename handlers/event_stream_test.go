package handlers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/handlers"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// merchantEvent is one event read from a stream.
type merchantEvent struct {
	id, typ, data string
}

// merchantStream is an open GET /v1/events/stream.
type merchantStream struct {
	res    *http.Response
	cancel context.CancelFunc
	events chan merchantEvent
}

// openMerchantStream opens the stream with key and the given headers; it fails
// the test on any answer but 200 (see streamAnswer for refusals).
func openMerchantStream(t *testing.T, base, query, key string, hdr ...string) *merchantStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/v1/events/stream"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		res.Body.Close()
		cancel()
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	s := &merchantStream{res: res, cancel: cancel, events: make(chan merchantEvent, 1000)}
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var ev merchantEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.data != "" {
					s.events <- ev
				}
				ev = merchantEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.typ = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *merchantStream) close() { s.cancel(); s.res.Body.Close() }

// next waits for the stream's next event, generously.
func (s *merchantStream) next(t *testing.T) merchantEvent {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no event within 30 s")
	}
	return merchantEvent{}
}

// emit stores an event of merchant A about a new checkout, as the use
// cases do.
func (e *evEnv) emit(typ string) webhook.Event {
	e.t.Helper()
	r := handlers.Do(e.t, e.api, "POST", "/v1/checkouts", e.keyA, `{"amount":100}`)
	id, _ := r.JSON(e.t)["id"].(string)
	c, err := e.repo.Get(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	ev, err := webhook.NewEvent(typ, c, "https://pay.example", e.clk.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.hooks.Emit(context.Background(), ev); err != nil {
		e.t.Fatal(err)
	}
	return ev
}

// TestEventStream: a held stream gets each new event, its id, type and
// stored body; a reconnection with Last-Event-ID gets exactly the events
// stored meanwhile, in order, then the new ones; another merchant's
// stream sees none of them.
func TestEventStream(t *testing.T) {
	e := newEvEnv(t)
	before := e.emit(webhook.TypeCancelled) // before any stream: not sent without a cursor

	held := openMerchantStream(t, e.api.URL, "", e.keyA)
	other := openMerchantStream(t, e.api.URL, "", e.keyB)
	first := e.emit(webhook.TypePaid)
	got := held.next(t)
	if got.id != first.ID || got.typ != webhook.TypePaid {
		t.Fatalf("first event: %+v, want %s", got, first.ID)
	}
	var body webhook.Event
	if err := json.Unmarshal([]byte(got.data), &body); err != nil || body.ID != first.ID || body.CheckoutID != first.CheckoutID {
		t.Fatalf("data %s: %v", got.data, err)
	}
	held.close()

	// Missed while away, then one more once back.
	var missed []string
	for range 3 {
		missed = append(missed, e.emit(webhook.TypeExpired).ID)
	}
	back := openMerchantStream(t, e.api.URL, "?since="+before.ID, e.keyA, "Last-Event-ID", first.ID)
	for i, want := range missed {
		if got := back.next(t); got.id != want {
			t.Fatalf("resumed event %d: %s, want %s", i, got.id, want)
		}
	}
	later := e.emit(webhook.TypePaid)
	if got := back.next(t); got.id != later.ID {
		t.Fatalf("after the missed ones: %s, want %s", got.id, later.ID)
	}

	// ?since= an event id: what followed it, the cursor included nothing
	// before.
	since := openMerchantStream(t, e.api.URL, "?since="+before.ID, e.keyA)
	for i, want := range append([]string{first.ID}, append(missed, later.ID)...) {
		if got := since.next(t); got.id != want {
			t.Fatalf("since event %d: %s, want %s", i, got.id, want)
		}
	}
	// ?since= a time long ago: everything.
	all := openMerchantStream(t, e.api.URL, "?since="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), e.keyA)
	if got := all.next(t); got.id != before.ID {
		t.Fatalf("since an hour ago, first: %s, want %s", got.id, before.ID)
	}

	select {
	case ev, ok := <-other.events:
		if ok {
			t.Fatalf("merchant B saw %+v", ev)
		}
	default:
	}
}

// TestEventStreamRefusals: no key, a bad key, a malformed or unknown
// cursor (another merchant's event included) are refused with the JSON
// error before the stream opens; beyond the per-merchant cap, 429.
func TestEventStreamRefusals(t *testing.T) {
	e := newEvEnv(t)
	mine := e.emit(webhook.TypePaid)
	for _, tc := range []struct {
		name, query, key, last string
		status                 int
		code, param            string
	}{
		{"no key", "", "", "", 401, "unauthorized", ""},
		{"bad key", "", "sk_test_nope", "", 401, "unauthorized", ""},
		{"garbage Last-Event-ID", "", e.keyA, "evt_../../x", 400, "invalid_parameter", "Last-Event-ID"},
		{"unknown Last-Event-ID", "", e.keyA, "evt_000000000000000000000000", 400, "invalid_parameter", "Last-Event-ID"},
		{"another merchant's event", "", e.keyB, mine.ID, 400, "invalid_parameter", "Last-Event-ID"},
		{"garbage since", "?since=yesterday", e.keyA, "", 400, "invalid_parameter", "since"},
		{"unknown since", "?since=evt_000000000000000000000000", e.keyA, "", 400, "invalid_parameter", "since"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.last != "" {
				hdr = []string{"Last-Event-ID", tc.last}
			}
			r := handlers.Do(t, e.api, "GET", "/v1/events/stream"+tc.query, tc.key, "", hdr...)
			code, param := handlers.ErrorOf(t, r.Status, r.Body)
			if r.Status != tc.status || code != tc.code || param != tc.param {
				t.Errorf("%d %s %s, want %d %s %s", r.Status, code, param, tc.status, tc.code, tc.param)
			}
		})
	}

	// The per-merchant cap: five held, the sixth refused, and a place
	// freed by a leaving stream is taken again.
	var open []*merchantStream
	for range 5 {
		open = append(open, openMerchantStream(t, e.api.URL, "", e.keyA))
	}
	r := handlers.Do(t, e.api, "GET", "/v1/events/stream", e.keyA, "")
	if code, _ := handlers.ErrorOf(t, r.Status, r.Body); r.Status != http.StatusTooManyRequests || code != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("sixth stream: %d %s %v", r.Status, r.Body, r.Header)
	}
	open[0].close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := streamStatus(t, e.api.URL, e.keyA)
		if r == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a freed place was not taken again: %d", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEventStreamOutlivesReadTimeout: the binary's server has a
// ReadTimeout (30 s), which on HTTP/1.x would end a long request's
// context; a stream held past it still gets new events.
func TestEventStreamOutlivesReadTimeout(t *testing.T) {
	e := newEvEnv(t)
	srv := httptest.NewUnstartedServer(e.api.Config.Handler)
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	s := openMerchantStream(t, srv.URL, "", e.keyA)
	time.Sleep(time.Second) // past the ReadTimeout: the point of the test
	ev := e.emit(webhook.TypePaid)
	if got := s.next(t); got.id != ev.ID {
		t.Fatalf("got %+v, want %s", got, ev.ID)
	}
}

// The stream's `data:` is the event's stored body, byte for byte: what
// its webhook delivery signs.
func TestEventStreamBodyIsTheDeliveryBody(t *testing.T) {
	e := newEvEnv(t)
	s := openMerchantStream(t, e.api.URL, "", e.keyA)
	ev := e.emit(webhook.TypePaid)
	got := s.next(t)
	e.tick()
	var delivered string
	for _, d := range e.rc.deliveries() {
		if d.id == ev.ID {
			delivered = string(d.body)
		}
	}
	if delivered == "" || got.data != delivered {
		t.Fatalf("streamed\n%s\ndelivered\n%s", got.data, delivered)
	}
}

// streamStatus opens a stream, notes its status and closes it.
func streamStatus(t *testing.T, base, key string) int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/events/stream", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

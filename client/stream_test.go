package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// sseServer answers each GET /v1/events/stream with the next script: the
// events it writes (after the request's Last-Event-ID), then how it ends.
type sseServer struct {
	mu    sync.Mutex
	lasts []string // Last-Event-ID of each request
	calls int
	serve []func(w http.ResponseWriter, r *http.Request)
}

func (s *sseServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.lasts = append(s.lasts, r.Header.Get("Last-Event-ID"))
	n := s.calls
	s.calls++
	s.mu.Unlock()
	s.serve[min(n, len(s.serve)-1)](w, r)
}

// sse writes events id:type pairs, then returns (which ends the stream)
// or, with hold, waits for the client to leave.
func sse(hold bool, ids ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "retry: 3000\n\n: ping\n\n")
		for _, id := range ids {
			fmt.Fprintf(w, "id: %s\nevent: checkout.paid\ndata: {\"id\":%q}\n\n", id, id)
		}
		w.(http.Flusher).Flush()
		if hold {
			<-r.Context().Done()
		}
	}
}

// dropAfter writes one event, then closes the connection under the
// stream, as a network failure would.
func dropAfter(id string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		sse(false, id)(w, r)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}
}

// TestFollowEvents: events in order across a stream the service ended,
// a 503 and a dropped connection, each reconnection after the last event
// handed over; a 400 (the cursor is gone) ends it with the typed error.
func TestFollowEvents(t *testing.T) {
	s := &sseServer{serve: []func(http.ResponseWriter, *http.Request){
		sse(false, "evt_1", "evt_2"),
		errAnswer(503, "unavailable", "", "retry", "Retry-After", "0"),
		sse(false, "evt_3"),
		dropAfter("evt_4"),
		sse(false),
		errAnswer(400, "invalid_parameter", "Last-Event-ID", "gone"),
	}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, testKey, WithBackoff(time.Millisecond, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var drops int
	err = c.FollowEvents(context.Background(), &FollowParams{OnDrop: func(error, time.Duration) { drops++ }}, func(ev StreamedEvent) error {
		if want := fmt.Sprintf(`{"id":%q}`, ev.ID); string(ev.Data) != want || ev.Type != "checkout.paid" {
			t.Errorf("event %+v", ev)
		}
		got = append(got, ev.ID)
		return nil
	})
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "Last-Event-ID" {
		t.Fatalf("FollowEvents = %v, want the 400", err)
	}
	if fmt.Sprint(got) != "[evt_1 evt_2 evt_3 evt_4]" {
		t.Errorf("events %v", got)
	}
	if want := "[ evt_2 evt_2 evt_3 evt_4 evt_4]"; fmt.Sprint(s.lasts) != want {
		t.Errorf("Last-Event-ID sent %v, want %s", s.lasts, want)
	}
	if drops != 5 {
		t.Errorf("%d drops, want 5", drops)
	}
}

// TestStreamEventsIdle: a stream on which nothing arrives for the idle
// timeout (a connection that died silently) is ended, with a reason that
// says so; fn's error ends the stream as it is.
func TestStreamEventsIdle(t *testing.T) {
	s := &sseServer{serve: []func(http.ResponseWriter, *http.Request){sse(true, "evt_1")}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, testKey)
	if err != nil {
		t.Fatal(err)
	}
	last, err := c.StreamEvents(context.Background(), &StreamParams{IdleTimeout: 200 * time.Millisecond}, func(StreamedEvent) error { return nil })
	if last != "evt_1" || err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("StreamEvents = %q, %v", last, err)
	}
	stop := errors.New("enough")
	if _, err := c.StreamEvents(context.Background(), nil, func(StreamedEvent) error { return stop }); err != stop {
		t.Fatalf("fn's error: %v", err)
	}
}

// TestFollowEventsResumesFromFirstOpening: a stream started with the next
// event that drops before any came is reopened from the time the service
// first opened it (its Date header), so the events stored while the
// connection was away come; once an event came, Last-Event-ID takes over.
func TestFollowEventsResumesFromFirstOpening(t *testing.T) {
	opened := time.Date(2026, 12, 2, 9, 30, 15, 0, time.UTC)
	var mu sync.Mutex
	var queries []string
	s := &sseServer{serve: []func(http.ResponseWriter, *http.Request){
		func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Date", opened.Format(http.TimeFormat))
			sse(false)(w, r) // open, nothing, then gone
		},
		errAnswer(503, "unavailable", "", "retry", "Retry-After", "0"),
		sse(false, "evt_1"),
		errAnswer(400, "invalid_parameter", "Last-Event-ID", "gone"),
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.Query().Get("since"))
		mu.Unlock()
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, testKey, WithBackoff(time.Millisecond, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = c.FollowEvents(context.Background(), nil, func(ev StreamedEvent) error {
		got = append(got, ev.ID)
		return nil
	})
	if err == nil || fmt.Sprint(got) != "[evt_1]" {
		t.Fatalf("FollowEvents = %v, events %v", err, got)
	}
	want := opened.Format(time.RFC3339Nano)
	if fmt.Sprint(queries) != fmt.Sprintf("[ %s %s ]", want, want) {
		t.Errorf("since sent %q, want none, then %s twice, then none (Last-Event-ID)", queries, want)
	}
	if fmt.Sprint(s.lasts) != "[   evt_1]" {
		t.Errorf("Last-Event-ID sent %q", s.lasts)
	}
}

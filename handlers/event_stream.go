package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/notify/webhook"
)

// EventStream is what GET /v1/events/stream reads: a merchant's events in
// the order they were stored, each with its place; *webhook.Service
// implements it.
type EventStream interface {
	// Position is the place of one of the merchant's events
	// (webhook.ErrBadCursor when it is not in the merchant's log).
	Position(ctx context.Context, merchantID, id string) (int64, error)
	// PositionAt is the place just before the first event created at or
	// after t.
	PositionAt(ctx context.Context, merchantID string, t time.Time) (int64, error)
	// Head is the place of the latest event.
	Head(ctx context.Context, merchantID string) (int64, error)
	// LogAfter reads the events stored after pos, oldest first.
	LogAfter(ctx context.Context, merchantID string, pos int64, limit int) ([]webhook.Streamed, int64, error)
}

// Merchant event streams (GET /v1/events/stream).
//
// A new event reaches a held stream by a short poll of the merchant's log
// (one ZRANGEBYSCORE a second per stream, which answers nothing when
// nothing happened), not by pub/sub: the log is the truth a stream resumes
// from anyway, a poll cannot miss a publish lost in a reconnection to
// Redis, and the emit path (one Lua script, shared by every replica) stays
// as it is. A second is soon enough for webhooks watched on a laptop, and
// the caps below bound the polls: at most merchantStreamsMax a second per
// process, each through a stream read slot shared with the payers' streams
// (readSlots), so the streams together never hold more Redis connections
// than StreamLimits.Reads, whatever the merchants open.
const (
	// merchantStreamPoll is how often a stream looks for new events.
	merchantStreamPoll = time.Second
	// merchantStreamBatch is how many events one read of the log takes;
	// a stream that resumes far behind catches up batch by batch.
	merchantStreamBatch = 100
	// merchantStreamsMax caps the merchant streams open in one process,
	// merchantStreamsPerClient those from one client address and
	// merchantStreamsPerMerchant those of one merchant (all its keys).
	merchantStreamsMax         = 100
	merchantStreamsPerClient   = 10
	merchantStreamsPerMerchant = 5
	// merchantStreamRetry is the stream's `retry:`, and the Retry-After
	// of a refusal beyond a cap.
	merchantStreamRetry = 3 * time.Second
)

// merchantStreamLimits are the merchant streams' caps, counted like the
// payers' streams (streamCounts), on counts of their own: a merchant's
// streams never take a payer's place.
var merchantStreamLimits = StreamLimits{PerProcess: merchantStreamsMax, PerClient: merchantStreamsPerClient,
	PerCheckout: merchantStreamsPerMerchant}

var (
	errStreamCursor = invalid("Last-Event-ID", "not one of your events still in the stream (events are kept 30 days)")
	errStreamSince  = invalid("since", "an event id (evt_…) or an RFC 3339 time")
	errStreamsFull  = &requestError{answer: answer{status: http.StatusTooManyRequests, code: "rate_limited",
		message:    "too many event streams open for this merchant or address; close one or retry later",
		retryAfter: fmt.Sprint(int(merchantStreamRetry / time.Second))}}
)

// streamCursor is where a stream starts: after an event, at a time, or at
// the head (only events stored from now on).
type streamCursor struct {
	after   string
	at      time.Time
	errBase *requestError // the refusal when after is not in the log
}

// parseStreamCursor reads Last-Event-ID (what a reconnecting client
// sends) or else ?since=, before anything touches Redis.
func parseStreamCursor(c *gin.Context) (streamCursor, error) {
	if last := strings.TrimSpace(c.GetHeader("Last-Event-ID")); last != "" {
		if !webhook.ValidID(last) {
			return streamCursor{}, errStreamCursor
		}
		return streamCursor{after: last, errBase: errStreamCursor}, nil
	}
	since := c.Query("since")
	switch {
	case since == "":
		return streamCursor{}, nil
	case webhook.ValidID(since):
		return streamCursor{after: since, errBase: invalid("since", "not one of your events still in the stream")}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, since)
	if err != nil {
		return streamCursor{}, errStreamSince
	}
	return streamCursor{at: t}, nil
}

// streamEvents is GET /v1/events/stream: the merchant's events as
// server-sent events, oldest first, each with its id (`id:`, what
// Last-Event-ID resumes after), its type (`event:`) and its body exactly
// as its webhook deliveries carry it (`data:`), then each new event within
// about merchantStreamPoll, a comment line every Heartbeat, until the
// client leaves or the stream's life ends (the client reconnects with
// Last-Event-ID).
func (h *handler) streamEvents(c *gin.Context) {
	m := merchantOf(c)
	cur, err := parseStreamCursor(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	release, ok := h.merchantStreams.acquire(c.ClientIP(), m.ID)
	if !ok {
		h.fail(c, errStreamsFull)
		return
	}
	defer release()
	ctx := c.Request.Context()
	readDone, ok := h.pages.slots.wait(ctx, streamOpenWait)
	if !ok {
		h.fail(c, unavailable("open an event stream", errStreamBusy))
		return
	}
	pos, err := h.streamStart(ctx, m.ID, cur)
	readDone()
	if errors.Is(err, webhook.ErrBadCursor) {
		h.fail(c, cur.errBase)
		return
	}
	if err != nil {
		h.fail(c, unavailable("open an event stream", err))
		return
	}

	// The server's ReadTimeout would end a long request's context on
	// HTTP/1.x (net/http's background read times out): this request has
	// been read whole, so the stream lifts the deadline. A writer that
	// cannot (a recorder) has no such deadline.
	_ = http.NewResponseController(c.Writer).SetReadDeadline(time.Time{})
	w := c.Writer
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	if _, err := fmt.Fprintf(w, "retry: %d\n\n", merchantStreamRetry.Milliseconds()); err != nil {
		return
	}
	w.Flush()

	poll := time.NewTicker(merchantStreamPoll)
	defer poll.Stop()
	beat := time.NewTicker(h.pages.Heartbeat)
	defer beat.Stop()
	life := time.NewTimer(eventsMaxLife + jitter(0, eventsLifeJitter))
	defer life.Stop()
	for {
		// Send what is there, batch by batch, before waiting.
		for {
			evs, next, err := h.readLog(ctx, m.ID, pos)
			if errors.Is(err, errStreamBusy) {
				break // every read slot taken: the next tick tries again
			}
			if err != nil {
				// Redis hiccup or the client left: the client reconnects
				// with Last-Event-ID.
				return
			}
			for _, e := range evs {
				if _, err := w.Write(sseEvent(e)); err != nil {
					return
				}
			}
			if len(evs) > 0 {
				w.Flush()
			}
			// More may follow while the log moved on (a read that
			// moves nothing means the stream caught up).
			advanced := next != pos
			pos = next
			if !advanced {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-life.C:
			return
		case <-beat.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
			w.Flush()
		case <-poll.C:
		}
	}
}

// sseEvent is one event of the stream. The stored body is one line of
// JSON (json.Marshal escapes line breaks); were it ever not, each of its
// lines becomes a data line, which a reader joins back with "\n".
func sseEvent(e webhook.Streamed) []byte {
	b := make([]byte, 0, len(e.Body)+len(e.ID)+len(e.Type)+32)
	b = append(b, "id: "...)
	b = append(b, e.ID...)
	b = append(b, "\nevent: "...)
	b = append(b, e.Type...)
	b = append(b, '\n')
	body := bytes.ReplaceAll(e.Body, []byte("\r\n"), []byte("\n"))
	for _, line := range bytes.Split(body, []byte("\n")) {
		b = append(b, "data: "...)
		b = append(b, line...)
		b = append(b, '\n')
	}
	return append(b, '\n')
}

// streamStart finds the stream's first place.
func (h *handler) streamStart(ctx context.Context, merchantID string, cur streamCursor) (int64, error) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	switch {
	case cur.after != "":
		return h.events.Position(rctx, merchantID, cur.after)
	case !cur.at.IsZero():
		return h.events.PositionAt(rctx, merchantID, cur.at)
	}
	return h.events.Head(rctx, merchantID)
}

// readLog reads the events after pos through a stream read slot, or
// errStreamBusy when none is free.
func (h *handler) readLog(ctx context.Context, merchantID string, pos int64) ([]webhook.Streamed, int64, error) {
	done, ok := h.pages.slots.try()
	if !ok {
		return nil, pos, errStreamBusy
	}
	defer done()
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return h.events.LogAfter(rctx, merchantID, pos, merchantStreamBatch)
}

package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// StreamedEvent is one event of the events stream (GET /v1/events/stream).
type StreamedEvent struct {
	// ID is the event's id: pass it as StreamParams.After to resume after
	// it.
	ID string
	// Type is the event's type.
	Type string
	// Data is the event's JSON exactly as its webhook deliveries carry it
	// (decode it as an Event).
	Data []byte
}

// StreamParams chooses where a stream starts; the zero value starts with
// the next event stored.
type StreamParams struct {
	// After resumes after this event (sent as Last-Event-ID): you get
	// exactly the events stored after it, in order.
	After string
	// Since, when After is empty, starts with the first event created at
	// or after it.
	Since time.Time
	// IdleTimeout ends a stream on which nothing (not even the service's
	// heartbeat, every 15 s) arrived for this long: a connection that
	// died silently, say across a laptop's sleep. Default 45 s.
	IdleTimeout time.Duration
}

// defaultStreamIdle is StreamParams.IdleTimeout's default: three of the
// service's heartbeats.
const defaultStreamIdle = 45 * time.Second

// maxStreamLine bounds one line of the stream (an event's JSON).
const maxStreamLine = 4 << 20

// ErrStreamEnded is StreamEvents' error when the service ended the stream
// (its life is about 30 minutes, or it restarted): reconnect after the
// last event, as FollowEvents does.
var ErrStreamEnded = errors.New("client: the event stream ended")

// StreamEvents opens one events stream and calls fn with each event, in
// the order they were stored, until ctx is done, fn returns an error
// (returned as it is), the connection fails or the service ends the
// stream (ErrStreamEnded). It returns the id of the last event fn
// accepted ("" when none), which is where to resume. An answer other than
// 200 is an *Error (400 invalid_parameter when After is not one of your
// events any more). The stream is not retried: FollowEvents does that.
func (c *Client) StreamEvents(ctx context.Context, p *StreamParams, fn func(StreamedEvent) error) (last string, err error) {
	last, _, err = c.streamEvents(ctx, p, fn)
	return last, err
}

// streamEvents is StreamEvents, also returning when the service opened the
// stream (by its Date header; zero when it did not): where a stream that
// started with the next event resumes when it dropped before any came.
func (c *Client) streamEvents(ctx context.Context, p *StreamParams, fn func(StreamedEvent) error) (last string, opened time.Time, err error) {
	var params StreamParams
	if p != nil {
		params = *p
	}
	if params.IdleTimeout <= 0 {
		params.IdleTimeout = defaultStreamIdle
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	target := c.base.String() + "/v1/events/stream"
	if params.After == "" && !params.Since.IsZero() {
		target += "?" + url.Values{"since": {params.Since.UTC().Format(time.RFC3339Nano)}}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", c.userAgent)
	if params.After != "" {
		req.Header.Set("Last-Event-ID", params.After)
	}
	// The Client's timeout bounds whole calls; a stream is long-lived, so
	// it goes through the same transport without it, bounded by ctx and
	// the idle timer instead.
	hc := *c.hc
	hc.Timeout = 0
	var silent atomic.Bool
	idle := time.AfterFunc(params.IdleTimeout, func() { silent.Store(true); cancel() })
	defer idle.Stop()
	fail := func(err error) error {
		if silent.Load() {
			return fmt.Errorf("client: the event stream was silent for %v: %w", params.IdleTimeout, err)
		}
		return fmt.Errorf("client: the event stream: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", time.Time{}, fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		return "", time.Time{}, decodeError(resp, data)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return "", time.Time{}, fmt.Errorf("client: the events stream answered %q, not text/event-stream", ct)
	}
	// The service's clock, not ours: a laptop's may be off. Date has whole
	// seconds, so a resumption from it may also bring events stored in the
	// second before the stream opened, never miss one stored after.
	opened, err = http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		opened = time.Now()
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxStreamLine)
	var ev StreamedEvent
	var data bytes.Buffer
	for sc.Scan() {
		idle.Reset(params.IdleTimeout)
		line := sc.Bytes()
		if len(line) == 0 {
			// The end of an event: hand it over when it has data.
			if data.Len() > 0 {
				ev.Data = bytes.Clone(data.Bytes())
				if err := fn(ev); err != nil {
					return last, opened, err
				}
				if ev.ID != "" {
					last = ev.ID
				}
			}
			ev, data = StreamedEvent{}, bytes.Buffer{}
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "id":
			ev.ID = string(value)
		case "event":
			ev.Type = string(value)
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.Write(value)
		}
		// "retry" and comments (heartbeats) need nothing.
	}
	if err := sc.Err(); err != nil {
		return last, opened, fail(err)
	}
	if ctx.Err() != nil {
		return last, opened, fail(ctx.Err())
	}
	return last, opened, ErrStreamEnded
}

// FollowParams configures FollowEvents.
type FollowParams struct {
	StreamParams
	// OnDrop, when set, is told each time the stream dropped and when
	// FollowEvents will reconnect (for a log line).
	OnDrop func(err error, wait time.Duration)
}

// FollowEvents follows the events stream until ctx is done or fn returns
// an error: it reconnects whenever the stream drops (after a network
// error, a 5xx or 429, its end, a laptop's sleep) after the last event fn
// accepted, waiting the Client's backoff or the answer's Retry-After, so
// fn sees every event once, in order, for as long as the service keeps
// them. It returns fn's error, ctx's, or an *Error the service will not
// change its mind about (401, or 400 when the event to resume after is
// no longer kept).
func (c *Client) FollowEvents(ctx context.Context, p *FollowParams, fn func(StreamedEvent) error) error {
	var params FollowParams
	if p != nil {
		params = *p
	}
	var fnErr error
	wrapped := func(ev StreamedEvent) error {
		if err := fn(ev); err != nil {
			fnErr = err
			return err
		}
		return nil
	}
	for attempt := 0; ; attempt++ {
		last, opened, err := c.streamEvents(ctx, &params.StreamParams, wrapped)
		if fnErr != nil {
			return fnErr
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if last != "" {
			params.After, params.Since = last, time.Time{}
			attempt = 0 // it worked for a while: start the backoff again
		} else if params.After == "" && params.Since.IsZero() && !opened.IsZero() {
			// A stream that started with the next event dropped before
			// any came: the next one starts where it started, or the
			// events stored while away (a laptop's sleep) would be lost.
			params.Since = opened
		}
		var apiErr *Error
		wait := time.Duration(0)
		if errors.As(err, &apiErr) {
			if !apiErr.retryable() {
				return err
			}
			wait = apiErr.RetryAfter
		}
		if errors.Is(err, ErrStreamEnded) && last != "" {
			wait = c.minBackoff // a stream that ended after events: come back soon
		}
		if wait <= 0 {
			wait = c.backoff(attempt)
		}
		if params.OnDrop != nil {
			params.OnDrop(err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// GetEventBody returns one event's JSON as its webhook deliveries carry
// it: the event of GetEvent without its delivery (its fields in another
// order than a delivery's; re-sign what you send).
func (c *Client) GetEventBody(ctx context.Context, id string, opts ...RequestOption) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := c.do(ctx, request{method: http.MethodGet, path: "/v1/events/" + url.PathEscape(id)}, &fields, opts); err != nil {
		return nil, err
	}
	delete(fields, "delivery")
	b, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("client: event %s: %w", id, err)
	}
	return b, nil
}

package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/notify"
)

// Held event streams.
//
// A stream served the plain net/http way costs its connection's buffers
// (a 4 KB reader, a 4 KB writer and the response's 2 KB), two goroutines
// (the handler's, whose stack has grown to 16 KB through the middleware
// and the opening Redis reads, and net/http's background read) and the
// request's headers: about 40 KB of the process's memory per stream,
// 27 KB for a minimal gin handler (docs/performance.md). A page waiting
// for its payment needs none of it once its opening event is sent.
//
// So once the opening event is ready, an HTTP/1.x stream takes its
// connection over (http.Hijacker): it writes the answer's head itself
// (every header the middleware set, plus Connection: close, since the
// end of the stream is the end of the connection), lets the handler
// return (net/http drops its buffers and its goroutines), and is then
// one small goroutine blocked in a one-byte read of the connection. The
// read is how a departed payer is noticed (EOF, as net/http's background
// read does), and its deadline is the stream's only timer: it is set to
// the next heartbeat, re-read or end of life, and an update from the Hub
// moves it to the past, which wakes the read at once. The stream writes
// its events straight to the connection, each write with a deadline.
//
// A stream that cannot be taken over (HTTP/2, a test recorder) is served
// by streamLoop, as before. The access log line of a held stream is
// written when it is handed over (status 200, 0 bytes), not when it ends.

// streamWriteTimeout bounds one write to a held stream's connection: a
// payer whose connection stopped reading is let go.
const streamWriteTimeout = 10 * time.Second

// ctxStreamSlot holds the stream's place under the caps (admitStream).
const ctxStreamSlot = "stream_slot"

// streamSlot is a stream's place under the caps. admitStream gives it back
// when the handler returns, unless a held stream has kept it.
type streamSlot struct {
	release func()
	kept    bool
}

// keepStreamSlot hands the stream's place to a held stream, which gives
// it back when it ends.
func keepStreamSlot(c *gin.Context) (release func()) {
	v, ok := c.Get(ctxStreamSlot)
	if !ok {
		return func() {}
	}
	s := v.(*streamSlot)
	s.kept = true
	return s.release
}

// canHold reports whether the request's connection can be taken over: an
// HTTP/1.x request on a writer that can hijack. gin's writer hijacks
// through the one it wraps, so that is the one to ask.
func canHold(c *gin.Context) bool {
	if c.Request.ProtoMajor != 1 {
		return false
	}
	var w http.ResponseWriter = c.Writer
	if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); ok {
		w = u.Unwrap()
	}
	_, ok := w.(http.Hijacker)
	return ok
}

// heldStream is an event stream whose connection it owns.
type heldStream struct {
	h   *handler
	id  string
	ctx context.Context // the request's values, without its cancellation
	cur payStatus

	conn    net.Conn
	connMu  sync.Mutex // conn is set once taken over; wake may come before
	woken   atomic.Bool
	stopped atomic.Bool

	poll, beat                time.Duration
	nextPoll, nextBeat, endAt time.Time

	cancelWatch func()
	release     func()
}

// wake is the Hub's call for an update: it only flags the stream and
// moves its read deadline to the past, so the read returns at once.
func (s *heldStream) wake(u notify.Update) {
	if u.Stopped {
		s.stopped.Store(true)
	}
	s.woken.Store(true)
	s.connMu.Lock()
	if s.conn != nil {
		_ = s.conn.SetReadDeadline(time.Unix(1, 0))
	}
	s.connMu.Unlock()
}

// holdStream serves GET /c/:id/events on a connection it takes over (see
// the top of this file); canHold must have said yes.
func (h *handler) holdStream(c *gin.Context, ck *checkout.Checkout) {
	s := &heldStream{h: h, id: ck.ID, ctx: context.WithoutCancel(c.Request.Context()),
		poll: h.pages.EventsPoll, beat: h.pages.Heartbeat}
	// Watch before the first read, so no transition falls in between.
	s.cancelWatch = h.pages.Hub.Watch(ck.ID, s.wake)
	handedOver := false
	defer func() {
		if !handedOver {
			s.cancelWatch()
		}
	}()
	cur, err := h.payStatusOf(c.Request.Context(), ck)
	openReadDone(c)
	if err != nil {
		h.failPage(c, err, payerLang(c))
		return
	}
	s.cur = cur

	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	hd := c.Writer.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	// The stream's end is the connection's: no length, no chunks.
	hd.Set("Connection", "close")
	hd.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	_ = hd.Write(&head)
	head.WriteString("\r\n")
	fmt.Fprintf(&head, "retry: %d\n\n", jitter(streamRetryMin, streamRetryMax).Milliseconds())
	writeData(&head, cur)

	// What net/http read ahead of a pipelined request is dropped with its
	// buffers: the answer closes the connection.
	conn, _, err := c.Writer.Hijack()
	if err != nil {
		h.failPage(c, unavailable("take over the event stream's connection", err), payerLang(c))
		return
	}
	s.connMu.Lock()
	s.conn = conn
	s.connMu.Unlock()
	handedOver = true
	s.release = keepStreamSlot(c)
	if !s.write(head.Bytes()) || cur.final() {
		s.end()
		return
	}
	now := time.Now()
	s.nextPoll, s.nextBeat = now.Add(s.poll), now.Add(s.beat)
	s.endAt = now.Add(eventsMaxLife + jitter(0, eventsLifeJitter))
	go s.run()
}

// writeData appends s as a data event.
func writeData(b *bytes.Buffer, s payStatus) {
	j, _ := json.Marshal(s)
	b.WriteString("data: ")
	b.Write(j)
	b.WriteString("\n\n")
}

// write sends p, within streamWriteTimeout.
func (s *heldStream) write(p []byte) bool {
	if err := s.conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil {
		return false
	}
	_, err := s.conn.Write(p)
	return err == nil
}

// end lets the stream go: no more updates, the connection closed, its
// place under the caps given back.
func (s *heldStream) end() {
	s.cancelWatch()
	_ = s.conn.Close()
	s.release()
}

// heartbeatEvent is a comment line: it keeps proxies from closing an idle
// stream and tells the payer's browser the stream is alive.
var heartbeatEvent = []byte(": ping\n\n")

// run holds the stream until the payer leaves, a final state is sent,
// its life ends or the Hub stops.
func (s *heldStream) run() {
	defer s.end()
	var b [1]byte
	for {
		if s.stopped.Load() {
			return
		}
		now := time.Now()
		if !now.Before(s.endAt) {
			return
		}
		if s.woken.Swap(false) || !now.Before(s.nextPoll) {
			s.nextPoll = now.Add(s.poll)
			if !s.reread() {
				return
			}
			continue
		}
		if !now.Before(s.nextBeat) {
			if !s.write(heartbeatEvent) {
				return
			}
			s.nextBeat = now.Add(s.beat)
		}
		_ = s.conn.SetReadDeadline(earliest(s.nextPoll, s.nextBeat, s.endAt))
		// An update that came before the deadline above was set would
		// have its wake-up overwritten: look once more.
		if s.woken.Load() {
			continue
		}
		if _, err := s.conn.Read(b[:]); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return // the payer left
		}
		// A byte from the client (a pipelined request) is ignored: the
		// answer closes the connection.
	}
}

// reread re-reads the checkout and sends its state if it changed; false
// ends the stream.
func (s *heldStream) reread() bool {
	st, err := s.h.sharedPayStatus(s.ctx, s.id)
	if errors.Is(err, errStreamBusy) {
		// Every stream read slot is taken: the next tick or update tries
		// again.
		return true
	}
	if err != nil {
		// Redis hiccup: the page falls back to polling.
		return false
	}
	if st == s.cur {
		return true
	}
	var b bytes.Buffer
	writeData(&b, st)
	if !s.write(b.Bytes()) || st.final() {
		return false
	}
	s.cur = st
	return true
}

func earliest(ts ...time.Time) time.Time {
	m := ts[0]
	for _, t := range ts[1:] {
		if t.Before(m) {
			m = t
		}
	}
	return m
}

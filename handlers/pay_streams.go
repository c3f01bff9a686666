package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
)

// StreamLimits bound the result page's event streams (GET /c/:id/events)
// in one process. Beyond a cap the stream answers the polling hint (200, a
// `poll` event): the page then polls GET /c/:id/status, and the payer sees
// nothing different. config owns the defaults; every field must be
// positive.
type StreamLimits struct {
	// PerProcess caps the streams open in this process.
	PerProcess int
	// PerClient caps the streams open from one client address
	// (gin's ClientIP: X-Forwarded-For only from trusted proxies).
	PerClient int
	// PerCheckout caps the streams open on one checkout.
	PerCheckout int
	// Reads caps the Redis reads the streams make at one time (a
	// stream's opening reads and its re-reads). Keep it well below the
	// Redis pool size (go-redis: 10 connections per CPU), so that the
	// notify intake and the merchant API always find a connection.
	Reads int
}

func (l StreamLimits) check() error {
	if l.PerProcess <= 0 || l.PerClient <= 0 || l.PerCheckout <= 0 || l.Reads <= 0 {
		return errors.New("handlers: StreamLimits must all be positive")
	}
	return nil
}

// Reconnect and polling delays, each drawn anew per answer so that ten
// thousand pages told the same thing at the same moment do not come back
// in the same instant.
const (
	// streamRetryMin and streamRetryMax bound the `retry:` of a real
	// stream: how long the browser waits before it reconnects a dropped
	// one.
	streamRetryMin = 3 * time.Second
	streamRetryMax = 6 * time.Second
	// pollRetryMin and pollRetryMax bound the polling hint's interval
	// (and its `retry:`, for a client that reconnects anyway).
	pollRetryMin = 5 * time.Second
	pollRetryMax = 10 * time.Second
	// streamOpenWait is how long an opening stream waits for a read slot
	// before it answers the polling hint instead.
	streamOpenWait = time.Second
	// eventsLifeJitter spreads the end of streams opened together.
	eventsLifeJitter = 5 * time.Minute
)

// jitter returns a duration uniformly drawn from [lo, hi].
func jitter(lo, hi time.Duration) time.Duration {
	return lo + rand.N(hi-lo+1)
}

// streamCounts counts the open streams per process, per client address and
// per checkout. A key leaves its map when its count returns to zero, so
// the maps hold only what is open.
type streamCounts struct {
	lim        StreamLimits
	mu         sync.Mutex
	total      int
	byClient   map[string]int
	byCheckout map[string]int
	// obs is told of each place taken and given back.
	obs Observer
}

func newStreamCounts(l StreamLimits) *streamCounts {
	return &streamCounts{lim: l, byClient: map[string]int{}, byCheckout: map[string]int{}, obs: nopObserver{}}
}

// acquire takes a slot for a stream of checkout id from client, or reports
// false when a cap is reached. release gives the slot back; calling it
// more than once is harmless.
func (s *streamCounts) acquire(client, id string) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.total >= s.lim.PerProcess || s.byClient[client] >= s.lim.PerClient || s.byCheckout[id] >= s.lim.PerCheckout {
		return nil, false
	}
	s.total++
	s.byClient[client]++
	s.byCheckout[id]++
	s.obs.StreamOpened()
	var once sync.Once
	return func() { once.Do(func() { s.release(client, id) }) }, true
}

func (s *streamCounts) release(client, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total--
	s.obs.StreamClosed()
	if s.byClient[client]--; s.byClient[client] <= 0 {
		delete(s.byClient, client)
	}
	if s.byCheckout[id]--; s.byCheckout[id] <= 0 {
		delete(s.byCheckout, id)
	}
}

// open reports the counts (tests).
func (s *streamCounts) open() (total, clients, checkouts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total, len(s.byClient), len(s.byCheckout)
}

// readSlots bounds the Redis reads of the event streams in this process.
//
// Why a semaphore and not a second, small Redis pool: the streams read
// through the one checkout.Repo the rest of the service uses, and a second
// client would mean a second repository, a second set of connections to
// size and watch, and a second place for REDIS_URL's options. A
// semaphore well below the pool size leaves the rest of the pool to the
// notify intake, the merchant API and the loops whatever the streams do,
// and a stream that finds no slot skips that re-read (the next poll tick
// or update tries again) instead of queueing for a connection.
type readSlots chan struct{}

// errStreamBusy means every stream read slot was taken.
var errStreamBusy = errors.New("event streams: no read slot free")

// try takes a slot if one is free at once.
func (r readSlots) try() (release func(), ok bool) {
	select {
	case r <- struct{}{}:
		return r.releaser(), true
	default:
		return nil, false
	}
}

// wait takes a slot, waiting at most d.
func (r readSlots) wait(ctx context.Context, d time.Duration) (release func(), ok bool) {
	if rel, ok := r.try(); ok {
		return rel, true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r <- struct{}{}:
		return r.releaser(), true
	case <-t.C:
	case <-ctx.Done():
	}
	return nil, false
}

func (r readSlots) releaser() func() {
	var once sync.Once
	return func() { once.Do(func() { <-r }) }
}

// ctxOpenRead holds the release of the opening stream's read slot.
const ctxOpenRead = "stream_open_read"

// admitStream runs before anything of GET /c/:id/events reads Redis: it
// takes the stream's place under the caps and a read slot for its opening
// reads (the checkout's load and its first status), or answers the polling
// hint. The place is given back when the stream ends, however it ends
// (the deferred release runs on a panic too; a held stream gives it back
// itself).
func (h *handler) admitStream(c *gin.Context) {
	id := c.Param("id")
	if !checkout.ValidID(id) {
		c.Next() // requireCheckout answers not_found
		return
	}
	release, ok := h.pages.streams.acquire(c.ClientIP(), id)
	if !ok {
		h.pollInstead(c)
		return
	}
	// A held stream keeps its place past the handler's return
	// (keepStreamSlot) and gives it back when it ends.
	slot := &streamSlot{release: release}
	defer func() {
		if !slot.kept {
			release()
		}
	}()
	c.Set(ctxStreamSlot, slot)
	readDone, ok := h.pages.slots.wait(c.Request.Context(), streamOpenWait)
	if !ok {
		h.pollInstead(c)
		return
	}
	defer readDone()
	c.Set(ctxOpenRead, readDone)
	c.Next()
}

// openReadDone gives back the opening read slot (streamPayEvents, once its
// first status is read).
func openReadDone(c *gin.Context) {
	if v, ok := c.Get(ctxOpenRead); ok {
		if f, ok := v.(func()); ok {
			f()
		}
	}
}

// pollHint is the data of the `poll` event.
type pollHint struct {
	// PollMS is how often the page should poll StatusURL, in ms.
	PollMS    int64  `json:"poll_ms"`
	StatusURL string `json:"status_url"`
}

// pollInstead answers a stream that may not open: 200 with a `retry:` and
// a `poll` event that tells the page script to poll /c/:id/status instead,
// never an error (the payer's page must not change) and no Redis read.
func (h *handler) pollInstead(c *gin.Context) {
	ms := jitter(pollRetryMin, pollRetryMax).Milliseconds()
	b, _ := json.Marshal(pollHint{PollMS: ms, StatusURL: pagePath(c.Param("id"), "status")})
	hd := c.Writer.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	_, _ = fmt.Fprintf(c.Writer, "retry: %d\n\nevent: poll\ndata: %s\n\n", ms, b)
	c.Abort()
}

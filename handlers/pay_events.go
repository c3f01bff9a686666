package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
)

// Event stream timing.
const (
	// eventsPoll is the safety re-read beside the Hub's updates: it notices
	// expiry, which nothing publishes, and covers a lost publish.
	eventsPoll = 5 * time.Second
	// eventsMaxLife ends a stream so no connection lives forever (plus up
	// to eventsLifeJitter, so streams opened together do not all end
	// together); the browser's EventSource reconnects.
	eventsMaxLife = 30 * time.Minute
)

// streamPayEvents answers GET /c/:id/events with server-sent events: the
// current state at once, then one event per change, a comment line as a
// heartbeat every Heartbeat, and the end of the stream at a final state or
// when the payer leaves. An HTTP/1.x stream takes its connection over
// once its opening event is ready, which makes it about six times cheaper
// to hold (holdStream, pay_streams_held.go); any other is served by
// streamLoop.
func (h *handler) streamPayEvents(c *gin.Context) {
	ck := pageCheckoutOf(c)
	if canHold(c) {
		h.holdStream(c, ck)
		return
	}
	h.streamLoop(c, ck)
}

// streamLoop serves a stream whose connection cannot be taken over
// (HTTP/2): the handler's goroutine waits for updates, ticks and the
// payer's departure.
func (h *handler) streamLoop(c *gin.Context, ck *checkout.Checkout) {
	ctx := c.Request.Context()
	// Subscribe before the first read, so no transition falls in between.
	updates, cancel := h.pages.Hub.Subscribe(ck.ID)
	defer cancel()
	poll := h.pages.EventsPoll
	cur, err := h.payStatusOf(ctx, ck)
	openReadDone(c)
	if err != nil {
		h.failPage(c, err, payerLang(c))
		return
	}
	w := c.Writer
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	send := func(s payStatus) bool {
		b, _ := json.Marshal(s)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		w.Flush()
		return true
	}
	retry := jitter(streamRetryMin, streamRetryMax).Milliseconds()
	if _, err := fmt.Fprintf(w, "retry: %d\n\n", retry); err != nil || !send(cur) || cur.final() {
		return
	}
	pollT := time.NewTicker(poll)
	defer pollT.Stop()
	beat := time.NewTicker(h.pages.Heartbeat)
	defer beat.Stop()
	life := time.NewTimer(eventsMaxLife + jitter(0, eventsLifeJitter))
	defer life.Stop()
	for {
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
			continue
		case <-updates:
		case <-pollT.C:
		}
		s, err := h.sharedPayStatus(ctx, ck.ID)
		if errors.Is(err, errStreamBusy) {
			// Every stream read slot is taken: skip this re-read, the
			// next tick or update tries again.
			continue
		}
		if err != nil {
			// Redis hiccup or the payer left: the page falls back to polling.
			return
		}
		if s == cur {
			continue
		}
		if !send(s) || s.final() {
			return
		}
		cur = s
	}
}

// sharedPayStatus reads a checkout's status for its event streams. The
// streams waiting on one checkout wake together on a transition; they share
// one read (Redis round trips per change stay constant however many payers
// wait), detached from any one stream's request so that a leaving payer does
// not fail the others' read.
//
// The read runs on a goroutine of its own (DoChan), so that the deep stack
// of a Redis call grows there and not on the waiting streams, whose
// stacks then stay small.
func (h *handler) sharedPayStatus(ctx context.Context, id string) (payStatus, error) {
	res := <-h.pages.reads.DoChan(id, func() (any, error) {
		done, ok := h.pages.slots.try()
		if !ok {
			return payStatus{}, errStreamBusy
		}
		defer done()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		fresh, err := h.repo.Get(rctx, id)
		if err != nil {
			return payStatus{}, err
		}
		return h.payStatusOf(rctx, fresh)
	})
	if res.Err != nil {
		return payStatus{}, res.Err
	}
	return res.Val.(payStatus), nil
}

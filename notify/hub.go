package notify

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
)

// Update says that a checkout changed. Waiters re-read the checkout for the
// details; an Update with an empty Status means "you may have missed
// something" (the subscription was re-established): re-read too.
type Update struct {
	CheckoutID string
	Status     checkout.Status
	Late       bool
	// Stopped means the Hub has stopped (Run returned, the process is
	// shutting down): no update will follow, so a waiter that holds a
	// connection open for updates should end it.
	Stopped bool
}

// encodeUpdate writes an update as "id status late" (ids and statuses have
// no spaces).
func encodeUpdate(u Update) string {
	late := "0"
	if u.Late {
		late = "1"
	}
	return u.CheckoutID + " " + string(u.Status) + " " + late
}

func decodeUpdate(s string) (Update, bool) {
	f := strings.Fields(s)
	if len(f) != 3 || !checkout.ValidID(f[0]) || !checkout.Status(f[1]).Valid() {
		return Update{}, false
	}
	return Update{CheckoutID: f[0], Status: checkout.Status(f[1]), Late: f[2] == "1"}, true
}

// Publish tells every process's Hub on channel that a checkout changed. rdb
// may be a pipeline, whose round trip then carries the update.
func Publish(ctx context.Context, rdb redis.Cmdable, channel string, u Update) error {
	return rdb.Publish(ctx, channel, encodeUpdate(u)).Err()
}

// Hub holds one Redis subscription per process and fans its updates out to
// the local waiters (result pages, SSE streams). A waiter costs a map entry
// and a channel (Subscribe) or a function (Watch). Fan-out never blocks: a
// waiter that has not read its previous update gets only the newest one
// (it re-reads the state anyway).
type Hub struct {
	rdb     redis.UniversalClient
	channel string
	log     *slog.Logger

	mu      sync.Mutex
	waiters map[string]map[*waiter]struct{}

	readyOnce sync.Once
	ready     chan struct{}
}

// NewHub returns a Hub for the Service's channel. Start it with Run.
func NewHub(rdb redis.UniversalClient, channel string, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.Default()
	}
	return &Hub{rdb: rdb, channel: channel, log: log, waiters: map[string]map[*waiter]struct{}{},
		ready: make(chan struct{})}
}

// waiter is one registered waiter: a channel with room for one update, or
// a function.
type waiter struct {
	ch chan Update
	f  func(Update)
}

// give hands u over without blocking.
func (w *waiter) give(u Update) {
	if w.f != nil {
		w.f(u)
		return
	}
	offer(w.ch, u)
}

// Subscribe registers a waiter for one checkout. The channel has room for
// one update; the returned function unregisters the waiter (call it once
// the page goes away; calling it twice is harmless).
func (h *Hub) Subscribe(checkoutID string) (<-chan Update, func()) {
	w := &waiter{ch: make(chan Update, 1)}
	return w.ch, h.add(checkoutID, w)
}

// Watch registers f for one checkout's updates, for a waiter that has no
// goroutine of its own to wait on a channel (a held event stream). f runs
// on the Hub's goroutine with the Hub locked: it must return at once and
// must not call the Hub. The returned function unregisters f (calling it
// twice is harmless); once it has returned, f is not called again.
func (h *Hub) Watch(checkoutID string, f func(Update)) (cancel func()) {
	return h.add(checkoutID, &waiter{f: f})
}

func (h *Hub) add(checkoutID string, w *waiter) (cancel func()) {
	h.mu.Lock()
	set := h.waiters[checkoutID]
	if set == nil {
		set = make(map[*waiter]struct{}, 1)
		h.waiters[checkoutID] = set
	}
	set[w] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			if set := h.waiters[checkoutID]; set != nil {
				delete(set, w)
				if len(set) == 0 {
					delete(h.waiters, checkoutID)
				}
			}
			h.mu.Unlock()
		})
	}
}

// Waiters reports how many waiters are registered.
func (h *Hub) Waiters() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, set := range h.waiters {
		n += len(set)
	}
	return n
}

// Ready is closed once the first subscription is established.
func (h *Hub) Ready() <-chan struct{} { return h.ready }

// deliver hands u to the checkout's waiters without ever blocking.
func (h *Hub) deliver(u Update) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.waiters[u.CheckoutID] {
		w.give(u)
	}
}

// offer puts u in ch, replacing an unread older update.
func offer(ch chan Update, u Update) {
	for {
		select {
		case ch <- u:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

// resync tells every waiter it may have missed an update.
func (h *Hub) resync() { h.tellAll(Update{}) }

// tellAll gives every waiter u, with its checkout's id.
func (h *Hub) tellAll(u Update) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, set := range h.waiters {
		u.CheckoutID = id
		for w := range set {
			w.give(u)
		}
	}
}

// Run holds the subscription until ctx ends, re-subscribing with backoff when
// Redis drops it; after each reconnection every waiter is told to re-read.
// When it returns, every waiter is told the Hub stopped.
func (h *Hub) Run(ctx context.Context) {
	defer h.tellAll(Update{Stopped: true})
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := h.session(ctx, first, func() { backoff = 100 * time.Millisecond })
		first = false
		if ctx.Err() != nil {
			return
		}
		h.log.Warn("Update subscription lost; reconnecting", "error", err, "retry_in_ms", backoff.Milliseconds())
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// session subscribes once and delivers until the connection fails or ctx
// ends. A ping every pingEvery finds a connection that died silently.
func (h *Hub) session(ctx context.Context, first bool, connected func()) error {
	ps := h.rdb.Subscribe(ctx)
	defer ps.Close()
	// Closing the subscription is what unblocks a waiting Receive.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	if err := ps.Subscribe(ctx, h.channel); err != nil {
		return err
	}
	// Wait for the confirmation so a publish right after Ready is seen.
	if _, err := ps.Receive(ctx); err != nil {
		return err
	}
	connected()
	h.readyOnce.Do(func() { close(h.ready) })
	if !first {
		h.resync()
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(pingEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := ps.Ping(ctx); err != nil {
					_ = ps.Close()
					return
				}
			}
		}
	}()
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			return err
		}
		if m, ok := msg.(*redis.Message); ok {
			if u, ok := decodeUpdate(m.Payload); ok {
				h.deliver(u)
			}
		}
	}
}

// pingEvery is how often an idle subscription is checked.
const pingEvery = 10 * time.Second

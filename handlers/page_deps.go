package handlers

import (
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/wallet-checkout/checkout/notify"
	"github.com/wallet-checkout/checkout/sessions"
	"github.com/wallet-checkout/checkout/wallet"
	"github.com/wallet-checkout/checkout/web/logos"
	"github.com/wallet-checkout/checkout/web/templates"
)

// LiveUpdates tells waiting result pages that a checkout may have moved;
// *notify.Hub implements it. The stream re-reads the state from Redis on
// each update, so a dropped or coalesced one loses nothing.
type LiveUpdates interface {
	// Subscribe is for a stream served by its handler's goroutine
	// (streamLoop: HTTP/2, or a writer that cannot hijack).
	Subscribe(checkoutID string) (updates <-chan notify.Update, cancel func())
	// Watch is for a held stream (holdStream), which has no goroutine
	// waiting on a channel: f is called with each update.
	Watch(checkoutID string, f func(notify.Update)) (cancel func())
}

// PagesDeps is what the payer pages need.
type PagesDeps struct {
	// Sessions keeps payers' sessions: their wallet identities.
	Sessions *sessions.Payers
	// CSRF signs and checks the pages' CSRF tokens (no session needed).
	CSRF *sessions.CSRF
	// OAuth signs and checks the OAuth state of a first visit (no session
	// needed).
	OAuth *sessions.OAuthStates
	// WeChat resolves official-account and mini-program openids.
	WeChat *wallet.WeChat
	// Alipay resolves Alipay buyer ids.
	Alipay *wallet.Alipay
	// WalletSim, when set (demo mode, or a merchants file with
	// identity_providers.emulator), is mounted under /walletsim/.
	WalletSim http.Handler
	// Hub streams transitions to result pages.
	Hub LiveUpdates
	// Heartbeat is the event stream's keep-alive period (default 15 s).
	Heartbeat time.Duration
	// EventsPoll is how often the event stream re-reads the checkout
	// anyway: it notices expiry, which nothing publishes, and covers a lost
	// publish (default 5 s).
	EventsPoll time.Duration
	// Streams caps the event streams and their Redis reads (required:
	// config's defaults).
	Streams StreamLimits
	// Logos are the merchants' logos, served under /logos/ (nil: none).
	Logos *logos.Set
}

// pages is the payer pages' state, built by initPages.
type pages struct {
	PagesDeps
	// cop rejects cross-origin state-changing requests (the pay button,
	// "check now") on top of the CSRF token.
	cop *http.CrossOriginProtection
	// alipayApps caches parsed Alipay app keys per store.
	alipayApps sync.Map // *checkout.Store → alipayAppEntry
	// reads lets the event streams waiting on one checkout share one Redis
	// read per change: a transition wakes every waiter of that checkout at
	// once, and ten thousand of them should not mean ten thousand reads.
	reads singleflight.Group
	// streams counts the open event streams under Streams' caps.
	streams *streamCounts
	// slots bounds the event streams' concurrent Redis reads (Streams.Reads).
	slots readSlots
	// rendered keeps rendered checkout pages, keyed on everything they
	// show, with the per-request values spliced in on each view
	// (templates.PageCache, docs/performance.md).
	rendered *templates.PageCache
}

type alipayAppEntry struct {
	app wallet.AlipayApp
	err error
}

// Defaults of PagesDeps.
const (
	defaultHeartbeat = 15 * time.Second
)

// pageCacheBytes bounds the rendered checkout pages kept in memory: about
// 900 pages of 4.4 KB, more than the checkouts being viewed at once on a
// replica; a page not in it is rendered, as without a cache.
const pageCacheBytes = 4 << 20

// initPages prepares what the payer pages and the mini-program API share
// (h.pages).
func (h *handler) initPages(d Deps) {
	p := &pages{PagesDeps: d.PagesDeps, cop: http.NewCrossOriginProtection(),
		streams: newStreamCounts(d.Streams), slots: make(readSlots, d.Streams.Reads),
		rendered: templates.NewPageCache(pageCacheBytes)}
	p.streams.obs = h.obs
	if p.Heartbeat <= 0 {
		p.Heartbeat = defaultHeartbeat
	}
	if p.EventsPoll <= 0 {
		p.EventsPoll = eventsPoll
	}
	h.pages = p
}

package handlers

import (
	"context"
	"golang.org/x/sync/singleflight"
	"net/http"
	"sync"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/notify"
	"github.com/wallet-checkout/checkout/sessions"
	"github.com/wallet-checkout/checkout/wallet"
)

// LiveUpdates tells waiting result pages that a checkout may have moved;
// *notify.Hub implements it. The stream re-reads the state from Redis on
// each update, so a dropped or coalesced one loses nothing.
type LiveUpdates interface {
	Subscribe(checkoutID string) (updates <-chan notify.Update, cancel func())
}

// Reconciler is the confirmation component's side the pages use;
// *notify.Service implements it.
type Reconciler interface {
	// CheckNow asks the gateway (paystatus) about the checkout's pending
	// attempts at once, because a payer is waiting, and returns the
	// checkout as it is after (notify.ErrRateLimited moments after another
	// check).
	CheckNow(ctx context.Context, checkoutID string) (*checkout.Checkout, error)
	// Watch puts a new (or uncertain) gateway order under watch, so it is
	// settled even when no notify comes.
	Watch(ctx context.Context, outNo string) error
}

// PagesDeps is what the payer pages need.
type PagesDeps struct {
	// Sessions keeps payers' sessions: wallet identities, OAuth state, CSRF.
	Sessions *sessions.Payers
	// WeChat resolves official-account and mini-program openids; nil turns
	// native WeChat mode and the mini-program API off.
	WeChat *wallet.WeChat
	// Alipay resolves Alipay buyer ids; nil turns native Alipay mode off.
	Alipay *wallet.Alipay
	// WalletSim, when set (demo mode), is mounted under /walletsim/.
	WalletSim http.Handler
	// PayOrderer places orders; *gateway.Client implements it.
	PayOrderer checkout.PayGateway
	// Hub streams transitions to result pages; nil makes the event stream
	// poll Redis instead.
	Hub LiveUpdates
	// Reconciler, when set, settles orders without a notify and answers
	// "please check now".
	Reconciler Reconciler
	// NotifyURL gives payorder's notify_url for a store; nil means
	// notify.NotifyURL(PublicURL, store).
	NotifyURL func(st *checkout.Store) string
	// Heartbeat is the event stream's keep-alive period (default 15 s).
	Heartbeat time.Duration
	// EventsPoll is how often the event stream re-reads the checkout
	// anyway: it notices expiry, which nothing publishes, and covers a lost
	// publish (default 5 s with a Hub, 1 s without).
	EventsPoll time.Duration
}

// pages is the payer pages' state, built by initPages.
type pages struct {
	PagesDeps
	pay *checkout.Payments
	// cop rejects cross-origin state-changing requests (the pay button,
	// "check now") on top of the CSRF token.
	cop *http.CrossOriginProtection
	// alipayApps caches parsed Alipay app keys per store.
	alipayApps sync.Map // *checkout.Store → alipayAppEntry
	// reads lets the event streams waiting on one checkout share one Redis
	// read per change: a transition wakes every waiter of that checkout at
	// once, and ten thousand of them should not mean ten thousand reads.
	reads singleflight.Group
}

type alipayAppEntry struct {
	app wallet.AlipayApp
	err error
}

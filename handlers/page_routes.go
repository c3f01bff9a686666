package handlers

import (
	"net/http"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
)

// Defaults of PagesDeps.
const (
	defaultHeartbeat = 15 * time.Second
)

// initPages prepares what the payer pages and the mini-program API share
// (h.pages) and reports whether they can be served: not without sessions
// and a gateway to pay through. routes mounts them when it reports true.
func (h *handler) initPages(d Deps) bool {
	if d.Sessions == nil || d.PayOrderer == nil {
		return false
	}
	p := &pages{PagesDeps: d.PagesDeps, cop: http.NewCrossOriginProtection()}
	if p.Heartbeat <= 0 {
		p.Heartbeat = defaultHeartbeat
	}
	opts := []checkout.PaymentsOption{checkout.WithPaymentsClock(h.now), checkout.WithPaymentsLogger(h.log)}
	if p.Reconciler != nil {
		rec := p.Reconciler
		opts = append(opts, checkout.WithWatch(rec.Watch))
	}
	p.pay = checkout.NewPayments(h.repo, h.dir, p.PayOrderer, opts...)
	h.pages = p
	return true
}

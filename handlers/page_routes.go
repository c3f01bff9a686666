package handlers

import (
	"net/http"
	"time"
)

// Defaults of PagesDeps.
const (
	defaultHeartbeat = 15 * time.Second
)

// initPages prepares what the payer pages and the mini-program API share
// (h.pages).
func (h *handler) initPages(d Deps) {
	p := &pages{PagesDeps: d.PagesDeps, cop: http.NewCrossOriginProtection()}
	if p.Heartbeat <= 0 {
		p.Heartbeat = defaultHeartbeat
	}
	if p.EventsPoll <= 0 {
		p.EventsPoll = eventsPoll
	}
	h.pages = p
}

package handlers

import (
	"time"

	"github.com/gin-gonic/gin"
)

// Observer is told of every answer, notify, rate-limit refusal and status
// stream, for the service's metrics (app wires it to *metrics.Metrics).
// Its methods must be quick and safe for concurrent use: Request runs on
// every request.
type Observer interface {
	// Request: an answer, by the route's template (c.FullPath(), "" when
	// no route matched: never the path itself, which carries ids).
	Request(route, method string, status int, elapsed time.Duration)
	// NotifyReceived: a gateway notify was answered (notifyResult).
	NotifyReceived(result string)
	// RateLimited: a request was refused by the limit named (api,
	// auth_failures, payer).
	RateLimited(limit string)
	// StreamOpened and StreamClosed follow the status streams' places.
	StreamOpened()
	StreamClosed()
}

// nopObserver is the Observer when none is configured.
type nopObserver struct{}

func (nopObserver) Request(string, string, int, time.Duration) {}
func (nopObserver) NotifyReceived(string)                      {}
func (nopObserver) RateLimited(string)                         {}
func (nopObserver) StreamOpened()                              {}
func (nopObserver) StreamClosed()                              {}

// observeRequest reports each request once it is answered. It is the
// router's first middleware, so the status it sees is the final one, that
// of a recovered panic included.
func (h *handler) observeRequest(c *gin.Context) {
	start := time.Now()
	c.Next()
	h.obs.Request(c.FullPath(), c.Request.Method, c.Writer.Status(), time.Since(start))
}

// notifyResult is a notify's label by its answer: success (notify_success,
// stored), rejected (4xx: the gateway's retries cannot succeed), failed
// (5xx: the gateway retries).
func notifyResult(status int) string {
	switch {
	case status < 300:
		return "success"
	case status < 500:
		return "rejected"
	}
	return "failed"
}

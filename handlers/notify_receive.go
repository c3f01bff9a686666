package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/payments"
)

const (
	// maxNotifyQuery bounds a notify's query string: six fields, rand_str
	// being 128 characters, plus what some deployments add.
	maxNotifyQuery = 4 << 10
	// notifyTimeout bounds one notify: the gateway gives up on a slow
	// receiver and retries anyway.
	notifyTimeout = 20 * time.Second
)

// receiveNotify is GET /notify/:store, the gateway's async notify. It
// answers exactly notify_success only once the confirmed state is stored;
// a bad signature is 400 and an order we do not know 404 (neither is ever
// retried into success), and any failure of Redis or the gateway is 503 so
// the gateway tries again later.
//
// A notify whose signed timestamp is more than 24 h old or 600 s ahead of
// our clock is 400 "stale notify". Not a 5xx or 429, which would say "try
// again later" when the same signed notify can only grow older; not 403 or
// 410, as the request is authentic and the URL is not gone. The gateway
// does not tell 4xx codes apart (anything but notify_success is a failure,
// retried at growing gaps and for 3 h at most, so no answer can make it
// retry forever); 400 is the one that tells people and monitors "do not
// repeat this unchanged", like a bad signature. It is refused before any
// Redis or gateway call, so its retries cost nothing.
//
// A duplicate that arrives while another copy's paystatus window is open
// and the order is not settled yet is 503 (never 429): the gateway must
// come back, and by then the window has passed.
func (h *handler) receiveNotify(c *gin.Context) {
	defer func() { h.obs.NotifyReceived(notifyResult(c.Writer.Status())) }()
	c.Header("Cache-Control", "no-store")
	store := c.Param("store")
	raw := c.Request.URL.RawQuery
	if len(store) > 64 || len(raw) > maxNotifyQuery {
		c.String(http.StatusBadRequest, "notify too large")
		return
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		c.String(http.StatusBadRequest, "malformed query")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), notifyTimeout)
	defer cancel()
	err = h.pay.Notify(ctx, store, q)
	if err == nil {
		c.String(http.StatusOK, payments.NotifySuccess)
		return
	}
	a := notifyAnswerFor(err)
	h.logger(c).Log(ctx, a.level, a.log, slog.String("out_no", q.Get("out_no")),
		slog.Any("error", err), slog.String("client_ip", c.ClientIP()))
	c.String(a.status, a.body)
}

// notifyAnswer is what the gateway is told about a notify that was not
// applied (plain text: anything but notify_success is a failure to it),
// and how the refusal is logged.
type notifyAnswer struct {
	status int
	body   string
	level  slog.Level
	log    string
}

// notifyAnswers are the notify intake's errors; anything else is a failure
// of Redis or the gateway, retried (notifyRetry).
var notifyAnswers = []struct {
	err    error
	answer notifyAnswer
}{
	{payments.ErrBadSignature, notifyAnswer{http.StatusBadRequest, "bad signature", slog.LevelWarn, "Notify rejected: bad signature"}},
	// The error names the store, the signed and our times: no secret.
	{payments.ErrStaleNotify, notifyAnswer{http.StatusBadRequest, "stale notify", slog.LevelWarn,
		"Notify refused: timestamp outside the accepted window (replay, or a clock off)"}},
	// Routine with duplicated notifies: not an error worth an alert.
	{payments.ErrRecentlyChecked, notifyAnswer{http.StatusServiceUnavailable, "retry later", slog.LevelInfo,
		"Duplicate notify answered 503; the order was checked moments ago"}},
	{payments.ErrUnknownStore, notifyAnswer{http.StatusNotFound, "unknown order", slog.LevelWarn, "Notify for an unknown store or order"}},
	{payments.ErrUnknownOrder, notifyAnswer{http.StatusNotFound, "unknown order", slog.LevelWarn, "Notify for an unknown store or order"}},
}

var notifyRetry = notifyAnswer{http.StatusServiceUnavailable, "retry later", slog.LevelError, "Notify not applied; the gateway will retry"}

func notifyAnswerFor(err error) notifyAnswer {
	for _, r := range notifyAnswers {
		if errors.Is(err, r.err) {
			return r.answer
		}
	}
	return notifyRetry
}

package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/web/templates"
)

// showCounter is GET /console/counter: the counter screen (收款播报),
// which lists the merchant's payments as they arrive and, when switched
// on, announces each aloud (web/static/counter.js).
func (o *consoleOps) showCounter(c *gin.Context) {
	u := signedInUser(c)
	o.render(c, http.StatusOK, templates.ConsoleCounterPage(templates.ConsoleCounterView{Page: o.page(c), MerchantName: u.merchant.Name}))
}

// counterPayment is one payment as the counter screen receives it.
type counterPayment struct {
	CheckoutID string `json:"checkout_id"`
	Fen        int64  `json:"amount_fen"`
	Amount     string `json:"amount"`
	Wallet     string `json:"wallet"`
	Time       string `json:"time"`
	Reference  string `json:"reference,omitempty"`
	Link       string `json:"payment_link,omitempty"`
	Test       bool   `json:"test,omitempty"`
	Late       bool   `json:"late,omitempty"`
	// Speech is what the screen says aloud, in Chinese, the way counter
	// speakers do: "微信收款 15 元".
	Speech string `json:"speech"`
}

// Speech is the announcement of fen received through wallet m, in
// Chinese: the amount without trailing zeros ("15", "15.5", "0.01").
func speech(m checkout.Method, fen int64) string {
	w := "收款"
	switch m {
	case checkout.MethodWeChat:
		w = "微信收款"
	case checkout.MethodAlipay:
		w = "支付宝收款"
	}
	s := yuan(fen)
	s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
	return w + " " + s + " 元"
}

// counterPaymentOf reads the paid checkout of event id and the wallet of
// its paying attempt; nil for another merchant's or a missing checkout.
func (o *consoleOps) counterPaymentOf(ctx context.Context, m *checkout.Merchant, checkoutID string) (*counterPayment, error) {
	co, atts, err := o.repo.GetWithAttempts(ctx, checkoutID)
	if errors.Is(err, checkout.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if co.MerchantID != m.ID {
		return nil, nil
	}
	p := &counterPayment{
		CheckoutID: co.ID, Fen: co.Amounts.Trade, Amount: templates.FormatFen(co.Amounts.Trade),
		Time: co.PaidAt.In(chinaTime).Format("15:04:05"), Reference: co.Reference, Link: co.PaymentLink, Late: co.Late,
	}
	if st, ok := m.Store(co.StoreID); ok && st.Sandbox {
		p.Test = true
	}
	var method checkout.Method
	for _, a := range atts {
		if a.Seq == co.PaidAttempt {
			method = a.Method
		}
	}
	p.Wallet = string(method)
	p.Speech = speech(method, co.Amounts.Trade)
	return p, nil
}

// streamCounter is GET /console/counter/events: the merchant's payments
// (its checkout.paid events, from its links and its server's checkouts)
// as server-sent events named "paid", from now on or after Last-Event-ID,
// which the browser's EventSource sends when it reconnects, so that a
// payment made while the connection was down is shown on return. The
// same machinery and caps as GET /v1/events/stream (event_stream.go).
func (o *consoleOps) streamCounter(c *gin.Context) {
	u := signedInUser(c)
	m := u.merchant
	var cur streamCursor
	if last := strings.TrimSpace(c.GetHeader("Last-Event-ID")); last != "" {
		if !webhook.ValidID(last) {
			c.AbortWithStatus(http.StatusBadRequest)
			return
		}
		cur = streamCursor{after: last}
	}
	release, ok := o.merchantStreams.acquire(c.ClientIP(), m.ID)
	if !ok {
		c.Header("Retry-After", fmt.Sprint(int(merchantStreamRetry/time.Second)))
		c.AbortWithStatus(http.StatusTooManyRequests)
		return
	}
	defer release()
	ctx := c.Request.Context()
	readDone, ok := o.pages.slots.wait(ctx, streamOpenWait)
	if !ok {
		c.AbortWithStatus(http.StatusServiceUnavailable)
		return
	}
	pos, err := o.streamStart(ctx, m.ID, cur)
	if errors.Is(err, webhook.ErrBadCursor) {
		// An event no longer in the log: start from now.
		pos, err = o.streamStart(ctx, m.ID, streamCursor{})
	}
	readDone()
	if err != nil {
		o.logger(c).Warn("Counter stream not opened", "error", err)
		c.AbortWithStatus(http.StatusServiceUnavailable)
		return
	}
	_ = http.NewResponseController(c.Writer).SetReadDeadline(time.Time{})
	w := c.Writer
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	if _, err := fmt.Fprintf(w, "retry: %d\n\n", merchantStreamRetry.Milliseconds()); err != nil {
		return
	}
	w.Flush()
	poll := time.NewTicker(merchantStreamPoll)
	defer poll.Stop()
	beat := time.NewTicker(o.pages.Heartbeat)
	defer beat.Stop()
	life := time.NewTimer(eventsMaxLife + jitter(0, eventsLifeJitter))
	defer life.Stop()
	for {
		for {
			evs, next, err := o.readLog(ctx, m.ID, pos)
			if errors.Is(err, errStreamBusy) {
				break
			}
			if err != nil {
				return // the browser reconnects with Last-Event-ID
			}
			sent := false
			for _, e := range evs {
				if e.Type != webhook.TypePaid {
					continue
				}
				var head struct {
					CheckoutID string `json:"checkout_id"`
				}
				if json.Unmarshal(e.Body, &head) != nil || head.CheckoutID == "" {
					continue
				}
				p, err := o.counterPaymentOf(ctx, m, head.CheckoutID)
				if err != nil {
					return
				}
				if p == nil {
					continue
				}
				body, _ := json.Marshal(p)
				if _, err := fmt.Fprintf(w, "id: %s\nevent: paid\ndata: %s\n\n", e.ID, body); err != nil {
					return
				}
				sent = true
			}
			if sent {
				w.Flush()
			}
			advanced := next != pos
			pos = next
			if !advanced {
				break
			}
		}
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
		case <-poll.C:
		}
	}
}

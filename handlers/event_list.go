package handlers

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// EventLog lists a merchant's events with their deliveries, resends
// them and streams them; *webhook.Service implements it.
type EventLog interface {
	List(ctx context.Context, merchantID string, q webhook.ListQuery) ([]*webhook.Record, string, error)
	Get(ctx context.Context, merchantID, id string) (*webhook.Record, error)
	Resend(ctx context.Context, merchantID, id string) error
	// Emit stores an event and queues its delivery (the console's test
	// event, ping).
	Emit(ctx context.Context, e webhook.Event) error
	// EventStream follows them as they are stored (GET
	// /v1/events/stream).
	EventStream
}

// eventListJSON is a page of events, shaped like the checkouts list.
type eventListJSON struct {
	Object     string            `json:"object"`
	Data       []*webhook.Record `json:"data"`
	HasMore    bool              `json:"has_more"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// listEvents is GET /v1/events?type=&checkout_id=&limit=&starting_after=:
// the merchant's events, newest first, each with its delivery attempts.
func (h *handler) listEvents(c *gin.Context) {
	q := webhook.ListQuery{Limit: 20}
	if s := c.Query("type"); s != "" {
		if !webhook.ValidType(s) {
			h.fail(c, invalid("type", "unknown event type"))
			return
		}
		q.Type = s
	}
	if s := c.Query("checkout_id"); s != "" {
		if !checkout.ValidID(s) {
			h.fail(c, invalid("checkout_id", "not a checkout id"))
			return
		}
		q.CheckoutID = s
	}
	limit, err := pageLimit(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	q.Limit = limit
	q.After = c.Query("starting_after")
	page, next, err := h.events.List(c.Request.Context(), merchantOf(c).ID, q)
	if err != nil {
		h.fail(c, unavailable("list events", err))
		return
	}
	if page == nil {
		page = []*webhook.Record{}
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, eventListJSON{Object: "list", Data: page, HasMore: next != "", NextCursor: next})
}

// getEvent is GET /v1/events/:id: one event with its delivery attempts.
// Another merchant's event is 404, like a missing one.
func (h *handler) getEvent(c *gin.Context) {
	rec, ok := h.loadEvent(c)
	if !ok {
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, rec)
}

// loadEvent reads the merchant's event named in the path, answering the
// error itself when there is none.
func (h *handler) loadEvent(c *gin.Context) (*webhook.Record, bool) {
	rec, err := h.events.Get(c.Request.Context(), merchantOf(c).ID, c.Param("id"))
	if err != nil {
		h.fail(c, unavailable("read event", err))
		return nil, false
	}
	return rec, true
}

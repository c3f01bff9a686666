package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// resendEvent is POST /v1/events/:id/resend: deliver the event again now,
// with the same id and body (merchants deduplicate on the id) and a fresh
// retry window. It answers 202 with the event and its delivery; another
// merchant's event is 404.
func (h *handler) resendEvent(c *gin.Context) {
	ctx := c.Request.Context()
	mid := merchantOf(c).ID
	if err := h.events.Resend(ctx, mid, c.Param("id")); err != nil {
		h.fail(c, unavailable("resend event", err))
		return
	}
	rec, ok := h.loadEvent(c)
	if !ok {
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusAccepted, rec)
}

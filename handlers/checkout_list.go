package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
)

type listJSON struct {
	Object     string         `json:"object"`
	Data       []checkoutJSON `json:"data"`
	HasMore    bool           `json:"has_more"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// listCheckouts is GET /v1/checkouts?status=&limit=&starting_after=: the
// merchant's checkouts, newest first.
func (h *handler) listCheckouts(c *gin.Context) {
	q := checkout.ListQuery{Limit: 20}
	if s := c.Query("status"); s != "" {
		q.Status = checkout.Status(s)
		if !q.Status.Valid() {
			abortError(c, http.StatusBadRequest, "invalid_parameter", "unknown status", "status")
			return
		}
	}
	limit, ok := pageLimit(c)
	if !ok {
		return
	}
	q.Limit = limit
	q.After = c.Query("starting_after")
	page, next, err := h.repo.List(c.Request.Context(), merchantOf(c).ID, q)
	switch {
	case errors.Is(err, checkout.ErrBadCursor):
		abortError(c, http.StatusBadRequest, "invalid_parameter", "unknown cursor", "starting_after")
		return
	case err != nil:
		h.unavailable(c, "list checkouts", err)
		return
	}
	out := listJSON{Object: "list", Data: make([]checkoutJSON, 0, len(page)), HasMore: next != "", NextCursor: next}
	for _, co := range page {
		out.Data = append(out.Data, h.checkoutView(co))
	}
	c.JSON(http.StatusOK, out)
}

// pageLimit reads the optional limit of a list request (1 to 100; 0 when
// absent, for the list's default) or answers 400.
func pageLimit(c *gin.Context) (int, bool) {
	s := c.Query("limit")
	if s == "" {
		return 0, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 100 {
		abortError(c, http.StatusBadRequest, "invalid_parameter", "must be an integer from 1 to 100", "limit")
		return 0, false
	}
	return n, true
}

package handlers

import (
	"fmt"
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
			h.fail(c, invalid("status", "unknown status"))
			return
		}
	}
	limit, err := pageLimit(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	q.Limit = limit
	q.After = c.Query("starting_after")
	page, next, err := h.repo.List(c.Request.Context(), merchantOf(c).ID, q)
	if err != nil {
		h.fail(c, unavailable("list checkouts", err))
		return
	}
	out := listJSON{Object: "list", Data: make([]checkoutJSON, 0, len(page)), HasMore: next != "", NextCursor: next}
	for _, co := range page {
		out.Data = append(out.Data, h.checkoutView(co))
	}
	c.JSON(http.StatusOK, out)
}

// maxPageLimit is the largest limit of a list request.
const maxPageLimit = 100

// pageLimit reads the optional limit of a list request (1 to maxPageLimit;
// 0 when absent, for the list's default).
func pageLimit(c *gin.Context) (int, error) {
	s := c.Query("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxPageLimit {
		return 0, invalid("limit", fmt.Sprintf("must be an integer from 1 to %d", maxPageLimit))
	}
	return n, nil
}

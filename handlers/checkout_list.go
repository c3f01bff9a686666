package handlers

import (
	"errors"
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

// listCheckouts is GET /v1/checkouts?status=&limit=&starting_after=&payment_link=:
// the merchant's checkouts (or one payment link's), newest first.
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
	var page []*checkout.Checkout
	var next string
	if link := c.Query("payment_link"); link != "" {
		// The checkouts a payment link produced, from its own index.
		if !checkout.ValidLinkID(link) {
			h.fail(c, invalid("payment_link", "no such payment link"))
			return
		}
		page, next, err = h.repo.ListByLink(c.Request.Context(), merchantOf(c).ID, link, q)
		if errors.Is(err, checkout.ErrNotFound) {
			h.fail(c, invalid("payment_link", "no such payment link"))
			return
		}
	} else {
		page, next, err = h.repo.List(c.Request.Context(), merchantOf(c).ID, q)
	}
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

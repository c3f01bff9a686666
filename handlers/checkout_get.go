package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
)

// getCheckout is GET /v1/checkouts/:id. Another merchant's checkout is 404,
// exactly like a missing one, so ids cannot be probed.
func (h *handler) getCheckout(c *gin.Context) {
	co, ok := h.loadOwn(c)
	if !ok {
		return
	}
	view := h.checkoutView(co)
	rs, err := h.pay.Refunds(c.Request.Context(), co.ID)
	if err != nil {
		h.fail(c, unavailable("list refunds", err))
		return
	}
	view.Refunds = refundsView(rs)
	c.JSON(http.StatusOK, view)
}

// loadOwn loads the :id checkout of the authenticated merchant or answers.
func (h *handler) loadOwn(c *gin.Context) (*checkout.Checkout, bool) {
	id := c.Param("id")
	if !checkout.ValidID(id) {
		h.fail(c, errNoCheckout)
		return nil, false
	}
	co, err := h.repo.GetFor(c.Request.Context(), merchantOf(c).ID, id)
	if err != nil {
		h.fail(c, unavailable("get checkout", err))
		return nil, false
	}
	return co, true
}

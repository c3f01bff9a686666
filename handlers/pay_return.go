package handlers

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
)

// payReturn answers GET /c/:id/return, where the gateway's cashier sends the
// payer back (jump_url). The query is verified with the store's key and must
// name one of this checkout's attempts; then the payer goes to the result
// page. It never marks anything paid: only a confirmed notify or paystatus
// does, and the result page waits for that.
func (h *handler) payReturn(c *gin.Context) {
	ck := pageCheckoutOf(c)
	back := pagePath(ck.ID, "")
	saidPaid, err := h.pay.Returned(c.Request.Context(), ck, c.Request.URL.Query())
	if err != nil {
		h.logger(c).Warn("Rejected a front-end jump", slog.String("checkout_id", ck.ID),
			slog.String("client_ip", c.ClientIP()), slog.Any("error", err))
		h.errorPage(c, http.StatusBadRequest, pageReturnInvalid, back)
		return
	}
	// The payer is back: ask the gateway now rather than wait for the notify.
	h.requestCheck(c.Request.Context(), ck.ID, false)
	result := pagePath(ck.ID, "result")
	if saidPaid {
		// The wallet paid at the cashier: the result page waits for the
		// gateway's word and never offers a bare "pay again" (issue 12),
		// as after the JS bridges' OK (app.js walletSaidOK).
		result += "?wallet=ok"
	}
	c.Redirect(http.StatusSeeOther, result)
	c.Abort()
}

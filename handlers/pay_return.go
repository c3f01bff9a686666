package handlers

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
)

// payReturn answers GET /c/:id/return, where the gateway's cashier sends the
// payer back (jump_url). The query is verified with the store's key and must
// name one of this checkout's attempts; then the payer goes to the result
// page. It never marks anything paid: only a confirmed notify or paystatus
// does, and the result page waits for that.
func (h *handler) payReturn(c *gin.Context) {
	ck, st := pageCheckoutOf(c), pageStoreOf(c)
	back := pagePath(ck.ID, "")
	cb, err := gateway.VerifyCallback(st.Gateway.Key, c.Request.URL.Query())
	if err != nil {
		h.log.Warn("Rejected a front-end jump", slog.String("checkout_id", ck.ID),
			slog.String("client_ip", c.ClientIP()), slog.Any("error", err))
		h.errorPage(c, http.StatusBadRequest, pageReturnInvalid, back)
		return
	}
	id, seq, ok := checkout.ParseOutNo(cb.OutNo)
	if !ok || id != ck.ID || seq > ck.Attempts {
		h.log.Warn("Rejected a front-end jump for another checkout", slog.String("checkout_id", ck.ID),
			slog.String("out_no", cb.OutNo), slog.String("client_ip", c.ClientIP()))
		h.errorPage(c, http.StatusBadRequest, pageReturnInvalid, back)
		return
	}
	// The payer is back: ask the gateway now rather than wait for the notify.
	h.requestCheck(c.Request.Context(), ck.ID, false)
	c.Redirect(http.StatusSeeOther, pagePath(ck.ID, "result"))
	c.Abort()
}

package handlers

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/web/templates"
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
	// The language the payer chose before the cashier (jump_url's path,
	// createPayment); an unknown one is ignored like an unknown ?lang=.
	lang, _ := templates.ExplicitLang(c.Param("lang"))
	result = withLang(result, lang)
	if saidPaid {
		// The wallet paid at the cashier: the result page waits for the
		// gateway's word and never offers a bare "pay again" (issue 12),
		// as after the JS bridges' OK (app.js walletSaidOK).
		result = withWalletOK(result)
	}
	c.Redirect(http.StatusSeeOther, result)
	c.Abort()
}

// withWalletOK marks the way to the result page after the wallet reported
// success (as app.js walletSaidOK does): that page then offers to pay
// again only on the server's word (payments.PayAgainAfterWalletOK).
func withWalletOK(path string) string {
	if strings.Contains(path, "?") {
		return path + "&wallet=ok"
	}
	return path + "?wallet=ok"
}

package handlers

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/web/templates"
)

// showResultPage renders GET /c/:id/result: the confirmed state from Redis.
// While it is pending the page listens to the event stream and asks for a
// check; paid shows the amount and the way back to the merchant's success
// URL (which never carries a status: the merchant asks us).
func (h *handler) showResultPage(c *gin.Context) {
	ck, m, st, payer := pageCheckoutOf(c), pageMerchantOf(c), pageStoreOf(c), pagePayerOf(c)
	s, err := h.payStatusOf(c.Request.Context(), ck)
	if err != nil {
		h.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
		return
	}
	id, lang := ck.ID, explicitLang(c)
	v := templates.ResultView{
		Page:         h.page(c),
		ID:           id,
		MerchantName: merchantDisplayName(m, st),
		Description:  ck.Description,
		Amount:       templates.FormatFen(ck.Amounts.Trade),
		AmountFen:    ck.Amounts.Trade,
		Status:       s.Status,
		Late:         ck.Late,
		PaidAt:       ck.PaidAt,
		SuccessURL:   strings.ReplaceAll(ck.SuccessURL, checkout.CheckoutIDPlaceholder, id),
		CancelURL:    strings.ReplaceAll(ck.CancelURL, checkout.CheckoutIDPlaceholder, id),
		CheckoutURL:  withLang(pagePath(id, ""), lang),
		StatusURL:    pagePath(id, "status"),
		EventsURL:    pagePath(id, "events"),
		CheckURL:     withLang(pagePath(id, "check"), lang),
		CSRFToken:    h.csrfToken(ck, payer),
		Reference:    payerReference(ck),
		LogoURL:      h.pages.Logos.Path(m.ID),
	}
	if checkout.Status(s.Status).Paid() {
		v.Method = h.paidMethod(c.Request.Context(), ck)
	}
	if c.Query("wallet") == "ok" && !checkout.Status(s.Status).Paid() {
		// The payer's wallet said the payment succeeded (the page script
		// comes here with wallet=ok): stamp the moment, which the page's
		// checks hand back, so that only the server decides when the page
		// may invite a second payment (payments.PayAgainAfterWalletOK). A
		// reload stamps again: the wait only grows.
		v.WalletOK = h.pages.CSRF.WalletOKToken(id, h.now())
	}
	h.render(c, http.StatusOK, templates.ResultPage(v))
}

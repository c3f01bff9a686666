package handlers

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/wallet"
)

// alipayOAuthCallback ends the auth_base round trip: Alipay comes back with
// auth_code and state; alipay.system.oauth.token (RSA2, with the store's
// app keys) turns the code into the payer's buyer id, kept in the session.
func (h *handler) alipayOAuthCallback(c *gin.Context) {
	ck, st, payer := pageCheckoutOf(c), pageStoreOf(c), pagePayerOf(c)
	back := pagePath(ck.ID, "")
	appID := st.Alipay.AppID
	if h.pages.Alipay == nil || appID == "" {
		h.errorPage(c, http.StatusNotFound, pageNotFound, "")
		return
	}
	_, known := payer.AlipayUserID(appID)
	code, ok := h.oauthCode(c, payer, known, back, "auth_code")
	if !ok {
		return
	}
	app, err := h.alipayApp(st)
	if err != nil {
		h.savePayer(c, payer)
		h.logger(c).Error("Alipay app keys unusable", slog.String("store_id", st.ID), slog.Any("error", err))
		h.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, back)
		return
	}
	id, err := h.pages.Alipay.ExchangeCode(c.Request.Context(), app, code)
	if err != nil {
		h.oauthFailed(c, payer, "Alipay", ck.ID, appID, wallet.IsAlipayError(err, wallet.AlipayCodeInvalid), err, back)
		return
	}
	payer.SetAlipayUserID(appID, id.BuyerID())
	h.finishOAuth(c, payer, back)
}

// alipayApp parses (once per store) the store's Alipay keys.
func (h *handler) alipayApp(st *checkout.Store) (wallet.AlipayApp, error) {
	if e, ok := h.pages.alipayApps.Load(st); ok {
		e := e.(alipayAppEntry)
		return e.app, e.err
	}
	app, err := wallet.ParseAlipayApp(st.Alipay.AppID, st.Alipay.PrivateKey.Reveal(), st.Alipay.AlipayPublicKey)
	h.pages.alipayApps.Store(st, alipayAppEntry{app: app, err: err})
	return app, err
}

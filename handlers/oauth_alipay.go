package handlers

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/wallet"
)

// alipayExchange calls alipay.system.oauth.token (RSA2, with the store's
// app keys) for the payer's buyer id.
func (h *handler) alipayExchange(c *gin.Context, st *checkout.Store, code, back string) (oauthIdentity, bool) {
	appID := st.Alipay.AppID
	app, err := h.alipayApp(st)
	if err != nil {
		h.logger(c).Error("Alipay app keys unusable", slog.String("store_id", st.ID), slog.Any("error", err))
		h.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, back)
		return oauthIdentity{}, false
	}
	id, err := h.pages.Alipay.ExchangeCode(c.Request.Context(), app, code)
	if err != nil {
		h.oauthFailed(c, "Alipay", appID, wallet.IsAlipayError(err, wallet.AlipayCodeInvalid), err, back)
		return oauthIdentity{}, false
	}
	return oauthIdentity{id: id.BuyerID()}, true
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

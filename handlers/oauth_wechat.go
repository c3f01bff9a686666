package handlers

import (
	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/wallet"
)

// wechatExchange asks WeChat for the openid (and whether the page is a
// Moments snapshot).
func (h *handler) wechatExchange(c *gin.Context, st *checkout.Store, code, back string) (oauthIdentity, bool) {
	appID := st.WeChat.AppID
	id, err := h.pages.WeChat.ExchangeCode(c.Request.Context(), appID, st.WeChat.AppSecret.Reveal(), code)
	if err != nil {
		badCode := wallet.IsWeChatError(err, wallet.WeChatInvalidCode) || wallet.IsWeChatError(err, wallet.WeChatCodeUsed)
		h.oauthFailed(c, "WeChat", appID, badCode, err, back)
		return oauthIdentity{}, false
	}
	return oauthIdentity{id: id.OpenID, snapshot: id.Snapshot}, true
}

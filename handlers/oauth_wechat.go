package handlers

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/sessions"
	"github.com/wallet-checkout/checkout/wallet"
	"github.com/wallet-checkout/checkout/web/templates"
)

// wechatOAuthCallback ends the snsapi_base round trip: WeChat comes back
// with code and state; the state must be the session's (constant-time,
// single-use, bound to this checkout), the code becomes the payer's openid
// for the store's official account, kept in the session, and the payer goes
// back to the checkout page.
func (h *handler) wechatOAuthCallback(c *gin.Context) {
	ck, m, st, ok := h.pageCheckout(c, false)
	if !ok {
		return
	}
	payer, ok := h.loadPayer(c, false)
	if !ok {
		return
	}
	back := pagePath(ck.ID, "")
	appID := st.WeChat.AppID
	if h.pages.WeChat == nil || appID == "" {
		h.errorPage(c, http.StatusNotFound, "page.not_found", "")
		return
	}
	// A refresh of this page replays a used code (WeChat answers 40163):
	// the identity it gave is already in the session.
	if _, known := payer.WeChatOpenID(appID); known {
		c.Redirect(http.StatusFound, back)
		c.Abort()
		return
	}
	if !checkOAuthState(payer, c.Query("state"), back) {
		h.savePayer(c, payer)
		h.errorPage(c, http.StatusBadRequest, "page.oauth_expired", back)
		return
	}
	code := c.Query("code")
	if code == "" {
		// The payer declined (snsapi_base never asks, but be safe).
		h.savePayer(c, payer)
		h.errorPage(c, http.StatusBadRequest, "page.oauth_denied", back)
		return
	}
	id, err := h.pages.WeChat.ExchangeCode(c.Request.Context(), appID, st.WeChat.AppSecret, code)
	if err != nil {
		h.savePayer(c, payer)
		status := http.StatusBadGateway
		if wallet.IsWeChatError(err, wallet.WeChatInvalidCode) || wallet.IsWeChatError(err, wallet.WeChatCodeUsed) {
			status = http.StatusBadRequest
		}
		h.log.Warn("WeChat OAuth code exchange failed", slog.String("checkout_id", ck.ID),
			slog.String("app_id", appID), slog.Any("error", err))
		h.errorPage(c, status, "page.oauth_failed", back)
		return
	}
	if id.Snapshot {
		// A Moments snapshot page: the openid is virtual, never pay with it.
		h.savePayer(c, payer)
		v := h.checkoutPageView(c, ck, m, st, payer)
		v.Action = templates.ActionSnapshot
		h.render(c, http.StatusOK, templates.CheckoutPage(v))
		return
	}
	payer.SetWeChatOpenID(appID, id.OpenID)
	if !h.savePayer(c, payer) {
		h.errorPage(c, http.StatusServiceUnavailable, "page.unavailable", back)
		return
	}
	c.Redirect(http.StatusFound, back)
	c.Abort()
}

// checkOAuthState consumes the session's state: it must match (in constant
// time), be unexpired and belong to the page the round trip started from.
// The state is cleared whatever the outcome (save the payer afterwards).
func checkOAuthState(payer *sessions.Payer, state, back string) bool {
	ret := payer.OAuthReturn
	payer.OAuthReturn = ""
	ok := payer.CheckState(state)
	return ok && ret == back
}

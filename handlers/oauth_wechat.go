package handlers

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/sessions"
	"github.com/wallet-checkout/checkout/wallet"
)

// wechatOAuthCallback ends the snsapi_base round trip (oauthCallback):
// WeChat comes back with code and state, and the code becomes the payer's
// openid for the store's official account.
func (h *handler) wechatOAuthCallback(c *gin.Context) { h.oauthCallback(c, wechatOAuth) }

var wechatOAuth = oauthWallet{
	codeParam: "code",
	appID:     func(st *checkout.Store) string { return st.WeChat.AppID },
	identity:  (*sessions.Payer).WeChatOpenID,
	keep:      (*sessions.Payer).SetWeChatOpenID,
	exchange:  (*handler).wechatExchange,
}

// wechatExchange asks WeChat for the openid (and whether the page is a
// Moments snapshot).
func (h *handler) wechatExchange(c *gin.Context, st *checkout.Store, code, back string) (oauthIdentity, bool) {
	ck, appID := pageCheckoutOf(c), st.WeChat.AppID
	id, err := h.pages.WeChat.ExchangeCode(c.Request.Context(), appID, st.WeChat.AppSecret.Reveal(), code)
	if err != nil {
		badCode := wallet.IsWeChatError(err, wallet.WeChatInvalidCode) || wallet.IsWeChatError(err, wallet.WeChatCodeUsed)
		h.oauthFailed(c, "WeChat", ck.ID, appID, badCode, err, back)
		return oauthIdentity{}, false
	}
	return oauthIdentity{id: id.OpenID, snapshot: id.Snapshot}, true
}

// oauthCode takes the code a wallet's OAuth round trip came back with. A
// payer whose identity the session already holds goes straight back: a
// refresh of the callback replays a used code (WeChat answers 40163).
// Otherwise the state is spent (sessions.OAuthStates.Use: whatever the
// outcome, it is good for one callback) and the code must be present (an
// auth_base/snsapi_base round trip never asks the payer, but be safe).
// It has answered when it returns false.
func (h *handler) oauthCode(c *gin.Context, known bool, back, codeParam string) (string, bool) {
	if known {
		c.Redirect(http.StatusFound, back)
		c.Abort()
		return "", false
	}
	err := h.pages.OAuth.Use(c.Request.Context(), c.Request, c.Query("state"), pageCheckoutOf(c).ID, back, h.now())
	if errors.Is(err, sessions.ErrStateRefused) {
		h.errorPage(c, http.StatusBadRequest, pageOAuthExpired, back)
		return "", false
	}
	if err != nil {
		h.logger(c).Error("Checking an OAuth state failed", slog.Any("error", err))
		h.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, back)
		return "", false
	}
	code := c.Query(codeParam)
	if code == "" {
		h.errorPage(c, http.StatusBadRequest, pageOAuthDenied, back)
		return "", false
	}
	return code, true
}

// oauthFailed answers a failed code exchange: 400 when the code itself was
// refused, 502 when the wallet's service failed.
func (h *handler) oauthFailed(c *gin.Context, walletName, checkoutID, appID string, badCode bool, err error, back string) {
	status := http.StatusBadGateway
	if badCode {
		status = http.StatusBadRequest
	}
	h.logger(c).Warn(walletName+" OAuth code exchange failed", slog.String("checkout_id", checkoutID),
		slog.String("app_id", appID), slog.Any("error", err))
	h.errorPage(c, status, pageOAuthFailed, back)
}

// finishOAuth keeps the identity just learnt and sends the payer back.
func (h *handler) finishOAuth(c *gin.Context, payer *sessions.Payer, back string) {
	if !h.savePayer(c, payer) {
		h.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, back)
		return
	}
	c.Redirect(http.StatusFound, back)
	c.Abort()
}

package handlers

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/sessions"
	"github.com/wallet-checkout/checkout/web/templates"
)

// oauthWallet is what one wallet's page and OAuth round trip have of
// their own; the round trip itself is inWalletAction (its start) and
// oauthCallback (its end), the same for every wallet.
type oauthWallet struct {
	// method is the wallet as a checkout names it.
	method checkout.Method
	// native reports whether the store pays through the wallet's JS
	// bridge here, rather than through its cashier.
	native func(h *handler, st *checkout.Store) bool
	// jsapiAction and redirectAction are the page's action either way.
	jsapiAction, redirectAction string
	// authorizeURL is where the silent OAuth starts ("" when the
	// provider's base URL is broken); callback is its path under /c/:id.
	authorizeURL func(h *handler, appID, redirectURI, state string) string
	callback     string
	// codeParam is the query parameter the wallet sends the code in.
	codeParam string
	// appID is the store's app at the wallet ("" when it has none).
	appID func(st *checkout.Store) string
	// identity is the payer's id for an app, when the session has it.
	identity func(payer *sessions.Payer, appID string) (string, bool)
	// keep puts the payer's id for an app in the session.
	keep func(payer *sessions.Payer, appID, id string)
	// exchange turns the code into the payer's identity. When it returns
	// false it has answered (the code refused, the wallet failing).
	exchange func(h *handler, c *gin.Context, st *checkout.Store, code, back string) (oauthIdentity, bool)
}

// The wallets' OAuth callbacks (oauthCallback). WeChat's snsapi_base
// round trip comes back with code and state, and the code becomes the
// payer's openid for the store's official account; Alipay's auth_base
// comes back with auth_code and state, and the code becomes the payer's
// buyer id.
func (h *handler) wechatOAuthCallback(c *gin.Context) { h.oauthCallback(c, wechatOAuth) }
func (h *handler) alipayOAuthCallback(c *gin.Context) { h.oauthCallback(c, alipayOAuth) }

var (
	wechatOAuth = oauthWallet{method: checkout.MethodWeChat, native: (*handler).wechatNative,
		jsapiAction: templates.ActionWeChatJSAPI, redirectAction: templates.ActionWeChatRedirect,
		authorizeURL: func(h *handler, appID, uri, state string) string {
			return h.pages.WeChat.AuthorizeURL(appID, uri, state)
		},
		callback: "oauth/wechat", codeParam: "code", appID: func(st *checkout.Store) string { return st.WeChat.AppID },
		identity: (*sessions.Payer).WeChatOpenID, keep: (*sessions.Payer).SetWeChatOpenID, exchange: (*handler).wechatExchange}
	alipayOAuth = oauthWallet{method: checkout.MethodAlipay, native: (*handler).alipayNative,
		jsapiAction: templates.ActionAlipayJSAPI, redirectAction: templates.ActionAlipayRedirect,
		authorizeURL: func(h *handler, appID, uri, state string) string {
			return h.pages.Alipay.AuthorizeURL(appID, uri, state)
		},
		callback: "oauth/alipay", codeParam: "auth_code", appID: func(st *checkout.Store) string { return st.Alipay.AppID },
		identity: (*sessions.Payer).AlipayUserID, keep: (*sessions.Payer).SetAlipayUserID, exchange: (*handler).alipayExchange}
)

// oauthIdentity is what a code exchange learnt about the payer.
type oauthIdentity struct {
	id string
	// snapshot is a WeChat Moments snapshot page: the id is virtual.
	snapshot bool
}

// oauthCallback ends a wallet's silent OAuth round trip on
// /c/:id/oauth/<wallet>: the state must be one this service signed for
// this checkout's page and this browser, unexpired and unused
// (sessions.OAuthStates), the code becomes the payer's id for the store's
// app, kept in the session (which starts here: an identity is worth
// keeping), and the payer goes back to the checkout page. Every answer
// ends the browser's round trip (its binding cookie).
func (h *handler) oauthCallback(c *gin.Context, w oauthWallet) {
	ck, st, payer := pageCheckoutOf(c), pageStoreOf(c), pagePayerOf(c)
	// Back to the page in the language it was asked for: the lang the
	// callback carries must be the one signed into the state (Use).
	back := withLang(pagePath(ck.ID, ""), explicitLang(c))
	appID := w.appID(st)
	if appID == "" {
		h.errorPage(c, http.StatusNotFound, pageNotFound, "")
		return
	}
	h.pages.OAuth.End(c.Writer, c.Request)
	_, known := w.identity(payer, appID)
	code, ok := h.oauthCode(c, ck.ID, known, back, w.codeParam)
	if !ok {
		return
	}
	id, ok := w.exchange(h, c, st, code, back)
	if !ok {
		return
	}
	if id.snapshot {
		// A Moments snapshot page: the openid is virtual, never pay with
		// it, and nothing is kept.
		v := h.checkoutPageView(c, detectClient(c.GetHeader("User-Agent")), ck, pageMerchantOf(c), st, payer)
		v.Action = templates.ActionSnapshot
		h.render(c, http.StatusOK, templates.CheckoutPage(v))
		return
	}
	w.keep(payer, appID, id.id)
	h.finishOAuth(c, payer, back)
}

// oauthCode takes the code a wallet's OAuth round trip came back with. A
// payer whose identity the session already holds goes straight back: a
// refresh of the callback replays a used code (WeChat answers 40163).
// Otherwise the state is spent (sessions.OAuthStates.Use: whatever the
// outcome, it is good for one callback) and the code must be present (an
// auth_base/snsapi_base round trip never asks the payer, but be safe).
// page is the checkout or payment link whose page began the round trip.
// It has answered when it returns false.
func (h *handler) oauthCode(c *gin.Context, page string, known bool, back, codeParam string) (string, bool) {
	if known {
		c.Redirect(http.StatusFound, back)
		c.Abort()
		return "", false
	}
	err := h.pages.OAuth.Use(c.Request.Context(), c.Request, c.Query("state"), page, back, h.now())
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
func (h *handler) oauthFailed(c *gin.Context, walletName, appID string, badCode bool, err error, back string) {
	status := http.StatusBadGateway
	if badCode {
		status = http.StatusBadRequest
	}
	h.logger(c).Warn(walletName+" OAuth code exchange failed", oauthPage(c),
		slog.String("app_id", appID), slog.Any("error", err))
	h.errorPage(c, status, pageOAuthFailed, back)
}

// oauthPage names, for the logs, the page whose OAuth round trip this
// is: a checkout's (loaded by the /c/:id group), else a payment link's.
func oauthPage(c *gin.Context) slog.Attr {
	if ck, ok := loadedCheckout(c); ok {
		return slog.String("checkout_id", ck.ID)
	}
	return slog.String("payment_link", c.Param("id"))
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

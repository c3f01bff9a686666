package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/sessions"
	"github.com/wallet-checkout/checkout/web/templates"
)

// oauthWallet is what one wallet's OAuth callback has of its own; the
// round trip itself is oauthCallback, the same for every wallet.
type oauthWallet struct {
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
	code, ok := h.oauthCode(c, known, back, w.codeParam)
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

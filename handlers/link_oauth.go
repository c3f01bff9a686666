package handlers

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/web/templates"
)

// A payment link's page opened in WeChat or Alipay, for a store that pays
// natively there, first goes through the wallet's silent OAuth (snsapi_base,
// auth_base), exactly as a checkout's page does (offerFor decides, the same
// oauthWallet runs it), but from /l/:id and back to it: the tap then knows
// the payer's wallet identity, so that the same identity tapping again
// from another browser (or after the link's cookie is gone) gets its open
// checkout back (openLinkCheckout), and the checkout's page needs no round
// trip of its own. The view still stores nothing: the state is signed
// (sessions.OAuthStates) and bound to the browser by a cookie; only the
// callback, with a state this service signed for this link and browser,
// keeps the identity in a session.

// linkOAuth is where a view of link l must go first: the wallet's
// authorize URL, with the cookie binding the round trip to the browser;
// "" when the payer's wallet needs none here (another browser, a
// redirect-mode store, an identity the session holds, a wallet the link
// does not take).
func (h *handler) linkOAuth(c *gin.Context, l *checkout.PaymentLink, st *checkout.Store) (string, *http.Cookie) {
	cl := detectClient(c.GetHeader("User-Agent"))
	if cl.Wallet != templates.WalletWeChat && cl.Wallet != templates.WalletAlipay {
		return "", nil
	}
	payer, err := h.pages.Sessions.Load(c.Request)
	if err != nil {
		// Without the session the page still works: the checkout's page
		// does the OAuth after the tap.
		h.logger(c).Warn("Cannot read a payer session on a payment link's page", slog.String("payment_link", l.ID), slog.Any("error", err))
		return "", nil
	}
	o := h.offerFor(cl, linkWallets(l, st), st, payer)
	if o.oauth == nil {
		return "", nil
	}
	lang := explicitLang(c)
	state, binding := h.pages.OAuth.Begin(l.ID, withLang(linkPath(l.ID, ""), lang), h.now())
	callback := h.publicURL + withLang(linkPath(l.ID, o.oauth.callback), lang)
	return o.oauth.authorizeURL(h, o.oauth.appID(st), callback, state), binding
}

// linkPath is the path of link id's page, or of sub under it.
func linkPath(id, sub string) string {
	if sub == "" {
		return "/l/" + id
	}
	return "/l/" + id + "/" + sub
}

// The wallets' OAuth callbacks of a payment link's page.
func (h *handler) linkWeChatOAuthCallback(c *gin.Context) { h.linkOAuthCallback(c, wechatOAuth) }
func (h *handler) linkAlipayOAuthCallback(c *gin.Context) { h.linkOAuthCallback(c, alipayOAuth) }

// linkOAuthCallback ends a wallet's OAuth round trip begun on link :id's
// page (linkOAuth), as oauthCallback does for a checkout's: the state must
// be one this service signed for this link's page and this browser, and
// unused; the code becomes the payer's id for the store's app, kept in the
// session, and the payer goes back to the link's page.
func (h *handler) linkOAuthCallback(c *gin.Context, w oauthWallet) {
	l, m, st, ok := h.loadLink(c)
	if !ok {
		return
	}
	back := withLang(linkPath(l.ID, ""), explicitLang(c))
	appID := w.appID(st)
	if appID == "" {
		h.errorPage(c, http.StatusNotFound, pageLinkGone, "")
		return
	}
	if !h.allowPayer(c, "oauth-"+string(w.method), l.ID) {
		h.pageFailure(c, false, errRateLimited, pageRateLimited)
		return
	}
	h.pages.OAuth.End(c.Writer, c.Request)
	payer, err := h.pages.Sessions.Load(c.Request)
	if err != nil {
		h.logger(c).Error("Reading the payer session failed", slog.Any("error", err))
		h.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, back)
		return
	}
	_, known := w.identity(payer, appID)
	code, ok := h.oauthCode(c, l.ID, known, back, w.codeParam)
	if !ok {
		return
	}
	id, ok := w.exchange(h, c, st, code, back)
	if !ok {
		return
	}
	if id.snapshot {
		// A Moments snapshot page: the openid is virtual, so nothing is
		// kept, and the page is shown here (a redirect back would start
		// the round trip again); the checkout's page handles the rest.
		h.render(c, http.StatusOK, templates.LinkPage(h.linkPageView(c, l, m, st)))
		return
	}
	w.keep(payer, appID, id.id)
	h.finishOAuth(c, payer, back)
}

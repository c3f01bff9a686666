package handlers

import (
	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/sessions"
)

// answerAs is how a page route answers a failure of its opening steps:
// the pages (and the OAuth callbacks, the gateway's return) with an HTML
// error page, the page script's fetch endpoints (pay, status, events,
// check) with a JSON error.
type answerAs bool

const (
	asHTML answerAs = false
	asJSON answerAs = true
)

// requireCheckout loads the checkout of /c/:id with its merchant and store
// (pageCheckout); a missing checkout or store has been answered as asked
// and ends the request.
func (h *handler) requireCheckout(as answerAs) gin.HandlerFunc { return h.loadPage(as, false) }

// requireCheckoutPayer is requireCheckout that also loads the payer's
// session, in the same Redis round trip, when the request has a session
// cookie; without one the payer is a fresh one and nothing is read or
// written for it. A Redis failure has been answered as asked and ends the
// request.
func (h *handler) requireCheckoutPayer(as answerAs) gin.HandlerFunc { return h.loadPage(as, true) }

// loadPage is requireCheckout, or requireCheckoutPayer withPayer.
func (h *handler) loadPage(as answerAs, withPayer bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		ck, m, st, payer, ok := h.pageCheckout(c, bool(as), withPayer)
		if !ok {
			c.Abort()
			return
		}
		r := requestOf(c)
		r.page.checkout, r.page.merchant, r.page.store = ck, m, st
		if withPayer {
			r.page.payer = payer
		}
		c.Next()
	}
}

// requireCSRF refuses a POST whose X-CSRF-Token is not a token of this
// checkout's pages for this browser's session, or has expired
// (sessions.CSRF; after requireCheckoutPayer); it changes nothing.
func (h *handler) requireCSRF(c *gin.Context) {
	if !h.pages.CSRF.Check(c.GetHeader("X-CSRF-Token"), pageCheckoutOf(c).ID, pagePayerOf(c).SessionID(), h.now()) {
		h.payError(c, errCSRF)
		return
	}
	c.Next()
}

// csrfToken is the CSRF token of ck's pages for this payer.
func (h *handler) csrfToken(ck *checkout.Checkout, payer *sessions.Payer) string {
	return h.pages.CSRF.Token(ck.ID, payer.SessionID(), h.now())
}

// pageState is what a page route loads and makes once per request, kept
// in the request's state (requestLog, which serve makes) rather than gin's
// c.Set, which would make a map per request and take a lock on every read.
type pageState struct {
	checkout *checkout.Checkout
	merchant *checkout.Merchant
	store    *checkout.Store
	payer    *sessions.Payer
	// nonce is the CSP nonce (pageNonce), a part of csp[0], the CSP
	// header's value that allows the page's own scripts and styles.
	nonce string
	csp   [1]string
	// contentLength is the Content-Length header's value (writePage).
	contentLength [1]string
}

// pageCheckoutOf is the checkout requireCheckout loaded.
func pageCheckoutOf(c *gin.Context) *checkout.Checkout { return requestOf(c).page.checkout }

// loadedCheckout is the checkout requireCheckout loaded, if this route
// loads one.
func loadedCheckout(c *gin.Context) (*checkout.Checkout, bool) {
	ck := requestOf(c).page.checkout
	return ck, ck != nil
}

// pageMerchantOf is the checkout's merchant requireCheckout loaded.
func pageMerchantOf(c *gin.Context) *checkout.Merchant { return requestOf(c).page.merchant }

// pageStoreOf is the checkout's store requireCheckout loaded.
func pageStoreOf(c *gin.Context) *checkout.Store { return requestOf(c).page.store }

// pagePayerOf is the payer requireCheckoutPayer loaded.
func pagePayerOf(c *gin.Context) *sessions.Payer { return requestOf(c).page.payer }

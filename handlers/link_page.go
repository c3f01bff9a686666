package handlers

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/web/templates"
)

// maxLinkForm bounds a payment link form's body: a token and an amount.
const maxLinkForm = 4 << 10

// linkCookiePrefix names the cookie that remembers, for one link and one
// browser, the checkout its last tap made (set only by the POST), so that
// a second tap reuses that checkout while it is open.
const linkCookiePrefix = "pl_co_"

// loadLink reads the :id link and its merchant and store for a payer page,
// or answers the error page (pageLinkGone for a link deleted or never
// made: a 404 without a trace of which, since a deleted link keeps no
// key). It only reads.
func (h *handler) loadLink(c *gin.Context) (*checkout.PaymentLink, *checkout.Merchant, *checkout.Store, bool) {
	id := c.Param("id")
	if !checkout.ValidLinkID(id) {
		h.errorPage(c, http.StatusNotFound, pageLinkGone, "")
		return nil, nil, nil, false
	}
	l, err := h.repo.GetLink(c.Request.Context(), id)
	if errors.Is(err, checkout.ErrNotFound) {
		h.errorPage(c, http.StatusNotFound, pageLinkGone, "")
		return nil, nil, nil, false
	}
	if err != nil {
		h.logger(c).Warn("Cannot read a payment link", "payment_link", id, "error", err)
		h.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
		return nil, nil, nil, false
	}
	m, ok := h.dir.Merchant(l.MerchantID)
	var st *checkout.Store
	if ok {
		st, ok = m.Store(l.StoreID)
	}
	if !ok {
		h.errorPage(c, http.StatusNotFound, pageLinkGone, "")
		return nil, nil, nil, false
	}
	return l, m, st, true
}

// linkPageView is the page of l as a payer first sees it.
func (h *handler) linkPageView(c *gin.Context, l *checkout.PaymentLink, m *checkout.Merchant, st *checkout.Store) templates.LinkView {
	v := templates.LinkView{
		Page:         h.page(c),
		MerchantName: merchantDisplayName(m, st),
		LogoURL:      h.pages.Logos.Path(m.ID),
		Description:  l.Description,
		PostURL:      withLang("/l/"+l.ID, explicitLang(c)),
		CSRFToken:    h.pages.CSRF.Token(l.ID, "", h.now()),
		// Random per render, stored nowhere until a tap: the page's taps
		// share it, so a double tap makes one checkout (payLink).
		TapToken: rand.Text(),
		Terms:    checkout.LinkTermsDigest(l),
		Inactive: !l.Open(h.now()),
		// The number under the printed code (showLinkPoster): a payer
		// who scanned a sticker pasted over the shop's code sees another.
		ShortCode:      spacedCode(checkout.LinkShortCode(l.ID)),
		RegisteredName: m.RegisteredName,
	}
	if v.Inactive {
		v.InactiveMessage = l.InactiveMessage
	}
	if l.EnteredAmount() {
		v.Entered, v.Min, v.Max = true, templates.FormatFen(l.MinAmount), templates.FormatFen(l.MaxAmount)
		for _, p := range l.Presets {
			v.Presets = append(v.Presets, templates.LinkPreset{Label: templates.FormatFen(p), Value: checkout.FormatYuan(p)})
		}
	} else {
		v.Amount = templates.FormatFen(l.Amount)
	}
	return v
}

// linkPayee is what a payer compares with a link's printed code on the
// page of a checkout the link made: the merchant's registered name and the
// link's code number, as the poster prints them.
func linkPayee(m *checkout.Merchant, linkID string) (registered, code string) {
	return m.RegisteredName, spacedCode(checkout.LinkShortCode(linkID))
}

// showLinkPage is GET /l/:id. It stores nothing and makes no checkout: a
// link preview or a crawler leaves no trace. In WeChat or Alipay, for a
// store paying natively there, a payer whose identity the session lacks
// goes through the wallet's OAuth first (linkOAuth: a signed state and a
// cookie binding it to the browser, nothing stored).
func (h *handler) showLinkPage(c *gin.Context) {
	l, m, st, ok := h.loadLink(c)
	if !ok {
		return
	}
	if l.Open(h.now()) {
		if redirect, binding := h.linkOAuth(c, l, st); redirect != "" {
			http.SetCookie(c.Writer, binding)
			c.Redirect(http.StatusFound, redirect)
			return
		}
	}
	h.render(c, http.StatusOK, templates.LinkPage(h.linkPageView(c, l, m, st)))
}

// payLink is POST /l/:id, the payer's tap: it checks origin and CSRF
// token, reads the amount (the link's fixed one, or the payer's in yuan,
// parsed to fen without floats), reuses the checkout this browser's last
// tap made while it is open and for the same amount (even on a link
// switched off since: open checkouts finish), or makes one with
// the link's terms (Payments.CheckoutFromLink: a slot reserved; the taps
// of one page or one wallet identity make one), and sends the payer to
// /c/:id.
func (h *handler) payLink(c *gin.Context) {
	if err := h.pages.cop.Check(c.Request); err != nil {
		h.errorPage(c, http.StatusForbidden, pageUnavailable, "")
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxLinkForm)
	if err := c.Request.ParseForm(); err != nil {
		h.errorPage(c, http.StatusBadRequest, pageUnavailable, "")
		return
	}
	l, m, st, ok := h.loadLink(c)
	if !ok {
		return
	}
	if !h.allowPayer(c, "link", l.ID) {
		h.pageFailure(c, false, errRateLimited, pageRateLimited)
		return
	}
	v := h.linkPageView(c, l, m, st)
	if !h.pages.CSRF.Check(c.PostForm("csrf"), l.ID, "", h.now()) {
		// A stale page (its token lasts hours) or a forged post: the page
		// again, with a fresh token.
		h.render(c, http.StatusForbidden, templates.LinkPage(v))
		return
	}
	fen, raw := l.Amount, ""
	var amountErr error
	if l.EnteredAmount() {
		raw = c.PostForm("preset")
		if raw == "" {
			raw = c.PostForm("amount")
		}
		if fen, amountErr = checkout.ParseYuan(raw); amountErr == nil {
			amountErr = l.CheckAmount(fen)
		}
	}
	ctx := c.Request.Context()
	// Before the link's switch and terms: a second tap or a refresh by the
	// payer whose checkout is open goes back to it even after the merchant
	// switched the link off or changed its description; open checkouts
	// finish.
	if amountErr == nil {
		if co := h.openLinkCheckout(c, l, fen); co != nil {
			c.Redirect(http.StatusSeeOther, withLang(pagePath(co.ID, ""), explicitLang(c)))
			return
		}
	}
	if v.Inactive {
		h.render(c, http.StatusConflict, templates.LinkPage(v))
		return
	}
	seen := c.PostForm("terms")
	if err := l.CheckSeen(seen); err != nil {
		// The merchant changed the terms since the payer's page: the page
		// with the new ones, never a checkout on terms the payer did not see.
		v.Changed = true
		h.render(c, http.StatusConflict, templates.LinkPage(v))
		return
	}
	if amountErr != nil {
		v.Value, v.Error = limitText(raw, 32), amountMessage(v.Page, amountErr)
		h.render(c, http.StatusBadRequest, templates.LinkPage(v))
		return
	}
	// The page's tap token and the payer's wallet identity claim the tap
	// in the link's step: a double tap or the same payer tapping twice at
	// once get one checkout.
	tap := checkout.LinkTap{Token: c.PostForm("tap"), Who: h.linkPayerDigest(c, l, st), Terms: seen}
	co, err := h.pay.CheckoutFromLink(ctx, l, fen, tap)
	switch {
	case errors.Is(err, checkout.ErrLinkChanged):
		// Changed between this request's read and its reserve step: read
		// it again for the page.
		if fresh, gerr := h.repo.GetLink(ctx, l.ID); gerr == nil {
			v = h.linkPageView(c, fresh, m, st)
		}
		v.Changed = true
		h.render(c, http.StatusConflict, templates.LinkPage(v))
		return
	case errors.Is(err, checkout.ErrLinkInactive):
		v.Inactive, v.InactiveMessage = true, l.InactiveMessage
		h.render(c, http.StatusConflict, templates.LinkPage(v))
		return
	case err != nil:
		h.logger(c).Warn("Cannot make a checkout from a payment link", "payment_link", l.ID, "error", err)
		h.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name: linkCookiePrefix + l.ID[len("pl_"):], Value: co.ID, Path: "/l/" + l.ID,
		MaxAge: int(co.ExpiresAt.Sub(h.now()) / time.Second), HttpOnly: true,
		Secure: strings.HasPrefix(h.publicURL, "https://"), SameSite: http.SameSiteLaxMode,
	})
	c.Redirect(http.StatusSeeOther, withLang(pagePath(co.ID, ""), explicitLang(c)))
}

// openLinkCheckout is the checkout this browser's last tap on l made (its
// cookie), when it is still open for payment of fen.
func (h *handler) openLinkCheckout(c *gin.Context, l *checkout.PaymentLink, fen int64) *checkout.Checkout {
	id, _ := c.Cookie(linkCookiePrefix + l.ID[len("pl_"):])
	if !checkout.ValidID(id) {
		return nil
	}
	co, err := h.repo.Get(c.Request.Context(), id)
	if err == nil && co.PaymentLink == l.ID && co.Status.Active() && co.ExpiresAt.After(h.now()) && co.Amounts.Trade == fen {
		return co
	}
	return nil
}

// linkPayerDigest names the payer's wallet identity at the link's store
// (WeChat openid or Alipay user id, from the session the OAuth on a
// checkout's page started), hashed so that no identity becomes part of a
// key; "" when the browser has none.
func (h *handler) linkPayerDigest(c *gin.Context, l *checkout.PaymentLink, st *checkout.Store) string {
	if !h.pages.Sessions.HasCookie(c.Request) {
		return ""
	}
	p, err := h.pages.Sessions.Load(c.Request)
	if err != nil || p == nil {
		return ""
	}
	var who string
	if id, ok := p.WeChatOpenID(st.WeChat.AppID); ok && st.WeChat.AppID != "" {
		who = "wechat\x00" + st.WeChat.AppID + "\x00" + id
	} else if id, ok := p.AlipayUserID(st.Alipay.AppID); ok && st.Alipay.AppID != "" {
		who = "alipay\x00" + st.Alipay.AppID + "\x00" + id
	} else {
		return ""
	}
	sum := sha256.Sum256([]byte("link-payer\x00" + l.ID + "\x00" + who))
	return hex.EncodeToString(sum[:16])
}

// amountMessage says in the payer's language why an entered amount was
// refused, with the bound it broke.
func amountMessage(p templates.Page, err error) string {
	var ae *checkout.AmountError
	if !errors.As(err, &ae) {
		return p.T("link.amount.bad")
	}
	switch ae.Kind {
	case checkout.AmountPrecision:
		return p.T("link.amount.precision")
	case checkout.AmountBelowMin:
		return p.T("link.amount.below_min") + " " + templates.FormatFen(ae.Limit)
	case checkout.AmountAboveMax:
		return p.T("link.amount.above_max") + " " + templates.FormatFen(ae.Limit)
	}
	return p.T("link.amount.bad")
}

// limitText cuts what a payer typed to n bytes of valid text for showing
// it back.
func limitText(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if len(s) <= n {
		return s
	}
	s = s[:n]
	return strings.ToValidUTF8(s, "")
}

package handlers

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/sessions"
	"github.com/wallet-checkout/checkout/web/templates"
)

// showCheckoutPage renders GET /c/:id: what to pay and the way to pay that
// suits where the link was opened. Inside WeChat or Alipay in native mode it
// first obtains the payer's id through the wallet's OAuth, once per session.
// A view stores nothing and sets no cookie; only the redirect to the OAuth
// sets the short-lived cookie that binds the round trip to the browser.
func (h *handler) showCheckoutPage(c *gin.Context) {
	ck, m, st, payer := pageCheckoutOf(c), pageMerchantOf(c), pageStoreOf(c), pagePayerOf(c)
	// The User-Agent is read once: the page's variant and the pay action.
	cl := detectClient(c.GetHeader("User-Agent"))
	v := h.checkoutPageView(c, cl, ck, m, st, payer)
	status := displayStatus(ck, h.now())
	switch {
	case status.Paid():
		v.Action = templates.ActionPaid
		v.Method = h.paidMethod(c.Request.Context(), ck)
	case status == checkout.StatusExpired:
		v.Action = templates.ActionExpired
	case status == checkout.StatusCancelled:
		v.Action = templates.ActionCancelled
	case len(v.Wallets) == 0:
		h.errorPage(c, http.StatusConflict, pageNoWallet, ck.CancelURL)
		return
	default:
		if redirect, binding := h.chooseAction(c, cl, &v, ck, st, payer); redirect != "" {
			http.SetCookie(c.Writer, binding)
			c.Redirect(http.StatusFound, redirect)
			c.Abort()
			return
		}
	}
	h.renderCheckoutPage(c, v)
}

// checkoutPageView fills what every variant of the checkout page shows.
func (h *handler) checkoutPageView(c *gin.Context, cl client, ck *checkout.Checkout, m *checkout.Merchant, st *checkout.Store, payer *sessions.Payer) templates.CheckoutView {
	id, lang := ck.ID, explicitLang(c)
	paths := pagePathsOf(id)
	v := templates.CheckoutView{
		Page:         h.page(c),
		ID:           id,
		MerchantName: merchantDisplayName(m, st),
		Description:  ck.Description,
		Amount:       templates.FormatFen(ck.Amounts.Trade),
		AmountFen:    ck.Amounts.Trade,
		ExpiresAt:    ck.ExpiresAt,
		Now:          h.now(),
		Status:       string(displayStatus(ck, h.now())),
		Wallet:       cl.Wallet,
		PayURL:       withLang(paths.pay, lang),
		CSRFToken:    h.csrfToken(ck, payer),
		StatusURL:    paths.status,
		EventsURL:    paths.events,
		ResultURL:    withLang(paths.result, lang),
		CheckURL:     withLang(paths.check, lang),
		CancelURL:    ck.CancelURL,
		Wallets:      walletsOffered(ck, st),
		PageURL:      h.publicURL + pagePath(id, ""),
		Reference:    payerReference(ck),
		LogoURL:      h.pages.Logos.Path(m.ID),
		SuccessURL:   strings.ReplaceAll(ck.SuccessURL, checkout.CheckoutIDPlaceholder, id),
		PaidAt:       ck.PaidAt,
		Late:         ck.Late,
	}
	if ck.PaymentLink != "" {
		v.RegisteredName, v.ShortCode = linkPayee(m, ck.PaymentLink)
	}
	return v
}

// payerReference is the order reference a payer is shown: the merchant's
// own, which its support knows, else the checkout's id.
func payerReference(ck *checkout.Checkout) string {
	if ck.Reference != "" {
		return ck.Reference
	}
	return ck.ID
}

// paidMethod is the wallet of the attempt that paid ck, "" when it is not
// paid or its attempts cannot be read (the page then leaves the row out:
// the payment itself is confirmed by the status, not by this).
func (h *handler) paidMethod(ctx context.Context, ck *checkout.Checkout) string {
	if ck.PaidAttempt == 0 {
		return ""
	}
	atts, err := h.repo.Attempts(ctx, ck.ID)
	if err != nil {
		return ""
	}
	for _, a := range atts {
		if a.Seq == ck.PaidAttempt {
			return string(a.Method)
		}
	}
	return ""
}

// merchantDisplayName is the name payers know: the merchant's, else the
// store's.
func merchantDisplayName(m *checkout.Merchant, st *checkout.Store) string {
	if m.Name != "" {
		return m.Name
	}
	return st.Name
}

// chooseAction decides the pay action for an active checkout (offerFor).
// It returns a URL, and the cookie to send with it, when the payer must
// first go through the wallet's OAuth.
func (h *handler) chooseAction(c *gin.Context, cl client, v *templates.CheckoutView, ck *checkout.Checkout, st *checkout.Store, payer *sessions.Payer) (string, *http.Cookie) {
	o := h.offerFor(cl, v.Wallets, st, payer)
	v.Action = o.action
	if o.oauth != nil {
		redirect, state, binding := h.startOAuth(c, ck.ID, o.oauth.callback)
		return o.oauth.authorizeURL(h, o.oauth.appID(st), redirect, state), binding
	}
	return "", nil
}

// startOAuth begins a round trip that comes back to this checkout's page,
// in the language the page was asked for with ?lang= (carried on the
// callback's redirect_uri and signed into the state, so a changed one is
// refused): the callback URL, the signed state and the cookie binding it
// to the browser; nothing is stored.
func (h *handler) startOAuth(c *gin.Context, id, callback string) (string, string, *http.Cookie) {
	lang := explicitLang(c)
	state, binding := h.pages.OAuth.Begin(id, withLang(pagePath(id, ""), lang), h.now())
	return h.publicURL + withLang(pagePath(id, callback), lang), state, binding
}

// wechatNative reports whether WeChat pays through the JS bridge here: the
// store asks for it and we can resolve openids for its official account
// (the binary validates the providers' URLs at start-up).
func (h *handler) wechatNative(st *checkout.Store) bool {
	return st.WeChat.Mode == checkout.ModeNative && st.WeChat.AppID != ""
}

// alipayNative is wechatNative for Alipay.
func (h *handler) alipayNative(st *checkout.Store) bool {
	if st.Alipay.Mode != checkout.ModeNative || st.Alipay.AppID == "" {
		return false
	}
	// Unusable app keys would fail at the token call: use the cashier.
	_, err := h.alipayApp(st)
	return err == nil
}

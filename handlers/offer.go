package handlers

import (
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/sessions"
	"github.com/wallet-checkout/checkout/web/templates"
)

// payWay is one way to start a payment: a wallet and how.
type payWay struct {
	wallet   checkout.Method
	scenario checkout.Scenario
}

// offer is what the checkout page offers where it was opened.
type offer struct {
	// action is the page's variant (templates.Action*).
	action string
	// ways are the payments the page can start there: POST /c/:id/pay
	// starts these and refuses anything else.
	ways []payWay
	// oauth is the wallet whose OAuth the page must go through first (a
	// JSAPI payment of a payer the session does not know yet), nil when
	// none.
	oauth *oauthWallet
}

// allows reports whether the page could have started this payment.
func (o offer) allows(w checkout.Method, s checkout.Scenario) bool {
	for _, x := range o.ways {
		if x.wallet == w && x.scenario == s {
			return true
		}
	}
	return false
}

// offerFor is the one owner of "which ways to pay are offered here": the
// checkout page shows what it says (chooseAction) and the pay endpoint
// refuses what it does not (createPayment), so a request the page could
// never have sent (an Alipay cashier from inside WeChat, a QR code asked
// for by a wallet's browser) starts nothing. wallets are the checkout's
// (walletsOffered). The rules: WeChat's browser pays only with WeChat
// (it blocks Alipay) and Alipay's only with Alipay, through the JS bridge
// when the store is native (after the wallet's OAuth, unless the session
// knows the payer) or the gateway's cashier otherwise; a mini-program's
// web-view pays in the mini-program, never on the page; any other browser
// gets QR codes, on a phone under the hint to open the link in a wallet.
func (h *handler) offerFor(cl client, wallets []string, st *checkout.Store, payer *sessions.Payer) offer {
	switch cl.Wallet {
	case templates.WalletMiniProgram:
		// WeixinJSBridge cannot pay inside a mini-program's web-view: the
		// mini-program pays with wx.requestPayment (see docs/pages.md).
		if hasWallet(wallets, checkout.MethodWeChat) {
			return offer{action: templates.ActionMiniProgramHandoff}
		}
		return offer{action: templates.ActionOpenInBrowser}
	case templates.WalletWeChat:
		// WeChat blocks Alipay inside its browser.
		return h.inWalletOffer(wallets, st, payer, wechatOAuth)
	case templates.WalletAlipay:
		return h.inWalletOffer(wallets, st, payer, alipayOAuth)
	}
	o := offer{action: templates.ActionQR}
	if cl.Mobile {
		o.action = templates.ActionOpenInWallet
	}
	// One allocation for the ways, not one per append.
	o.ways = make([]payWay, 0, len(wallets))
	for _, w := range wallets {
		o.ways = append(o.ways, payWay{checkout.Method(w), checkout.ScenarioQR})
	}
	return o
}

// inWalletOffer is what wallet w's own browser offers: only w (a checkout
// without it must be opened in another browser); through the JS bridge
// when the store pays natively there, after w's silent OAuth when the
// session does not know the payer yet; through the gateway's cashier
// otherwise, or when the wallet's authorize URL is broken.
func (h *handler) inWalletOffer(wallets []string, st *checkout.Store, payer *sessions.Payer, w oauthWallet) offer {
	if !hasWallet(wallets, w.method) {
		return offer{action: templates.ActionOpenInBrowser}
	}
	if w.native(h, st) {
		jsapi := offer{action: w.jsapiAction, ways: []payWay{{w.method, checkout.ScenarioJSAPI}}}
		appID := w.appID(st)
		if _, ok := w.identity(payer, appID); ok {
			return jsapi
		}
		if w.authorizeURL(h, appID, h.publicURL, "") != "" {
			jsapi.oauth = &w
			return jsapi
		}
	}
	return offer{action: w.redirectAction, ways: []payWay{{w.method, checkout.ScenarioJump}}}
}

package templates

import (
	"strconv"
	"time"
)

// Wallet values of CheckoutView.Wallet: where the page was opened.
const (
	WalletWeChat      = "wechat"
	WalletAlipay      = "alipay"
	WalletBrowser     = "browser"
	WalletMiniProgram = "miniprogram"
)

// Action values of CheckoutView.Action: what the page offers the payer.
const (
	ActionWeChatJSAPI        = "wechat_jsapi"        // button → POST pay {wechat,jsapi} → WeixinJSBridge
	ActionWeChatRedirect     = "wechat_redirect"     // button → POST pay {wechat,jump} → location.href
	ActionAlipayJSAPI        = "alipay_jsapi"        // button → POST pay {alipay,jsapi} → AlipayJSBridge tradePay
	ActionAlipayRedirect     = "alipay_redirect"     // button → POST pay {alipay,jump} → location.href
	ActionQR                 = "qr"                  // desktop: QR codes of Wallets, POST pay {w,qr} each
	ActionOpenInWallet       = "open_in_wallet"      // phone browser: open the link in WeChat or Alipay
	ActionSnapshot           = "snapshot"            // WeChat snapshot page: "使用完整服务"
	ActionMiniProgramHandoff = "miniprogram_handoff" // web-view in a mini-program: wx.miniProgram.navigateTo
	ActionOpenInBrowser      = "open_in_browser"     // e.g. an Alipay-only checkout inside WeChat
	ActionPaid               = "paid"                // already paid: show it, never charge again
	ActionExpired            = "expired"
	ActionCancelled          = "cancelled"
)

// Page is what every page shares.
type Page struct {
	// Lang is a catalogue language: "zh-Hans" (default), "zh-Hant" or "en".
	// Use Negotiate to pick it.
	Lang string
	// Nonce is the request's CSP nonce, put on the script and stylesheet
	// tags. Pass it to templ.WithNonce as well.
	Nonce string
}

// NewPage returns a Page for lang (normalised by Negotiate rules) and nonce.
func NewPage(lang, nonce string) Page {
	return Page{Lang: Negotiate("", lang), Nonce: nonce}
}

// T translates a message key into the page's language; unknown keys come
// back as the key itself so a missing entry is visible, never blank.
func (p Page) T(key string) string { return Translate(p.Lang, key) }

// CheckoutView is the checkout page, GET /c/:id.
type CheckoutView struct {
	Page
	ID           string
	MerchantName string
	Description  string
	// Amount is the display amount, FormatFen(AmountFen).
	Amount    string
	AmountFen int64
	ExpiresAt time.Time
	// Now is the server's time of rendering, for the countdown (the
	// payer's clock may be wrong); zero means time.Now().
	Now time.Time
	// Status is the checkout's status (open, pending, paid, …).
	Status string
	// Wallet is where the page was opened: wechat, alipay, browser, miniprogram.
	Wallet string
	// Action is one of the Action* constants.
	Action string
	// PayURL, CSRFToken, StatusURL, EventsURL, CheckURL: see the package comment.
	PayURL    string
	CSRFToken string
	StatusURL string
	EventsURL string
	// ResultURL is /c/:id/result: where the page goes after the bridge says
	// ok and when the checkout reaches a final state.
	ResultURL string
	CheckURL  string
	// CancelURL is the merchant's cancel URL ("" hides the "back to the
	// merchant" link).
	CancelURL string
	// Wallets are the wallets offered (wechat, alipay), in display order.
	Wallets []string
	// PageURL is the absolute URL of this page, shown for copying in the
	// open-in-wallet and open-in-browser guidance; "" hides it.
	PageURL string
	// MiniProgramPath is the page the mini-program hand-off navigates to;
	// empty means /pages/pay/pay?checkout_id=<ID>.
	MiniProgramPath string
	// Notice is an optional message shown above the action (e.g. after a
	// failed identity step); already translated.
	Notice string
	// Reference is the order reference the payer sees: the merchant's
	// reference, else the checkout's id.
	Reference string
	// LogoURL is the merchant's logo on our origin; "" shows the initial.
	LogoURL string
	// SuccessURL, PaidAt and Method fill the paid panel of a checkout
	// reopened after it was paid (Method "" leaves its row out).
	SuccessURL string
	PaidAt     time.Time
	Method     string
	// Late is set when the money arrived after expiry or cancellation.
	Late bool
	// RegisteredName and ShortCode are shown under the merchant's name on
	// the page of a checkout a payment link made: the merchant's
	// registered name and the link's code number, as its poster prints
	// them ("" leaves each out).
	RegisteredName string
	ShortCode      string

	// countdown, when set, is written in place of the countdown's seconds
	// and clock: the page cache renders its sentinels there (PageCache).
	countdown *countdownSlots
}

// countdownSlots are the texts written for the countdown instead of the
// ones computed from ExpiresAt and Now.
type countdownSlots struct{ seconds, clock, tone string }

// ResultView is the result page, GET /c/:id/result.
type ResultView struct {
	Page
	ID           string
	MerchantName string
	Description  string
	Amount       string
	AmountFen    int64
	// Status is the checkout's confirmed status, or "failed".
	Status string
	// Late is set when money arrived after expiry or cancellation.
	Late   bool
	PaidAt time.Time
	// SuccessURL is the merchant's success URL with the id filled in.
	SuccessURL string
	// CancelURL is the merchant's cancel URL ("" hides the link).
	CancelURL string
	// CheckoutURL is /c/:id: "pay again" from failed/cancelled-by-payer.
	CheckoutURL string
	StatusURL   string
	EventsURL   string
	CheckURL    string
	CSRFToken   string
	// CheckAfter is how long the page waits without news before POSTing
	// CheckURL (0: 4 seconds).
	CheckAfter time.Duration
	// WalletOK, when set, is the stamp of the moment the payer's wallet
	// reported success (sessions.CSRF.WalletOKToken): the page then never
	// offers a bare "pay again" while it waits, only what its checks allow
	// (payments.PayAgainAfterWalletOK), in words for a payer who has not
	// paid.
	WalletOK string
	// Reference is the order reference shown (the merchant's, else the id).
	Reference string
	// LogoURL is the merchant's logo on our origin; "" shows the initial.
	LogoURL string
	// Method is the wallet that paid (wechat, alipay), "" when unknown.
	Method string
}

// outcome is what a final state's panel shows (outcomePanel): the same
// facts whether the result page or the reopened checkout page draws it.
type outcome struct {
	Merchant, Amount, Description, Reference string
	PaidAt                                   time.Time
	Method                                   string
	// SuccessURL is the paid panel's way back; "" shows "done" instead.
	SuccessURL string
	// BackURL is the merchant's page for an order that can no longer be
	// paid; "" shows no link.
	BackURL string
	// RetryURL is the failed panel's "pay again".
	RetryURL       string
	Late, Refunded bool
}

// outcomeText is a final state's title and body, as catalogue keys.
type outcomeText struct{ title, body string }

// outcomeTexts are written out so that the catalogue's test sees the keys.
var outcomeTexts = map[string]outcomeText{
	"paid":      {title: "result.paid.title"},
	"failed":    {title: "result.failed.title", body: "result.failed.body"},
	"expired":   {title: "result.expired.title", body: "result.expired.body"},
	"cancelled": {title: "result.cancelled.title", body: "result.cancelled.body"},
}

// ErrorView is a payer-facing error page.
type ErrorView struct {
	Page
	Status  int
	Title   string
	Message string
	// BackURL, when set, is offered as a "back" link (e.g. to /c/:id).
	BackURL string
}

// FormatFen formats an amount in fen as yuan with the ¥ sign, thousands
// separated by commas, and exactly two decimals: 1234 → "¥12.34",
// 1234567 → "¥12,345.67", -5 → "-¥0.05". Every page and language shows
// amounts through it (comma grouping is how amounts are written in zh-Hans,
// zh-Hant and en alike). Integer arithmetic only, so every int64
// (including math.MinInt64) formats exactly.
func FormatFen(fen int64) string {
	neg := fen < 0
	// Work on the magnitude as uint64 so math.MinInt64 does not overflow.
	u := uint64(fen)
	if neg {
		u = -u
	}
	yuan := strconv.FormatUint(u/100, 10)
	cents := u % 100
	b := make([]byte, 0, len(yuan)+len(yuan)/3+6)
	if neg {
		b = append(b, '-')
	}
	b = append(b, "¥"...)
	for i := range len(yuan) {
		if i > 0 && (len(yuan)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, yuan[i])
	}
	b = append(b, '.', byte('0'+cents/10), byte('0'+cents%10))
	return string(b)
}

// mismatchGuide is the title and body of the open-in-browser guidance:
// the wallet the checkout needs, seen from the one the page was opened in
// (the page shows it only when that one cannot pay the checkout).
func (v CheckoutView) mismatchGuide() (title, body string) {
	switch v.Wallet {
	case WalletAlipay:
		// A WeChat-only checkout in Alipay.
		return v.T("guide.in_alipay.title"), v.T("guide.in_alipay.body")
	case WalletMiniProgram:
		// An Alipay-only checkout in a WeChat mini-program's web-view.
		return v.T("guide.in_miniprogram.title"), v.T("guide.in_miniprogram.body")
	}
	// An Alipay-only checkout in WeChat, which blocks Alipay.
	return v.T("guide.browser.title"), v.T("guide.browser.body")
}

// mismatchTitle is mismatchGuide's title.
func (v CheckoutView) mismatchTitle() string { t, _ := v.mismatchGuide(); return t }

// mismatchBody is mismatchGuide's body.
func (v CheckoutView) mismatchBody() string { _, b := v.mismatchGuide(); return b }

// LinkView is what a payment link's page shows (LinkPage).
type LinkView struct {
	Page
	MerchantName string
	// RegisteredName is the merchant's registered name, shown under the
	// header when set, so that a payer can tell a sticker pasted over a
	// printed code from the shop's own.
	RegisteredName string
	LogoURL        string
	Description    string
	// Amount is the fixed amount, formatted; empty when the payer enters it.
	Amount string
	// Entered is set when the payer enters the amount, between Min and Max
	// (formatted), with Presets as buttons.
	Entered  bool
	Min, Max string
	Presets  []LinkPreset
	// Value is what the payer typed, shown again with Error when the
	// amount was refused.
	Value string
	Error string
	// PostURL and CSRFToken are the form's.
	PostURL   string
	CSRFToken string
	// TapToken is random for each render: the taps of one page (a double
	// tap, a resent form) name the same one, so they make one checkout.
	TapToken string
	// Terms is the digest of the terms the page shows
	// (checkout.LinkTermsDigest): a tap on terms the merchant has changed
	// since is refused and the page shown again with Changed set.
	Terms   string
	Changed bool
	// Inactive is set when the link takes no payment now; InactiveMessage
	// is the merchant's text for it (the catalogue's when empty).
	Inactive        bool
	InactiveMessage string
	// ShortCode is the number printed under the link's store code, shown
	// when set.
	ShortCode string
}

// LinkPreset is one preset amount's button: its label and the value the
// form posts (yuan, two decimals).
type LinkPreset struct{ Label, Value string }

// title is the document's title: the description and the merchant, or
// the merchant alone.
func (v LinkView) title() string {
	if v.Description == "" {
		return v.MerchantName
	}
	return v.Description + " · " + v.MerchantName
}

func (v LinkView) rangeText() string {
	return v.T("link.range") + " " + v.Min + " – " + v.Max
}

func (v LinkView) inactiveBody() string {
	if v.InactiveMessage != "" {
		return v.InactiveMessage
	}
	return v.T("link.inactive.body")
}

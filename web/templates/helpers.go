package templates

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wallet-checkout/checkout/checkout"
)

// ResultState maps a checkout status onto the result page's panel:
// pending, paid, unpaid, failed, expired or cancelled. The script uses the
// same mapping.
func ResultState(status string) string {
	if checkout.Status(status).Paid() {
		return "paid"
	}
	switch status {
	case "pending":
		return "pending"
	case "open":
		return "unpaid"
	case "failed", "expired", "cancelled":
		return status
	}
	// An unknown status never shows "paid"; waiting is the safe default.
	return "pending"
}

// finalState reports whether a result panel is a final one: the checkout
// can no longer be paid.
func finalState(state string) bool {
	return state == "paid" || state == "expired" || state == "cancelled"
}

// final reports whether the checkout page shows a final state instead of
// a way to pay.
func (v CheckoutView) final() bool {
	return v.Action == ActionPaid || v.Action == ActionExpired || v.Action == ActionCancelled
}

// outcome is the checkout page's final panel's facts.
func (v CheckoutView) outcome() outcome {
	return outcome{
		Merchant: v.MerchantName, Amount: v.Amount, Description: v.Description, Reference: v.Reference,
		PaidAt: v.PaidAt, Method: v.Method, SuccessURL: v.SuccessURL, BackURL: v.CancelURL,
		Late: v.Late, Refunded: refunded(checkout.Status(v.Status)),
	}
}

// outcome is the result page's panels' facts.
func (v ResultView) outcome() outcome {
	return outcome{
		Merchant: v.MerchantName, Amount: v.Amount, Description: v.Description, Reference: v.Reference,
		PaidAt: v.PaidAt, Method: v.Method, SuccessURL: v.SuccessURL, BackURL: v.CancelURL,
		RetryURL: v.CheckoutURL, Late: v.Late, Refunded: refunded(checkout.Status(v.Status)),
	}
}

// chinaTime is the zone payers read times in (China has one, UTC+8, no
// daylight saving): fixed, so no tz database is needed.
var chinaTime = time.FixedZone("UTC+8", 8*3600)

// paidTimeText is when a checkout was paid, in UTC+8 with the zone named
// in the page's language; "" when unknown (the script fills it in when the
// page turns paid).
func paidTimeText(p Page, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(chinaTime).Format("2006-01-02 15:04:05") + " (" + p.T("time.zone") + ")"
}

// paidStatuses is the statuses checkout.Status.Paid counts as paid, space
// separated: the pages render it (data-paid-statuses) and the page script
// reads its set from there, so that the set has one owner.
func paidStatuses() string { return statusesWhere(checkout.Status.Paid) }

// refundedStatuses is the paid statuses that show the refunded note
// (data-refunded-statuses).
func refundedStatuses() string { return statusesWhere(refunded) }

// refunded reports whether a status shows the refunded note: paid, and
// some or all of it given back.
func refunded(s checkout.Status) bool {
	return s.Paid() && s != checkout.StatusPaid
}

// statusesWhere lists the statuses for which keep is true, space separated.
func statusesWhere(keep func(checkout.Status) bool) string {
	var out []string
	for _, s := range checkout.Statuses() {
		if keep(s) {
			out = append(out, string(s))
		}
	}
	return strings.Join(out, " ")
}

// walletText is a wallet's texts, as catalogue keys.
type walletText struct {
	pay, hint, tab, qrAlt, qrScan string
}

// walletTexts spells out each wallet's keys rather than building them from
// the wallet's name, so that the catalogue's test finds every key in the
// source.
var walletTexts = map[string]walletText{
	WalletWeChat: {pay: "pay.wechat", hint: "pay.wechat.hint", tab: "wallet.wechat", qrAlt: "qr.alt.wechat", qrScan: "qr.scan.wechat"},
	WalletAlipay: {pay: "pay.alipay", hint: "pay.alipay.hint", tab: "wallet.alipay", qrAlt: "qr.alt.alipay", qrScan: "qr.scan.alipay"},
}

// walletTextOf returns wallet's texts; an unknown wallet's show its name,
// visible rather than blank.
func walletTextOf(wallet string) walletText {
	if t, ok := walletTexts[wallet]; ok {
		return t
	}
	return walletText{pay: wallet, hint: wallet, tab: wallet, qrAlt: wallet, qrScan: wallet}
}

// expiresIn is the number of whole seconds left to pay, never negative.
func (v CheckoutView) expiresIn() int64 {
	if v.ExpiresAt.IsZero() {
		return 0
	}
	now := v.Now
	if now.IsZero() {
		now = time.Now()
	}
	d := v.ExpiresAt.Sub(now)
	if d <= 0 {
		return 0
	}
	return int64(d / time.Second)
}

// expiresInText is data-expires-in: the seconds left to pay.
func (v CheckoutView) expiresInText() string {
	if v.countdown != nil {
		return v.countdown.seconds
	}
	return strconv.FormatInt(v.expiresIn(), 10)
}

// clockText is the countdown's text: the time left to pay as a clock.
func (v CheckoutView) clockText() string {
	if v.countdown != nil {
		return v.countdown.clock
	}
	return clock(v.expiresIn())
}

// Countdown tones: how the countdown shows the time left (data-tone).
const (
	// urgentSeconds: from two minutes left the time shows red.
	urgentSeconds = 120
	// farSeconds: with more than an hour left no countdown is shown, a
	// payer has no reason to hurry.
	farSeconds = 3600
)

// countdownTone is data-tone of the countdown for secs left: "far" (not
// shown), "urgent" (red) or "" (neutral). The page script applies the same
// thresholds as the time runs.
func countdownTone(secs int64) string {
	switch {
	case secs > farSeconds:
		return "far"
	case secs <= urgentSeconds:
		return "urgent"
	}
	return ""
}

// toneText is the countdown's data-tone.
func (v CheckoutView) toneText() string {
	if v.countdown != nil {
		return v.countdown.tone
	}
	return countdownTone(v.expiresIn())
}

// alipayDeepLink opens this page inside the Alipay app (Alipay's
// documented H5 deep link, app 20000067 being its web container), or ""
// when Alipay is not offered or the page's address is unknown.
func (v CheckoutView) alipayDeepLink() string {
	if v.PageURL == "" || !slices.Contains(v.Wallets, WalletAlipay) {
		return ""
	}
	return "alipays://platformapi/startapp?appId=20000067&url=" + url.QueryEscape(v.PageURL)
}

// miniProgramPath is where the mini-program hand-off navigates.
func (v CheckoutView) miniProgramPath() string {
	if v.MiniProgramPath != "" {
		return v.MiniProgramPath
	}
	return "/pages/pay/pay?checkout_id=" + v.ID
}

// checkAfterMillis is the result page's wait before asking for a check.
func (v ResultView) checkAfterMillis() int64 {
	if v.CheckAfter <= 0 {
		return 4000
	}
	return v.CheckAfter.Milliseconds()
}

// clock formats seconds as m:ss, or h:mm:ss from an hour up.
func clock(secs int64) string { return string(appendClock(nil, secs)) }

// initial is the first character of a merchant's name, for its avatar.
func initial(name string) string {
	name = strings.TrimSpace(name)
	r, _ := utf8.DecodeRuneInString(name)
	if r == utf8.RuneError {
		return "¥"
	}
	return strings.ToUpper(string(r))
}

// tabIndex is the roving tabindex of the wallet tabs: only the selected
// one is in the tab order; arrow keys move between them.
func tabIndex(selected bool) string {
	if selected {
		return "0"
	}
	return "-1"
}

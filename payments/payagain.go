package payments

import "time"

// WalletOKGrace is how long after the payer's wallet reported a payment
// successful (WeixinJSBridge's get_brand_wcpay_request:ok, Alipay's 9000
// and its "processing" codes) a page waits for the gateway's word before it
// may invite the payer to pay again. The wallet's OK usually means the
// money moved and the notify is on its way; inviting a second payment
// while it is is the costliest thing a result page can do (the duplicate
// is refunded, but the payer saw two debits).
const WalletOKGrace = time.Minute

// PayAgain is what a payer's page may offer after the wallet said OK, while
// the gateway has said neither paid nor not paid.
type PayAgain struct {
	// IfUnpaid is true when the page may now invite the payer to pay
	// again, in words for a payer who has not paid ("如果您尚未付款…"),
	// never a bare "pay again".
	IfUnpaid bool
	// Wait is how long until a fresh check could allow it (zero when
	// IfUnpaid).
	Wait time.Duration
}

// Checked is how a page's check of the gateway went, for
// PayAgainAfterWalletOK.
type Checked int

const (
	// CheckFailed: the gateway was not asked (an error, a timeout): the
	// page backs off as usual.
	CheckFailed Checked = iota
	// CheckLimited: CheckNow's rate limit turned the check away (another
	// request's query, maybe still on its way): not fresh, but the page
	// may ask again as soon as the limit lets it.
	CheckLimited
	// CheckFresh: this very check asked the gateway (paystatus) now.
	CheckFresh
)

// PayAgainAfterWalletOK decides what a page whose wallet reported success
// at okAt may offer at now, when the checkout is still waiting for the
// gateway: the offer only once a fresh paystatus (CheckFresh: asked by
// this check, not the stored state nor another request's query) still
// finds the order unpaid WalletOKGrace after the OK. A gateway that says
// the attempt failed or was cancelled needs no grace: the payer's status
// says so and the page offers another try (handlers' payStatusFrom). Due
// but turned away by the rate limit, the page is told to ask again once
// the limit lets it; due but failed, it backs off (no Wait).
func PayAgainAfterWalletOK(okAt, now time.Time, checked Checked) PayAgain {
	due := okAt.Add(WalletOKGrace)
	if !now.Before(due) {
		switch checked {
		case CheckFresh:
			return PayAgain{IfUnpaid: true}
		case CheckLimited:
			return PayAgain{Wait: checkNowEvery}
		}
		return PayAgain{}
	}
	return PayAgain{Wait: due.Sub(now)}
}

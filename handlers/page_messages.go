package handlers

import "github.com/wallet-checkout/checkout/web/templates"

// The texts the handlers put in front of payers live in the one message
// catalogue, web/templates; this file only names them. Every key is
// written out in full rather than built from a kind or a code, so that the
// catalogue's test finds each key the handlers use in the source.

// errorText is an error page's title and body, as catalogue keys.
type errorText struct{ title, body string }

// The error pages the payer-facing handlers render.
var (
	pageNotFound = errorText{"error.not_found.title", "error.not_found.body"}
	// pageLinkGone is a payment link's page or poster when there is no
	// such link: deleted by the merchant (or never made).
	pageLinkGone      = errorText{"error.link_gone.title", "error.link_gone.body"}
	pageUnavailable   = errorText{"error.unavailable.title", "error.unavailable.body"}
	pageNoWallet      = errorText{"error.no_wallet.title", "error.no_wallet.body"}
	pageOAuthFailed   = errorText{"error.oauth_failed.title", "error.oauth_failed.body"}
	pageOAuthExpired  = errorText{"error.oauth_expired.title", "error.oauth_expired.body"}
	pageOAuthDenied   = errorText{"error.oauth_denied.title", "error.oauth_denied.body"}
	pageReturnInvalid = errorText{"error.return_invalid.title", "error.return_invalid.body"}
	pageRateLimited   = errorText{"error.rate_limited.title", "error.rate_limited.body"}
	// pageForbidden refuses a console form posted from another site or
	// with a token that does not verify.
	pageForbidden = errorText{"error.forbidden.title", "error.forbidden.body"}
)

// apiErrorKeys gives the catalogue key of the message of each error code
// that the page script (pay, status, events, check) and the mini-program
// can receive.
var apiErrorKeys = map[string]string{
	"cross_origin":         "api_error.cross_origin",
	"csrf":                 "api_error.csrf",
	"invalid_request":      "api_error.invalid_request",
	"not_found":            "api_error.not_found",
	"unavailable":          "api_error.unavailable",
	"checkout_paid":        "api_error.checkout_paid",
	"checkout_expired":     "api_error.checkout_expired",
	"checkout_cancelled":   "api_error.checkout_cancelled",
	"checkout_not_payable": "api_error.checkout_not_payable",
	"wallet_unavailable":   "api_error.wallet_unavailable",
	"identity_required":    "api_error.identity_required",
	"busy":                 "api_error.busy",
	"payment_declined":     "api_error.payment_declined",
	"payment_unknown":      "api_error.payment_unknown",
	"internal":             "api_error.internal",
	"rate_limited":         "api_error.rate_limited",
	"method_not_offered":   "api_error.method_not_offered",
}

// apiErrorMessage is the message of an error code in lang. A code without
// an entry comes back as itself, so the gap is visible, never blank (a
// test keeps every code the handlers send in apiErrorKeys).
func apiErrorMessage(lang, code string) string {
	if key, ok := apiErrorKeys[code]; ok {
		return templates.Translate(lang, key)
	}
	return code
}

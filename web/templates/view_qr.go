package templates

// PosterView is a payment link's printable store code (PosterPage).
type PosterView struct {
	Page
	MerchantName string
	// RegisteredName is the merchant's registered name, printed under
	// its name and shown on the link's page too ("" leaves it out).
	RegisteredName string
	Description    string
	// Amount is the fixed amount, formatted; empty when the payer enters it.
	Amount string
	// Wallets are the wallets that can pay the code ("wechat", "alipay").
	Wallets []string
	// QRImage is the code as a data: URI (an SVG), so the printed page
	// needs no second request.
	QRImage string
	// ShortURL is the link's URL without its scheme, printed for a payer
	// whose camera cannot read the code; ShortCode is its number, shown
	// on the link's page too.
	ShortURL  string
	ShortCode string
	// Paper is the sheet: "a4" or "a5".
	Paper string
	// Inactive marks a link that takes no payment now: the poster says
	// so on screen, so that a shop owner does not print a dead code.
	Inactive bool
}

// scanText is the line under the code: the wallets' scan actions.
func (v PosterView) scanText() string {
	switch {
	case len(v.Wallets) == 1 && v.Wallets[0] == "wechat":
		return v.T("poster.scan.wechat")
	case len(v.Wallets) == 1 && v.Wallets[0] == "alipay":
		return v.T("poster.scan.alipay")
	}
	return v.T("poster.scan.both")
}

// EmbedView is the framable QR view of a checkout (EmbedPage), shown in
// the overlay of /embed.js on a merchant's site: what is paid, the code of
// the checkout's page, and its status; no payer control at all.
type EmbedView struct {
	Page
	ID           string
	MerchantName string
	LogoURL      string
	Description  string
	Amount       string
	Status       string
	// QRURL is the checkout's page code (/c/{id}/qr.svg).
	QRURL     string
	StatusURL string
	EventsURL string
	// ParentOrigin is the framing page's origin, once checked against the
	// merchant's redirect hosts: the only target of the completion
	// message. Empty: no message is sent.
	ParentOrigin string
}

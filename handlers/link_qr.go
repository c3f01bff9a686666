package handlers

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/web/qrcode"
	"github.com/wallet-checkout/checkout/web/templates"
)

// linkURL is a payment link's public page: what its store code holds.
func (h *handler) linkURL(id string) string { return h.publicURL + "/l/" + id }

// linkCodeSVG and linkCodePNG answer GET /v1/payment-links/:id/qr.svg and
// qr.png: the link's store code (聚合码) for print, ?size= pixels wide
// (64..2048, 256 when absent). One code for both wallets: /l/{id} routes
// by wallet as /c/{id} does.
func (h *handler) linkCodeSVG(c *gin.Context) { h.linkCode(c, formatSVG) }
func (h *handler) linkCodePNG(c *gin.Context) { h.linkCode(c, formatPNG) }

func (h *handler) linkCode(c *gin.Context, format qrFormat) {
	id := c.Param("id")
	if !checkout.ValidLinkID(id) {
		h.fail(c, errNoLink)
		return
	}
	size, err := qrcode.ParseSize(c.Query("size"))
	if err != nil {
		h.fail(c, invalid("size", err.Error()))
		return
	}
	if _, err := h.repo.GetLinkFor(c.Request.Context(), merchantOf(c).ID, id); err != nil {
		h.fail(c, unavailable("get payment link", err), linkRules...)
		return
	}
	// The API's answers are never stored (apiNoStore); the ETag still
	// spares a client the body of a code it has.
	h.serveQR(c, h.linkURL(id), qrcode.Print, size, format, "no-store")
}

// posterPapers are the sheets a poster is laid out for (?paper=).
var posterPapers = map[string]string{"": "a5", "a5": "a5", "a4": "a4"}

// showLinkPoster is GET /l/:id/poster: the printable store code of a
// payment link (A5 by default, ?paper=a4), with the merchant's name, the
// amount or "enter the amount", the wallets that scan it, the short URL
// and the link's short code number, which its page shows too. Public,
// like the code it prints, and it stores nothing.
func (h *handler) showLinkPoster(c *gin.Context) {
	paper, ok := posterPapers[strings.ToLower(c.Query("paper"))]
	if !ok {
		h.fail(c, invalid("paper", "paper must be a4 or a5"))
		return
	}
	l, m, st, ok := h.loadLink(c)
	if !ok {
		return
	}
	code, err := qrcode.Encode(h.linkURL(l.ID), qrcode.Print)
	if err != nil {
		h.fail(c, fmt.Errorf("encode the code of %s: %w", l.ID, err))
		return
	}
	var svg bytes.Buffer
	// Drawn in module units, so the print is sharp at any size; the pixel
	// size only matters to a viewer that ignores the CSS.
	if err := code.SVG(&svg, 1024); err != nil {
		h.fail(c, fmt.Errorf("draw the code of %s: %w", l.ID, err))
		return
	}
	v := templates.PosterView{
		Page:         h.page(c),
		MerchantName: merchantDisplayName(m, st),
		Description:  l.Description,
		Wallets:      linkWallets(l, st),
		QRImage:      "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(svg.Bytes()),
		ShortURL:     strings.TrimPrefix(strings.TrimPrefix(h.linkURL(l.ID), "https://"), "http://"),
		ShortCode:    spacedCode(checkout.LinkShortCode(l.ID)),
		Paper:        paper,
		Inactive:     !l.Open(h.now()),
	}
	v.RegisteredName, v.ShortCode = linkPayee(m, l.ID)
	if !l.EnteredAmount() {
		v.Amount = templates.FormatFen(l.Amount)
	}
	h.render(c, http.StatusOK, templates.PosterPage(v))
}

// spacedCode shows an 8-digit short code as two groups of four, the way
// it is read aloud and compared.
func spacedCode(code string) string {
	if len(code) != 8 {
		return code
	}
	return code[:4] + " " + code[4:]
}

// linkWallets are the wallets a link's code can be paid with: those it
// allows (all when it names none) that its store has enabled, WeChat
// first.
func linkWallets(l *checkout.PaymentLink, st *checkout.Store) []string {
	allows := func(m checkout.Method) bool {
		if len(l.Wallets) == 0 {
			return true
		}
		for _, w := range l.Wallets {
			if w == m {
				return true
			}
		}
		return false
	}
	var out []string
	if st.WeChat.Enabled && allows(checkout.MethodWeChat) {
		out = append(out, string(checkout.MethodWeChat))
	}
	if st.Alipay.Enabled && allows(checkout.MethodAlipay) {
		out = append(out, string(checkout.MethodAlipay))
	}
	return out
}

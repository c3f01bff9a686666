package handlers

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/web/static"
	"github.com/wallet-checkout/checkout/web/templates"
)

// showEmbedView answers GET /c/:id/embed: the framable QR view that
// /embed.js opens in an overlay on a merchant's desktop site. It shows
// what is paid, the code of the checkout's page and the status, followed
// live, and no payer control (no pay, cancel or check: nothing to click,
// so a framing page has nothing to trick a payer into). It is the only
// page that may be framed, and only by the merchant's redirect hosts
// (frame-ancestors); every other page keeps frame-ancestors 'none'.
// ?origin= is the framing page's origin: when it is one of those hosts,
// the view tells it of the checkout's end through postMessage to exactly
// that origin; otherwise it tells no one. It stores nothing.
func (h *handler) showEmbedView(c *gin.Context) {
	ck, m, st := pageCheckoutOf(c), pageMerchantOf(c), pageStoreOf(c)
	v := templates.EmbedView{
		Page:         h.page(c),
		ID:           ck.ID,
		MerchantName: merchantDisplayName(m, st),
		LogoURL:      h.pages.Logos.Path(m.ID),
		Description:  ck.Description,
		Amount:       templates.FormatFen(ck.Amounts.Trade),
		Status:       string(displayStatus(ck, h.now())),
		QRURL:        pagePath(ck.ID, "qr.svg"),
		StatusURL:    pagePath(ck.ID, "status"),
		EventsURL:    pagePath(ck.ID, "events"),
		ParentOrigin: allowedOrigin(c.Query("origin"), m.RedirectHosts),
	}
	allowFraming(c, m.RedirectHosts)
	h.render(c, http.StatusOK, templates.EmbedPage(v))
}

// allowedOrigin is raw as an origin ("scheme://host[:port]", lower case)
// when it is a bare http(s) origin whose host the merchant's redirect
// hosts allow (the success URLs' rule, checkRedirect); "" otherwise.
func allowedOrigin(raw string, hosts []string) string {
	if raw == "" || len(raw) > 300 {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return ""
	}
	if checkRedirect(raw, hosts) != "" {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// allowFraming lets the merchant's redirect hosts frame this answer: the
// CSP's frame-ancestors names them instead of 'none', and X-Frame-Options
// (which cannot name hosts) goes. A host listed without a port allows any
// of its ports, as it does for success URLs. Call it after pageNonce.
func allowFraming(c *gin.Context, hosts []string) {
	var srcs []string
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" || strings.ContainsAny(h, " ;,'\"*/\\") {
			continue // the merchants file refuses these already
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h += ":*"
		}
		srcs = append(srcs, h)
	}
	if len(srcs) == 0 {
		return
	}
	hd := c.Writer.Header()
	csp := hd.Get("Content-Security-Policy")
	hd.Set("Content-Security-Policy", strings.Replace(csp, "frame-ancestors 'none'", "frame-ancestors "+strings.Join(srcs, " "), 1))
	hd.Del("X-Frame-Options")
}

// embedScript answers GET /embed.js: the button script merchants include
// on their own sites (web/static/embed.js). Its URL is fixed, so it is
// cached for an hour, not forever like the checksummed assets.
func embedScript(c *gin.Context) {
	b, _ := static.Bytes("embed.js")
	hd := c.Writer.Header()
	hd.Set("Cache-Control", "public, max-age=3600")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	c.Data(http.StatusOK, "text/javascript; charset=utf-8", b)
}

package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/wallet-checkout/checkout/payments"
	"github.com/wallet-checkout/checkout/web/logos"
)

// routes builds the engine: every route of the service is here, and only
// here (TestRoutesGolden pins the list), so this function reads top to
// bottom as the service's map. The handlers stay in their own files.
func (h *handler) routes(d Deps) (*gin.Engine, error) {
	// gin's mode is process-wide: the binary sets it in main, tests in
	// TestMain; building a router never changes it.
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RemoveExtraSlash = true
	r.ContextWithFallback = true
	if err := r.SetTrustedProxies(d.TrustedProxies); err != nil {
		return nil, err
	}
	if d.Observer != nil {
		r.Use(h.observeRequest)
	}
	r.Use(h.serve)
	r.NoRoute(func(c *gin.Context) { h.fail(c, errNoRoute) })
	r.NoMethod(func(c *gin.Context) { h.fail(c, errNoMethod) })

	// Probes.
	r.GET("/healthz", h.healthz)
	r.GET("/readyz", h.readyz)

	// The merchant API, authenticated by a Bearer API key (failures
	// limited per client address), then limited per key.
	v1 := r.Group("/v1", h.authenticate, h.limitAPI)
	v1.POST("/checkouts", h.createCheckout)
	v1.GET("/checkouts", h.listCheckouts)
	v1.GET("/checkouts/:id", h.getCheckout)
	v1.POST("/checkouts/:id/cancel", h.cancelCheckout)

	v1.POST("/checkouts/:id/refunds", h.createRefund)
	v1.POST("/payment-links", h.createLink)
	v1.GET("/payment-links", h.listLinks)
	v1.GET("/payment-links/:id", h.getLink)
	v1.POST("/payment-links/:id", h.updateLink)
	v1.DELETE("/payment-links/:id", h.deleteLink)
	// The link's store code (聚合码), for print.
	v1.GET("/payment-links/:id/qr.svg", h.linkCodeSVG)
	v1.GET("/payment-links/:id/qr.png", h.linkCodePNG)
	v1.GET("/events", h.listEvents)
	v1.GET("/events/stream", h.streamEvents)
	v1.GET("/events/:id", h.getEvent)
	v1.POST("/events/:id/resend", h.resendEvent)
	rec := &reconciliationHandlers{handler: h, svc: d.Reconciliations}
	v1.POST("/reconciliations", rec.create)
	v1.GET("/reconciliations", rec.list)
	v1.GET("/reconciliations/:id", rec.get)
	v1.POST("/reconciliations/:id/differences/:did", rec.setStatus)

	// The gateway's async notifies: signed by the gateway, not by a key.
	r.GET(payments.NotifyPath+":store", h.receiveNotify)

	// What payers and mini-programs touch: the pages' assets, the wallet
	// simulator in demo mode, then the pages themselves.
	assets := staticHandler()
	r.GET(logos.PathPrefix+":id", gin.WrapH(d.Logos))
	r.GET("/static/:checksum/*file", assets)
	r.HEAD("/static/:checksum/*file", assets)
	// The button script for merchants' sites (a fixed URL they include).
	r.GET("/embed.js", embedScript)
	if d.WalletSim != nil {
		r.Any("/walletsim/*path", gin.WrapH(d.WalletSim))
	}
	h.initPages(d)
	// Every page route but the QR image (which reads one attempt and
	// answers bare statuses) and the status poll (which reads the
	// checkout with its attempts) starts from the loaded checkout,
	// merchant and store: an error page for what a browser opens, a JSON
	// error for what the page script jsonFetches. The payer's pages and
	// POSTs also load the payer's session, in the same Redis round trip,
	// when the browser has one. POSTs check the origin first, then the
	// page's signed CSRF token.
	c := r.Group("/c/:id", h.pageHeaders)
	c.GET("/qr/:seq", h.showPayQRCode)
	htmlPages := c.Group("", h.requireCheckout(asHTML))
	// The page's own URL as a QR code: public, cached until the checkout ends.
	htmlPages.GET("/qr.svg", h.showCheckoutQR)
	// The framable QR view for /embed.js's overlay: the only page the
	// merchant's redirect hosts may frame.
	htmlPages.GET("/embed", h.showEmbedView)
	htmlPages.GET("/return", h.payReturn)
	// The same, for a payer who chose a language (?lang=): jump_url carries
	// it in its path, since the gateway signs every query field (createPayment).
	htmlPages.GET("/return/:lang", h.payReturn)
	payerPages := c.Group("", h.requireCheckoutPayer(asHTML))
	payerPages.GET("", h.showCheckoutPage)
	// The OAuth callbacks are limited per checkout and address (limitOAuth).
	payerPages.GET("/oauth/wechat", h.limitOAuth("wechat"), h.wechatOAuthCallback)
	payerPages.GET("/oauth/alipay", h.limitOAuth("alipay"), h.alipayOAuthCallback)
	payerPages.GET("/result", h.showResultPage)
	// The status poll loads its checkout with the attempts, in one
	// round trip (showPayStatus).
	c.GET("/status", h.showPayStatus)
	// The event stream takes its place under the caps (and a Redis read
	// slot) before the checkout is loaded: beyond a cap it answers the
	// polling hint without touching Redis.
	streams := c.Group("", h.admitStream, h.requireCheckout(asJSON))
	streams.GET("/events", h.streamPayEvents)
	posts := c.Group("", h.sameOrigin, h.requireCheckoutPayer(asJSON), h.requireCSRF)
	// Each limited per checkout and client address (limitPayer).
	posts.POST("/pay", h.limitPayer("pay"), h.createPayment)
	posts.POST("/check", h.limitPayer("check"), h.checkPayment)

	// A payment link's page: the view reads only; the tap (a plain form
	// POST, checked for origin and its signed token, limited per link and
	// address) makes the payer's checkout and sends them to /c/:id.
	l := r.Group("/l/:id", h.pageHeaders)
	l.GET("", h.showLinkPage)
	l.POST("", h.payLink)
	// The wallets' OAuth of a link's first visit in WeChat or Alipay
	// (link_oauth.go), limited per link and address.
	l.GET("/oauth/wechat", h.linkWeChatOAuthCallback)
	l.GET("/oauth/alipay", h.linkAlipayOAuthCallback)
	// The printable poster of the link's code: public, stores nothing.
	l.GET("/poster", h.showLinkPoster)

	// Outside the Bearer-authenticated /v1 group: the mini-program
	// proves itself with the checkout's client secret; it is limited per
	// checkout and client address once the checkout is loaded.
	h.consoleRoutes(r, d.Console)
	h.consoleOpsRoutes(r, d)

	r.POST("/v1/checkouts/:id/wechat-mini-program-payments", h.createMiniProgramPayment)
	// The API's own description (package api): public, since it holds no
	// secret and tools fetch it without a key; a constant from memory, so
	// not limited either.
	r.GET("/v1/openapi.json", h.openAPI)

	if d.Sandbox != nil {
		r.Any("/sandbox/*path", gin.WrapH(http.StripPrefix("/sandbox", d.Sandbox)))
	}
	return r, nil
}

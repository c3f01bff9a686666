package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/notify"
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
	r.Use(h.requestID, h.accessLog, h.recovery)
	r.NoRoute(func(c *gin.Context) { h.fail(c, errNoRoute) })
	r.NoMethod(func(c *gin.Context) { h.fail(c, errNoMethod) })

	// Probes.
	r.GET("/healthz", h.healthz)
	r.GET("/readyz", h.readyz)

	// The merchant API, authenticated by a Bearer API key.
	v1 := r.Group("/v1", h.authenticate)
	v1.POST("/checkouts", h.createCheckout)
	v1.GET("/checkouts", h.listCheckouts)
	v1.GET("/checkouts/:id", h.getCheckout)
	v1.POST("/checkouts/:id/cancel", h.cancelCheckout)

	// The gateway's async notifies: signed by the gateway, not by a key.
	if h.notifier != nil {
		r.GET(notify.NotifyPath+":store", h.receiveNotify)
	}
	// Refunds exist only when the service can confirm them with the gateway.
	if h.refunder != nil {
		v1.POST("/checkouts/:id/refunds", h.createRefund)
	}
	// The events API exists only when the service delivers webhooks.
	if h.events != nil {
		v1.GET("/events", h.listEvents)
		v1.GET("/events/:id", h.getEvent)
		v1.POST("/events/:id/resend", h.resendEvent)
	}
	// The reconciliations API exists only when the service runs them.
	if d.Reconciliations != nil {
		rec := &reconciliationHandlers{handler: h, svc: d.Reconciliations}
		v1.POST("/reconciliations", rec.create)
		v1.GET("/reconciliations", rec.list)
		v1.GET("/reconciliations/:id", rec.get)
		v1.POST("/reconciliations/:id/differences/:did", rec.setStatus)
	}

	// What payers and mini-programs touch: the pages' assets, the wallet
	// simulator in demo mode, then the pages themselves, which are mounted
	// only with sessions and a gateway to pay through (initPages).
	assets := staticHandler()
	r.GET("/static/:checksum/*file", assets)
	r.HEAD("/static/:checksum/*file", assets)
	if d.WalletSim != nil {
		r.Any("/walletsim/*path", gin.WrapH(d.WalletSim))
	}
	if h.initPages(d) {
		c := r.Group("/c/:id", h.pageHeaders)
		c.GET("", h.showCheckoutPage)
		c.GET("/oauth/wechat", h.wechatOAuthCallback)
		c.GET("/oauth/alipay", h.alipayOAuthCallback)
		c.POST("/pay", h.sameOrigin, h.createPayment)
		c.GET("/qr/:seq", h.showPayQRCode)
		c.GET("/return", h.payReturn)
		c.GET("/result", h.showResultPage)
		c.GET("/status", h.showPayStatus)
		c.GET("/events", h.streamPayEvents)
		c.POST("/check", h.sameOrigin, h.checkPayment)

		// Outside the Bearer-authenticated /v1 group: the mini-program
		// proves itself with the checkout's client secret.
		r.POST("/v1/checkouts/:id/wechat-mini-program-payments", h.createMiniProgramPayment)
	}

	if d.Sandbox != nil {
		r.Any("/sandbox/*path", gin.WrapH(http.StripPrefix("/sandbox", d.Sandbox)))
	}
	return r, nil
}

package handlers

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
)

// Defaults of PagesDeps.
const (
	defaultHeartbeat = 15 * time.Second
)

// pageRoutes mounts what payers and mini-programs touch: the hosted pages,
// the pay action, the OAuth callbacks, the result page and its live status,
// the QR codes, the static assets and the mini-program API. Nothing is
// mounted without sessions and a gateway to pay through.
func (h *handler) pageRoutes(r *gin.Engine, d Deps) {
	h.staticRoutes(r)
	if d.WalletSim != nil {
		ws := gin.WrapH(d.WalletSim)
		r.Any("/walletsim/*path", ws)
	}
	if d.Sessions == nil || d.PayOrderer == nil {
		return
	}
	p := &pages{PagesDeps: d.PagesDeps, cop: http.NewCrossOriginProtection()}
	if p.Heartbeat <= 0 {
		p.Heartbeat = defaultHeartbeat
	}
	opts := []checkout.PaymentsOption{checkout.WithPaymentsClock(h.now), checkout.WithPaymentsLogger(h.log)}
	if p.Reconciler != nil {
		rec := p.Reconciler
		opts = append(opts, checkout.WithWatch(rec.Watch))
	}
	p.pay = checkout.NewPayments(h.repo, h.dir, p.PayOrderer, opts...)
	h.pages = p

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

	// Outside the Bearer-authenticated /v1 group: the mini-program proves
	// itself with the checkout's client secret.
	r.POST("/v1/checkouts/:id/wechat-mini-program-payments", h.createMiniProgramPayment)
}

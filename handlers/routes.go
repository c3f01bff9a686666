package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// routes builds the engine: every route of the service is here.
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
	r.NoRoute(func(c *gin.Context) { abortError(c, http.StatusNotFound, "not_found", "no such route", "") })
	r.NoMethod(func(c *gin.Context) {
		abortError(c, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this route", "")
	})

	r.GET("/healthz", h.healthz)
	r.GET("/readyz", h.readyz)

	v1 := r.Group("/v1", h.authenticate)
	v1.POST("/checkouts", h.createCheckout)
	v1.GET("/checkouts", h.listCheckouts)
	v1.GET("/checkouts/:id", h.getCheckout)
	v1.POST("/checkouts/:id/cancel", h.cancelCheckout)
	h.notifyRoutes(r, v1)
	h.eventRoutes(v1)
	h.reconciliationRoutes(v1, d.Reconciliations)

	// pages: next wave (/c/:id, result page, QR codes, mini-program API,
	// gateway notify intake).
	h.pageRoutes(r, d)

	if d.Sandbox != nil {
		sb := gin.WrapH(http.StripPrefix("/sandbox", d.Sandbox))
		r.Any("/sandbox/*path", sb)
	}
	return r, nil
}

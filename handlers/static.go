package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/web/static"
)

// staticRoutes serves the pages' embedded CSS and JS under
// /static/:checksum/*file: the checksum changes with the content, so each
// version is cached for a year as immutable, and an old checksum is a 404
// rather than another version's bytes.
func (h *handler) staticRoutes(r *gin.Engine) {
	s := gin.WrapH(http.StripPrefix("/static/", static.Handler()))
	r.GET("/static/:checksum/*file", s)
	r.HEAD("/static/:checksum/*file", s)
}

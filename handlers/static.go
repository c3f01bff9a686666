package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/web/static"
)

// staticHandler serves the pages' embedded CSS and JS, mounted under
// /static/:checksum/*file: the checksum changes with the content, so each
// version is cached for a year as immutable, and an old checksum is a 404
// rather than another version's bytes.
func staticHandler() gin.HandlerFunc {
	return gin.WrapH(http.StripPrefix("/static/", static.Handler()))
}

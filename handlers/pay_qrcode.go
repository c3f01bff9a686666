package handlers

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/payments"
	"github.com/wallet-checkout/checkout/web/qrcode"
)

// showPayQRCode answers GET /c/:id/qr/:seq.svg: the C-scans-B trade_qrcode
// of one of this checkout's attempts, drawn as SVG on our own origin (no
// third-party image service sees the payment link).
func (h *handler) showPayQRCode(c *gin.Context) {
	id := c.Param("id")
	seq, ok := parseQRName(c.Param("seq"))
	if !ok || !checkout.ValidID(id) {
		h.failStatus(c, errNoCheckout)
		return
	}
	pp, err := h.repo.PayParamsOf(c.Request.Context(), id, seq)
	if err == nil && pp.Kind != payments.KindQR {
		err = fmt.Errorf("attempt %d of %s has no QR code: %w", seq, id, checkout.ErrNotFound)
	}
	if err != nil {
		h.failStatus(c, unavailable("load the pay parameters of "+id, err))
		return
	}
	code, err := qrcode.Encode(pp.QRCode, qrcode.Screen)
	if err != nil {
		h.failStatus(c, fmt.Errorf("encode the QR code of %s: %w", id, err))
		return
	}
	var svg bytes.Buffer
	// The page shows it 220 px wide; drawn in module units, it scales.
	if err := code.SVG(&svg, qrcode.DefaultSize); err != nil {
		h.failStatus(c, fmt.Errorf("draw the QR code of %s: %w", id, err))
		return
	}
	// An attempt's code never changes; only this browser may keep it.
	c.Header("Cache-Control", "private, max-age=3600")
	c.Data(http.StatusOK, "image/svg+xml", svg.Bytes())
}

// parseQRName reads "<attempt>.svg": a positive decimal without sign or
// leading zero, so that one image has one URL.
func parseQRName(s string) (int, bool) {
	name, ok := strings.CutSuffix(s, ".svg")
	if !ok || name == "" || len(name) > 9 || name[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(name); i++ {
		if name[i] < '0' || name[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(name)
	return n, err == nil && n > 0
}

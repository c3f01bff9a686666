package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/web/qrcode"
)

// showCheckoutQR answers GET /c/:id/qr.svg: the checkout page's public URL
// as a QR code, for a till screen or a merchant's desktop page. A phone
// that scans it opens /c/{id}, which routes by wallet. It carries nothing
// but that URL (no client secret, no token), so any cache may keep it
// until the checkout ends; ?size= is its width in pixels.
func (h *handler) showCheckoutQR(c *gin.Context) {
	ck := pageCheckoutOf(c)
	size, err := qrcode.ParseSize(c.Query("size"))
	if err != nil {
		h.fail(c, invalid("size", err.Error()))
		return
	}
	ttl := time.Duration(0)
	if displayStatus(ck, h.now()).Active() {
		ttl = ck.ExpiresAt.Sub(h.now())
	}
	h.serveQR(c, h.publicURL+pagePath(ck.ID, ""), qrcode.Screen, size, formatSVG, cacheFor(ttl))
}

// qrFormat is an image format of a served code.
type qrFormat string

const (
	formatSVG qrFormat = "image/svg+xml"
	formatPNG qrFormat = "image/png"
)

// cacheFor is the Cache-Control of a public code valid for ttl more: kept
// by any cache that long, then revalidated by its ETag.
func cacheFor(ttl time.Duration) string {
	if ttl < time.Second {
		return "public, no-cache"
	}
	return "public, max-age=" + strconv.Itoa(int(ttl/time.Second))
}

// serveQR answers with text drawn as a size-pixel QR code in format. The
// image depends on nothing else, so its ETag is a hash of those (and of the
// encoder's policy, through the level), and a matching If-None-Match is a
// 304 without drawing.
func (h *handler) serveQR(c *gin.Context, text string, level qrcode.Level, size int, format qrFormat, cacheControl string) {
	sum := sha256.Sum256([]byte(fmt.Sprintf("qr1|%d|%d|%s|%s", level, size, format, text)))
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	hd := c.Writer.Header()
	hd.Set("Cache-Control", cacheControl)
	hd.Set("ETag", etag)
	if c.GetHeader("If-None-Match") == etag {
		c.AbortWithStatus(http.StatusNotModified)
		return
	}
	code, err := qrcode.Encode(text, level)
	if err != nil {
		h.fail(c, fmt.Errorf("encode the QR code of %s: %w", text, err))
		return
	}
	var buf bytes.Buffer
	if format == formatPNG {
		err = code.PNG(&buf, size)
	} else {
		err = code.SVG(&buf, size)
	}
	if err != nil {
		// Only a size too small for a long URL gets here.
		h.fail(c, invalid("size", err.Error()))
		return
	}
	c.Data(http.StatusOK, string(format), buf.Bytes())
}

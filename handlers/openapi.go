package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/api"
)

// openAPIDoc is the description as served: its JSON and its ETag, made
// once (the document is embedded in the binary and never changes).
var openAPIDoc = sync.OnceValues(func() ([]byte, string) {
	b := api.JSON()
	sum := sha256.Sum256(b)
	return b, `"` + hex.EncodeToString(sum[:16]) + `"`
})

// openAPI is GET /v1/openapi.json: the merchant API's OpenAPI description
// (package api). It is public, outside the Bearer-authenticated group: it
// holds no secret and tells nothing a client does not see anyway, and
// tools (code generators, API explorers) fetch it without credentials.
// A constant answer from memory, it needs no rate limit. Clients may keep
// it but revalidate (no-cache, which replaces apiNoStore's no-store here)
// with the ETag: a new release answers the new document at once.
func (h *handler) openAPI(c *gin.Context) {
	body, etag := openAPIDoc()
	c.Header("Cache-Control", "no-cache")
	c.Header("ETag", etag)
	if etagMatches(c.GetHeader("If-None-Match"), etag) {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}

// etagMatches reports whether an If-None-Match header names etag (weak
// comparison, RFC 9110 section 13.1.2) or is "*".
func etagMatches(header, etag string) bool {
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == etag || tag == "*" {
			return true
		}
	}
	return false
}

package handlers_test

import (
	"bytes"
	"image/png"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/piglig/go-qr"

	"github.com/wallet-checkout/checkout/checkout"
)

// decodeQR reads a drawn code back with an independent decoder (ZXing's
// port): what a phone's camera would read.
func decodeQR(t *testing.T, pngBytes []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return res.GetText()
}

// svgMatches reports whether an SVG code draws want: its dark modules
// are counted against a fresh encoding of want at level (and its first
// finder row is where the quiet zone puts it), so an SVG of another
// text fails.
func svgMatches(t *testing.T, svg, want string, level go_qr.Ecc) bool {
	t.Helper()
	code, err := go_qr.EncodeText(want, level)
	if err != nil {
		t.Fatal(err)
	}
	var dark int
	for y := 0; y < code.Size(); y++ {
		for x := 0; x < code.Size(); x++ {
			if code.Module(x, y) {
				dark++
			}
		}
	}
	// Each dark run is one "M x y hN" rectangle; the dark modules they
	// cover must be exactly the matrix's count, and the first finder row.
	var covered int
	for _, part := range strings.Split(svg, "M")[1:] {
		i, j := strings.Index(part, "h"), strings.Index(part, "v")
		if i < 0 || j < i {
			continue
		}
		n, _ := strconv.Atoi(part[i+1 : j])
		covered += n
	}
	return covered == dark && strings.Contains(svg, "M4 4h7v1h-7z")
}

func TestCheckoutQR(t *testing.T) {
	clk := newPgClock()
	e := newPgEnv(t, withClock(clk))
	ck := e.newCheckout("native", 1234)
	b := e.browser(uaDesktop, "till")
	page := e.srv.URL + "/c/" + ck.ID

	r := b.get("/c/" + ck.ID + "/qr.svg")
	if r.status != 200 || r.header.Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("qr.svg: %d %s %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	if !svgMatches(t, r.body, page, go_qr.Medium) {
		t.Fatalf("the SVG does not draw %s", page)
	}
	// Only the public page URL: neither the client secret nor a token.
	for _, secret := range []string{string(ck.ClientSecret), "csrf", "secret", "token"} {
		if secret != "" && strings.Contains(strings.ToLower(r.body), strings.ToLower(secret)) {
			t.Fatalf("the SVG carries %q", secret)
		}
	}
	// Cached by anyone until the checkout expires, with an ETag.
	cc := r.header.Get("Cache-Control")
	maxAge, err := strconv.Atoi(strings.TrimPrefix(cc, "public, max-age="))
	left := int(ck.ExpiresAt.Sub(clk.Now()) / time.Second) // the service's clock stands still
	if err != nil || maxAge != left {
		t.Fatalf("Cache-Control %q; the checkout has %d s left", cc, left)
	}
	etag := r.header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	again := b.do(true, "GET", "/c/"+ck.ID+"/qr.svg", nil, map[string]string{"If-None-Match": etag})
	if again.status != http.StatusNotModified || again.body != "" {
		t.Fatalf("If-None-Match: %d %q", again.status, again.body)
	}
	// Another size is another image with another ETag.
	big := b.get("/c/" + ck.ID + "/qr.svg?size=1024")
	if big.status != 200 || !strings.Contains(big.body, `width="1024"`) || big.header.Get("ETag") == etag {
		t.Fatalf("size=1024: %d %s", big.status, big.header.Get("ETag"))
	}

	// Bad sizes: a 400 that names the parameter and the range.
	for _, s := range []string{"0", "63", "2049", "abc", "-5", "99999999999"} {
		r := b.get("/c/" + ck.ID + "/qr.svg?size=" + s)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `"param":"size"`) || !strings.Contains(r.body, "64 to 2048") {
			t.Errorf("size=%s: %d %s", s, r.status, r.body)
		}
	}
	// Unknown or malformed ids: the pages' 404 page.
	for _, id := range []string{"ck_doesnotexist00000000000", "x"} {
		r := b.get("/c/" + id + "/qr.svg")
		if r.status != http.StatusNotFound || !strings.Contains(r.header.Get("Content-Type"), "text/html") || r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d %s %s", id, r.status, r.header.Get("Content-Type"), r.header.Get("Cache-Control"))
		}
	}

	// Once it has ended (expired here), still served but revalidated.
	clk.Advance(checkout.DefaultTTL + time.Minute)
	ended := b.get("/c/" + ck.ID + "/qr.svg")
	if ended.status != 200 || ended.header.Get("Cache-Control") != "public, no-cache" {
		t.Fatalf("expired: %d %q", ended.status, ended.header.Get("Cache-Control"))
	}
}

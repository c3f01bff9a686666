package qrcode_test

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/wallet-checkout/checkout/web/qrcode"
)

// decode reads a QR code back with an independent decoder (ZXing's port),
// not go-qr's own, so an error both share cannot pass unnoticed.
func decode(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatalf("bitmap: %v", err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return res.GetText()
}

var urls = []string{
	"https://pay.example.com/l/lnk_7Yq2bZk9WmT4rX8pLs3Nd",
	"https://pay.example.com/c/ck_3kq9ZxYt7WbN2mLp4RsVd8Hq",
	"http://127.0.0.1:8080/c/ck_a",
}

func TestPNGDecodesBackToTheURL(t *testing.T) {
	for _, u := range urls {
		for _, lvl := range []qrcode.Level{qrcode.Screen, qrcode.Print} {
			for _, px := range []int{qrcode.MinSize, 100, qrcode.DefaultSize, 777, qrcode.MaxSize} {
				code, err := qrcode.Encode(u, lvl)
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				if err := code.PNG(&buf, px); err != nil {
					t.Fatalf("%s at %d px: %v", u, px, err)
				}
				img, err := png.Decode(&buf)
				if err != nil {
					t.Fatalf("png: %v", err)
				}
				if b := img.Bounds(); b.Dx() != px || b.Dy() != px {
					t.Fatalf("%d px asked, %v drawn", px, b)
				}
				if got := decode(t, img); got != u {
					t.Fatalf("level %d, %d px: decoded %q, want %q", lvl, px, got, u)
				}
			}
		}
	}
}

// TestQuietZone checks the margin: at least four modules of light pixels
// on every side, at a size that is an exact multiple and at one that is not.
func TestQuietZone(t *testing.T) {
	code, err := qrcode.Encode(urls[0], qrcode.Print)
	if err != nil {
		t.Fatal(err)
	}
	n := code.Modules() + 2*qrcode.QuietZone
	for _, px := range []int{n * 4, n*4 + 3} {
		img, err := code.Image(px)
		if err != nil {
			t.Fatal(err)
		}
		scale := px / n
		margin := qrcode.QuietZone * scale
		for i := 0; i < px; i++ {
			for j := 0; j < margin; j++ {
				for _, p := range [][2]int{{i, j}, {j, i}, {i, px - 1 - j}, {px - 1 - j, i}} {
					if img.ColorIndexAt(p[0], p[1]) != 0 {
						t.Fatalf("%d px: dark pixel at %v inside the quiet zone (%d px)", px, p, margin)
					}
				}
			}
		}
	}
}

// TestLevels pins the policy: a printed code corrects more than a shown one.
func TestLevels(t *testing.T) {
	screen, _ := qrcode.Encode(urls[0], qrcode.Screen)
	print, _ := qrcode.Encode(urls[0], qrcode.Print)
	if print.Modules() < screen.Modules() {
		t.Fatalf("print code %d modules, screen %d: the print level is not the higher", print.Modules(), screen.Modules())
	}
	var buf bytes.Buffer
	_ = print.PNG(&buf, 512)
	img, _ := png.Decode(&buf)
	bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
	res, err := zxqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatal(err)
	}
	if lvl := res.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL]; lvl != "Q" && lvl != "H" {
		t.Fatalf("printed code has error correction %v, want Q or better", lvl)
	}
}

// TestSVGMatchesMatrix reads the SVG's path back into modules and compares
// them with the encoder's matrix, quiet zone included.
func TestSVGMatchesMatrix(t *testing.T) {
	code, err := qrcode.Encode(urls[1], qrcode.Screen)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := code.SVG(&buf, 300); err != nil {
		t.Fatal(err)
	}
	svg := buf.String()
	n := code.Modules()
	full := n + 2*qrcode.QuietZone
	if !strings.Contains(svg, `width="300" height="300"`) || !strings.Contains(svg, `viewBox="0 0 `+strconv.Itoa(full)+" "+strconv.Itoa(full)+`"`) {
		t.Fatalf("size or viewBox wrong: %.200s", svg)
	}
	got := make([][]bool, full)
	for i := range got {
		got[i] = make([]bool, full)
	}
	re := regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`)
	for _, m := range re.FindAllStringSubmatch(svg, -1) {
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		w, _ := strconv.Atoi(m[3])
		for i := x; i < x+w; i++ {
			got[y][i] = true
		}
	}
	for y := -qrcode.QuietZone; y < n+qrcode.QuietZone; y++ {
		for x := -qrcode.QuietZone; x < n+qrcode.QuietZone; x++ {
			if got[y+qrcode.QuietZone][x+qrcode.QuietZone] != code.Dark(x, y) {
				t.Fatalf("module (%d,%d) differs from the matrix", x, y)
			}
		}
	}
}

func TestSizes(t *testing.T) {
	cases := []struct {
		in   string
		want int
		ok   bool
	}{
		{"", qrcode.DefaultSize, true},
		{"64", 64, true},
		{"2048", 2048, true},
		{"512", 512, true},
		{"63", 0, false},
		{"2049", 0, false},
		{"0", 0, false},
		{"-100", 0, false},
		{"+100", 0, false},
		{"0100", 0, false},
		{"100px", 0, false},
		{"1e3", 0, false},
		{"99999999999999999999", 0, false},
		{" 100", 0, false},
	}
	for _, tc := range cases {
		got, err := qrcode.ParseSize(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && (!errors.Is(err, qrcode.ErrSize) || !strings.Contains(err.Error(), "64 to 2048")) {
			t.Errorf("ParseSize(%q): error %v does not say the range", tc.in, err)
		}
	}
}

func TestDrawRefusesBadSizes(t *testing.T) {
	// A long text needs more modules than 64 pixels hold.
	long, err := qrcode.Encode(strings.Repeat("https://example.com/", 40), qrcode.Print)
	if err != nil {
		t.Fatal(err)
	}
	short, _ := qrcode.Encode(urls[0], qrcode.Print)
	for _, tc := range []struct {
		code *qrcode.Code
		px   int
	}{{short, 63}, {short, 2049}, {short, -1}, {long, 64}} {
		if err := tc.code.SVG(new(bytes.Buffer), tc.px); !errors.Is(err, qrcode.ErrSize) {
			t.Errorf("SVG at %d px: %v, want ErrSize", tc.px, err)
		}
		if err := tc.code.PNG(new(bytes.Buffer), tc.px); !errors.Is(err, qrcode.ErrSize) {
			t.Errorf("PNG at %d px: %v, want ErrSize", tc.px, err)
		}
	}
}

func TestEncodeTooLong(t *testing.T) {
	if _, err := qrcode.Encode(strings.Repeat("x", 5000), qrcode.Print); err == nil {
		t.Fatal("a 5000-byte text encoded; a QR code holds at most 2953 bytes")
	}
}

func BenchmarkEncodeSVG(b *testing.B) {
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		code, err := qrcode.Encode(urls[0], qrcode.Print)
		if err != nil {
			b.Fatal(err)
		}
		if err := code.SVG(&buf, qrcode.DefaultSize); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/svg")
}

func BenchmarkEncodePNG(b *testing.B) {
	for _, px := range []int{qrcode.DefaultSize, qrcode.MaxSize} {
		b.Run(strconv.Itoa(px), func(b *testing.B) {
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				code, err := qrcode.Encode(urls[0], qrcode.Print)
				if err != nil {
					b.Fatal(err)
				}
				if err := code.PNG(&buf, px); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len()), "bytes/png")
		})
	}
}

// Package qrcode is the service's one QR encoder: the desktop page's
// wallet codes, a checkout's page code (/c/{id}/qr.svg) and the printable
// payment link codes all come from Encode and are drawn by SVG or PNG, so
// they share one quiet zone, one size rule and one error correction policy.
//
// It wraps github.com/piglig/go-qr for the matrix and draws it itself: an
// SVG of one path (a few kB, crisp at any print size) and a two-colour
// paletted PNG from the standard library, each exactly the requested
// number of pixels wide.
package qrcode

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"strconv"
	"sync"

	qr "github.com/piglig/go-qr"
)

// Level is an error correction level.
type Level int

const (
	// Screen is for codes shown on a screen (the desktop page, a till):
	// a clean, lit, flat surface, so 15% recovery (M) is plenty and keeps
	// the modules large.
	Screen Level = iota
	// Print is for codes that are printed and stuck on a counter: 25%
	// recovery (Q) survives scuffs, a folded corner, glare on a laminated
	// sheet or a dirty lens, while a short URL still fits a version 3 or
	// 4 symbol (29 to 33 modules), whose modules stay large enough to scan
	// from a metre away on A5. H (30%) would add modules for 5% more
	// recovery and is meant for codes with a logo over their centre,
	// which ours never have.
	Print
)

func (l Level) ecc() qr.Ecc {
	if l == Print {
		return qr.Quartile
	}
	return qr.Medium
}

// QuietZone is the light margin around every code, in modules: the four
// the QR standard asks for, which scanners need to find the finder
// patterns on a busy background (a poster, a shop counter).
const QuietZone = 4

// The drawn sizes a caller may ask for, in pixels: from a thumbnail on a
// till screen to a poster's code printed at 300 dpi (2048 px is 17 cm).
const (
	MinSize     = 64
	MaxSize     = 2048
	DefaultSize = 256
)

// ErrSize means a requested size is outside MinSize..MaxSize, or too small
// for this code to have at least one pixel per module.
var ErrSize = errors.New("size out of range")

// Code is an encoded QR symbol.
type Code struct {
	q *qr.QrCode
}

// Encode encodes text (a URL) at the given level. The level is a minimum:
// the encoder raises it when the text fits the same symbol anyway.
func Encode(text string, l Level) (*Code, error) {
	q, err := qr.EncodeText(text, l.ecc())
	if err != nil {
		return nil, fmt.Errorf("encode a QR code of %d bytes: %w", len(text), err)
	}
	return &Code{q: q}, nil
}

// Modules is the symbol's width in modules, without the quiet zone.
func (c *Code) Modules() int { return c.q.Size() }

// Dark reports whether the module at (x, y) is dark; outside the symbol
// (the quiet zone) every module is light.
func (c *Code) Dark(x, y int) bool {
	n := c.q.Size()
	if x < 0 || y < 0 || x >= n || y >= n {
		return false
	}
	return c.q.Module(x, y)
}

// ParseSize reads a ?size= value in pixels: "" is DefaultSize; anything
// but a decimal in MinSize..MaxSize is an error wrapping ErrSize that says
// the range.
func ParseSize(s string) (int, error) {
	if s == "" {
		return DefaultSize, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || len(s) > 5 || s[0] < '1' || s[0] > '9' || n < MinSize || n > MaxSize {
		return 0, fmt.Errorf("%w: size must be a whole number of pixels from %d to %d", ErrSize, MinSize, MaxSize)
	}
	return n, nil
}

// checkSize refuses a size out of range, or one too small to give every
// module (quiet zone included) a pixel.
func (c *Code) checkSize(px int) error {
	if px < MinSize || px > MaxSize {
		return fmt.Errorf("%w: %d px is not within %d to %d", ErrSize, px, MinSize, MaxSize)
	}
	if px < c.q.Size()+2*QuietZone {
		return fmt.Errorf("%w: %d px is less than this code's %d modules", ErrSize, px, c.q.Size()+2*QuietZone)
	}
	return nil
}

// SVG writes the code as an SVG image px wide and high. The drawing is
// one path in module units (viewBox), so it scales without blur; each
// row's dark runs become one rectangle each.
func (c *Code) SVG(w io.Writer, px int) error {
	if err := c.checkSize(px); err != nil {
		return err
	}
	n := c.q.Size()
	full := n + 2*QuietZone
	var b bytes.Buffer
	b.Grow(64 + n*n/2*8)
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="`)
	b.WriteString(strconv.Itoa(px))
	b.WriteString(`" height="`)
	b.WriteString(strconv.Itoa(px))
	b.WriteString(`" viewBox="0 0 `)
	b.WriteString(strconv.Itoa(full))
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(full))
	b.WriteString(`" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/><path fill="#000" d="`)
	for y := 0; y < n; y++ {
		for x := 0; x < n; {
			if !c.q.Module(x, y) {
				x++
				continue
			}
			run := 1
			for x+run < n && c.q.Module(x+run, y) {
				run++
			}
			b.WriteByte('M')
			b.WriteString(strconv.Itoa(x + QuietZone))
			b.WriteByte(' ')
			b.WriteString(strconv.Itoa(y + QuietZone))
			b.WriteByte('h')
			b.WriteString(strconv.Itoa(run))
			b.WriteString("v1h-")
			b.WriteString(strconv.Itoa(run))
			b.WriteByte('z')
			x += run
		}
	}
	b.WriteString(`"/></svg>`)
	_, err := w.Write(b.Bytes())
	return err
}

// palette is the PNG's two colours: light first, so a zeroed image is
// all quiet zone.
var palette = color.Palette{color.Gray{Y: 0xff}, color.Gray{Y: 0}}

// Image draws the code px by px pixels: each module is the same whole
// number of pixels, and what is left over widens the quiet zone evenly,
// so no module is blurred or uneven (scanners need square modules).
func (c *Code) Image(px int) (*image.Paletted, error) {
	if err := c.checkSize(px); err != nil {
		return nil, err
	}
	n := c.q.Size()
	scale := px / (n + 2*QuietZone)
	off := (px - n*scale) / 2
	img := image.NewPaletted(image.Rect(0, 0, px, px), palette)
	for y := 0; y < n; y++ {
		row := img.Pix[(off+y*scale)*img.Stride:]
		for x := 0; x < n; x++ {
			if !c.q.Module(x, y) {
				continue
			}
			start := off + x*scale
			for i := start; i < start+scale; i++ {
				row[i] = 1
			}
		}
		// Repeat the row for the module's height.
		first := row[:img.Stride]
		for k := 1; k < scale; k++ {
			copy(row[k*img.Stride:(k+1)*img.Stride], first)
		}
	}
	return img, nil
}

// PNG writes the code as a px by px PNG (Image).
func (c *Code) PNG(w io.Writer, px int) error {
	img, err := c.Image(px)
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &pngBuffers}
	if err := enc.Encode(w, img); err != nil {
		return fmt.Errorf("write the QR code as PNG: %w", err)
	}
	return nil
}

// pngBuffers keeps the PNG encoder's state (its zlib writer, about a
// megabyte) between images: a store code's PNG is drawn on demand.
var pngBuffers pngPool

type pngPool struct{ p sync.Pool }

func (b *pngPool) Get() *png.EncoderBuffer {
	e, _ := b.p.Get().(*png.EncoderBuffer)
	return e
}

func (b *pngPool) Put(e *png.EncoderBuffer) { b.p.Put(e) }

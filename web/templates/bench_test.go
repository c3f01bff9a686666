package templates

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/a-h/templ"
)

func BenchmarkCheckoutPage(b *testing.B) {
	v := checkoutView(ActionQR)
	ctx := templ.WithNonce(context.Background(), "nonce123")
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckoutPage(v).Render(ctx, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckoutPageCached is BenchmarkCheckoutPage from the cache: a
// view of a page already rendered (what most views are), into a buffer.
func BenchmarkCheckoutPageCached(b *testing.B) {
	v := checkoutView(ActionQR)
	pc := NewPageCache(4 << 20)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := pc.WriteCheckoutPage(context.Background(), &buf, v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResultPage(b *testing.B) {
	v := resultView("pending")
	ctx := templ.WithNonce(context.Background(), "nonce123")
	b.ReportAllocs()
	for b.Loop() {
		if err := ResultPage(v).Render(ctx, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFormatFen(b *testing.B) {
	b.ReportAllocs()
	for i := int64(0); b.Loop(); i++ {
		_ = FormatFen(i*7919 - 50000)
	}
}

func BenchmarkNegotiate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Negotiate("zh-TW,zh;q=0.9,en-US;q=0.8,en;q=0.7", "")
	}
}

package sessions

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wallet-checkout/checkout/internal/redistest"
)

// BenchmarkLoadSave is an OAuth callback of a returning payer: verify the
// cookie, load the payer (GET and PTTL, one round trip), change it, save
// it (SET) and sign the cookie again.
func BenchmarkLoadSave(b *testing.B) {
	ps := newPayers(b, redistest.New(b), Config{PublicURL: "https://pay.example.com"})
	ck := save(b, ps, nil, func(p *Payer) { p.SetWeChatOpenID("wxoa", "oBENCH") })
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodGet, "https://pay.example.com/c/ck_1", nil)
		r.AddCookie(ck)
		w := httptest.NewRecorder()
		p, err := ps.Load(r)
		if err != nil {
			b.Fatal(err)
		}
		p.SetAlipayUserID("2021", "2088")
		if err := ps.Save(w, r, p); err != nil {
			b.Fatal(err)
		}
	}
}

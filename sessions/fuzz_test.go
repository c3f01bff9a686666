package sessions

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wallet-checkout/checkout/internal/redistest"
)

// FuzzLoadCookie sends arbitrary cookie values: Load must never panic and,
// with Redis up, never fail; a value that is not a cookie we signed gives
// an empty payer. Seeds live in testdata/fuzz.
func FuzzLoadCookie(f *testing.F) {
	_, c := redistest.Miniredis(f)
	ps := newPayers(f, c, Config{})
	good := save(f, ps, nil, func(p *Payer) { p.SetWeChatOpenID("wxoa", "oFUZZ") })
	f.Add(good.Value)
	f.Fuzz(func(t *testing.T, value string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", ps.Store.CookieName()+"="+value)
		p, err := ps.Load(r)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if value != good.Value && len(p.WeChatOpenIDs) != 0 {
			if c, err := r.Cookie(ps.Store.CookieName()); err != nil || c.Value != good.Value {
				t.Fatalf("cookie %q loaded someone's session", value)
			}
		}
	})
}

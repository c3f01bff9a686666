package handlers_test

import (
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/checkout"
)

// pgRegisteredName is the pages' merchant's registered name.
const pgRegisteredName = "上海某某茶饮管理有限公司"

// TestLinkShowsRegisteredName: the link's page, its poster and the page of
// a checkout the link made show the merchant's registered name and the
// link's code number, the two things a payer compares with the printed
// code; a checkout the merchant's server made shows no code number.
func TestLinkShowsRegisteredName(t *testing.T) {
	e := newPgEnv(t)
	l := e.newLink(checkout.LinkTerms{Amount: 1200, Description: "奶茶"})
	code := checkout.LinkShortCode(l.ID)
	spaced := code[:4] + " " + code[4:]
	b := e.browser(uaWeChatIOS, "reg")
	id := checkoutOf(t, b.tapLink(l.ID, nil))
	plain := e.newCheckout("native", 500)
	for _, tc := range []struct {
		path       string
		registered bool
		code       bool
	}{
		{"/l/" + l.ID, true, true},
		{"/l/" + l.ID + "/poster", true, true},
		{"/c/" + id, true, true},
		{"/c/" + plain.ID, false, false},
	} {
		r := e.browser(uaDesktop, "viewer").get(tc.path)
		if r.status != 200 {
			t.Fatalf("%s: %d", tc.path, r.status)
		}
		if got := strings.Contains(r.body, pgRegisteredName); got != tc.registered {
			t.Errorf("%s shows the registered name: %v, want %v", tc.path, got, tc.registered)
		}
		if got := strings.Contains(r.body, spaced); got != tc.code {
			t.Errorf("%s shows the code number %s: %v, want %v", tc.path, spaced, got, tc.code)
		}
	}
}

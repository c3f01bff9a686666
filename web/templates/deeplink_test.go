package templates

import (
	"strings"
	"testing"
)

// TestAlipayDeepLink: the open-in-Alipay button is offered only where
// Alipay can pay the checkout, and its url parameter is the page's address
// encoded as one query value (its own ? & = # survive the app's parsing).
func TestAlipayDeepLink(t *testing.T) {
	const page = "https://pay.example/c/co_test123?lang=zh-TW&x=1#top"
	const want = "alipays://platformapi/startapp?appId=20000067&url=https%3A%2F%2Fpay.example%2Fc%2Fco_test123%3Flang%3Dzh-TW%26x%3D1%23top"
	for _, tt := range []struct {
		name    string
		wallets []string
		page    string
		want    string
	}{
		{"both wallets", []string{WalletWeChat, WalletAlipay}, page, want},
		{"Alipay only", []string{WalletAlipay}, page, want},
		{"WeChat only: no button", []string{WalletWeChat}, page, ""},
		{"address unknown: no button", []string{WalletAlipay}, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := checkoutView(ActionOpenInWallet)
			v.Wallets, v.PageURL = tt.wallets, tt.page
			if got := v.alipayDeepLink(); got != tt.want {
				t.Errorf("deep link %q, want %q", got, tt.want)
			}
			html := render(t, CheckoutPage(v))
			if has := strings.Contains(html, `data-testid="open-alipay"`); has != (tt.want != "") {
				t.Errorf("open-alipay button shown %v, want %v", has, tt.want != "")
			}
		})
	}
}

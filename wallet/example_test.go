package wallet_test

import (
	"fmt"

	"github.com/wallet-checkout/checkout/wallet"
)

// The official-account OAuth starts by sending the payer's browser to
// AuthorizeURL; WeChat comes back to the redirect URI with code and state.
func ExampleWeChat_AuthorizeURL() {
	wc := &wallet.WeChat{} // WeChat itself; set AuthorizeBase for the emulator
	fmt.Println(wc.AuthorizeURL("wx1234567890abcdef", "https://pay.example.com/c/ck_1/wechat", "STATE"))
	// Output:
	// https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx1234567890abcdef&redirect_uri=https%3A%2F%2Fpay.example.com%2Fc%2Fck_1%2Fwechat&response_type=code&scope=snsapi_base&state=STATE#wechat_redirect
}

// Alipay's auth_base authorization works the same way; the callback carries
// auth_code, state and app_id.
func ExampleAlipay_AuthorizeURL() {
	ac := &wallet.Alipay{AuthorizeBase: "http://127.0.0.1:8080/sandbox/wallet"}
	fmt.Println(ac.AuthorizeURL("2021000000000001", "https://pay.example.com/c/ck_1/alipay", "STATE"))
	// Output:
	// http://127.0.0.1:8080/sandbox/wallet/oauth2/publicAppAuthorize.htm?app_id=2021000000000001&redirect_uri=https%3A%2F%2Fpay.example.com%2Fc%2Fck_1%2Falipay&scope=auth_base&state=STATE
}

// AlipaySignContent is what RSA2 signs: sorted, without sign and empty
// values, not escaped.
func ExampleAlipaySignContent() {
	fmt.Println(wallet.AlipaySignContent(map[string][]string{
		"method": {"alipay.system.oauth.token"}, "app_id": {"2021"}, "sign": {"…"}, "biz_content": {""},
	}))
	// Output:
	// app_id=2021&method=alipay.system.oauth.token
}

package handlers

import "strings"

// client is where a page was opened, as far as the User-Agent tells.
type client struct {
	// Wallet is one of the templates.Wallet* values: wechat, alipay,
	// miniprogram (a WeChat mini-program's web-view) or browser.
	Wallet string
	// Mobile is true for phones and tablets.
	Mobile bool
}

// detectClient reads the User-Agent the wallets' in-app browsers send:
// WeChat adds "MicroMessenger/…" (and "miniProgram" inside a mini-program's
// web-view, where WeixinJSBridge cannot pay), Alipay adds "AlipayClient/…".
// Anything else is a plain browser.
func detectClient(ua string) client {
	// Case-insensitive on purpose: proxies and old clients change the case.
	l := strings.ToLower(ua)
	c := client{Mobile: strings.Contains(l, "mobile") || strings.Contains(l, "android") ||
		strings.Contains(l, "iphone") || strings.Contains(l, "ipad")}
	switch {
	case strings.Contains(l, "micromessenger"):
		c.Wallet = "wechat"
		if strings.Contains(l, "miniprogram") {
			c.Wallet = "miniprogram"
		}
	case strings.Contains(l, "alipayclient"):
		c.Wallet = "alipay"
	default:
		c.Wallet = "browser"
	}
	return c
}

package handlers

import (
	"bytes"
	"strings"
)

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
	// An ASCII User-Agent (nearly all) is lowered into a buffer on the
	// stack, not a new string per page view; anything else goes through
	// strings.ToLower, whose Unicode rules can turn a non-ASCII letter
	// into an ASCII one (U+212A KELVIN SIGN into 'k').
	var buf [512]byte
	var l []byte
	if len(ua) <= len(buf) && isASCII(ua) {
		l = buf[:len(ua)]
		for i := 0; i < len(ua); i++ {
			c := ua[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			l[i] = c
		}
	} else {
		l = []byte(strings.ToLower(ua))
	}
	has := func(s string) bool { return bytes.Contains(l, []byte(s)) }
	c := client{Mobile: has("mobile") || has("android") || has("iphone") || has("ipad")}
	switch {
	case has("micromessenger"):
		c.Wallet = "wechat"
		if has("miniprogram") {
			c.Wallet = "miniprogram"
		}
	case has("alipayclient"):
		c.Wallet = "alipay"
	default:
		c.Wallet = "browser"
	}
	return c
}

// isASCII reports whether s has only ASCII bytes.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

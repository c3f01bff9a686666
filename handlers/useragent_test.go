package handlers

import (
	"strings"
	"testing"
)

func TestDetectClient(t *testing.T) {
	tests := []struct {
		name   string
		ua     string
		wallet string
		mobile bool
	}{
		{"WeChat iOS", UAWeChatIOS, "wechat", true},
		{"WeChat Android", UAWeChatAndroid, "wechat", true},
		{"WeChat mini-program web-view", UAWeChatMini, "miniprogram", true},
		{"WeChat mini-program web-view, Android", "Mozilla/5.0 (Linux; Android 13; V2227A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 MMWEBID/2247 MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64 Weixin NetType/4G Language/zh_CN ABI/arm64 miniProgram/wx0123456789abcdef", "miniprogram", true},
		{"WeChat desktop (Windows)", "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.138 Safari/537.36 NetType/WIFI MicroMessenger/7.0.20.1781(0x6700143B) WindowsWechat(0x6309092b) XWEB/9129 Flue", "wechat", false},
		{"Alipay iOS", UAAlipay, "alipay", true},
		{"Alipay Android", "Mozilla/5.0 (Linux; U; Android 13; zh-CN; 22081212C Build/TKQ1.220829.002) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/69.0.3497.100 UWS/3.22.2.59 Mobile Safari/537.36 UCBS/3.22.2.59_230817203218 ChannelId(1) NebulaSDK/1.8.100112 Nebula AlipayDefined(nt:WIFI,ws:393|0|2.75) AliApp(AP/10.5.26.8000) AlipayClient/10.5.26.8000 Language/zh-Hans useStatusBar/true isConcaveScreen/true Region/CNAriver/1.0.0", "alipay", true},
		{"desktop Chrome", UADesktop, "browser", false},
		{"desktop Firefox", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "browser", false},
		{"phone Chrome", UAPhone, "browser", true},
		{"iPhone Safari", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "browser", true},
		{"lower-cased by a proxy", "mozilla/5.0 micromessenger/8.0", "wechat", false},
		{"empty", "", "browser", false},
		{"garbage", "\x00\xff<script>", "browser", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := detectClient(tc.ua)
			if c.Wallet != tc.wallet || c.Mobile != tc.mobile {
				t.Fatalf("got %+v, want wallet %s mobile %v", c, tc.wallet, tc.mobile)
			}
		})
	}
}

func BenchmarkDetectClient(b *testing.B) {
	for b.Loop() {
		detectClient(UAWeChatAndroid)
	}
}

// TestDetectClientAsLowered: detectClient, which lowers an ASCII
// User-Agent in place, reads every agent as the plain rule does (lower it
// with strings.ToLower, then look for the names): in any case, with
// non-ASCII letters (U+212A KELVIN SIGN lowers to an ASCII 'k', U+0130 to
// two runes), invalid UTF-8, and agents longer than its buffer.
func TestDetectClientAsLowered(t *testing.T) {
	plain := func(ua string) client {
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
	names := []string{"MicroMessenger", "miniProgram", "AlipayClient", "Mobile", "Android", "iPhone", "iPad"}
	agents := []string{"", UAWeChatIOS, UAWeChatAndroid, UAWeChatMini, UAAlipay, UADesktop, UAPhone,
		"MICROMESSENGER/8.0 MINIPROGRAM", "aLiPaYcLiEnT/10 IPAD", "\x00\xff<script>",
		"Mıcromessenger/8.0", "MİCROMESSENGER/8.0 İPHONE", "Mozilla/5.0 (\u212Aindle) AlipayClient/1",
		"Ünïcödé MicroMessenger/8.0 Mobile", "invalid \xc3\x28 AlipayClient/10.5 Android"}
	for _, n := range names {
		// A name just inside and just past the buffer, in both cases.
		for _, pad := range []int{512 - len(n), 513 - len(n), 600} {
			agents = append(agents, strings.Repeat("x", pad)+n, strings.Repeat("X", pad)+strings.ToUpper(n))
		}
		agents = append(agents, strings.Repeat("é", 100)+n)
	}
	for _, ua := range agents {
		if got, want := detectClient(ua), plain(ua); got != want {
			t.Errorf("%.60q (%d bytes): %+v, want %+v", ua, len(ua), got, want)
		}
	}
	// The rule is not vacuous here: the corpus has every kind of client.
	seen := map[client]bool{}
	for _, ua := range agents {
		seen[plain(ua)] = true
	}
	for _, w := range []string{"wechat", "miniprogram", "alipay", "browser"} {
		if !seen[client{Wallet: w, Mobile: true}] && !seen[client{Wallet: w}] {
			t.Errorf("no agent in the corpus is a %s", w)
		}
	}
	if n := testing.AllocsPerRun(100, func() { detectClient(UAWeChatAndroid) }); n != 0 {
		t.Errorf("an ASCII agent costs %v allocations, want 0", n)
	}
}

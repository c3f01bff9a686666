package handlers

import "testing"

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

package walletsim

import (
	"context"
	"testing"
)

// BenchmarkWeChatOAuthExchange is one code exchange against the emulator
// over loopback HTTP.
func BenchmarkWeChatOAuthExchange(b *testing.B) {
	e := newEnv(b, false)
	wc := e.wechat()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wc.ExchangeCode(ctx, oaApp, oaSecret, e.sim.MintOAuthCode(oaApp, "bench", false)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAlipayTokenExchange is one alipay.system.oauth.token call: the
// client signs, the emulator verifies and signs, the client verifies.
func BenchmarkAlipayTokenExchange(b *testing.B) {
	e := newEnv(b, false)
	ac := e.alipay()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ac.ExchangeCode(ctx, e.aliApp(), e.sim.MintAlipayCode(aliApp, "bench")); err != nil {
			b.Fatal(err)
		}
	}
}

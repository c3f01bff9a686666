package wallet

import (
	"context"
	"net/http/httptest"
	"testing"
)

func BenchmarkDecodeAlipayToken(b *testing.B) {
	k := loadKeys(b)
	body := []byte(signedAnswer(b, tokenMember, `{"access_token":"a","user_id":"2088102104794936","expires_in":1296000}`, k.alipay))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeAlipayToken(body, &k.alipay.PublicKey); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignRSA2(b *testing.B) {
	k := loadKeys(b)
	content := []byte("app_id=2021&charset=utf-8&code=x&format=JSON&grant_type=authorization_code&method=alipay.system.oauth.token&sign_type=RSA2&timestamp=2026-11-26 00:30:05&version=1.0")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SignRSA2(k.app, content); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWeChatExchangeCode(b *testing.B) {
	srv := httptest.NewServer(writeString(`{"access_token":"AT","expires_in":7200,"openid":"oAbc","scope":"snsapi_base"}`))
	defer srv.Close()
	c := &WeChat{APIBase: srv.URL, HTTP: srv.Client()}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.ExchangeCode(ctx, "wxapp", testSecret, "code"); err != nil {
			b.Fatal(err)
		}
	}
}

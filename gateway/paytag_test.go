package gateway

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
)

func TestPickTag(t *testing.T) {
	raw, err := os.ReadFile("testdata/responses/paylist.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc []PayMethod
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	withJSAPI := append([]PayMethod{{Name: "微信", Types: "2,3", Tag: "Weixin"}, {Name: "微信公众号", Types: "4", Tag: "WeixinJS"}}, doc...)
	tests := []struct {
		name     string
		methods  []PayMethod
		wallet   Wallet
		scenario Scenario
		override string
		want     string
		err      error
	}{
		{"doc wechat qr", doc, WalletWeChat, ScenarioQR, "", "WeixinBERL", nil},
		{"doc alipay barcode", doc, WalletAlipay, ScenarioBarcode, "", "AlipayCS", nil},
		{"doc jsapi falls back to scan tags", doc, WalletAlipay, ScenarioAlipayJSAPI, "", "AlipayCS", nil},
		{"jsapi prefers type 4", withJSAPI, WalletWeChat, ScenarioWeChatJSAPI, "", "WeixinJS", nil},
		{"override wins", doc, WalletWeChat, ScenarioQR, "WeixinCDZH", "WeixinCDZH", nil},
		{"cash only", []PayMethod{{Name: "现金", Types: "0", Tag: "Cash"}}, WalletWeChat, ScenarioQR, "", "", ErrNoPayMethod},
		{"empty list", nil, WalletAlipay, ScenarioJump, "", "", ErrNoPayMethod},
	}
	for _, tt := range tests {
		got, err := PickTag(tt.methods, tt.wallet, tt.scenario, tt.override)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("%s: PickTag = %q, %v", tt.name, got, err)
		}
	}
}

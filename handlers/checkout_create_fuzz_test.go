package handlers

import (
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
)

func FuzzDecodeCreate(f *testing.F) {
	f.Add([]byte(`{"amount":1000}`))
	f.Add([]byte(`{"amount":900,"original_amount":1000,"discount_amount":100,"metadata":{"a":"b"},"wallets":["wechat"]}`))
	f.Add([]byte(`[`))
	f.Add([]byte(`{"amount":"x"}`))
	h := &handler{maxAmount: config.DefaultMaxAmount, now: time.Now}
	key, _ := checkout.NewAPIKey(false)
	st := &checkout.Store{ID: "main", Sandbox: true, LatePolicy: checkout.LatePolicyAccept,
		WeChat: checkout.WeChatConfig{Enabled: true}, Alipay: checkout.AlipayConfig{Enabled: true}}
	m := &checkout.Merchant{ID: "m", APIKeys: []checkout.APIKey{checkout.APIKeyFor(key)}, RedirectHosts: []string{"shop.example"}, Stores: []*checkout.Store{st}}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, perr := decodeCreate(body)
		if perr != nil {
			if perr.code == "" || perr.message == "" {
				t.Fatalf("empty error for %q", body)
			}
			return
		}
		d, perr := h.draftFrom(m, false, req)
		if perr != nil {
			if perr.code == "" || perr.param == "" {
				t.Fatalf("error without code or param for %q: %+v", body, perr)
			}
			return
		}
		// Whatever passed the API rules must pass the domain's.
		if _, err := checkout.NewCheckout(d, time.Now()); err != nil {
			t.Fatalf("API accepted what the domain refuses (%q): %v", body, err)
		}
	})
}

package handlers

import (
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
)

// TestCreateRefusesWhatAStrictAPIRefuses: a success or webhook URL whose
// port is not 1-65535, and metadata with control characters (NUL, CR, LF),
// are refused field by field, never stored.
func TestCreateRefusesWhatAStrictAPIRefuses(t *testing.T) {
	h := &handler{maxAmount: config.DefaultMaxAmount, now: time.Now}
	m := &checkout.Merchant{ID: "m", RedirectHosts: []string{"shop.example"}, WebhookSecrets: []checkout.Secret{"whsec"}, Stores: []*checkout.Store{store("main", true)}}
	for _, tc := range []struct {
		name, body, param string
	}{
		{"success_url port 99999", `{"amount":1,"success_url":"https://shop.example:99999/ok"}`, "success_url"},
		{"cancel_url port 0", `{"amount":1,"cancel_url":"https://shop.example:0/c"}`, "cancel_url"},
		{"success_url port 65536", `{"amount":1,"success_url":"https://shop.example:65536/ok"}`, "success_url"},
		{"webhook_url port 70000", `{"amount":1,"webhook_url":"https://hooks.example:70000/h"}`, "webhook_url"},
		{"NUL in metadata", `{"amount":1,"metadata":{"a":"x\u0000y"}}`, "metadata"},
		{"CR LF in metadata", `{"amount":1,"metadata":{"a":"x\r\nSet-Cookie: y"}}`, "metadata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, derr := decodeCreate([]byte(tc.body))
			if derr != nil {
				t.Fatalf("decode: %v", derr)
			}
			d, err := h.draftFrom(m, false, req)
			if err == nil {
				t.Fatalf("accepted: %+v", d)
			}
			if err.status != 400 || err.code != "invalid_parameter" || err.param != tc.param {
				t.Fatalf("got %d %s %q, want 400 invalid_parameter %q", err.status, err.code, err.param, tc.param)
			}
		})
	}
	req, _ := decodeCreate([]byte(`{"amount":1,"success_url":"https://shop.example:8443/ok","webhook_url":"https://hooks.example:8443/h","metadata":{"桌":"7 号"}}`))
	if _, err := h.draftFrom(m, false, req); err != nil {
		t.Fatalf("a valid port and printable metadata refused: %v", err)
	}
}

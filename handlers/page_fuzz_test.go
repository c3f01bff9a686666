package handlers

import (
	"strconv"
	"testing"

	"github.com/wallet-checkout/checkout/checkout"
)

// FuzzParsePayRequest feeds the pay action's body parser anything: it must
// never panic, and what it accepts is always a known wallet and a scenario
// a page may ask for. Seeds: testdata/fuzz/FuzzParsePayRequest.
func FuzzParsePayRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		w, s, ok := parsePayRequest(body)
		if !ok {
			if w != "" || s != "" {
				t.Fatalf("refused body returned %q %q", w, s)
			}
			return
		}
		if !w.Valid() || s != checkout.ScenarioQR && s != checkout.ScenarioJump && s != checkout.ScenarioJSAPI {
			t.Fatalf("accepted %q %q", w, s)
		}
	})
}

// FuzzParseQRName checks that every accepted image name is the canonical
// spelling of a positive attempt number. Seeds: testdata/fuzz/FuzzParseQRName.
func FuzzParseQRName(f *testing.F) {
	f.Fuzz(func(t *testing.T, name string) {
		n, ok := parseQRName(name)
		if !ok {
			return
		}
		if n <= 0 || strconv.Itoa(n)+".svg" != name {
			t.Fatalf("%q accepted as %d", name, n)
		}
	})
}

// FuzzDetectClient: any User-Agent gives one of the four places.
// Seeds: testdata/fuzz/FuzzDetectClient.
func FuzzDetectClient(f *testing.F) {
	f.Fuzz(func(t *testing.T, ua string) {
		switch c := detectClient(ua); c.Wallet {
		case "wechat", "alipay", "miniprogram", "browser":
		default:
			t.Fatalf("wallet %q", c.Wallet)
		}
	})
}

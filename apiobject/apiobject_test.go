package apiobject

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
)

func TestTime(t *testing.T) {
	cst := time.FixedZone("UTC+8", 8*3600)
	cases := map[string]struct {
		in   time.Time
		want string
	}{
		"zero":        {time.Time{}, ""},
		"utc":         {time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), "2026-12-01T10:00:00Z"},
		"other zone":  {time.Date(2026, 12, 1, 18, 0, 0, 0, cst), "2026-12-01T10:00:00Z"},
		"sub-second":  {time.Date(2026, 12, 1, 10, 0, 0, 999e6, time.UTC), "2026-12-01T10:00:00Z"},
		"year change": {time.Date(2027, 1, 1, 1, 0, 0, 0, cst), "2026-12-31T17:00:00Z"},
	}
	for name, tc := range cases {
		if got := Time(tc.in); got != tc.want {
			t.Errorf("%s: Time = %q, want %q", name, got, tc.want)
		}
	}
}

func TestPageURL(t *testing.T) {
	for _, base := range []string{"https://pay.example", "https://pay.example/", "https://pay.example//"} {
		if got := PageURL(base, "co_1"); got != "https://pay.example/c/co_1" {
			t.Errorf("PageURL(%q) = %q", base, got)
		}
	}
}

// A checkout without wallets, metadata or optional members renders [] and
// {}, never null, and leaves the optional members out: the API's schema
// requires wallets and metadata, and an event is validated by it too.
func TestCheckoutOfEmpties(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	c, err := checkout.NewCheckout(&checkout.Draft{
		MerchantID: "m_acme", StoreID: "main", Amounts: checkout.Amounts{Original: 500, Trade: 500},
		LatePolicy: checkout.LatePolicyAccept,
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	c.Wallets, c.Metadata = nil, nil
	b, err := json.Marshal(CheckoutOf(c, "https://pay.example/"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if w, ok := m["wallets"].([]any); !ok || len(w) != 0 {
		t.Errorf("wallets %v", m["wallets"])
	}
	if md, ok := m["metadata"].(map[string]any); !ok || len(md) != 0 {
		t.Errorf("metadata %v", m["metadata"])
	}
	for _, k := range []string{"paid_at", "reference", "success_url", "cancel_url", "webhook_url", "refunds"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s present in %s", k, b)
		}
	}
	if m["object"] != "checkout" || m["currency"] != Currency || m["store"] != "main" || m["amount"] != 500.0 ||
		m["url"] != "https://pay.example/c/"+c.ID || !strings.HasPrefix(m["client_secret"].(string), c.ID) {
		t.Errorf("checkout %s", b)
	}
}

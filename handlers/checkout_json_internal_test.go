package handlers

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/apiobject"
	"github.com/wallet-checkout/checkout/checkout"
)

// TestCheckoutJSONByHand: appendCheckoutJSON writes what encoding/json
// writes for the same checkout, byte for byte, whatever its strings hold.
func TestCheckoutJSONByHand(t *testing.T) {
	at := time.Date(2026, 12, 2, 23, 0, 0, 0, time.UTC)
	base := func() *checkout.Checkout {
		return &checkout.Checkout{
			ID: "co_abcdefghijklmnopqrstuvwx", MerchantID: "m1", StoreID: "main",
			Amounts:     checkout.Amounts{Original: 1200, Discount: 100, Ignore: 100, Trade: 1000},
			Description: "two coffees", LatePolicy: checkout.LatePolicyAccept,
			ExpiresAt: at.Add(30 * time.Minute), CreatedAt: at, UpdatedAt: at,
			ClientSecret: "cs_secret", Status: checkout.StatusOpen,
		}
	}
	cases := map[string]func(*checkout.Checkout){
		"plain": func(*checkout.Checkout) {},
		"everything set": func(c *checkout.Checkout) {
			c.Reference, c.SuccessURL, c.CancelURL = "order-42", "https://shop.example/ok?c={CHECKOUT_ID}&x=1", "https://shop.example/no"
			c.WebhookURL, c.PaymentLink = "https://shop.example/hook", "pl_1"
			c.Wallets = []checkout.Method{checkout.MethodWeChat, checkout.MethodAlipay}
			c.Metadata = map[string]string{"b": "2", "a": "1", "Z": "<&>", "é": "\u2028"}
			c.PaidAt, c.Late, c.Refunded, c.Status = at, true, 5, checkout.StatusPaid
		},
		"escapes": func(c *checkout.Checkout) {
			c.Description = "两杯咖啡 \"<script>\" & \\ \x01 \u2029 \xff"
			c.Reference = "a\tb"
			c.Metadata = map[string]string{"k\"": "v\n", "": ""}
		},
		"empty wallets and metadata": func(c *checkout.Checkout) {
			c.Wallets, c.Metadata = []checkout.Method{}, map[string]string{}
		},
		"negative and large numbers": func(c *checkout.Checkout) {
			c.Amounts = checkout.Amounts{Original: -1, Trade: checkout.MaxFen}
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			c := base()
			edit(c)
			for _, v := range []apiobject.Checkout{apiobject.CheckoutOf(c, "https://pay.example"), {ID: c.ID}} {
				want, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				got, err := appendCheckoutJSON(nil, &v)
				if err != nil || string(got) != string(want) {
					t.Fatalf("by hand:\n%s\nencoding/json:\n%s (%v)", got, want, err)
				}
			}
		})
	}
	v := apiobject.CheckoutOf(base(), "")
	v.Refunds = []apiobject.Refund{{ID: "re_1", Amount: 1}}
	want, _ := json.Marshal(v)
	if got, err := appendCheckoutJSON([]byte("x"), &v); err != nil || string(got) != "x"+string(want) {
		t.Fatalf("with refunds: %s, %v; want x%s", got, err, want)
	}
}

package handlers

import (
	"encoding/json"
	"slices"
	"strconv"

	"github.com/wallet-checkout/checkout/apiobject"
	"github.com/wallet-checkout/checkout/checkout"
)

// checkoutJSON is a checkout as the merchant API shows it: the one shape
// the webhook events carry too (apiobject).
type checkoutJSON = apiobject.Checkout

// refundJSON is a refund as the merchant API shows it (apiobject).
type refundJSON = apiobject.Refund

func (h *handler) checkoutView(c *checkout.Checkout) checkoutJSON {
	return apiobject.CheckoutOf(c, h.publicURL)
}

// appendCheckoutJSON appends v as encoding/json writes it, byte for byte
// (TestCheckoutJSONByHand), without its reflection: every create writes
// one. A checkout with refunds, which a create never has, goes through
// encoding/json.
func appendCheckoutJSON(b []byte, v *checkoutJSON) ([]byte, error) {
	if len(v.Refunds) > 0 {
		j, err := json.Marshal(v)
		return append(b, j...), err
	}
	str := func(name, s string) {
		b = append(b, `,"`...)
		b = append(b, name...)
		b = append(b, `":`...)
		b = appendJSONString(b, s)
	}
	optional := func(name, s string) {
		if s != "" {
			str(name, s)
		}
	}
	num := func(name string, n int64) {
		b = append(b, `,"`...)
		b = append(b, name...)
		b = append(b, `":`...)
		b = strconv.AppendInt(b, n, 10)
	}
	b = append(b, `{"id":`...)
	b = appendJSONString(b, v.ID)
	str("object", v.Object)
	str("url", v.URL)
	str("client_secret", v.ClientSecret)
	str("status", string(v.Status))
	b = append(b, `,"late":`...)
	b = strconv.AppendBool(b, v.Late)
	str("store", v.Store)
	str("currency", v.Currency)
	num("amount", v.Amount)
	num("original_amount", v.OriginalAmount)
	num("discount_amount", v.DiscountAmount)
	num("ignore_amount", v.IgnoreAmount)
	num("refunded_amount", v.RefundedAmount)
	str("description", v.Description)
	optional("reference", v.Reference)
	optional("success_url", v.SuccessURL)
	optional("cancel_url", v.CancelURL)
	str("late_policy", v.LatePolicy)
	optional("webhook_url", v.WebhookURL)
	b = append(b, `,"wallets":`...)
	switch {
	case v.Wallets == nil:
		b = append(b, "null"...)
	default:
		b = append(b, '[')
		for i, w := range v.Wallets {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, string(w))
		}
		b = append(b, ']')
	}
	b = append(b, `,"metadata":`...)
	switch {
	case v.Metadata == nil:
		b = append(b, "null"...)
	default:
		keys := make([]string, 0, len(v.Metadata))
		for k := range v.Metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, v.Metadata[k])
		}
		b = append(b, '}')
	}
	str("expires_at", v.ExpiresAt)
	str("created_at", v.CreatedAt)
	str("updated_at", v.UpdatedAt)
	optional("paid_at", v.PaidAt)
	optional("payment_link", v.PaymentLink)
	return append(b, '}'), nil
}

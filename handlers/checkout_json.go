package handlers

import (
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

// Package apiobject holds the merchant API's objects as a merchant sees
// them: the checkout and the refund. The API's answers (handlers) and the
// webhook events' data (notify/webhook, filled by payments) render them
// with the same functions, so an event's checkout is exactly the checkout
// GET /v1/checkouts/{id} answers, field for field.
//
// A change to these types changes the webhook wire format: it bumps
// APIVersion (docs/webhooks.md says which changes do).
package apiobject

// Package client is the Go client of the wallet checkout service's merchant
// API: create, read, list and cancel checkouts, refund them, read and resend
// the events sent to your webhook, run and read reconciliations, and (in
// the webhook subpackage) verify the webhooks themselves.
//
// It uses nothing but the standard library and asks for Go 1.22, so a
// merchant inherits neither the service's dependencies nor its Go version.
// It is written by hand against api/openapi.yaml (served by the service at
// /v1/openapi.json); its types carry the field names the API answers.
//
// # Quick start
//
//	c, err := client.New("https://pay.example.com", os.Getenv("CHECKOUT_API_KEY"))
//	if err != nil { … }
//	co, err := c.CreateCheckout(ctx, &client.CheckoutCreateParams{Amount: 1999, Reference: "order-1042"})
//	if err != nil { … }
//	// send the payer to co.URL
//
// # Retries and idempotency
//
// Every call takes a context.Context: its deadline and cancellation bound the
// whole call, retries and waits included. A call is retried (by default up
// to twice; see WithMaxRetries) after a network error, a 5xx answer or a
// 429, waiting what the answer's Retry-After asks or else a capped
// exponential backoff with jitter. GETs are always safe to retry. A POST is
// retried only when it carries an Idempotency-Key: CreateCheckout and
// CreateRefund generate one per call (or take yours, WithIdempotencyKey)
// and send the same key on every retry of that call, so a retry after a lost
// answer returns the first checkout or refund instead of making a second.
// CancelCheckout needs no key (cancelling twice answers the same) and is
// retried like a GET. The other POSTs (resend, reconciliations) take no key
// and are retried only after a 429, which the service answers before doing
// anything: retry them yourself after a 5xx if you know it is safe.
//
// # Errors
//
// An answer that is not a 2xx is an *Error carrying the HTTP status, the
// API's code, param and message, and the request's X-Request-Id (quote it
// when asking about a request). Use errors.As to read it, or errors.Is with
// the sentinels (ErrNotFound, ErrRateLimited, …), which match on the code.
//
// # Webhooks
//
// The webhook subpackage signs and verifies the Checkout-Signature header;
// ParseEvent verifies a delivery and decodes its event in one step. An
// event's Data.Checkout and Data.Refund are the Checkout and Refund the API
// calls return (the same types, the same fields); Event.APIVersion names
// the shape, and APIVersion is the one these types describe.
//
// # Payment links
//
// Payment links have their own file (paymentlinks.go): CreatePaymentLink,
// GetPaymentLink, ListPaymentLinks, IterPaymentLinks, UpdatePaymentLink and
// DeletePaymentLink, with their types, following the checkouts' pattern.
//
// The API key is never logged: a Client's String and GoString hide it.
package client

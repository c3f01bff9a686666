package client

// Payment links are not part of the API yet. When the service adds them
// (POST/GET /v1/payment_links), their types and calls go in this file,
// following the checkouts': PaymentLink, PaymentLinkCreateParams,
// CreatePaymentLink (with an idempotency key, as CreateCheckout),
// GetPaymentLink, ListPaymentLinks and IterPaymentLinks.

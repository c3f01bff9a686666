package webhook

import (
	"time"

	cwebhook "github.com/wallet-checkout/checkout/client/webhook"
)

// The signature scheme has one owner, the client module's webhook package
// (github.com/wallet-checkout/checkout/client/webhook), which merchants
// import without Redis or the service. What follows names it here so the
// service's code and tests keep their spelling.

// The delivery headers.
const (
	// HeaderSignature carries "t=<unix seconds>,v1=<hex>[,v1=<hex>]".
	HeaderSignature = cwebhook.HeaderSignature
	// HeaderEventID is the event id, the same on every retry and resend.
	HeaderEventID = cwebhook.HeaderEventID
	// HeaderEventType is the event type.
	HeaderEventType = cwebhook.HeaderEventType
)

// DefaultTolerance is how far a signature's timestamp may be from now
// before Verify refuses it as a replay.
const DefaultTolerance = cwebhook.DefaultTolerance

// Errors of Verify; check them with errors.Is. They are the client's own
// values, so errors.Is matches either spelling.
var (
	// ErrNotSigned means the header is missing or carries no v1 signature.
	ErrNotSigned = cwebhook.ErrNotSigned
	// ErrInvalidHeader means the header is not t=…,v1=… .
	ErrInvalidHeader = cwebhook.ErrInvalidHeader
	// ErrNoValidSignature means no signature matches any secret.
	ErrNoValidSignature = cwebhook.ErrNoValidSignature
	// ErrTooOld means the signature's timestamp is outside the tolerance.
	ErrTooOld = cwebhook.ErrTooOld
)

// ComputeSignature returns the HMAC-SHA256 of "<unix seconds of t>.payload"
// under secret (cwebhook.ComputeSignature).
func ComputeSignature(t time.Time, payload []byte, secret string) []byte {
	return cwebhook.ComputeSignature(t, payload, secret)
}

// SignatureHeader returns the Checkout-Signature value for payload sent at
// t, one v1 signature per secret (cwebhook.SignatureHeader).
func SignatureHeader(t time.Time, payload []byte, secrets []string) string {
	return cwebhook.SignatureHeader(t, payload, secrets)
}

// Verify checks a delivery's signature and timestamp (cwebhook.Verify).
func Verify(payload []byte, header string, secrets []string, tolerance time.Duration, now time.Time) error {
	return cwebhook.Verify(payload, header, secrets, tolerance, now)
}

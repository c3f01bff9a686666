// Package webhook signs and verifies the service's webhook deliveries. It
// is the one implementation of the signature scheme: the service signs
// with it and merchants verify with it, and it needs nothing but the
// standard library.
//
// Each delivery carries the header
//
//	Checkout-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]
//
// where each v1 is the hex HMAC-SHA256 of "<t>.<raw body>" under one of the
// merchant's webhook secrets (two while a secret is being rotated). Verify
// checks one of them in constant time and refuses timestamps outside a
// tolerance, so a captured delivery cannot be replayed later.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// The delivery headers.
const (
	// HeaderSignature carries "t=<unix seconds>,v1=<hex>[,v1=<hex>]".
	HeaderSignature = "Checkout-Signature"
	// HeaderEventID is the event id, the same on every retry and resend:
	// deduplicate on it.
	HeaderEventID = "Checkout-Event-Id"
	// HeaderEventType is the event type.
	HeaderEventType = "Checkout-Event-Type"
)

// DefaultTolerance is how far a signature's timestamp may be from now
// before Verify refuses it as a replay.
const DefaultTolerance = 5 * time.Minute

// The signature scheme: v1 is HMAC-SHA256 of "timestamp.body".
const schemeV1 = "v1"

// Errors of Verify; check them with errors.Is.
var (
	// ErrNotSigned means the header is missing or carries no v1 signature.
	ErrNotSigned = errors.New("webhook: no signature")
	// ErrInvalidHeader means the header is not t=…,v1=… .
	ErrInvalidHeader = errors.New("webhook: invalid signature header")
	// ErrNoValidSignature means no signature matches any secret: the body
	// was changed, or it was not sent with these secrets.
	ErrNoValidSignature = errors.New("webhook: no valid signature")
	// ErrTooOld means the signature is genuine but its timestamp is outside
	// the tolerance: a replay or a badly wrong clock.
	ErrTooOld = errors.New("webhook: timestamp outside the tolerance")
)

// ComputeSignature returns the HMAC-SHA256 of "<unix seconds of t>.payload"
// under secret: the bytes whose hex form follows "v1=".
func ComputeSignature(t time.Time, payload []byte, secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	var ts [20]byte
	m.Write(strconv.AppendInt(ts[:0], t.Unix(), 10))
	m.Write([]byte{'.'})
	m.Write(payload)
	return m.Sum(nil)
}

// SignatureHeader returns the Checkout-Signature value for payload sent at
// t: the timestamp and one v1 signature per secret, in order. The service
// signs its deliveries with it; merchants can use it to make test
// deliveries for their own handler.
func SignatureHeader(t time.Time, payload []byte, secrets []string) string {
	var b strings.Builder
	b.Grow(16 + len(secrets)*68)
	b.WriteString("t=")
	b.WriteString(strconv.FormatInt(t.Unix(), 10))
	for _, sec := range secrets {
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(ComputeSignature(t, payload, sec)))
	}
	return b.String()
}

// Verify checks that payload (the raw request body, before any parsing)
// was signed at most tolerance before (or after) now by the service with
// one of secrets; pass every secret that may be active during a rotation.
// A tolerance of 0 means DefaultTolerance. It returns nil, or
// ErrNotSigned, ErrInvalidHeader, ErrNoValidSignature or ErrTooOld.
func Verify(payload []byte, header string, secrets []string, tolerance time.Duration, now time.Time) error {
	ts, sigs, err := parseSignatureHeader(header)
	if err != nil {
		return err
	}
	ok := false
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		want := ComputeSignature(ts, payload, sec)
		for _, sig := range sigs {
			// Every comparison is constant time; a match ends nothing early
			// that depends on secret bytes.
			if hmac.Equal(want, sig) {
				ok = true
			}
		}
	}
	if !ok {
		return ErrNoValidSignature
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Sub(ts); d > tolerance || d < -tolerance {
		return ErrTooOld
	}
	return nil
}

// maxSignatures bounds the work a hostile header can cause.
const maxSignatures = 8

// parseSignatureHeader reads "t=…,v1=…,…". Unknown schemes are skipped so
// a later scheme can be added next to v1.
func parseSignatureHeader(header string) (time.Time, [][]byte, error) {
	if header == "" {
		return time.Time{}, nil, ErrNotSigned
	}
	var (
		ts    time.Time
		hasTS bool
		sigs  [][]byte
	)
	for _, part := range strings.Split(header, ",") {
		k, v, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found {
			return time.Time{}, nil, ErrInvalidHeader
		}
		switch k {
		case "t":
			if hasTS {
				return time.Time{}, nil, ErrInvalidHeader
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 || n > 1<<40 {
				return time.Time{}, nil, ErrInvalidHeader
			}
			ts, hasTS = time.Unix(n, 0), true
		case schemeV1:
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				continue // not ours; another signature may still match
			}
			if len(sigs) < maxSignatures {
				sigs = append(sigs, sig)
			}
		}
	}
	if !hasTS {
		return time.Time{}, nil, ErrInvalidHeader
	}
	if len(sigs) == 0 {
		return time.Time{}, nil, ErrNotSigned
	}
	return ts, sigs, nil
}

package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Error is an answer of the API that is not a 2xx. Read it with errors.As,
// or compare its code with errors.Is and the sentinels below.
type Error struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the API's error code (e.g. "invalid_parameter"), for
	// programs; empty when the answer was not the API's JSON (a proxy's
	// page, say).
	Code string
	// Param names the field, query parameter or header at fault, if any.
	Param string
	// Message is for people, in English; it may change.
	Message string
	// RequestID is the answer's X-Request-Id: quote it when asking about
	// a request.
	RequestID string
	// RetryAfter is the answer's Retry-After (429, 503), or 0.
	RetryAfter time.Duration
}

// Error reads like "checkout API: 404 not_found (param id): no such
// checkout [request req_…]".
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "checkout API: %d", e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Param != "" {
		b.WriteString(" (param " + e.Param + ")")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" [request " + e.RequestID + "]")
	}
	return b.String()
}

// Is reports whether target is an *Error with the same Code (and, when the
// target sets one, the same StatusCode), so that
// errors.Is(err, client.ErrNotFound) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t.Code == "" {
		return false
	}
	return t.Code == e.Code && (t.StatusCode == 0 || t.StatusCode == e.StatusCode)
}

// retryable reports whether the same request may succeed later: the
// service or something in front of it failed, a rate limit refused it, or
// the first request under the same idempotency key is still running.
func (e *Error) retryable() bool {
	switch {
	case e.StatusCode == http.StatusTooManyRequests:
		return true
	case e.StatusCode >= 500 && e.StatusCode != http.StatusNotImplemented:
		return true
	case e.StatusCode == http.StatusConflict && e.Code == CodeIdempotencyInProgress:
		return true
	}
	return false
}

// Error codes the API answers (api/openapi.yaml lists them all; new codes
// may be added).
const (
	CodeInvalidJSON             = "invalid_json"
	CodeUnknownParameter        = "unknown_parameter"
	CodeInvalidParameter        = "invalid_parameter"
	CodeUnauthorized            = "unauthorized"
	CodeNotFound                = "not_found"
	CodeIdempotencyConflict     = "idempotency_conflict"
	CodeIdempotencyInProgress   = "idempotency_in_progress"
	CodeCheckoutPaid            = "checkout_paid"
	CodeCheckoutNotCancellable  = "checkout_not_cancellable"
	CodeCheckoutNotRefundable   = "checkout_not_refundable"
	CodeRefundExceedsRefundable = "refund_exceeds_refundable"
	CodeReconciliationBusy      = "reconciliation_in_progress"
	CodeInvalidTransition       = "invalid_transition"
	CodeRateLimited             = "rate_limited"
	CodeGatewayUnavailable      = "gateway_unavailable"
	CodeUnavailable             = "unavailable"
	CodeAmountLocked            = "amount_locked"
)

// Sentinels for errors.Is: each matches any *Error with its code.
var (
	ErrInvalidParameter        = &Error{Code: CodeInvalidParameter}
	ErrUnauthorized            = &Error{Code: CodeUnauthorized}
	ErrNotFound                = &Error{Code: CodeNotFound}
	ErrIdempotencyConflict     = &Error{Code: CodeIdempotencyConflict}
	ErrCheckoutPaid            = &Error{Code: CodeCheckoutPaid}
	ErrCheckoutNotCancellable  = &Error{Code: CodeCheckoutNotCancellable}
	ErrCheckoutNotRefundable   = &Error{Code: CodeCheckoutNotRefundable}
	ErrRefundExceedsRefundable = &Error{Code: CodeRefundExceedsRefundable}
	ErrRateLimited             = &Error{Code: CodeRateLimited}
	ErrUnavailable             = &Error{Code: CodeUnavailable}
	// ErrAmountLocked: a payment link's amount terms cannot change once a
	// checkout used them.
	ErrAmountLocked = &Error{Code: CodeAmountLocked}
)

// decodeError makes the *Error of a non-2xx answer; a body that is not the
// API's error JSON keeps its start as the message.
func decodeError(resp *http.Response, data []byte) *Error {
	e := &Error{
		StatusCode: resp.StatusCode,
		RequestID:  resp.Header.Get("X-Request-Id"),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Param   string `json:"param"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &body) == nil && body.Error.Code != "" {
		e.Code, e.Message, e.Param = body.Error.Code, body.Error.Message, body.Error.Param
		return e
	}
	msg := strings.TrimSpace(string(data))
	if len(msg) > 200 {
		msg = strings.ToValidUTF8(msg[:200], "") + "…"
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	e.Message = msg
	return e
}

package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
	"github.com/wallet-checkout/checkout/reconciliation"
	"github.com/wallet-checkout/checkout/web/templates"
)

// How an error becomes an answer. A handler parses, calls, and on failure
// hands the error to h.fail (merchant API and mini-program JSON) or
// h.failPage (a payer page's fetch, in the payer's language); both find the
// answer with answerFor:
//
//  1. *checkout.FieldError: 400 invalid_parameter naming its field;
//  2. the request's own rules, for a domain error that means something
//     else in this request (refundRules, differenceRules, …);
//  3. errorAnswers, the service's table of domain errors;
//  4. *requestError: a refusal the handler decided itself (invalid,
//     badRequest, errNoRoute, …) or a failing dependency (unavailable);
//  5. anything else is a 500 internal_error.
//
// Every match uses errors.Is / errors.As, so wrapped errors map like bare
// ones. Answers of 500 and more are logged with the error; an error's text
// never reaches the client.

// apiError is the body of every error answer:
// {"error":{"code":…,"message":…,"param":…}}.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
}

type errorBody struct {
	Error apiError `json:"error"`
}

// answer is what an error becomes: the status, the body's code, message
// (the API's English; pages show the catalogue's text of code) and param,
// and a Retry-After when the client should wait.
type answer struct {
	status     int
	code       string
	message    string
	param      string
	retryAfter string
}

// errorRule maps a sentinel error, and whatever wraps it, to an answer.
type errorRule struct {
	err    error
	answer answer
}

// internalAnswer is the answer of an error no rule knows.
var internalAnswer = answer{status: http.StatusInternalServerError, code: "internal_error", message: "internal error"}

// errorAnswers is the one table of the domain's errors.
var errorAnswers = domainErrorAnswers()

func domainErrorAnswers() []errorRule {
	unknownCursor := answer{status: http.StatusBadRequest, code: "invalid_parameter", message: "unknown cursor", param: "starting_after"}
	en := templates.LangEn
	return []errorRule{
		{checkout.ErrNotFound, answer{status: http.StatusNotFound, code: "not_found", message: "no such checkout", param: "id"}},
		{checkout.ErrBadCursor, unknownCursor},
		{checkout.ErrIdempotencyConflict, answer{status: http.StatusConflict, code: "idempotency_conflict",
			message: "this Idempotency-Key was used with a different request body", param: "Idempotency-Key"}},
		{checkout.ErrIdempotencyInFlight, answer{status: http.StatusConflict, code: "idempotency_in_progress",
			message: "a request with this Idempotency-Key is still being processed; retry later", param: "Idempotency-Key"}},
		{checkout.ErrInvalid, answer{status: http.StatusBadRequest, code: "invalid_parameter", message: "a value breaks a rule of the checkout"}},
		// Starting a payment (pages and the mini-program).
		{payments.ErrWalletDisabled, answer{status: http.StatusConflict, code: "wallet_unavailable",
			message: apiErrorMessage(en, "wallet_unavailable")}},
		{payments.ErrPayerRequired, answer{status: http.StatusConflict, code: "identity_required",
			message: apiErrorMessage(en, "identity_required")}},
		{payments.ErrCheckoutBusy, answer{status: http.StatusConflict, code: "busy",
			message: apiErrorMessage(en, "busy"), retryAfter: "2"}},
		{payments.ErrPaymentDeclined, answer{status: http.StatusPaymentRequired, code: "payment_declined",
			message: apiErrorMessage(en, "payment_declined")}},
		{payments.ErrPaymentUnknown, answer{status: http.StatusServiceUnavailable, code: "payment_unknown",
			message: apiErrorMessage(en, "payment_unknown"), retryAfter: "5"}},
		// Refunds.
		{payments.ErrExceedsRefundable, answer{status: http.StatusConflict, code: "refund_exceeds_refundable",
			message: "the amount is more than what is left to refund", param: "amount"}},
		{payments.ErrIdempotencyConflict, answer{status: http.StatusConflict, code: "idempotency_conflict",
			message: "this Idempotency-Key was used for a different refund", param: "Idempotency-Key"}},
		// Events.
		{webhook.ErrNotFound, answer{status: http.StatusNotFound, code: "not_found", message: "no such event", param: "id"}},
		{webhook.ErrBadCursor, unknownCursor},
		// Reconciliations.
		{reconciliation.ErrNotFound, answer{status: http.StatusNotFound, code: "not_found", message: "no such reconciliation", param: "id"}},
		{reconciliation.ErrBadCursor, unknownCursor},
		{reconciliation.ErrBusy, answer{status: http.StatusConflict, code: "reconciliation_in_progress",
			message: "this store's day is being reconciled right now; retry shortly"}},
		{reconciliation.ErrGateway, answer{status: http.StatusBadGateway, code: "gateway_unavailable",
			message: "the payment gateway could not be asked; retry later"}},
	}
}

// Rules of one request, for domain errors that mean something else there.
var (
	// refundRules: POST /v1/checkouts/:id/refunds.
	refundRules = []errorRule{
		{checkout.ErrInvalid, answer{status: http.StatusBadRequest, code: "invalid_parameter",
			message: fmt.Sprintf("amount must be positive and reason at most %d characters on one line", payments.MaxReasonLen)}},
		{checkout.ErrNotAllowed, answer{status: http.StatusConflict, code: "checkout_not_refundable", message: "only a paid checkout can be refunded"}},
	}
	// reconcileRules: POST /v1/reconciliations.
	reconcileRules = []errorRule{
		{reconciliation.ErrInvalid, answer{status: http.StatusBadRequest, code: "invalid_parameter",
			message: "the day must have begun at the gateway (UTC+8) and be within the retention", param: "date"}},
	}
	// differenceRules: POST /v1/reconciliations/:id/differences/:did.
	differenceRules = []errorRule{
		{reconciliation.ErrNotFound, answer{status: http.StatusNotFound, code: "not_found", message: "no such reconciliation or difference", param: "id"}},
		{reconciliation.ErrInvalid, answer{status: http.StatusBadRequest, code: "invalid_parameter",
			message: fmt.Sprintf("at most %d characters on one line", reconciliation.MaxNoteLen), param: "note"}},
		{reconciliation.ErrTransition, answer{status: http.StatusConflict, code: "invalid_transition", message: "a resolved difference stays resolved", param: "status"}},
	}
	// startRules: starting a payment (Payments.Start).
	startRules = []errorRule{
		{checkout.ErrInvalid, answer{status: http.StatusBadRequest, code: "invalid_request",
			message: apiErrorMessage(templates.LangEn, "invalid_request")}},
	}
)

// answerFor finds the answer of err (see the top of this file); ok is false
// when nothing knows err.
func answerFor(err error, rules ...errorRule) (a answer, ok bool) {
	var fe *checkout.FieldError
	if errors.As(err, &fe) {
		return answer{status: http.StatusBadRequest, code: "invalid_parameter", message: fe.Message, param: fe.Field}, true
	}
	for _, list := range [][]errorRule{rules, errorAnswers} {
		for _, r := range list {
			if errors.Is(err, r.err) {
				return r.answer, true
			}
		}
	}
	var re *requestError
	if errors.As(err, &re) {
		return re.answer, true
	}
	return answer{}, false
}

// fail answers err as the merchant API does. rules are the request's own
// (answerFor). An error without an answer is a 500 internal_error.
func (h *handler) fail(c *gin.Context, err error, rules ...errorRule) {
	a, _ := h.resolve(c, err, rules...)
	abortWith(c, a)
}

// failPage answers a payer page's fetch: the status and code fail would
// send, the catalogue's message for the code in lang (with the gateway's
// reason of a declined payment), no param; "internal" for an error without
// an answer. The mini-program takes it in English.
func (h *handler) failPage(c *gin.Context, err error, lang string, rules ...errorRule) {
	a, ok := h.resolve(c, err, rules...)
	if !ok {
		abortWith(c, answer{status: http.StatusInternalServerError, code: "internal", message: apiErrorMessage(lang, "internal")})
		return
	}
	var pe *payments.PayError
	reason := ""
	if errors.Is(err, payments.ErrPaymentDeclined) && errors.As(err, &pe) {
		reason = pe.Reason
	}
	a.message, a.param = apiErrorMessage(lang, a.code)+suffix(reason), ""
	abortWith(c, a)
}

// failStatus answers err with the status fail would send and no body (an
// image, say).
func (h *handler) failStatus(c *gin.Context, err error) {
	a, _ := h.resolve(c, err)
	c.AbortWithStatus(a.status)
}

// resolve is err's answer (internalAnswer when ok is false: nothing knows
// err). It logs what the service must look at: errors without an answer
// and answers of 500 and more (a dependency or the gateway failing).
func (h *handler) resolve(c *gin.Context, err error, rules ...errorRule) (a answer, ok bool) {
	a, ok = answerFor(err, rules...)
	switch {
	case !ok:
		a = internalAnswer
		h.logger(c).Error("Request failed", slog.Any("error", err))
	case a.status >= http.StatusInternalServerError:
		h.logger(c).Error("Request failed", slog.String("code", a.code), slog.Any("error", err))
	}
	return a, ok
}

// abortWith writes an answer and stops the chain. Messages never carry
// secrets: they describe the request, not the service's state.
func abortWith(c *gin.Context, a answer) {
	c.Header("Cache-Control", "no-store")
	if a.retryAfter != "" {
		c.Header("Retry-After", a.retryAfter)
	}
	c.AbortWithStatusJSON(a.status, errorBody{apiError{Code: a.code, Message: a.message, Param: a.param}})
}

// requestError is a refusal a handler decides itself, with its answer;
// cause, when set, is the failure behind it (logged, never shown).
type requestError struct {
	answer
	cause error
}

func (e *requestError) Error() string {
	s := e.code + ": " + e.message
	if e.param != "" {
		s = e.param + ": " + s
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *requestError) Unwrap() error { return e.cause }

// because is the same refusal, caused by err.
func (e *requestError) because(err error) *requestError {
	return &requestError{answer: e.answer, cause: err}
}

// refusalOf is err's answer as a refusal of the handler's own (a domain
// rule's *checkout.FieldError checked while parsing, say).
func refusalOf(err error) *requestError {
	a, ok := answerFor(err)
	if !ok {
		a = internalAnswer
	}
	return (&requestError{answer: a}).because(err)
}

// badRequest is a 400 with its code.
func badRequest(code, param, message string) *requestError {
	return &requestError{answer: answer{status: http.StatusBadRequest, code: code, message: message, param: param}}
}

// invalid is a 400 invalid_parameter about one field.
func invalid(param, message string) *requestError {
	return badRequest("invalid_parameter", param, message)
}

// refusal is an answer of its own that is not a 400.
func refusal(status int, code, message, param string) *requestError {
	return &requestError{answer: answer{status: status, code: code, message: message, param: param}}
}

// The refusals the handlers decide themselves.
var (
	// The payer pages' own (their fetches answer in the payer's language,
	// failPage).
	errCrossOrigin    = refusal(http.StatusForbidden, "cross_origin", "cross-origin request refused", "")
	errCSRF           = refusal(http.StatusForbidden, "csrf", "missing or wrong CSRF token", "")
	errPayRequest     = badRequest("invalid_request", "", "the pay request must be {wallet, scenario} of a known wallet and scenario")
	errWalletNotOffer = refusal(http.StatusConflict, "wallet_unavailable", "this wallet is not offered for this checkout here", "")
	// errMethodNotOffered refuses a way to pay the page could not have
	// offered where it was opened (offerFor).
	errMethodNotOffered = refusal(http.StatusConflict, "method_not_offered", "this way to pay is not offered where the page was opened", "")

	errNoRoute      = refusal(http.StatusNotFound, "not_found", "no such route", "")
	errNoMethod     = refusal(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this route", "")
	errNoAuth       = refusal(http.StatusUnauthorized, "unauthorized", "missing or malformed Authorization: Bearer header", "")
	errBadKey       = refusal(http.StatusUnauthorized, "unauthorized", "invalid API key", "")
	errEncodedPath  = badRequest("invalid_path", "", "the path must not contain an encoded '/', '\\' or '.'")
	errMediaType    = refusal(http.StatusUnsupportedMediaType, "unsupported_media_type", "send Content-Type: application/json (UTF-8)", "")
	errUnreadable   = badRequest("invalid_body", "", "the body could not be read")
	errNoCheckout   = refusal(http.StatusNotFound, "not_found", "no such checkout", "id")
	errPaidNoCancel = refusal(http.StatusConflict, "checkout_paid", "the checkout is paid; refund it instead", "")

	// The mini-program's.
	errMiniProgramBody = badRequest("invalid_request", "", "the body must be a JSON object with client_secret and code")
	errClientSecret    = refusal(http.StatusUnauthorized, "invalid_client_secret", "client_secret does not belong to this checkout", "client_secret")
	errNoMiniProgram   = refusal(http.StatusConflict, "wallet_unavailable", "WeChat mini-program payments are not configured for this checkout's store", "")
	errWeChatLogin     = refusal(http.StatusBadGateway, "identity_provider_error", "WeChat login failed, retry", "")
)

// bodyTooLarge is the answer to a body over its limit.
func bodyTooLarge(limit int64) *requestError {
	return refusal(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body must be at most %d bytes", limit), "")
}

// unavailable wraps the failure of a dependency (Redis, mostly) into a 503
// the client may retry; what names the step in the log. A domain error
// inside still gets its own answer (errorAnswers come first).
func unavailable(what string, err error) error {
	return unavailableWith("the service is temporarily unavailable; retry", what, err)
}

// unavailableWith is unavailable with a message of its own.
func unavailableWith(message, what string, err error) error {
	return refusal(http.StatusServiceUnavailable, "unavailable", message, "").because(fmt.Errorf("%s: %w", what, err))
}

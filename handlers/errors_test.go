package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
	"github.com/wallet-checkout/checkout/reconciliation"
	"github.com/wallet-checkout/checkout/web/templates"
)

// failed is what an error answer carried.
type failed struct {
	status                int
	code, message, param  string
	retryAfter, cacheCtrl string
}

// answerOf runs fail (or, with lang set, failPage) on err in a gin
// context with the request's state serve would give it, and returns the
// answer and what was logged.
func answerOf(t *testing.T, err error, lang string, rules ...errorRule) (failed, string) {
	t.Helper()
	logs := &SyncBuffer{}
	h := &handler{log: slog.New(slog.NewJSONHandler(logs, nil))}
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest("GET", "/x", nil)
	h.withRequestState(c, "req_errors_test")
	if lang == "" {
		h.fail(c, err, rules...)
	} else {
		h.failPage(c, err, lang, rules...)
	}
	if !c.IsAborted() {
		t.Fatal("the chain was not stopped")
	}
	var b errorBody
	if jerr := json.Unmarshal(w.Body.Bytes(), &b); jerr != nil {
		t.Fatalf("body is not an error body: %q", w.Body.String())
	}
	return failed{w.Code, b.Error.Code, b.Error.Message, b.Error.Param, w.Header().Get("Retry-After"), w.Header().Get("Cache-Control")}, logs.String()
}

// TestErrorMapping: every mapped error answers its status, code, message
// and param, bare and wrapped, and wrapped in unavailable (a domain error
// keeps its own answer).
func TestErrorMapping(t *testing.T) {
	unknownCursor := failed{status: 400, code: "invalid_parameter", message: "unknown cursor", param: "starting_after"}
	en := func(code string) string { return templates.Translate(templates.LangEn, "api_error."+code) }
	for _, tc := range []struct {
		name  string
		err   error
		rules []errorRule
		want  failed
	}{
		{"checkout not found", checkout.ErrNotFound, nil, failed{status: 404, code: "not_found", message: "no such checkout", param: "id"}},
		{"checkout cursor", checkout.ErrBadCursor, nil, unknownCursor},
		{"event cursor", webhook.ErrBadCursor, nil, unknownCursor},
		{"reconciliation cursor", reconciliation.ErrBadCursor, nil, unknownCursor},
		{"idempotency conflict", checkout.ErrIdempotencyConflict, nil, failed{status: 409, code: "idempotency_conflict",
			message: "this Idempotency-Key was used with a different request body", param: "Idempotency-Key"}},
		{"idempotency in flight", checkout.ErrIdempotencyInFlight, nil, failed{status: 409, code: "idempotency_in_progress",
			message: "a request with this Idempotency-Key is still being processed; retry later", param: "Idempotency-Key"}},
		{"refund idempotency conflict", payments.ErrIdempotencyConflict, nil, failed{status: 409, code: "idempotency_conflict",
			message: "this Idempotency-Key was used for a different refund", param: "Idempotency-Key"}},
		{"exceeds refundable", payments.ErrExceedsRefundable, nil, failed{status: 409, code: "refund_exceeds_refundable",
			message: "the amount is more than what is left to refund", param: "amount"}},
		{"event not found", webhook.ErrNotFound, nil, failed{status: 404, code: "not_found", message: "no such event", param: "id"}},
		{"reconciliation not found", reconciliation.ErrNotFound, nil, failed{status: 404, code: "not_found", message: "no such reconciliation", param: "id"}},
		{"reconciliation busy", reconciliation.ErrBusy, nil, failed{status: 409, code: "reconciliation_in_progress",
			message: "this store's day is being reconciled right now; retry shortly"}},
		{"reconciliation gateway", reconciliation.ErrGateway, nil, failed{status: 502, code: "gateway_unavailable",
			message: "the payment gateway could not be asked; retry later"}},
		{"wallet disabled", payments.ErrWalletDisabled, nil, failed{status: 409, code: "wallet_unavailable", message: en("wallet_unavailable")}},
		{"payer required", payments.ErrPayerRequired, nil, failed{status: 409, code: "identity_required", message: en("identity_required")}},
		{"busy", payments.ErrCheckoutBusy, nil, failed{status: 409, code: "busy", message: en("busy"), retryAfter: "2"}},
		{"declined", payments.ErrPaymentDeclined, nil, failed{status: 402, code: "payment_declined", message: en("payment_declined")}},
		{"payment unknown", payments.ErrPaymentUnknown, nil, failed{status: 503, code: "payment_unknown", message: en("payment_unknown"), retryAfter: "5"}},
		{"field error", &checkout.FieldError{Field: "reference", Message: "must be at most 128 characters"}, nil,
			failed{status: 400, code: "invalid_parameter", message: "must be at most 128 characters", param: "reference"}},
		{"request error", invalid("limit", "must be an integer from 1 to 100"), nil,
			failed{status: 400, code: "invalid_parameter", message: "must be an integer from 1 to 100", param: "limit"}},
		{"no route", errNoRoute, nil, failed{status: 404, code: "not_found", message: "no such route"}},
		{"too large", bodyTooLarge(maxBodyBytes), nil, failed{status: 413, code: "body_too_large",
			message: fmt.Sprintf("the body must be at most %d bytes", maxBodyBytes)}},
		{"dependency", unavailable("read", errors.New("dial tcp: connection refused")), nil, failed{status: 503, code: "unavailable",
			message: "the service is temporarily unavailable; retry"}},
		// The rules of one request come before the table.
		{"refund invalid", checkout.ErrInvalid, refundRules, failed{status: 400, code: "invalid_parameter",
			message: fmt.Sprintf("amount must be positive and reason at most %d characters on one line", payments.MaxReasonLen)}},
		{"refund not allowed", checkout.ErrNotAllowed, refundRules, failed{status: 409, code: "checkout_not_refundable",
			message: "only a paid checkout can be refunded"}},
		{"reconcile invalid", reconciliation.ErrInvalid, reconcileRules, failed{status: 400, code: "invalid_parameter",
			message: "the day must have begun at the gateway (UTC+8) and be within the retention", param: "date"}},
		{"difference not found", reconciliation.ErrNotFound, differenceRules, failed{status: 404, code: "not_found",
			message: "no such reconciliation or difference", param: "id"}},
		{"difference note", reconciliation.ErrInvalid, differenceRules, failed{status: 400, code: "invalid_parameter",
			message: fmt.Sprintf("at most %d characters on one line", reconciliation.MaxNoteLen), param: "note"}},
		{"difference transition", reconciliation.ErrTransition, differenceRules, failed{status: 409, code: "invalid_transition",
			message: "a resolved difference stays resolved", param: "status"}},
		// A FieldError is an ErrInvalid, but names its field whatever the rules.
		{"field error in a refund", &checkout.FieldError{Field: "reason", Message: "too long"}, refundRules,
			failed{status: 400, code: "invalid_parameter", message: "too long", param: "reason"}},
	} {
		for _, v := range []struct {
			how string
			err error
		}{
			{"bare", tc.err},
			{"wrapped", fmt.Errorf("step: %w", tc.err)},
			{"unavailable", unavailable("step", tc.err)},
		} {
			if v.how == "unavailable" {
				var re *requestError
				if errors.As(tc.err, &re) {
					continue // unavailable wraps what a dependency returned, never a refusal
				}
			}
			got, _ := answerOf(t, v.err, "", tc.rules...)
			want := tc.want
			want.cacheCtrl = "no-store"
			if got != want {
				t.Errorf("%s (%s):\n got %+v\nwant %+v", tc.name, v.how, got, want)
			}
		}
	}
}

// TestErrorMappingPage: a page's answer has the API's status and code and
// the catalogue's message in the payer's language, with no param; a
// declined payment adds the gateway's reason.
func TestErrorMappingPage(t *testing.T) {
	zh := func(code string) string { return templates.Translate(templates.LangZhHans, "api_error."+code) }
	for _, tc := range []struct {
		name string
		err  error
		want failed
	}{
		{"not found", checkout.ErrNotFound, failed{status: 404, code: "not_found", message: zh("not_found")}},
		{"busy", fmt.Errorf("start: %w", payments.ErrCheckoutBusy), failed{status: 409, code: "busy", message: zh("busy"), retryAfter: "2"}},
		{"unavailable", unavailable("load", errors.New("redis down")), failed{status: 503, code: "unavailable", message: zh("unavailable")}},
		{"declined", &payments.PayError{Reason: "余额不足", Err: payments.ErrPaymentDeclined}, failed{status: 402, code: "payment_declined",
			message: zh("payment_declined") + " (余额不足)"}},
		{"invalid", fmt.Errorf("start: %w", checkout.ErrInvalid), failed{status: 400, code: "invalid_request", message: zh("invalid_request")}},
	} {
		got, _ := answerOf(t, tc.err, templates.LangZhHans, startRules...)
		tc.want.cacheCtrl = "no-store"
		if got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

// TestUnmappedError: an error nothing knows is a 500 whose body says
// nothing of it, and the log has it, with the request's id.
func TestUnmappedError(t *testing.T) {
	secret := errors.New("redis: WRONGPASS sk_live_very_secret at 10.0.0.7:6379")
	for _, lang := range []string{"", templates.LangEn} {
		got, logs := answerOf(t, fmt.Errorf("store: %w", secret), lang)
		want := failed{status: 500, code: "internal_error", message: "internal error", cacheCtrl: "no-store"}
		if lang != "" {
			want.code, want.message = "internal", templates.Translate(lang, "api_error.internal")
		}
		if got != want {
			t.Errorf("lang %q: got %+v, want %+v", lang, got, want)
		}
		if !strings.Contains(logs, "sk_live_very_secret") || !strings.Contains(logs, `"level":"ERROR"`) {
			t.Errorf("lang %q: the error is not logged: %s", lang, logs)
		}
	}

	// Through the router: the body has none of the error's text, the log
	// line has it and the request id.
	e := newEnv(t)
	eng := e.handler.(router).Engine
	eng.GET("/boom", func(c *gin.Context) { (&handler{log: slog.New(slog.DiscardHandler)}).fail(c, secret) })
	w := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/boom", nil)
	req.Header.Set("X-Request-Id", "req-boom")
	e.handler.ServeHTTP(w, req)
	r := &Response{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
	if r.Status != 500 || strings.Contains(string(r.Body), "WRONGPASS") || strings.Contains(string(r.Body), "10.0.0.7") {
		t.Fatalf("unmapped error answer: %d %s", r.Status, r.Body)
	}
	if code, _ := r.ErrorOf(t); code != "internal_error" {
		t.Fatalf("code %q", code)
	}
	ls := LinesWith(t, e.logs.String(), "Request failed")
	if len(ls) != 1 || ls[0]["request_id"] != "req-boom" || !strings.Contains(fmt.Sprint(ls[0]["error"]), "WRONGPASS") {
		t.Fatalf("log lines: %v", ls)
	}
}

package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/payments"
)

// fakeRefunder answers Refund with a set result.
type fakeRefunder struct {
	standInPayments
	r        *payments.Refund
	err      error
	merchant string
	req      payments.RefundRequest
}

func (f *fakeRefunder) Refund(_ context.Context, merchantID, _ string, req payments.RefundRequest) (*payments.Refund, error) {
	f.merchant, f.req = merchantID, req
	return f.r, f.err
}

func (f *fakeRefunder) Refunds(context.Context, string) ([]payments.Refund, error) { return nil, nil }

// TestCreateRefundMapping: the refund service's outcomes map to statuses
// and error codes; what reaches it is the authenticated merchant and the
// parsed body.
func TestCreateRefundMapping(t *testing.T) {
	f := &fakeRefunder{}
	e, srv := notifyServer(t, f)
	id, _ := checkout.NewID()
	ok := &payments.Refund{ID: "re_x", CheckoutID: id, Amount: 100, Status: payments.RefundSucceeded, Kind: payments.KindMerchant,
		CreatedAt: time.Unix(1, 0)}
	pending := *ok
	pending.Status = payments.RefundPending
	for _, tc := range []struct {
		name   string
		r      *payments.Refund
		err    error
		status int
		code   string
	}{
		{"succeeded", ok, nil, 201, ""},
		{"pending", &pending, nil, 202, ""},
		{"pending with error", &pending, errors.New("paystatus down"), 202, ""},
		{"not found", nil, fmt.Errorf("x: %w", checkout.ErrNotFound), 404, "not_found"},
		{"not paid", nil, fmt.Errorf("x: %w", checkout.ErrNotAllowed), 409, "checkout_not_refundable"},
		{"exceeds", nil, fmt.Errorf("x: %w", payments.ErrExceedsRefundable), 409, "refund_exceeds_refundable"},
		{"conflict", nil, payments.ErrIdempotencyConflict, 409, "idempotency_conflict"},
		{"invalid", nil, fmt.Errorf("x: %w", checkout.ErrInvalid), 400, "invalid_parameter"},
		{"redis down", nil, errors.New("connection refused"), 503, "unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.r, f.err = tc.r, tc.err
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/checkouts/"+id+"/refunds", strings.NewReader(`{"amount":100,"reason":"r"}`))
			req.Header.Set("Authorization", "Bearer "+e.keyA)
			req.Header.Set("Idempotency-Key", "k-"+tc.name[:3])
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.status {
				t.Fatalf("status %d %s, want %d", res.StatusCode, b, tc.status)
			}
			var body map[string]any
			if err := json.Unmarshal(b, &body); err != nil {
				t.Fatal(err)
			}
			if tc.code != "" {
				if e, _ := body["error"].(map[string]any); e == nil || e["code"] != tc.code {
					t.Fatalf("body %s, want code %s", b, tc.code)
				}
				return
			}
			if body["object"] != "refund" || body["id"] != "re_x" || body["amount"] != float64(100) || body["status"] != string(tc.r.Status) {
				t.Fatalf("body %s", b)
			}
			if f.merchant != "ma" || f.req.Amount != 100 || f.req.Reason != "r" || f.req.IdempotencyKey != "k-"+tc.name[:3] {
				t.Fatalf("refunder got %q %+v", f.merchant, f.req)
			}
		})
	}
}

// TestCreateRefundReplayStatus: the status code follows the first answer
// recorded with the refund (a replay of a refund first answered 202 stays
// 202 once it succeeded), and a refund waiting for its retry shows when.
func TestCreateRefundReplayStatus(t *testing.T) {
	f := &fakeRefunder{}
	e, srv := notifyServer(t, f)
	id, _ := checkout.NewID()
	next := time.Date(2026, 11, 25, 8, 5, 0, 0, time.UTC)
	for _, tc := range []struct {
		name        string
		status      payments.RefundStatus
		first       payments.RefundStatus
		next        time.Time
		code        int
		nextAttempt string
	}{
		{"first 202, now succeeded", payments.RefundSucceeded, payments.RefundPending, time.Time{}, 202, ""},
		{"first 201, now succeeded", payments.RefundSucceeded, payments.RefundSucceeded, time.Time{}, 201, ""},
		{"first 201 failed", payments.RefundFailed, payments.RefundFailed, time.Time{}, 201, ""},
		{"waiting for a retry", payments.RefundPending, payments.RefundPending, next, 202, "2026-11-25T08:05:00Z"},
		{"not recorded", payments.RefundPending, "", time.Time{}, 202, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.r = &payments.Refund{ID: "re_x", CheckoutID: id, Amount: 100, Status: tc.status, FirstStatus: tc.first,
				Kind: payments.KindMerchant, NextAttemptAt: tc.next, CreatedAt: time.Unix(1, 0)}
			f.err = nil
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/checkouts/"+id+"/refunds", strings.NewReader(`{"amount":100}`))
			req.Header.Set("Authorization", "Bearer "+e.keyA)
			req.Header.Set("Idempotency-Key", "k")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var body map[string]any
			if err := json.Unmarshal(b, &body); err != nil {
				t.Fatal(err)
			}
			got, _ := body["next_attempt_at"].(string)
			if res.StatusCode != tc.code || body["status"] != string(tc.status) || got != tc.nextAttempt {
				t.Fatalf("%d %s, want %d with next_attempt_at %q", res.StatusCode, b, tc.code, tc.nextAttempt)
			}
		})
	}
}

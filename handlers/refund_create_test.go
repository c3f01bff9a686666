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
	"github.com/wallet-checkout/checkout/notify"
)

// fakeRefunder answers Refund with a set result.
type fakeRefunder struct {
	r        *notify.Refund
	err      error
	merchant string
	req      notify.RefundRequest
}

func (f *fakeRefunder) Refund(_ context.Context, merchantID, _ string, req notify.RefundRequest) (*notify.Refund, error) {
	f.merchant, f.req = merchantID, req
	return f.r, f.err
}

func (f *fakeRefunder) Refunds(context.Context, string) ([]notify.Refund, error) { return nil, nil }

// TestCreateRefundMapping: the refund service's outcomes map to statuses
// and error codes; what reaches it is the authenticated merchant and the
// parsed body.
func TestCreateRefundMapping(t *testing.T) {
	f := &fakeRefunder{}
	e, srv := notifyServer(t, nil, f)
	id, _ := checkout.NewID()
	ok := &notify.Refund{ID: "re_x", CheckoutID: id, Amount: 100, Status: notify.RefundSucceeded, Kind: notify.KindMerchant,
		CreatedAt: time.Unix(1, 0)}
	pending := *ok
	pending.Status = notify.RefundPending
	for _, tc := range []struct {
		name   string
		r      *notify.Refund
		err    error
		status int
		code   string
	}{
		{"succeeded", ok, nil, 201, ""},
		{"pending", &pending, nil, 202, ""},
		{"pending with error", &pending, errors.New("paystatus down"), 202, ""},
		{"not found", nil, fmt.Errorf("x: %w", checkout.ErrNotFound), 404, "not_found"},
		{"not paid", nil, fmt.Errorf("x: %w", checkout.ErrNotAllowed), 409, "checkout_not_refundable"},
		{"exceeds", nil, fmt.Errorf("x: %w", notify.ErrExceedsRefundable), 409, "refund_exceeds_refundable"},
		{"conflict", nil, notify.ErrIdempotencyConflict, 409, "idempotency_conflict"},
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

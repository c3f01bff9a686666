package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestResult(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{&UnknownOutcomeError{Endpoint: EndpointPayRefund, OutNo: "x", Err: errors.New("EOF")}, "unknown_outcome"},
		{fmt.Errorf("paystatus: %w", ErrOrderNotFound), "errcode_8002"},
		{&APIError{Code: 4242}, "errcode_other"},
		{&ValidationError{Field: "amount", Reason: "zero"}, "invalid"},
		{fmt.Errorf("gateway payorder: %w", context.DeadlineExceeded), "cancelled"},
		{fmt.Errorf("gateway paylist: %w: HTTP 404", ErrMalformed), "malformed"},
		{ErrBadSign, "malformed"},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, "transport"},
	} {
		if got := Result(tc.err); got != tc.want {
			t.Errorf("Result(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestObserverSeesEveryCall: the observer is told of a read after its
// retries (one report, not one per try) and of a write's unknown outcome.
func TestObserverSeesEveryCall(t *testing.T) {
	tries := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tries++
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	type call struct {
		endpoint, result string
	}
	var (
		mu  sync.Mutex
		got []call
	)
	c := NewClient(WithRetries(2, time.Millisecond, time.Millisecond), WithObserver(func(endpoint string, err error, elapsed time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if elapsed < 0 {
			t.Errorf("negative elapsed %v", elapsed)
		}
		got = append(got, call{endpoint, Result(err)})
	}))
	st := &Store{BaseURL: srv.URL, OpenID: "oid", Key: MustParseKey(docKey), ShopPass: "123456"}
	if _, err := c.PayStatus(context.Background(), st, ByOutNo("o1")); err == nil {
		t.Fatal("PayStatus on a 502: no error")
	}
	if _, err := c.PayRefund(context.Background(), st, &RefundRequest{OutNo: "o1", RefundOutNo: "r1", RefundAmount: 1}); err == nil {
		t.Fatal("PayRefund on a 502: no error")
	}
	want := []call{{EndpointPayStatus, "transport"}, {EndpointPayRefund, "unknown_outcome"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("observed %v, want %v", got, want)
	}
	if tries != 4 {
		t.Errorf("server saw %d requests, want 3 tries of paystatus and 1 of payrefund", tries)
	}
}

// TestObserverSeesPayOrderWithoutOrdNo: a payorder answered errcode 0 but
// without the gateway's ord_no is an unknown outcome for the caller, and
// for the metrics too: counted ok, it hid the one answer an operator must
// see (the order may exist, under an ord_no nobody has).
func TestObserverSeesPayOrderWithoutOrdNo(t *testing.T) {
	f, st := newFakeGateway(t)
	f.answer = func(string, []byte) (Code, string, []byte) {
		return CodeOK, "ok", []byte(`{"out_no":"1214987050997427","trade_qrcode":"weixin://wxpay/x"}`)
	}
	var results []string
	c := NewClient(WithObserver(func(endpoint string, err error, _ time.Duration) {
		results = append(results, endpoint+" "+Result(err))
	}))
	_, err := c.PayOrder(context.Background(), st, qrOrder())
	if !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("PayOrder without ord_no: %v, want an unknown outcome", err)
	}
	if want := []string{EndpointPayOrder + " unknown_outcome"}; fmt.Sprint(results) != fmt.Sprint(want) {
		t.Errorf("observed %v, want %v", results, want)
	}
}

package handlers_test

import (
	"context"
	"testing"

	"github.com/wallet-checkout/checkout/checkout"
)

// TestPathAndHeaders: a path with an encoded '/', '\' or '.' is refused
// before any handler (it used to be decoded and cleaned into another
// route: /notify/..%2f..%2fv1%2fcheckouts reached /v1/checkouts); every
// /v1 answer says no-store; HSTS only when the public URL is https.
func TestPathAndHeaders(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{
		"/notify/..%2f..%2fv1%2fcheckouts",
		"/notify/..%2F..%2Fv1%2Fcheckouts",
		"/v1/checkouts/%2e%2e/checkouts",
		"/c/co_x%5c..%5cv1",
		"/static/x/..%2fapp.js",
	} {
		for _, method := range []string{"GET", "POST"} {
			r := e.do(method, path, e.keyA, `{"amount":100}`)
			if code, _ := r.errorOf(t); r.status != 400 || code != "invalid_path" {
				t.Errorf("%s %s: %d %s", method, path, r.status, r.body)
			}
		}
	}
	if cs, _, err := e.repo.List(context.Background(), "ma", checkout.ListQuery{Limit: 10}); err != nil || len(cs) != 0 {
		t.Fatalf("an encoded path created %d checkouts (%v)", len(cs), err)
	}
	// A trailing or doubled slash keeps today's handling.
	if r := e.do("GET", "//healthz", "", ""); r.status != 200 {
		t.Errorf("//healthz: %d", r.status)
	}

	for _, tc := range []struct {
		method, path, key, body string
	}{
		{"POST", "/v1/checkouts", e.keyA, `{"amount":100}`},
		{"GET", "/v1/checkouts", e.keyA, ""},
		{"GET", "/v1/checkouts/co_AAAAAAAAAAAAAAAAAAAAAAAA", e.keyA, ""},
		{"GET", "/v1/checkouts", "", ""},
		{"GET", "/v1/nothing", e.keyA, ""},
	} {
		r := e.do(tc.method, tc.path, tc.key, tc.body)
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s %s (%d): Cache-Control %q, want no-store", tc.method, tc.path, r.status, cc)
		}
		if hsts := r.header.Get("Strict-Transport-Security"); hsts == "" {
			t.Errorf("%s %s: no HSTS with an https public URL", tc.method, tc.path)
		}
	}
	plain := newEnv(t, publicURL("http://127.0.0.1:8080"))
	if r := plain.do("GET", "/healthz", "", ""); r.header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over plain http")
	}
}

package handlers

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/wallet-checkout/checkout/checkout"
)

// TestCreateRefusesWhatAStrictAPIRefuses: a success or webhook URL whose
// port is not 1-65535, and metadata with control characters (NUL, CR, LF),
// are refused field by field, never stored.
func TestCreateRefusesWhatAStrictAPIRefuses(t *testing.T) {
	h := &handler{maxAmount: DefaultMaxAmount, now: time.Now}
	m := &checkout.Merchant{ID: "m", RedirectHosts: []string{"shop.example"}, WebhookSecrets: []checkout.Secret{"whsec"}, Stores: []*checkout.Store{store("main", true)}}
	for _, tc := range []struct {
		name, body, param string
	}{
		{"success_url port 99999", `{"amount":1,"success_url":"https://shop.example:99999/ok"}`, "success_url"},
		{"cancel_url port 0", `{"amount":1,"cancel_url":"https://shop.example:0/c"}`, "cancel_url"},
		{"success_url port 65536", `{"amount":1,"success_url":"https://shop.example:65536/ok"}`, "success_url"},
		{"webhook_url port 70000", `{"amount":1,"webhook_url":"https://hooks.example:70000/h"}`, "webhook_url"},
		{"NUL in metadata", `{"amount":1,"metadata":{"a":"x\u0000y"}}`, "metadata"},
		{"CR LF in metadata", `{"amount":1,"metadata":{"a":"x\r\nSet-Cookie: y"}}`, "metadata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, derr := decodeCreate([]byte(tc.body))
			if derr != nil {
				t.Fatalf("decode: %v", derr)
			}
			d, err := h.draftFrom(m, false, req)
			if err == nil {
				t.Fatalf("accepted: %+v", d)
			}
			if err.status != 400 || err.code != "invalid_parameter" || err.param != tc.param {
				t.Fatalf("got %d %s %q, want 400 invalid_parameter %q", err.status, err.code, err.param, tc.param)
			}
		})
	}
	req, _ := decodeCreate([]byte(`{"amount":1,"success_url":"https://shop.example:8443/ok","webhook_url":"https://hooks.example:8443/h","metadata":{"桌":"7 号"}}`))
	if _, err := h.draftFrom(m, false, req); err != nil {
		t.Fatalf("a valid port and printable metadata refused: %v", err)
	}
}

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
			if r.status != 400 || !strings.Contains(string(r.body), `"invalid_path"`) {
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
	plain := &handler{publicURL: "http://127.0.0.1:8080"}
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	plain.transportSecurity(c)
	if rec.Header().Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over plain http")
	}
}

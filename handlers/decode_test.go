package handlers

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestDecodeCreateStrict: what a strict API refuses, encoding/json let
// through: names in another case, a name twice (the last one winning), a
// body that is not UTF-8. Each is refused with a 400 naming the member,
// never decoded into the request.
func TestDecodeCreateStrict(t *testing.T) {
	for _, tc := range []struct {
		name, body, code, param string
	}{
		{"name in capitals", `{"AMOUNT":100}`, "unknown_parameter", "AMOUNT"},
		{"name in mixed case", `{"amount":100,"Description":"x"}`, "unknown_parameter", "Description"},
		{"duplicate name", `{"amount":100,"amount":1}`, "duplicate_parameter", "amount"},
		{"duplicate metadata key", `{"amount":100,"metadata":{"a":"1","a":"2"}}`, "duplicate_parameter", "a"},
		{"invalid UTF-8 in a value", "{\"amount\":100,\"description\":\"\xff\xfe\"}", "invalid_json", ""},
		{"invalid UTF-8 in a name", "{\"amount\":100,\"\xc3\x28\":1}", "invalid_json", ""},
		{"UTF-16", "\xff\xfe{\x00\"\x00a\x00\"\x00:\x001\x00}\x00", "invalid_json", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := decodeCreate([]byte(tc.body))
			if err == nil {
				t.Fatalf("accepted: %+v", req)
			}
			if err.status != 400 || err.code != tc.code || err.param != tc.param {
				t.Fatalf("got %d %s %q, want 400 %s %q", err.status, err.code, err.param, tc.code, tc.param)
			}
		})
	}
	// Exact names still decode.
	req, err := decodeCreate([]byte(`{"amount":100,"metadata":{"a":"1","A":"2"}}`))
	if err != nil || *req.Amount != 100 || req.Metadata["a"] != "1" || req.Metadata["A"] != "2" {
		t.Fatalf("exact names: %+v %v", req, err)
	}
}

// TestReadJSONCharset: JSON is UTF-8 (RFC 8259); a body declared in another
// charset is refused before it is read, 415, not guessed at.
func TestReadJSONCharset(t *testing.T) {
	for _, tc := range []struct {
		ct   string
		want bool
	}{
		{"", true},
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"application/json; charset=UTF-8", true},
		{"application/json; charset=utf-16", false},
		{"application/json; charset=iso-8859-1", false},
		{"text/plain", false},
		// Around the exact values readJSON takes without parsing.
		{"Application/JSON", true},
		{"application/json;charset=utf-8", true},
		{"application/json; charset=\"utf-8\"", true},
		{"application/json; charset=utf-8; charset=utf-8", true},
		{"application/json;", true},
		{"application/json ", true},
		{"application/jsonx", false},
		{"application/json; charset=utf-8x", false},
		{"application/json, text/plain", false},
		{"application/json; charset=utf-8, application/json", false},
	} {
		rec := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(rec)
		c.Request = httptest.NewRequest(http.MethodPost, "/v1/checkouts", strings.NewReader(`{"amount":1}`))
		if tc.ct != "" {
			c.Request.Header.Set("Content-Type", tc.ct)
		}
		body, err := readJSON(c)
		if tc.want && (err != nil || string(body) != `{"amount":1}`) {
			t.Errorf("%q: %v, want the body", tc.ct, err)
		}
		if !tc.want && !errors.Is(err, errMediaType) {
			t.Errorf("%q: %v, want 415 unsupported_media_type", tc.ct, err)
		}
	}
}

package handlers

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"
)

// What the external tests (package handlers_test, which build the whole
// service with app.New) share with the internal ones: the test data and
// helpers both use, and the few internal values the external tests'
// assertions compare answers with. Nothing here builds a service.

// MaxBodyBytes is the largest request body read (maxBodyBytes).
const MaxBodyBytes = maxBodyBytes

// The catalogue keys of the titles of the error pages the tests expect.
var (
	PageNotFoundTitle     = pageNotFound.title
	PageUnavailableTitle  = pageUnavailable.title
	PageOAuthExpiredTitle = pageOAuthExpired.title
	PageOAuthDeniedTitle  = pageOAuthDenied.title
	PageOAuthFailedTitle  = pageOAuthFailed.title
)

// APIErrorMessage is the payer-facing message of an error code in lang.
func APIErrorMessage(lang, code string) string { return apiErrorMessage(lang, code) }

// Real WeChat, Alipay and browser User-Agents.
const (
	UAWeChatIOS     = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800322c) NetType/WIFI Language/zh_CN"
	UAWeChatAndroid = "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240805.005; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/126.0.6478.188 Mobile Safari/537.36 XWEB/1260117 MMWEBSDK/20240501 MMWEBID/1234 MicroMessenger/8.0.50.2701(0x28003253) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64"
	UAWeChatMini    = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800322c) NetType/WIFI Language/zh_CN miniProgram/wx1234567890abcdef"
	UAAlipay        = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Ariver/1.1.0 AliApp(AP/10.6.10.6000) Nebula WK RVKType(0) AlipayDefined(nt:WIFI,ws:390|780|3.0) AlipayClient/10.6.10.6000 Language/zh-Hans Region/CN"
	UADesktop       = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	UAPhone         = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
)

// SyncBuffer collects log output from concurrent handlers.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Object decodes a JSON object body, failing on any other.
func Object(t testing.TB, status int, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body is not JSON (%d): %q", status, body)
	}
	return m
}

// ErrorOf returns code and param of an error body, failing on any other shape.
func ErrorOf(t testing.TB, status int, body []byte) (string, string) {
	t.Helper()
	var b struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Param   string `json:"param"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.Error == nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("not an error body (%d): %q", status, body)
	}
	return b.Error.Code, b.Error.Param
}

package handlers

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/wallet-checkout/checkout/checkout"
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

// Merchants is the merchant API tests' directory: merchant "ma" (test key
// KeyA, live key LiveA; sandbox stores "main" and "wx", WeChat only, and
// the live store "live") and merchant "mb" (KeyB, store "main").
type Merchants struct {
	Dir               *checkout.Directory
	KeyA, KeyB, LiveA string
}

func store(id string, sandbox bool) *checkout.Store {
	return &checkout.Store{
		ID: id, Name: "Store " + id, Sandbox: sandbox,
		WeChat:     checkout.WeChatConfig{Enabled: true, Mode: checkout.ModeRedirect},
		Alipay:     checkout.AlipayConfig{Enabled: true, Mode: checkout.ModeRedirect},
		LatePolicy: checkout.LatePolicyRefund,
	}
}

// NewMerchants makes the directory with fresh API keys.
func NewMerchants(t testing.TB) Merchants {
	t.Helper()
	var m Merchants
	m.KeyA, _ = checkout.NewAPIKey(false)
	m.KeyB, _ = checkout.NewAPIKey(false)
	m.LiveA, _ = checkout.NewAPIKey(true)
	onlyWeChat := store("wx", true)
	onlyWeChat.Alipay.Enabled = false
	a := &checkout.Merchant{
		ID: "ma", Name: "Merchant A",
		APIKeys:        []checkout.APIKey{checkout.APIKeyFor(m.KeyA), checkout.APIKeyFor(m.LiveA)},
		WebhookURL:     "https://hooks.shop.example/checkout",
		WebhookSecrets: []checkout.Secret{"whsec_test_merchant_a"},
		RedirectHosts:  []string{"shop.example", "pay.shop.example:8443"},
		Stores:         []*checkout.Store{store("main", true), store("live", false), onlyWeChat},
		MaxAmount:      500000,
	}
	b := &checkout.Merchant{
		ID: "mb", Name: "Merchant B",
		APIKeys:       []checkout.APIKey{checkout.APIKeyFor(m.KeyB)},
		RedirectHosts: []string{"b.example"},
		Stores:        []*checkout.Store{store("main", true)},
	}
	var err error
	if m.Dir, err = checkout.NewDirectory([]*checkout.Merchant{a, b}); err != nil {
		t.Fatal(err)
	}
	return m
}

// Response is an answer of the merchant API.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body, a JSON object.
func (r *Response) JSON(t testing.TB) map[string]any { t.Helper(); return Object(t, r.Status, r.Body) }

// ErrorOf returns code and param of the error body.
func (r *Response) ErrorOf(t testing.TB) (string, string) {
	t.Helper()
	return ErrorOf(t, r.Status, r.Body)
}

// Do sends a merchant API request to srv (key as the Bearer token, body
// as JSON, hdr as name, value pairs) and returns the answer.
func Do(t testing.TB, srv *httptest.Server, method, path, key, body string, hdr ...string) *Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Create makes a checkout for key at srv and returns its JSON.
func Create(t testing.TB, srv *httptest.Server, key, body string) map[string]any {
	t.Helper()
	r := Do(t, srv, "POST", "/v1/checkouts", key, body)
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	return r.JSON(t)
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

// LinesWith decodes JSON log lines and returns those whose msg is msg.
func LinesWith(t testing.TB, logs, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(logs), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

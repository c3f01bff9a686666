package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/gateway"
)

// noRedirect is a client that stops at the first redirect.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func do(t *testing.T, method, u, contentType, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestPayerEndpoints(t *testing.T) {
	e := newEnv(t, Config{})
	if err := e.s.BindAppID(testOpenID, "Weixin", testAppID); err != nil {
		t.Fatal(err)
	}
	qr := e.mustCall("payorder", payload("H1", "Weixin", 100))
	// The raw quirks-mode values, stray spaces and all, as a careless bridge
	// stand-in would pass them on: the endpoint trims them.
	raw, err := e.call("payorder", payload("H2", "Weixin", 100, "JSAPI", "1", "sub_appid", testAppID, "sub_openid", "oH2"))
	if err != nil {
		t.Fatal(err)
	}
	var js map[string]any
	_ = json.Unmarshal(raw, &js)
	ali := e.mustCall("payorder", payload("H3", "Alipay", 100, "JSAPI", "1", "buyer_id", "2088102146225135"))
	bridge := func(action, sign string) string {
		m := map[string]any{}
		for _, k := range []string{"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"} {
			m[k] = js[k]
		}
		if sign != "" {
			m["paySign"] = sign
		}
		if action != "" {
			m["action"] = action
		}
		return string(mustMarshal(m))
	}

	tests := []struct {
		name, method, path, ct, body string
		code                         int
		want                         string
	}{
		{"preflight", http.MethodOptions, PathPayerWeChatJSAPI, "", "", http.StatusNoContent, ""},
		{"GET refused", http.MethodGet, PathPayerQRCode, "", "", http.StatusMethodNotAllowed, ""},
		{"garbage body", http.MethodPost, PathPayerQRCode, "application/json", "{", http.StatusBadRequest, ""},
		{"unknown QR", http.MethodPost, PathPayerQRCode, "application/json", `{"qrcode":"weixin://wxpay/bizpayurl?pr=zzz"}`, http.StatusNotFound, `"ok":false`},
		{"scan and pay", http.MethodPost, PathPayerQRCode, "application/json", `{"qrcode":"` + str(qr, "trade_qrcode") + `"}`, http.StatusOK, `"ok":true`},
		{"scan again", http.MethodPost, PathPayerQRCode, "application/json", `{"qrcode":"` + str(qr, "trade_qrcode") + `"}`, http.StatusConflict, ""},
		{"forged paySign", http.MethodPost, PathPayerWeChatJSAPI, "application/json", bridge("", strings.Repeat("F", 32)), http.StatusForbidden, "get_brand_wcpay_request:fail"},
		{"payer cancels", http.MethodPost, PathPayerWeChatJSAPI, "application/json", bridge("cancel", ""), http.StatusOK, "get_brand_wcpay_request:cancel"},
		{"payer pays", http.MethodPost, PathPayerWeChatJSAPI, "text/plain", bridge("", ""), http.StatusOK, "get_brand_wcpay_request:ok"},
		{"missing params", http.MethodPost, PathPayerWeChatJSAPI, "application/json", `{"appId":"x"}`, http.StatusBadRequest, "fail"},
		{"alipay unknown", http.MethodPost, PathPayerAlipayTrade, "application/x-www-form-urlencoded", "tradeNO=1", http.StatusNotFound, `"4000"`},
		{"alipay cancel", http.MethodPost, PathPayerAlipayTrade, "application/x-www-form-urlencoded", "action=cancel&tradeNO=" + str(ali, "trade_no"), http.StatusOK, `"6001"`},
		{"alipay pay", http.MethodPost, PathPayerAlipayTrade, "application/json", `{"tradeNO":"` + str(ali, "trade_no") + `"}`, http.StatusOK, `"9000"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, tc.method, e.ts.URL+tc.path, tc.ct, tc.body, "Origin", "https://merchant.example")
			if resp.StatusCode != tc.code || !strings.Contains(string(body), tc.want) {
				t.Fatalf("HTTP %d %s, want %d with %s", resp.StatusCode, body, tc.code, tc.want)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("no CORS header")
			}
		})
	}
	for _, out := range []string{"H1", "H2", "H3"} {
		if o, _ := e.s.Order(testOpenID, out); o.Status != gateway.StatusPaid {
			t.Errorf("%s status %d", out, o.Status)
		}
	}
}

func TestPayPageHTTP(t *testing.T) {
	e := newEnv(t, Config{})
	jump := e.mustCall("payorder", payload("PG1", "Weixin", 100, "jump_url", "https://merchant.example/back"))
	qr := e.mustCall("payorder", payload("PG2", "Weixin", 100))
	page := e.ts.URL + PathPayPage + str(jump, "ord_no")

	resp, body := do(t, http.MethodGet, page, "", "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `data-testid="sandbox-pay"`) || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("pay page: %d %s", resp.StatusCode, body)
	}
	for _, p := range []string{PathPayPage + "9000", PathPayPage + str(qr, "ord_no")} {
		if resp, _ := do(t, http.MethodGet, e.ts.URL+p, "", ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
	form := "application/x-www-form-urlencoded"
	if resp, _ := do(t, http.MethodPost, page, form, "action=pay", "Sec-Fetch-Site", "cross-site"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site post: %d", resp.StatusCode)
	}
	if resp, _ := do(t, http.MethodPost, page, form, "action=steal"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad action: %d", resp.StatusCode)
	}
	if o, _ := e.s.Order(testOpenID, "PG1"); o.Status != gateway.StatusAwaiting {
		t.Fatal("a refused post changed the order")
	}
	resp, _ = do(t, http.MethodPost, page, form, "action=pay")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Host != "merchant.example" {
		t.Fatalf("pay: %d to %v", resp.StatusCode, loc)
	}
	if cb, err := gateway.VerifyCallback(testKey, loc.Query()); err != nil || cb.Status != gateway.StatusPaid {
		t.Fatalf("jump query: %+v %v", cb, err)
	}
	// Coming back to a paid order offers only the way back, with status 1.
	_, body = do(t, http.MethodGet, page, "", "")
	if strings.Contains(string(body), `data-testid="sandbox-pay"`) || !strings.Contains(string(body), "sandbox-back") {
		t.Fatalf("paid page: %s", body)
	}
	resp, _ = do(t, http.MethodPost, page, form, "action=back")
	loc, _ = url.Parse(resp.Header.Get("Location"))
	if cb, err := gateway.VerifyCallback(testKey, loc.Query()); err != nil || cb.Status != gateway.StatusPaid {
		t.Fatalf("back: %+v %v", cb, err)
	}
}

func TestMountedUnderPrefix(t *testing.T) {
	s, err := New(Config{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddStore(Store{OpenID: testOpenID, OpenKey: testOpenKey}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/sandbox/", http.StripPrefix("/sandbox", s.Handler()))
	ts := httptest.NewServer(mux)
	defer ts.Close()
	e := &env{t: t, s: s, ts: ts, base: ts.URL + "/sandbox/mct1"}
	d := e.mustCall("payorder", payload("MT1", "Alipay", 100, "jump_url", "https://merchant.example/back"))
	want := ts.URL + "/sandbox/pay/" + str(d, "ord_no")
	if str(d, "jsapi_pay_url") != want {
		t.Fatalf("jsapi_pay_url %q, want %q", str(d, "jsapi_pay_url"), want)
	}
	if resp, _ := do(t, http.MethodGet, want, "", ""); resp.StatusCode != 200 {
		t.Fatalf("mounted pay page: %d", resp.StatusCode)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Prefix: "/"}, {Prefix: "pay"}, {PublicURL: "ftp://x"}, {PublicURL: "/relative"},
		{FailureRate: -0.1}, {TimeoutRate: 1.5}, {FailureRate: 0.6, TimeoutRate: 0.6}, {Latency: -1}, {DuplicateNotifies: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	s, _ := New(Config{})
	defer s.Close()
	for _, st := range []Store{
		{OpenID: "", OpenKey: testOpenKey}, {OpenID: "a b", OpenKey: testOpenKey}, {OpenID: "x", OpenKey: "short"},
		{OpenID: "y", OpenKey: testOpenKey, PayList: []PayMethod{{Tag: "Weixin"}}},
	} {
		if err := s.AddStore(st); err == nil {
			t.Errorf("AddStore(%q) accepted", st.OpenID)
		}
	}
	if err := s.AddStore(Store{OpenID: "z", OpenKey: testOpenKey}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddStore(Store{OpenID: "z", OpenKey: testOpenKey}); err == nil {
		t.Error("duplicate store accepted")
	}
	if err := s.BindAppID("nope", "Weixin", "wx1"); err == nil {
		t.Error("bind on unknown store accepted")
	}
	if err := s.BindAppID("z", "Nope", "wx1"); err == nil {
		t.Error("bind on unknown method accepted")
	}
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestConsole(t *testing.T) {
	e := newEnv(t, Config{})
	_, body := do(t, http.MethodGet, e.ts.URL+"/", "", "")
	if !strings.Contains(string(body), "sandbox-console-empty") {
		t.Fatalf("empty console: %s", body)
	}
	d := e.mustCall("payorder", payload("CO1", "Weixin", 100, "ord_name", "<script>x</script>"))
	e.mustCall("payorder", payload("CO2", "Weixin", 100, "auth_code", "134567890123456789"))
	_, body = do(t, http.MethodGet, e.ts.URL+"/", "", "")
	if !strings.Contains(string(body), str(d, "ord_no")) || strings.Contains(string(body), "CO2") || strings.Contains(string(body), "<script>x") {
		t.Fatalf("console lists: %s", body)
	}
	resp, _ := do(t, http.MethodPost, e.ts.URL+"/console/pay/"+str(d, "ord_no"), "application/x-www-form-urlencoded", "", "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site console post: %d", resp.StatusCode)
	}
	resp, _ = do(t, http.MethodPost, e.ts.URL+"/console/pay/"+str(d, "ord_no"), "application/x-www-form-urlencoded", "")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "../../" {
		t.Fatalf("console pay: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if o, _ := e.s.Order(testOpenID, "CO1"); o.Status != gateway.StatusPaid {
		t.Fatalf("status %d", o.Status)
	}
	if resp, _ := do(t, http.MethodPost, e.ts.URL+"/console/pay/9000", "application/x-www-form-urlencoded", ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown order: %d", resp.StatusCode)
	}
}

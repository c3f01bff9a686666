package wallet

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/internal/porttest"
)

var update = flag.Bool("update", false, "rewrite golden files")

const testSecret = "wx-secret-never-printed-0123456789"

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden:\n got: %s\nwant: %s", name, got, want)
	}
}

func TestAuthorizeURLsGolden(t *testing.T) {
	var b strings.Builder
	wx := []struct {
		name string
		c    WeChat
	}{
		{"wechat default", WeChat{}},
		{"wechat emulator under a prefix", WeChat{AuthorizeBase: "http://127.0.0.1:8080/sandbox/wallet/"}},
	}
	for _, tc := range wx {
		fmt.Fprintf(&b, "%s\n%s\n", tc.name, tc.c.AuthorizeURL("wx1234567890abcdef", "https://pay.example.com/c/ck_1/wechat/callback?x=1&y=二", "st&=#?/ 状态"))
	}
	ap := []struct {
		name string
		c    Alipay
	}{
		{"alipay default", Alipay{}},
		{"alipay emulator under a prefix", Alipay{AuthorizeBase: "http://127.0.0.1:8080/sandbox/wallet"}},
	}
	for _, tc := range ap {
		fmt.Fprintf(&b, "%s\n%s\n", tc.name, tc.c.AuthorizeURL("2021000000000001", "https://pay.example.com/c/ck_1/alipay/callback", "st&=#?/ 状态"))
	}
	golden(t, "authorize_urls.golden", b.String())

	// WeChat rejects the authorize call unless the parameters come in this
	// order and the fragment is present.
	u := (&WeChat{}).AuthorizeURL("a", "b", "c")
	want := "https://open.weixin.qq.com/connect/oauth2/authorize?appid=a&redirect_uri=b&response_type=code&scope=snsapi_base&state=c#wechat_redirect"
	if u != want {
		t.Errorf("AuthorizeURL = %s, want %s", u, want)
	}
}

func TestAuthorizeURLBadBase(t *testing.T) {
	for _, base := range []string{"::not a url", "ftp://x", "/relative"} {
		wc := &WeChat{AuthorizeBase: base}
		if got := wc.AuthorizeURL("a", "b", "c"); got != "" {
			t.Errorf("WeChat base %q: AuthorizeURL = %q, want empty", base, got)
		}
		if err := wc.Validate(); err == nil {
			t.Errorf("WeChat base %q: Validate accepted it", base)
		}
		ac := &Alipay{AuthorizeBase: base}
		if got := ac.AuthorizeURL("a", "b", "c"); got != "" {
			t.Errorf("Alipay base %q: AuthorizeURL = %q, want empty", base, got)
		}
		if err := ac.Validate(); err == nil {
			t.Errorf("Alipay base %q: Validate accepted it", base)
		}
	}
	if err := (&WeChat{}).Validate(); err != nil {
		t.Errorf("default WeChat: %v", err)
	}
	if err := (&Alipay{}).Validate(); err != nil {
		t.Errorf("default Alipay: %v", err)
	}
}

// checkWeChatQuery fails the test unless r carries exactly the query an
// exchange must send.
func checkWeChatQuery(t *testing.T, r *http.Request, path, codeParam string) {
	t.Helper()
	if r.Method != http.MethodGet || r.URL.Path != path {
		t.Errorf("got %s %s, want GET %s", r.Method, r.URL.Path, path)
	}
	q := r.URL.Query()
	want := map[string]string{"appid": "wxapp", "secret": testSecret, codeParam: "the-code", "grant_type": "authorization_code"}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("query %s = %q, want %q", k, q.Get(k), v)
		}
	}
	if len(q) != len(want) {
		t.Errorf("query has %d parameters, want %d: %v", len(q), len(want), q.Encode())
	}
}

func writeString(s string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(s))
	}
}

func TestWeChatExchangeCode(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    OAuthIdentity
		wantErr func(error) bool
	}{
		{
			name:    "success",
			handler: writeString(`{"access_token":"AT","expires_in":7200,"refresh_token":"RT","openid":"oAbc","scope":"snsapi_base","unionid":"uX"}`),
			want:    OAuthIdentity{OpenID: "oAbc", UnionID: "uX", Scope: "snsapi_base"},
		},
		{
			name:    "snapshot user",
			handler: writeString(`{"access_token":"AT","expires_in":7200,"openid":"oVirtual","scope":"snsapi_base","is_snapshotuser":1}`),
			want:    OAuthIdentity{OpenID: "oVirtual", Scope: "snsapi_base", Snapshot: true},
		},
		{
			name:    "code used",
			handler: writeString(`{"errcode":40163,"errmsg":"code been used, rid: 1"}`),
			wantErr: func(err error) bool { return IsWeChatError(err, WeChatCodeUsed) },
		},
		{
			name:    "invalid code",
			handler: writeString(`{"errcode":40029,"errmsg":"invalid code"}`),
			wantErr: func(err error) bool { return IsWeChatError(err, WeChatInvalidCode) },
		},
		{
			name:    "malformed json",
			handler: writeString(`{"openid":`),
			wantErr: func(err error) bool { return errors.Is(err, ErrMalformedResponse) },
		},
		{
			name:    "html error page",
			handler: writeString(`<html>502 Bad Gateway</html>`),
			wantErr: func(err error) bool { return errors.Is(err, ErrMalformedResponse) },
		},
		{
			name:    "no openid",
			handler: writeString(`{"access_token":"AT","expires_in":7200}`),
			wantErr: func(err error) bool { return errors.Is(err, ErrMalformedResponse) },
		},
		{
			name:    "wrong type",
			handler: writeString(`{"openid":12}`),
			wantErr: func(err error) bool { return errors.Is(err, ErrMalformedResponse) },
		},
		{
			name:    "oversize body",
			handler: writeString(`{"openid":"` + strings.Repeat("x", MaxResponseBytes) + `"}`),
			wantErr: func(err error) bool { return errors.Is(err, ErrResponseTooLarge) },
		},
		{
			name: "http 500",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "boom", http.StatusInternalServerError)
			},
			wantErr: func(err error) bool { return err != nil && strings.Contains(err.Error(), "500") },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				checkWeChatQuery(t, r, "/sns/oauth2/access_token", "code")
				tc.handler(w, r)
			}))
			defer srv.Close()
			c := &WeChat{APIBase: srv.URL, HTTP: srv.Client()}
			got, err := c.ExchangeCode(context.Background(), "wxapp", testSecret, "the-code")
			checkResult(t, got, tc.want, err, tc.wantErr)
		})
	}
}

func TestWeChatCode2Session(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    MiniIdentity
		wantErr func(error) bool
	}{
		{
			name:    "success drops session_key",
			handler: writeString(`{"openid":"oMini","session_key":"SESSIONKEY==","unionid":"uX"}`),
			want:    MiniIdentity{OpenID: "oMini", UnionID: "uX"},
		},
		{
			name:    "invalid code",
			handler: writeString(`{"errcode":40029,"errmsg":"invalid code"}`),
			wantErr: func(err error) bool { return IsWeChatError(err, WeChatInvalidCode) },
		},
		{
			name:    "rate limited",
			handler: writeString(`{"errcode":45011,"errmsg":"api minute-quota reach limit"}`),
			wantErr: func(err error) bool { return IsWeChatError(err, WeChatRateLimited) },
		},
		{
			name:    "busy",
			handler: writeString(`{"errcode":-1,"errmsg":"system error"}`),
			wantErr: func(err error) bool { return IsWeChatError(err, WeChatBusy) },
		},
		{
			name:    "malformed",
			handler: writeString(`[]`),
			wantErr: func(err error) bool { return errors.Is(err, ErrMalformedResponse) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				checkWeChatQuery(t, r, "/prefix/sns/jscode2session", "js_code")
				tc.handler(w, r)
			}))
			defer srv.Close()
			c := &WeChat{APIBase: srv.URL + "/prefix", HTTP: srv.Client()}
			got, err := c.Code2Session(context.Background(), "wxapp", testSecret, "the-code")
			checkResult(t, got, tc.want, err, tc.wantErr)
			if strings.Contains(fmt.Sprintf("%+v %#v", got, got), "SESSIONKEY") {
				t.Error("session_key leaked into the result")
			}
		})
	}
}

// checkResult compares a call's outcome with a table case, and checks that
// no error ever quotes the app secret.
func checkResult[T comparable](t *testing.T, got, want T, err error, wantErr func(error) bool) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), testSecret) {
		t.Errorf("error leaks the secret: %v", err)
	}
	if wantErr != nil {
		if err == nil || !wantErr(err) {
			t.Fatalf("err = %v, want a matching error", err)
		}
		var zero T
		if got != zero {
			t.Errorf("got %+v alongside an error", got)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestWeChatTransportErrorsHideSecret(t *testing.T) {
	base := "http://" + porttest.Refusing(t) // nothing listens: the dial fails
	c := &WeChat{APIBase: base}
	_, err := c.ExchangeCode(context.Background(), "wxapp", testSecret, "the-code")
	if err == nil {
		t.Fatal("want a dial error")
	}
	if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "the-code") {
		t.Errorf("error leaks the query: %v", err)
	}
	_, err = c.Code2Session(context.Background(), "wxapp", testSecret, "the-code")
	if err == nil || strings.Contains(err.Error(), testSecret) {
		t.Errorf("code2session error = %v", err)
	}
}

func TestWeChatHonoursContext(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := &WeChat{APIBase: srv.URL, HTTP: srv.Client()}
	_, err := c.ExchangeCode(ctx, "wxapp", testSecret, "the-code")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestWeChatRefusesEmptyInput(t *testing.T) {
	c := &WeChat{APIBase: "http://127.0.0.1:1"}
	if _, err := c.ExchangeCode(context.Background(), "wxapp", testSecret, ""); err == nil {
		t.Error("empty code accepted")
	}
	if _, err := c.Code2Session(context.Background(), "", testSecret, "c"); err == nil {
		t.Error("empty appid accepted")
	}
}

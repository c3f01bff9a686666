package wallet

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/internal/porttest"
)

// testKeys are committed 2048-bit keys with "TESTING KEY" PEM headers, so
// secret scanners leave them alone.
type testKeys struct {
	app, alipay *rsa.PrivateKey
	appPEM      string // PKCS#8
	alipayPub   string // PKIX
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func loadKeys(t testing.TB) testKeys {
	t.Helper()
	var k testKeys
	var err error
	k.appPEM = readTestdata(t, "app_pkcs8.pem")
	if k.app, err = ParseRSAPrivateKey(k.appPEM); err != nil {
		t.Fatal(err)
	}
	if k.alipay, err = ParseRSAPrivateKey(readTestdata(t, "alipay_pkcs1.pem")); err != nil {
		t.Fatal(err)
	}
	k.alipayPub = readTestdata(t, "alipay_public.pem")
	return k
}

func (k testKeys) appConfig() AlipayApp {
	return AlipayApp{AppID: "2021000000000001", PrivateKey: k.app, AlipayPublicKey: &k.alipay.PublicKey}
}

// signedAnswer builds an Alipay answer whose member is exactly raw, signed
// with key.
func signedAnswer(t testing.TB, member, raw string, key *rsa.PrivateKey) string {
	t.Helper()
	sig, err := SignRSA2(key, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := json.Marshal(sig)
	return `{"` + member + `":` + raw + `,"sign":` + string(s) + `}`
}

func TestAlipaySignContent(t *testing.T) {
	got := AlipaySignContent(map[string][]string{
		"sign": {"x"}, "b": {"2"}, "a": {"1 & 2"}, "empty": {""}, "none": {}, "c": {"中文=", "ignored"},
	})
	if want := "a=1 & 2&b=2&c=中文="; got != want {
		t.Errorf("AlipaySignContent = %q, want %q", got, want)
	}
}

func TestRSA2RoundTrip(t *testing.T) {
	k := loadKeys(t)
	sig, err := SignRSA2(k.app, []byte("a=1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyRSA2(&k.app.PublicKey, []byte("a=1"), sig); err != nil {
		t.Errorf("own signature: %v", err)
	}
	for name, tc := range map[string]struct {
		pub  *rsa.PublicKey
		msg  string
		sig  string
		want error
	}{
		"other key":   {&k.alipay.PublicKey, "a=1", sig, ErrBadSignature},
		"other text":  {&k.app.PublicKey, "a=2", sig, ErrBadSignature},
		"not base64":  {&k.app.PublicKey, "a=1", "!!!", ErrBadSignature},
		"empty":       {&k.app.PublicKey, "a=1", "", ErrBadSignature},
		"nil pub key": {nil, "a=1", sig, ErrBadSignature},
	} {
		if err := VerifyRSA2(tc.pub, []byte(tc.msg), tc.sig); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}
	if _, err := SignRSA2(nil, []byte("x")); err == nil {
		t.Error("SignRSA2 with nil key succeeded")
	}
}

func TestParseAlipayApp(t *testing.T) {
	k := loadKeys(t)
	bare := func(pemText string) string {
		var lines []string
		for _, l := range strings.Split(pemText, "\n") {
			if !strings.HasPrefix(l, "-----") {
				lines = append(lines, l)
			}
		}
		return strings.Join(lines, "")
	}
	tests := []struct {
		name      string
		priv, pub string
		wantErr   bool
	}{
		{"pkcs8 pem", k.appPEM, k.alipayPub, false},
		{"pkcs1 pem", readTestdata(t, "app_pkcs1.pem"), k.alipayPub, false},
		{"bare base64 as the console shows it", bare(k.appPEM), bare(k.alipayPub), false},
		{"bare base64 with line breaks", "\n" + bare(readTestdata(t, "app_pkcs1.pem")) + "\n", k.alipayPub, false},
		{"weak key", readTestdata(t, "weak_pkcs1.pem"), k.alipayPub, true},
		{"public key given as private", k.alipayPub, k.alipayPub, true},
		{"private key given as public", k.appPEM, k.appPEM, true},
		{"garbage", "not a key", k.alipayPub, true},
		{"broken pem", "-----BEGIN TESTING KEY-----\nAAAA\n", k.alipayPub, true},
		{"empty", "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app, err := ParseAlipayApp("2021000000000001", tc.priv, tc.pub)
			if tc.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				if len(tc.priv) > 40 && strings.Contains(err.Error(), bare(tc.priv)[20:40]) {
					t.Errorf("error quotes key material: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !app.PrivateKey.Equal(k.app) || !app.AlipayPublicKey.Equal(&k.alipay.PublicKey) {
				t.Error("parsed keys differ from the originals")
			}
		})
	}
	if _, err := ParseAlipayApp("", k.appPEM, k.alipayPub); err == nil {
		t.Error("empty app id accepted")
	}
}

func TestAlipayAppNeverPrintsKeys(t *testing.T) {
	app := loadKeys(t).appConfig()
	d := app.PrivateKey.D.String()[:30]
	for _, s := range []string{fmt.Sprint(app), fmt.Sprintf("%+v", app), fmt.Sprintf("%#v", app), fmt.Sprintf("%v", &app)} {
		if strings.Contains(s, d) || strings.Contains(s, app.PrivateKey.N.String()[:30]) {
			t.Errorf("key material printed: %.80s", s)
		}
	}
}

var fixedNow = time.Date(2026, 11, 25, 16, 30, 5, 0, time.UTC) // 00:30:05 next day in China

// checkAlipayRequest fails the test unless r is a correctly signed
// alipay.system.oauth.token call from the app.
func checkAlipayRequest(t *testing.T, r *http.Request, appPub *rsa.PublicKey) {
	t.Helper()
	if r.Method != http.MethodPost || r.URL.Path != "/gateway.do" {
		t.Errorf("got %s %s, want POST /gateway.do", r.Method, r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		t.Errorf("Content-Type = %q", ct)
	}
	if err := r.ParseForm(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"app_id": "2021000000000001", "method": "alipay.system.oauth.token", "format": "JSON",
		"charset": "utf-8", "sign_type": "RSA2", "timestamp": "2026-11-26 00:30:05", "version": "1.0",
		"grant_type": "authorization_code", "code": "auth-code-1",
	}
	for k, v := range want {
		if got := r.PostForm.Get(k); got != v {
			t.Errorf("form %s = %q, want %q", k, got, v)
		}
	}
	if err := VerifyRSA2(appPub, []byte(AlipaySignContent(r.PostForm)), r.PostForm.Get("sign")); err != nil {
		t.Errorf("request signature: %v", err)
	}
}

func TestAlipayExchangeCode(t *testing.T) {
	k := loadKeys(t)
	wrong, err := ParseRSAPrivateKey(k.appPEM) // signs, but is not Alipay's key
	if err != nil {
		t.Fatal(err)
	}
	const okMember = `{"access_token":"authbseB","alipay_user_id":"20880","expires_in":1296000,"re_expires_in":2592000,"refresh_token":"authbseR","user_id":"2088102104794936"}`
	tests := []struct {
		name    string
		answer  string
		want    AlipayIdentity
		wantErr func(error) bool
	}{
		{
			name:   "user_id",
			answer: signedAnswer(t, tokenMember, okMember, k.alipay),
			want:   AlipayIdentity{UserID: "2088102104794936"},
		},
		{
			name:   "open_id mode",
			answer: signedAnswer(t, tokenMember, `{"access_token":"a","open_id":"074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5","expires_in":1296000}`, k.alipay),
			want:   AlipayIdentity{OpenID: "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5"},
		},
		{
			name: "raw bytes are what is signed",
			// Whitespace, escaped slashes and \u escapes must be verified as
			// sent, not as re-encoded.
			answer: signedAnswer(t, tokenMember, "{ \"user_id\" : \"2088102104794936\",\n \"note\":\"a\\/b \\u4e2d <&>\" }", k.alipay),
			want:   AlipayIdentity{UserID: "2088102104794936"},
		},
		{
			name:    "signed error_response",
			answer:  signedAnswer(t, "error_response", `{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.code-invalid","sub_msg":"授权码code无效"}`, k.alipay),
			wantErr: func(err error) bool { return IsAlipayError(err, AlipayCodeInvalid) },
		},
		{
			name:    "unsigned error_response",
			answer:  `{"error_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-app-id","sub_msg":"无效的AppID参数"}}`,
			wantErr: func(err error) bool { return IsAlipayError(err, "isv.invalid-app-id") },
		},
		{
			name:    "error_response with a forged signature",
			answer:  signedAnswer(t, "error_response", `{"code":"40002","msg":"x","sub_code":"isv.code-invalid"}`, wrong),
			wantErr: func(err error) bool { return errors.Is(err, ErrBadSignature) },
		},
		{
			name:    "failure code inside the member",
			answer:  signedAnswer(t, tokenMember, `{"code":"40004","msg":"Business Failed","sub_code":"isv.code-invalid","sub_msg":"x"}`, k.alipay),
			wantErr: func(err error) bool { return IsAlipayError(err, AlipayCodeInvalid) },
		},
		{
			name:    "signed by another key",
			answer:  signedAnswer(t, tokenMember, okMember, wrong),
			wantErr: func(err error) bool { return errors.Is(err, ErrBadSignature) },
		},
		{
			name: "member tampered after signing",
			answer: strings.Replace(signedAnswer(t, tokenMember, okMember, k.alipay),
				"2088102104794936", "2088000000000001", 1),
			wantErr: func(err error) bool { return errors.Is(err, ErrBadSignature) },
		},
		{
			name:    "unsigned success",
			answer:  `{"` + tokenMember + `":` + okMember + `}`,
			wantErr: func(err error) bool { return errors.Is(err, ErrBadSignature) },
		},
		{
			name:    "sign not a string",
			answer:  `{"` + tokenMember + `":` + okMember + `,"sign":12}`,
			wantErr: func(err error) bool { return errors.Is(err, ErrMalformedResponse) },
		},
		{
			name:    "neither id",
			answer:  signedAnswer(t, tokenMember, `{"access_token":"a"}`, k.alipay),
			wantErr: func(err error) bool { return errors.Is(err, ErrMalformedResponse) },
		},
		{
			name:    "member is not an object",
			answer:  signedAnswer(t, tokenMember, `"2088102104794936"`, k.alipay),
			wantErr: func(err error) bool { return errors.Is(err, ErrMalformedResponse) },
		},
		{
			name:    "neither member",
			answer:  `{"sign":"AAAA"}`,
			wantErr: func(err error) bool { return errors.Is(err, ErrMalformedResponse) },
		},
		{
			name:    "malformed json",
			answer:  `{"` + tokenMember + `":{`,
			wantErr: func(err error) bool { return errors.Is(err, ErrMalformedResponse) },
		},
		{
			name:    "oversize",
			answer:  `{"x":"` + strings.Repeat("a", MaxResponseBytes) + `"}`,
			wantErr: func(err error) bool { return errors.Is(err, ErrResponseTooLarge) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				checkAlipayRequest(t, r, &k.app.PublicKey)
				w.Header().Set("Content-Type", "text/html;charset=utf-8")
				_, _ = w.Write([]byte(tc.answer))
			}))
			defer srv.Close()
			c := &Alipay{GatewayURL: srv.URL + "/gateway.do", HTTP: srv.Client(), Clock: func() time.Time { return fixedNow }}
			got, err := c.ExchangeCode(context.Background(), k.appConfig(), "auth-code-1")
			checkResult(t, got, tc.want, err, tc.wantErr)
		})
	}
}

func TestAlipayExchangeCodeRefusesBadInput(t *testing.T) {
	k := loadKeys(t)
	c := &Alipay{GatewayURL: "http://127.0.0.1:1/gateway.do"}
	for name, app := range map[string]AlipayApp{
		"no app id":     {PrivateKey: k.app, AlipayPublicKey: &k.alipay.PublicKey},
		"no private":    {AppID: "1", AlipayPublicKey: &k.alipay.PublicKey},
		"no public key": {AppID: "1", PrivateKey: k.app},
	} {
		if _, err := c.ExchangeCode(context.Background(), app, "code"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := c.ExchangeCode(context.Background(), k.appConfig(), ""); err == nil {
		t.Error("empty code accepted")
	}
}

func TestAlipayTransportErrorHidesNothingSecret(t *testing.T) {
	k := loadKeys(t)
	base := "http://" + porttest.Refusing(t) // nothing listens: the dial fails
	c := &Alipay{GatewayURL: base + "/gateway.do"}
	_, err := c.ExchangeCode(context.Background(), k.appConfig(), "auth-code-1")
	if err == nil {
		t.Fatal("want a dial error")
	}
	if regexp.MustCompile(`sign=|auth-code-1`).MatchString(err.Error()) {
		t.Errorf("error quotes the request: %v", err)
	}
}

package walletsim

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/wallet"
)

const (
	oaApp      = "wx0a11111111111111"
	oaSecret   = "oa-secret"
	miniApp    = "wx0b22222222222222"
	miniSecret = "mini-secret"
	aliApp     = "2021000000000001"
)

// keys are generated once per test binary: 2048-bit generation is slow
// under -race.
var keys = sync.OnceValue(func() [2]*rsa.PrivateKey {
	var k [2]*rsa.PrivateKey
	for i := range k {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		k[i] = key
	}
	return k
})

type env struct {
	sim    *Sim
	srv    *httptest.Server
	client *http.Client // follows no redirects, keeps cookies
	appKey *rsa.PrivateKey
	now    *time.Time
}

// newEnv mounts a Sim under /sandbox/wallet on a test server, either with
// the prefix kept or stripped by the router.
func newEnv(t testing.TB, strip bool) *env {
	t.Helper()
	e := &env{appKey: keys()[0]}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	e.now = &now
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return *e.now }
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.sim = New(Config{
		PublicURL:        e.srv.URL + "/sandbox/wallet",
		Apps:             map[string]string{oaApp: oaSecret, miniApp: miniSecret},
		AlipayApps:       map[string]*rsa.PublicKey{aliApp: &e.appKey.PublicKey},
		AlipayPrivateKey: keys()[1],
		RedirectHosts:    []string{"pay.example.com", "a"},
		Clock:            clock,
		Logger:           slog.New(slog.DiscardHandler),
	})
	if strip {
		mux.Handle("/sandbox/wallet/", http.StripPrefix("/sandbox/wallet", e.sim))
	} else {
		mux.Handle("/sandbox/wallet/", e.sim)
	}
	jar, _ := cookiejar.New(nil)
	e.client = &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return e
}

func (e *env) wechat() *wallet.WeChat { return e.sim.WeChat(e.client) }

func (e *env) alipay() *wallet.Alipay {
	c := e.sim.Alipay(e.client)
	c.Clock = func() time.Time { return *e.now }
	return c
}

func (e *env) aliApp() wallet.AlipayApp {
	return wallet.AlipayApp{AppID: aliApp, PrivateKey: e.appKey, AlipayPublicKey: e.sim.AlipayPublicKey()}
}

// follow GETs u and returns the Location of the expected 302, parsed.
func (e *env) follow(t *testing.T, u string) *url.URL {
	t.Helper()
	resp, err := e.client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET %s: status %d, want 302", u, resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func (e *env) choosePayer(t *testing.T, q string) {
	t.Helper()
	resp, err := e.client.Get(e.srv.URL + "/sandbox/wallet/payer?" + q)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("payer %s: status %d", q, resp.StatusCode)
	}
}

func TestWeChatOAuthFlow(t *testing.T) {
	for _, strip := range []bool{false, true} {
		name := "prefix kept"
		if strip {
			name = "prefix stripped"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, strip)
			wc := e.wechat()
			ctx := context.Background()
			const redirect = "https://pay.example.com/c/ck_1/wechat/callback?lang=zh"

			e.choosePayer(t, "payer=alice")
			loc := e.follow(t, wc.AuthorizeURL(oaApp, redirect, "state-1"))
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != "https://pay.example.com/c/ck_1/wechat/callback" {
				t.Errorf("redirected to %s", got)
			}
			q := loc.Query()
			if q.Get("state") != "state-1" || q.Get("lang") != "zh" || q.Get("code") == "" {
				t.Fatalf("callback query = %v", q)
			}
			id, err := wc.ExchangeCode(ctx, oaApp, oaSecret, q.Get("code"))
			if err != nil {
				t.Fatal(err)
			}
			if id.OpenID != e.sim.OpenID(oaApp, "alice") || id.Snapshot || id.UnionID != e.sim.UnionID("alice") || id.Scope != "snsapi_base" {
				t.Errorf("identity = %+v", id)
			}
			if !regexp.MustCompile(`^o[A-Za-z0-9_-]{27}$`).MatchString(id.OpenID) {
				t.Errorf("openid %q does not look like one", id.OpenID)
			}

			// The same code again: WeChat says 40163, which is what a
			// refresh of the callback page runs into.
			_, err = wc.ExchangeCode(ctx, oaApp, oaSecret, q.Get("code"))
			if !wallet.IsWeChatError(err, wallet.WeChatCodeUsed) {
				t.Errorf("reuse: err = %v, want 40163", err)
			}

			// The query parameter beats the cookie, and ids are stable per
			// (app, payer).
			code := e.follow(t, withQuery(t, wc.AuthorizeURL(oaApp, redirect, "s"), "payer=bob")).Query().Get("code")
			bob, err := wc.ExchangeCode(ctx, oaApp, oaSecret, code)
			if err != nil {
				t.Fatal(err)
			}
			if bob.OpenID != e.sim.OpenID(oaApp, "bob") || bob.OpenID == id.OpenID {
				t.Errorf("bob = %+v, alice = %+v", bob, id)
			}
			again, err := wc.ExchangeCode(ctx, oaApp, oaSecret, e.follow(t, wc.AuthorizeURL(oaApp, redirect, "s")).Query().Get("code"))
			if err != nil || again.OpenID != id.OpenID {
				t.Errorf("alice again = %+v, %v; want %s", again, err, id.OpenID)
			}
			if e.sim.OpenID(miniApp, "alice") == id.OpenID {
				t.Error("openid is the same under two apps")
			}
		})
	}
}

func TestWeChatSnapshotUser(t *testing.T) {
	e := newEnv(t, false)
	wc := e.wechat()
	for _, how := range []string{"query", "cookie"} {
		t.Run(how, func(t *testing.T) {
			u := wc.AuthorizeURL(oaApp, "https://pay.example.com/cb", "s")
			if how == "query" {
				u = withQuery(t, u, "payer=carol&snapshot=1")
			} else {
				e.choosePayer(t, "payer=carol&snapshot=1")
			}
			id, err := wc.ExchangeCode(context.Background(), oaApp, oaSecret, e.follow(t, u).Query().Get("code"))
			if err != nil {
				t.Fatal(err)
			}
			if !id.Snapshot || id.OpenID != e.sim.SnapshotOpenID(oaApp, "carol") || id.OpenID == e.sim.OpenID(oaApp, "carol") || id.UnionID != "" {
				t.Errorf("snapshot identity = %+v", id)
			}
		})
	}
	// Choosing a payer without snapshot=1 clears the knob.
	e.choosePayer(t, "payer=carol")
	id, err := wc.ExchangeCode(context.Background(), oaApp, oaSecret, e.follow(t, wc.AuthorizeURL(oaApp, "https://pay.example.com/cb", "s")).Query().Get("code"))
	if err != nil || id.Snapshot {
		t.Errorf("after clearing: %+v, %v", id, err)
	}
}

func TestWeChatExchangeErrors(t *testing.T) {
	e := newEnv(t, false)
	wc := e.wechat()
	ctx := context.Background()
	tests := []struct {
		name   string
		app    string
		secret string
		code   func() string
		want   int
	}{
		{"unknown code", oaApp, oaSecret, func() string { return "nope" }, wallet.WeChatInvalidCode},
		{"wrong secret", oaApp, "wrong", func() string { return e.sim.MintOAuthCode(oaApp, "a", false) }, wallet.WeChatInvalidSecret},
		{"unknown app", "wxunknown", oaSecret, func() string { return "x" }, 40013},
		{"code of another app", miniApp, miniSecret, func() string { return e.sim.MintOAuthCode(oaApp, "a", false) }, wallet.WeChatInvalidCode},
		{"mini-program code at the oauth endpoint", oaApp, oaSecret, func() string { return e.sim.MintMiniProgramCode(oaApp, "a") }, wallet.WeChatInvalidCode},
		{"expired code", oaApp, oaSecret, func() string {
			c := e.sim.MintOAuthCode(oaApp, "a", false)
			*e.now = e.now.Add(CodeLifetime + time.Second)
			return c
		}, wallet.WeChatInvalidCode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := wc.ExchangeCode(ctx, tc.app, tc.secret, tc.code())
			if !wallet.IsWeChatError(err, tc.want) {
				t.Errorf("err = %v, want errcode %d", err, tc.want)
			}
		})
	}
}

func TestWeChatWrongSecretDoesNotBurnCode(t *testing.T) {
	e := newEnv(t, false)
	wc := e.wechat()
	code := e.sim.MintOAuthCode(oaApp, "dave", false)
	if _, err := wc.ExchangeCode(context.Background(), oaApp, "wrong", code); !wallet.IsWeChatError(err, wallet.WeChatInvalidSecret) {
		t.Fatalf("err = %v", err)
	}
	id, err := wc.ExchangeCode(context.Background(), oaApp, oaSecret, code)
	if err != nil || id.OpenID != e.sim.OpenID(oaApp, "dave") {
		t.Errorf("after a wrong secret: %+v, %v", id, err)
	}
}

func TestMiniProgram(t *testing.T) {
	e := newEnv(t, true)
	wc := e.wechat()
	ctx := context.Background()
	code := e.sim.MintMiniProgramCode(miniApp, "erin")
	id, err := wc.Code2Session(ctx, miniApp, miniSecret, code)
	if err != nil {
		t.Fatal(err)
	}
	if id.OpenID != e.sim.OpenID(miniApp, "erin") || id.UnionID != e.sim.UnionID("erin") {
		t.Errorf("identity = %+v", id)
	}
	if _, err := wc.Code2Session(ctx, miniApp, miniSecret, code); !wallet.IsWeChatError(err, wallet.WeChatCodeUsed) {
		t.Errorf("reuse: %v", err)
	}
	if _, err := wc.Code2Session(ctx, miniApp, miniSecret, e.sim.MintOAuthCode(miniApp, "erin", false)); !wallet.IsWeChatError(err, wallet.WeChatInvalidCode) {
		t.Errorf("oauth code at code2session: %v", err)
	}
	if _, err := wc.Code2Session(ctx, miniApp, oaSecret, e.sim.MintMiniProgramCode(miniApp, "erin")); !wallet.IsWeChatError(err, wallet.WeChatInvalidSecret) {
		t.Errorf("wrong secret: %v", err)
	}
}

func TestConcurrentRedeemIsSingleUse(t *testing.T) {
	e := newEnv(t, false)
	wc := e.wechat()
	code := e.sim.MintMiniProgramCode(miniApp, "frank")
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, used := 0, 0
	for range 16 {
		wg.Go(func() {
			_, err := wc.Code2Session(context.Background(), miniApp, miniSecret, code)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case wallet.IsWeChatError(err, wallet.WeChatCodeUsed):
				used++
			default:
				t.Errorf("unexpected: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || used != 15 {
		t.Errorf("ok=%d used=%d, want 1 and 15", ok, used)
	}
}

func TestAlipayFlow(t *testing.T) {
	e := newEnv(t, false)
	ac := e.alipay()
	ctx := context.Background()
	e.choosePayer(t, "payer=grace")
	loc := e.follow(t, ac.AuthorizeURL(aliApp, "https://pay.example.com/c/ck_1/alipay/callback", "st-9"))
	q := loc.Query()
	if q.Get("state") != "st-9" || q.Get("app_id") != aliApp || q.Get("scope") != "auth_base" || q.Get("auth_code") == "" {
		t.Fatalf("callback query = %v", q)
	}
	id, err := ac.ExchangeCode(ctx, e.aliApp(), q.Get("auth_code"))
	if err != nil {
		t.Fatal(err)
	}
	if id.UserID != e.sim.AlipayUserID(aliApp, "grace") || !regexp.MustCompile(`^2088\d{12}$`).MatchString(id.UserID) || id.BuyerID() != id.UserID {
		t.Errorf("identity = %+v", id)
	}
	if _, err := ac.ExchangeCode(ctx, e.aliApp(), q.Get("auth_code")); !wallet.IsAlipayError(err, wallet.AlipayCodeInvalid) {
		t.Errorf("reuse: %v", err)
	}
	if e.sim.AlipayUserID(aliApp, "heidi") == id.UserID {
		t.Error("two payers share a user id")
	}
}

func TestAlipaySignatureChecks(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()

	t.Run("client rejects answers not signed by the emulator", func(t *testing.T) {
		app := e.aliApp()
		app.AlipayPublicKey = &e.appKey.PublicKey // not the key the sim signs with
		_, err := e.alipay().ExchangeCode(ctx, app, e.sim.MintAlipayCode(aliApp, "ivan"))
		if !errors.Is(err, wallet.ErrBadSignature) {
			t.Errorf("err = %v, want ErrBadSignature", err)
		}
	})
	t.Run("emulator rejects a request signed with another key", func(t *testing.T) {
		app := e.aliApp()
		app.PrivateKey = keys()[1]
		code := e.sim.MintAlipayCode(aliApp, "ivan")
		_, err := e.alipay().ExchangeCode(ctx, app, code)
		if !wallet.IsAlipayError(err, "isv.invalid-signature") {
			t.Errorf("err = %v, want isv.invalid-signature", err)
		}
		// The refused call did not burn the code.
		if _, err := e.alipay().ExchangeCode(ctx, e.aliApp(), code); err != nil {
			t.Errorf("code unusable after a forged call: %v", err)
		}
	})

	// Hand-made requests, signed with the app key, then altered.
	signed := func(mut func(url.Values)) url.Values {
		f := url.Values{
			"app_id": {aliApp}, "method": {"alipay.system.oauth.token"}, "format": {"JSON"},
			"charset": {"utf-8"}, "sign_type": {"RSA2"}, "version": {"1.0"},
			"timestamp":  {e.now.In(chinaTime).Format("2006-01-02 15:04:05")},
			"grant_type": {"authorization_code"}, "code": {e.sim.MintAlipayCode(aliApp, "judy")},
		}
		if mut != nil {
			mut(f)
		}
		sig, err := wallet.SignRSA2(e.appKey, []byte(wallet.AlipaySignContent(f)))
		if err != nil {
			t.Fatal(err)
		}
		f.Set("sign", sig)
		return f
	}
	tests := []struct {
		name    string
		form    url.Values
		wantSub string
	}{
		{"code swapped after signing", func() url.Values {
			f := signed(nil)
			f.Set("code", e.sim.MintAlipayCode(aliApp, "mallory"))
			return f
		}(), "isv.invalid-signature"},
		{"app_id swapped", func() url.Values { f := signed(nil); f.Set("app_id", "2021999"); return f }(), "isv.invalid-app-id"},
		{"timestamp in UTC, not China time", signed(func(f url.Values) {
			f.Set("timestamp", e.now.UTC().Format("2006-01-02 15:04:05"))
		}), "isv.invalid-timestamp"},
		{"garbage timestamp", signed(func(f url.Values) { f.Set("timestamp", "yesterday") }), "isv.invalid-timestamp"},
		{"RSA instead of RSA2", signed(func(f url.Values) { f.Set("sign_type", "RSA") }), "isv.invalid-signature-type"},
		{"other method", signed(func(f url.Values) { f.Set("method", "alipay.trade.pay") }), "isv.invalid-method"},
		{"refresh grant", signed(func(f url.Values) { f.Set("grant_type", "refresh_token") }), "isv.grant-type-invalid"},
		{"unknown code", signed(func(f url.Values) { f.Set("code", "nope") }), wallet.AlipayCodeInvalid},
		{"no sign", func() url.Values { f := signed(nil); f.Del("sign"); return f }(), "isv.missing-required-arguments"},
		{"sign not base64", func() url.Values { f := signed(nil); f.Set("sign", "%%%"); return f }(), "isv.invalid-signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := e.client.PostForm(e.srv.URL+"/sandbox/wallet/gateway.do", tc.form)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body := new(strings.Builder)
			if _, err := ioCopy(body, resp); err != nil {
				t.Fatal(err)
			}
			// The error answers are signed too; decode them with the client.
			if !strings.Contains(body.String(), `"sub_code":"`+tc.wantSub+`"`) || !strings.Contains(body.String(), `"sign":"`) {
				t.Errorf("answer = %s, want sub_code %s", body, tc.wantSub)
			}
		})
	}
	t.Run("the good form works", func(t *testing.T) {
		resp, err := e.client.PostForm(e.srv.URL+"/sandbox/wallet/gateway.do", signed(nil))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body := new(strings.Builder)
		_, _ = ioCopy(body, resp)
		if !strings.Contains(body.String(), e.sim.AlipayUserID(aliApp, "judy")) {
			t.Errorf("answer = %s", body)
		}
	})
}

func TestGarbageRequests(t *testing.T) {
	e := newEnv(t, false)
	base := e.srv.URL + "/sandbox/wallet"
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		has    string
	}{
		{"wechat authorize unknown app", "GET", "/connect/oauth2/authorize?appid=x&redirect_uri=https%3A%2F%2Fa&response_type=code&scope=snsapi_base", "", 400, "appid"},
		{"wechat authorize javascript redirect", "GET", "/connect/oauth2/authorize?appid=" + oaApp + "&redirect_uri=javascript%3Aalert(1)&response_type=code&scope=snsapi_base", "", 400, "redirect_uri"},
		{"wechat authorize relative redirect", "GET", "/connect/oauth2/authorize?appid=" + oaApp + "&redirect_uri=%2Fcb&response_type=code&scope=snsapi_base", "", 400, "redirect_uri"},
		{"wechat authorize foreign redirect host", "GET", "/connect/oauth2/authorize?appid=" + oaApp + "&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&response_type=code&scope=snsapi_base", "", 400, "redirect_uri"},
		{"wechat authorize redirect with userinfo", "GET", "/connect/oauth2/authorize?appid=" + oaApp + "&redirect_uri=https%3A%2F%2Fpay.example.com%40evil.example%2Fcb&response_type=code&scope=snsapi_base", "", 400, "redirect_uri"},
		{"alipay authorize foreign redirect host", "GET", "/oauth2/publicAppAuthorize.htm?app_id=" + aliApp + "&scope=auth_base&redirect_uri=https%3A%2F%2Fevil.example", "", 400, "redirect_uri"},
		{"wechat authorize bad scope", "GET", "/connect/oauth2/authorize?appid=" + oaApp + "&redirect_uri=https%3A%2F%2Fa&response_type=code&scope=x", "", 400, "scope"},
		{"wechat authorize bad response_type", "GET", "/connect/oauth2/authorize?appid=" + oaApp + "&redirect_uri=https%3A%2F%2Fa&response_type=token&scope=snsapi_base", "", 400, "response_type"},
		{"wechat authorize control chars in payer", "GET", "/connect/oauth2/authorize?appid=" + oaApp + "&redirect_uri=https%3A%2F%2Fa&response_type=code&scope=snsapi_base&payer=%00", "", 400, "payer"},
		{"wechat authorize overlong payer", "GET", "/connect/oauth2/authorize?appid=" + oaApp + "&redirect_uri=https%3A%2F%2Fa&response_type=code&scope=snsapi_base&payer=" + strings.Repeat("p", 65), "", 400, "payer"},
		{"access_token without parameters", "GET", "/sns/oauth2/access_token", "", 200, `"errcode":40013`},
		{"access_token without code", "GET", "/sns/oauth2/access_token?appid=" + oaApp + "&secret=oa-secret&grant_type=authorization_code", "", 200, `"errcode":41008`},
		{"access_token bad grant", "GET", "/sns/oauth2/access_token?appid=" + oaApp + "&secret=oa-secret&grant_type=x&code=y", "", 200, `"errcode":40002`},
		{"jscode2session without code", "GET", "/sns/jscode2session?appid=" + miniApp + "&secret=mini-secret&grant_type=authorization_code", "", 200, `"errcode":41008`},
		{"alipay authorize unknown app", "GET", "/oauth2/publicAppAuthorize.htm?app_id=1&scope=auth_base&redirect_uri=https%3A%2F%2Fa", "", 400, "app_id"},
		{"alipay authorize bad scope", "GET", "/oauth2/publicAppAuthorize.htm?app_id=" + aliApp + "&scope=x&redirect_uri=https%3A%2F%2Fa", "", 400, "scope"},
		{"alipay authorize bad redirect", "GET", "/oauth2/publicAppAuthorize.htm?app_id=" + aliApp + "&scope=auth_base&redirect_uri=%3A", "", 400, "redirect_uri"},
		{"gateway empty", "POST", "/gateway.do", "", 200, "isv.missing-required-arguments"},
		{"gateway broken form", "POST", "/gateway.do", "%zz=%", 200, "isv.invalid-parameter"},
		{"gateway oversize body", "POST", "/gateway.do", "a=" + strings.Repeat("b", maxBody+10), 200, "isv.invalid-parameter"},
		{"payer without name", "GET", "/payer", "", 400, "payer"},
		{"unknown path", "GET", "/nothing", "", 404, ""},
		{"wrong method", "DELETE", "/sns/oauth2/access_token", "", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body := new(strings.Builder)
			_, _ = ioCopy(body, resp)
			if resp.StatusCode != tc.status || !strings.Contains(body.String(), tc.has) {
				t.Errorf("status %d body %.200s; want %d containing %q", resp.StatusCode, body, tc.status, tc.has)
			}
		})
	}
}

func TestDefaultRedirectHostIsPublicURL(t *testing.T) {
	s := New(Config{PublicURL: "http://127.0.0.1:8080/sandbox/wallet", Apps: map[string]string{"wx": "s"}, AlipayPrivateKey: keys()[1], Logger: slog.New(slog.DiscardHandler)})
	for target, want := range map[string]int{
		"http://127.0.0.1:8080/c/ck_1/wechat/callback": http.StatusFound,
		"http://127.0.0.1:9090/c/ck_1/wechat/callback": http.StatusBadRequest,
		"https://evil.example/":                        http.StatusBadRequest,
	} {
		u := s.WeChat(nil).AuthorizeURL("wx", target, "s")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, u, nil))
		if w.Code != want {
			t.Errorf("redirect to %s: status %d, want %d", target, w.Code, want)
		}
	}
}

func TestNewGeneratesKey(t *testing.T) {
	s := New(Config{PublicURL: "http://127.0.0.1:1/x"})
	if s.AlipayPublicKey() == nil || s.AlipayPublicKey().N.BitLen() < 2048 {
		t.Error("no usable generated key")
	}
	if got := s.Alipay(nil).GatewayURL; got != "http://127.0.0.1:1/x/gateway.do" {
		t.Errorf("gateway url = %s", got)
	}
	if err := s.WeChat(nil).Validate(); err != nil {
		t.Error(err)
	}
}

// withQuery adds raw query parameters to u, before any fragment.
func withQuery(t *testing.T, u, raw string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	p.RawQuery += "&" + raw
	return p.String()
}

// TestMiniProgramLoginEndpoint: what a stand-in for wx.login fetches over
// HTTP is a code code2session takes once, for the named payer and the
// mini-program it was asked for; unknown apps and bad payers get no code.
func TestMiniProgramLoginEndpoint(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	login := func(q string) (int, map[string]any) {
		t.Helper()
		resp, err := e.client.Get(e.srv.URL + "/sandbox/wallet" + PathMiniProgramLogin + "?" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want *", q, got)
		}
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return resp.StatusCode, out
	}
	status, out := login("appid=" + miniApp + "&payer=erin")
	code, _ := out["code"].(string)
	if status != http.StatusOK || code == "" {
		t.Fatalf("login: %d %v", status, out)
	}
	id, err := e.wechat().Code2Session(ctx, miniApp, miniSecret, code)
	if err != nil {
		t.Fatal(err)
	}
	if id.OpenID != e.sim.OpenID(miniApp, "erin") {
		t.Errorf("openid %q, want erin's %q", id.OpenID, e.sim.OpenID(miniApp, "erin"))
	}
	if _, err := e.wechat().Code2Session(ctx, miniApp, miniSecret, code); !wallet.IsWeChatError(err, wallet.WeChatCodeUsed) {
		t.Errorf("second use: %v", err)
	}
	// The default payer when none is named, like the other endpoints.
	_, out = login("appid=" + miniApp)
	if id, err := e.wechat().Code2Session(ctx, miniApp, miniSecret, out["code"].(string)); err != nil || id.OpenID != e.sim.OpenID(miniApp, DefaultPayer) {
		t.Errorf("default payer: %+v %v", id, err)
	}
	// A login code is no official-account OAuth code.
	_, out = login("appid=" + oaApp)
	if _, err := e.wechat().ExchangeCode(ctx, oaApp, oaSecret, out["code"].(string)); err == nil {
		t.Error("a login code was taken by sns/oauth2/access_token")
	}
	for _, q := range []string{"appid=wx0000000000000000", "appid=", "appid=" + miniApp + "&payer=" + url.QueryEscape("a\x01b")} {
		status, out := login(q)
		if status != http.StatusBadRequest || out["code"] != nil || out["errmsg"] == nil {
			t.Errorf("%s: %d %v, want 400 with errmsg and no code", q, status, out)
		}
	}
}

package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/web/templates"
)

func TestAlipayOAuthCallback(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 300)
	start := func(b *pgBrowser) url.Values {
		t.Helper()
		r := b.do(false, "GET", "/c/"+ck.ID, nil, nil)
		loc, _ := url.Parse(r.header.Get("Location"))
		q := loc.Query()
		if r.status != http.StatusFound || q.Get("app_id") != pgAlipayApp || q.Get("scope") != "auth_base" ||
			q.Get("redirect_uri") != e.srv.URL+"/c/"+ck.ID+"/oauth/alipay" {
			t.Fatalf("authorize redirect: %d %s", r.status, loc)
		}
		return q
	}
	callback := func(b *pgBrowser, code, state string) pgResp {
		t.Helper()
		return b.do(false, "GET", "/c/"+ck.ID+"/oauth/alipay?"+url.Values{"auth_code": {code}, "state": {state}, "app_id": {pgAlipayApp}}.Encode(), nil, nil)
	}

	b := e.browser(uaAlipay, "li")
	q := start(b)
	if r := callback(b, e.sim.MintAlipayCode(pgAlipayApp, "li"), q.Get("state")); r.status != http.StatusFound || r.header.Get("Location") != "/c/"+ck.ID {
		t.Fatalf("callback: %d %s %.200s", r.status, r.header.Get("Location"), r.body)
	}
	// A refresh replays the used code: the session's identity is reused.
	if r := callback(b, "used", q.Get("state")); r.status != http.StatusFound {
		t.Fatalf("refresh: %d", r.status)
	}
	if r := b.get("/c/" + ck.ID); attr(reAction, r.body) != templates.ActionAlipayJSAPI {
		t.Fatalf("after OAuth: %q", attr(reAction, r.body))
	}

	t.Run("forged state", func(t *testing.T) {
		b := e.browser(uaAlipay, "wang")
		start(b)
		if r := callback(b, e.sim.MintAlipayCode(pgAlipayApp, "wang"), "forged"); r.status != http.StatusBadRequest {
			t.Fatalf("%d", r.status)
		}
	})
	t.Run("invalid code", func(t *testing.T) {
		b := e.browser(uaAlipay, "zhao")
		q := start(b)
		if r := callback(b, "not-a-code", q.Get("state")); r.status != http.StatusBadRequest || !strings.Contains(r.body, `data-testid="error`) {
			t.Fatalf("%d", r.status)
		}
	})
	t.Run("no code", func(t *testing.T) {
		b := e.browser(uaAlipay, "qian")
		q := start(b)
		if r := callback(b, "", q.Get("state")); r.status != http.StatusBadRequest {
			t.Fatalf("%d", r.status)
		}
	})
}

// TestNoSecretsExposed runs the flows that touch every secret (OAuth app
// secrets, the Alipay private key, the gateway open_key) and checks that
// none appears in an answer or a log line.
func TestNoSecretsExposed(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 420)
	var bodies []string
	for _, ua := range []string{uaWeChatIOS, uaAlipay, uaDesktop} {
		b := e.browser(ua, "secretive")
		r, _, csrf := b.openPage(ck.ID)
		bodies = append(bodies, r.body)
		for _, body := range []map[string]string{{"wallet": "wechat", "scenario": "jsapi"}, {"wallet": "alipay", "scenario": "jsapi"}, {"wallet": "alipay", "scenario": "qr"}} {
			bodies = append(bodies, b.pay(ck.ID, csrf, body).body)
		}
		bodies = append(bodies, b.get("/c/"+ck.ID+"/result").body, b.get("/c/"+ck.ID+"/oauth/wechat?code=x&state=y").body)
	}
	st, _ := e.dir.Store("m_pages", "native")
	secrets := map[string]string{
		"official secret": pgOfficialSecret, "mini secret": pgMiniSecret,
		"alipay private key": st.Alipay.PrivateKey.Reveal()[40:120], "open_key": e.sbNative.OpenKey,
	}
	logs := e.logs.String()
	for name, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("%s in the logs", name)
		}
		for _, b := range bodies {
			if strings.Contains(b, s) {
				t.Errorf("%s in an answer", name)
			}
		}
	}
}

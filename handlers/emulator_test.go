package handlers_test

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/handlers"
	"github.com/wallet-checkout/checkout/wallet/walletsim"
	"github.com/wallet-checkout/checkout/web/templates"
)

// The apps of the emulator test's merchants file, shaped as config wants
// them (real appids are wx and 16 lowercase letters or digits).
const (
	emuOfficialApp = "wxe0000000000000oa"
	emuMiniApp     = "wxe0000000000000mp"
	emuAlipayApp   = "2021000000000077"
)

// emulatorFile is a merchants file whose one sandbox store, at the sandbox
// gateway mounted on the service, identifies payers through the built-in
// emulator (identity_providers.emulator): what docs/sandbox.md tells a
// merchant to write.
const emulatorFile = `
identity_providers:
  emulator: true
merchants:
  - id: m_pages
    name: 沙箱试用 Trial
    api_keys: [sha256:3d6d7f0c8a5b0e1a6f1c4c3f1f4f2d9a7d1e6b7c3a9e8f2b1c0d9e8f7a6b5c4d]
    redirect_hosts: [shop.example]
    stores:
      - id: native
        sandbox: true
        gateway:
          base_url: ${EMU_GATEWAY}
          open_id: ${EMU_OPEN_ID}
          open_key: ${EMU_OPEN_KEY}
          shop_pass: ${EMU_SHOP_PASS}
        wechat:
          enabled: true
          mode: native
          app_id: ` + emuOfficialApp + `
          app_secret: ${EMU_OA_SECRET}
          mini_program_app_id: ` + emuMiniApp + `
          mini_program_secret: ${EMU_MP_SECRET}
        alipay:
          enabled: true
          mode: native
          app_id: "` + emuAlipayApp + `"
          private_key: ${EMU_ALIPAY_KEY}
`

// newEmulatorEnv runs the service from emulatorFile: app.New builds the
// emulator from the file (no WalletSim, no provider URLs given), beside the
// sandbox gateway. The pages' helpers (browser, newCheckout) work on it.
func newEmulatorEnv(t *testing.T) *pgEnv {
	t.Helper()
	e := &pgEnv{t: t, logs: &handlers.SyncBuffer{}}
	var h http.Handler
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	var err error
	e.sb, err = sandbox.New(sandbox.Config{PublicURL: e.srv.URL + "/sandbox", NotifyStep: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.sb.Close)
	e.sbNative = sandbox.GenerateStore()
	if err := e.sb.AddStore(e.sbNative); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{emuOfficialApp, emuMiniApp} {
		if err := e.sb.BindAppID(e.sbNative.OpenID, "Weixin", a); err != nil {
			t.Fatal(err)
		}
	}
	der, err := x509.MarshalPKCS8PrivateKey(pgKeys())
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"EMU_GATEWAY":    e.srv.URL + "/sandbox" + e.sb.Prefix(),
		"EMU_OPEN_ID":    e.sbNative.OpenID,
		"EMU_OPEN_KEY":   e.sbNative.OpenKey,
		"EMU_SHOP_PASS":  e.sbNative.ShopPass,
		"EMU_OA_SECRET":  pgOfficialSecret,
		"EMU_MP_SECRET":  pgMiniSecret,
		"EMU_ALIPAY_KEY": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
	}
	ms, err := config.ParseMerchants([]byte(emulatorFile), config.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	e.dir = ms.Directory
	e.gw = &pgCountingGateway{Client: gateway.NewClient()}
	cfg := &app.Config{Directory: ms.Directory, Accounts: ms.Accounts, Providers: ms.Providers, Gateway: e.gw, Sandbox: e.sb.Handler()}
	e.app = build(t, cfg, publicURL(e.srv.URL))
	// Cleanups run last first: stop the sandbox's notifies and finish the
	// server's requests before build's cleanup deletes the test's keys, or
	// a late notify writes them again ({wh}:due without expiry was left).
	t.Cleanup(func() { e.sb.Close(); e.srv.Close() })
	e.repo, e.rdb, e.prefix = e.app.Repo, cfg.Redis, cfg.Prefix
	h = e.app.Handler
	return e
}

// TestEmulatorOutsideDemo: a merchants file of sandbox stores with
// identity_providers.emulator gets the emulator served by the service
// itself. A payer's first visit in WeChat goes through the emulator's
// OAuth (following every redirect, as a browser does) and comes back with
// the openid the emulator derives for that payer, which the order then
// carries; the same for Alipay's auth_base and the buyer id. A mini-program
// code from the emulator's wx.login stand-in pays too.
func TestEmulatorOutsideDemo(t *testing.T) {
	e := newEmulatorEnv(t)
	// The ids the emulator derives depend on (app, payer) only, so a
	// second emulator computes the expected ones.
	ids := walletsim.New(walletsim.Config{AlipayPrivateKey: pgKeys()})

	t.Run("wechat", func(t *testing.T) {
		ck := e.newCheckout("native", 1234)
		b := e.browser(uaWeChatIOS, "alice")
		first := b.do(false, "GET", "/c/"+ck.ID, nil, nil)
		if first.status != http.StatusFound || !strings.HasPrefix(first.header.Get("Location"), e.srv.URL+app.EmulatorPath+"/connect/oauth2/authorize?") {
			t.Fatalf("first visit: %d to %q, want the emulator's authorize page", first.status, first.header.Get("Location"))
		}
		r, action, csrf := b.openPage(ck.ID)
		if r.status != http.StatusOK || action != templates.ActionWeChatJSAPI || r.url != e.srv.URL+"/c/"+ck.ID {
			t.Fatalf("after the OAuth dance: %d %q at %s", r.status, action, r.url)
		}
		before := len(e.gw.orders())
		if pr := b.pay(ck.ID, csrf, map[string]string{"wallet": "wechat", "scenario": "jsapi"}); pr.status != http.StatusOK {
			t.Fatalf("pay: %d %s", pr.status, pr.body)
		}
		o := e.gw.orders()
		if len(o) != before+1 || o[len(o)-1].SubOpenID != ids.OpenID(emuOfficialApp, "alice") || o[len(o)-1].SubAppID != emuOfficialApp {
			t.Fatalf("payorder %+v, want alice's openid %s under %s", o, ids.OpenID(emuOfficialApp, "alice"), emuOfficialApp)
		}
	})

	t.Run("alipay", func(t *testing.T) {
		ck := e.newCheckout("native", 2000)
		b := e.browser(uaAlipay, "zhang")
		first := b.do(false, "GET", "/c/"+ck.ID, nil, nil)
		if first.status != http.StatusFound || !strings.HasPrefix(first.header.Get("Location"), e.srv.URL+app.EmulatorPath+"/oauth2/publicAppAuthorize.htm?") {
			t.Fatalf("first visit: %d to %q, want the emulator's auth_base page", first.status, first.header.Get("Location"))
		}
		r, action, csrf := b.openPage(ck.ID)
		if r.status != http.StatusOK || action != templates.ActionAlipayJSAPI {
			t.Fatalf("after auth_base: %d %q at %s\n%s", r.status, action, r.url, r.body)
		}
		before := len(e.gw.orders())
		if pr := b.pay(ck.ID, csrf, map[string]string{"wallet": "alipay", "scenario": "jsapi"}); pr.status != http.StatusOK {
			t.Fatalf("pay: %d %s", pr.status, pr.body)
		}
		o := e.gw.orders()
		if len(o) != before+1 || o[len(o)-1].BuyerID != ids.AlipayUserID(emuAlipayApp, "zhang") {
			t.Fatalf("payorder %+v, want zhang's buyer id %s", o, ids.AlipayUserID(emuAlipayApp, "zhang"))
		}
	})

	t.Run("mini-program", func(t *testing.T) {
		ck := e.newCheckout("native", 1500)
		res, err := http.Get(e.srv.URL + app.EmulatorPath + walletsim.PathMiniProgramLogin + "?appid=" + emuMiniApp + "&payer=erin")
		if err != nil {
			t.Fatal(err)
		}
		var login struct{ Code string }
		decodeBody(t, res, &login)
		body := `{"client_secret":"` + ck.ClientSecret + `","code":"` + login.Code + `"}`
		res, err = http.Post(e.srv.URL+"/v1/checkouts/"+ck.ID+"/wechat-mini-program-payments", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var params map[string]string
		decodeBody(t, res, &params)
		if res.StatusCode != http.StatusOK || params["appId"] != emuMiniApp || params["paySign"] == "" {
			t.Fatalf("mini-program payment: %d %v", res.StatusCode, params)
		}
		o := e.gw.orders()
		if last := o[len(o)-1]; last.SubOpenID != ids.OpenID(emuMiniApp, "erin") || last.SubAppID != emuMiniApp {
			t.Fatalf("payorder %+v, want erin's mini-program openid", last)
		}
	})
}

// decodeBody decodes a JSON answer and closes its body.
func decodeBody(t *testing.T, res *http.Response, v any) {
	t.Helper()
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", res.Request.URL, err)
	}
}

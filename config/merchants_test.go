package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/wallet-checkout/checkout/checkout"
)

// Test keys are generated, never committed.
var testKeys = sync.OnceValue(func() (k struct{ privPKCS1, privPKCS8, pub, pubBare, ecPriv, weakPriv, weakPub string }) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	k.privPKCS1 = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)}))
	der8, _ := x509.MarshalPKCS8PrivateKey(priv)
	k.privPKCS8 = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der8}))
	pubDER, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	k.pub = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	k.pubBare = base64.StdEncoding.EncodeToString(pubDER)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	k.ecPriv = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}))
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		panic(err)
	}
	k.weakPriv = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(weak)}))
	weakPubDER, _ := x509.MarshalPKIXPublicKey(&weak.PublicKey)
	k.weakPub = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: weakPubDER}))
	return k
})

const (
	testWebhookSecret = "whsec_0123456789abcdef0123456789abcdef"
	testOpenKey       = "0828e83720fdbe3685a7b94214af04f9"
	testShopPass      = "supervisor-pass-9"
	testAppSecret     = "wechat-app-secret-0123456789abcd"
)

func testEnv() map[string]string {
	k := testKeys()
	return map[string]string{
		"ACME_WEBHOOK_SECRET":     testWebhookSecret,
		"ACME_WEBHOOK_SECRET_OLD": testWebhookSecret + "-old",
		"ACME_MAIN_OPEN_KEY":      testOpenKey,
		"ACME_MAIN_SHOP_PASS":     testShopPass,
		"ACME_WECHAT_SECRET":      testAppSecret,
		"ACME_MP_SECRET":          testAppSecret + "-mp",
		"ACME_ALIPAY_PRIVATE_KEY": k.privPKCS8,
		"ACME_ALIPAY_PUBLIC_KEY":  k.pub,
	}
}

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseMerchantsValid(t *testing.T) {
	got, err := ParseMerchants([]byte(readFixture(t, "valid.yaml")), Options{Getenv: envOf(testEnv())})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Merchants) != 2 {
		t.Fatalf("want 2 merchants, got %d", len(got.Merchants))
	}
	wantProviders := Providers{
		WeChatAuthorizeBase: "http://127.0.0.1:9100/wechat-open",
		WeChatAPIBase:       "http://127.0.0.1:9100/wechat-api",
		AlipayAuthorizeBase: "http://127.0.0.1:9100/alipay-auth",
		AlipayGatewayURL:    "http://127.0.0.1:9100/alipay/gateway.do",
	}
	if got.Providers != wantProviders {
		t.Errorf("providers %+v", got.Providers)
	}

	acme := got.Merchants[0]
	if acme.ID != "acme" || acme.Name != "极客咖啡 Acme Coffee" || acme.MaxAmount != 500000 {
		t.Errorf("merchant %s %q %d", acme.ID, acme.Name, acme.MaxAmount)
	}
	if acme.RegisteredName != "" || got.Merchants[1].RegisteredName != "上海贝塔茶饮有限公司" {
		t.Errorf("registered names %q, %q", acme.RegisteredName, got.Merchants[1].RegisteredName)
	}
	if len(acme.APIKeys) != 2 || acme.APIKeys[0].Hash != "0d6d7f0c8a5b0e1a6f1c4c3f1f4f2d9a7d1e6b7c3a9e8f2b1c0d9e8f7a6b5c4d" ||
		acme.APIKeys[1].Hash != "1d6d7f0c8a5b0e1a6f1c4c3f1f4f2d9a7d1e6b7c3a9e8f2b1c0d9e8f7a6b5c4d" || !acme.APIKeys[0].Live || acme.APIKeys[0].ID != "sha256:0d6d7f0c" {
		t.Errorf("api keys %+v", acme.APIKeys)
	}
	if acme.WebhookURL != "https://hooks.acme.example/checkout" || len(acme.WebhookSecrets) != 2 ||
		acme.WebhookSecrets[0].Reveal() != testWebhookSecret || acme.WebhookSecrets[1].Reveal() != testWebhookSecret+"-old" {
		t.Errorf("webhook %q, %d secrets", acme.WebhookURL, len(acme.WebhookSecrets))
	}
	if strings.Join(acme.RedirectHosts, ",") != "shop.acme.example,pay.acme.example:8443" {
		t.Errorf("redirect hosts %v", acme.RedirectHosts)
	}
	if len(acme.Stores) != 2 {
		t.Fatalf("want 2 stores, got %d", len(acme.Stores))
	}
	main := acme.Stores[0]
	if main.ID != "main" || main.Name != "南京西路店" || main.LatePolicy != checkout.LatePolicyRefund || main.Sandbox {
		t.Errorf("store %+v", main)
	}
	gw, ok := got.Accounts.Of(acme.ID, main.ID)
	if !ok {
		t.Fatal("no gateway account for the main store")
	}
	if gw.BaseURL != "https://api.gateway.example/mct1" || gw.OpenID != "87f46f5db1b65f0ac195285f49ee6958" || gw.ShopPass.Reveal() != testShopPass {
		t.Errorf("gateway %v", gw)
	}
	if gw.Key.IsZero() {
		t.Error("open_key not parsed")
	}
	wc := main.WeChat
	if !wc.Enabled || wc.Mode != checkout.ModeNative || wc.AppID != "wx1234567890abcdef" || wc.AppSecret.Reveal() != testAppSecret ||
		wc.MiniProgramAppID != "wxfedcba0987654321" || wc.MiniProgramSecret.Reveal() != testAppSecret+"-mp" || wc.PmtTag != "WeixinBERL" {
		t.Errorf("wechat %+v", wc)
	}
	ali := main.Alipay
	if !ali.Enabled || ali.Mode != checkout.ModeNative || ali.AppID != "2021001234567890" || ali.PrivateKey.Reveal() != testKeys().privPKCS8 ||
		ali.AlipayPublicKey != testKeys().pub || ali.PmtTag != "AlipayCS" {
		t.Errorf("alipay %+v", ali)
	}
	kiosk := acme.Stores[1]
	if kiosk.Name != acme.Name || kiosk.LatePolicy != checkout.LatePolicyAccept || kiosk.WeChat.Mode != checkout.ModeRedirect || kiosk.Alipay.Enabled {
		t.Errorf("kiosk defaults %+v", kiosk)
	}
	if kgw, _ := got.Accounts.Of(acme.ID, kiosk.ID); kgw == nil || kgw.BaseURL != "http://127.0.0.1:9000/mct1" {
		t.Errorf("kiosk gateway %v", kgw)
	}

	beta := got.Merchants[1]
	if beta.APIKeys[0].Live || !beta.Stores[0].Sandbox || beta.WebhookURL != "" || beta.MaxAmount != 0 {
		t.Errorf("sandbox merchant: live=%v sandbox=%v", beta.APIKeys[0].Live, beta.Stores[0].Sandbox)
	}

	// The directory is built, and the accounts index the stores by open_id.
	if m, st, _, ok := got.Accounts.ByOpenID("0828e83720fdbe3685a7b94214af04f9"); !ok || m != "acme" || st != "kiosk" {
		t.Errorf("ByOpenID: %v %v %v", m, st, ok)
	}
	if err := got.Accounts.Check(got.Directory); err != nil {
		t.Errorf("accounts and directory disagree: %v", err)
	}
	if _, ok := got.Directory.Merchant("beta-tea"); !ok {
		t.Error("beta-tea not in the directory")
	}

	// No secret is printable from the result.
	out := fmt.Sprintf("%v %+v %#v", got.Merchants, *main, *main)
	for _, s := range []string{testOpenKey, testShopPass, testAppSecret, testWebhookSecret, "PRIVATE KEY"} {
		if strings.Contains(out, s) {
			t.Errorf("formatted merchants show secret %q", s)
		}
	}
}

func TestParseMerchantsMinimal(t *testing.T) {
	got, err := ParseMerchants([]byte(readFixture(t, "minimal.yaml")), Options{Getenv: envOf(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if got.Providers != DefaultProviders() {
		t.Errorf("providers %+v, want the real ones", got.Providers)
	}
	st := got.Merchants[0].DefaultStore()
	if st.ID != "main" || st.Name != "Solo" || st.LatePolicy != checkout.LatePolicyAccept {
		t.Errorf("store %+v", st)
	}
}

func TestAPIKeyHashMatchesAuthentication(t *testing.T) {
	key, err := checkout.NewAPIKey(true)
	if err != nil {
		t.Fatal(err)
	}
	line := HashAPIKeyLine(key)
	if !strings.HasPrefix(line, "sha256:") || len(line) != 7+64 {
		t.Fatalf("hash line %q", line)
	}
	src := strings.Replace(readFixture(t, "minimal.yaml"),
		"sha256:3d6d7f0c8a5b0e1a6f1c4c3f1f4f2d9a7d1e6b7c3a9e8f2b1c0d9e8f7a6b5c4d", line, 1)
	got, err := ParseMerchants([]byte(src), Options{Getenv: envOf(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := got.Directory.Authenticate(key); !ok || m.ID != "solo" {
		t.Errorf("the hashed key does not authenticate: %v %v", m, ok)
	}
	if _, ok := got.Directory.Authenticate(key + "x"); ok {
		t.Error("a different key authenticates")
	}
}

func TestAlipayKeyForms(t *testing.T) {
	k := testKeys()
	for name, kv := range map[string][2]string{
		"pkcs1 and pem":       {k.privPKCS1, k.pub},
		"pkcs8 and bare b64":  {k.privPKCS8, k.pubBare},
		"bare with newlines":  {k.privPKCS8, k.pubBare[:40] + "\n" + k.pubBare[40:]},
		"pem with whitespace": {"\n" + k.privPKCS1, k.pub + "\n"},
	} {
		t.Run(name, func(t *testing.T) {
			env := testEnv()
			env["ACME_ALIPAY_PRIVATE_KEY"], env["ACME_ALIPAY_PUBLIC_KEY"] = kv[0], kv[1]
			if _, err := ParseMerchants([]byte(readFixture(t, "valid.yaml")), Options{Getenv: envOf(env)}); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestParseMerchantsErrors changes one thing in testdata/valid.yaml per case
// and checks the one message the start stops with.
func TestParseMerchantsErrors(t *testing.T) {
	k := testKeys()
	tests := []struct {
		name     string
		old, new string            // replace the first old with new in valid.yaml
		env      map[string]string // overrides of testEnv
		private  bool
		want     string
	}{
		// YAML shape
		{name: "unknown top-level key", old: "merchants:\n", new: "merchant:\n", want: "config: merchant: unknown field (line 11)"},
		{name: "unknown nested key", old: "          open_key: ${ACME_MAIN_OPEN_KEY}", new: "          openkey: ${ACME_MAIN_OPEN_KEY}", want: "config: merchants[0].stores[0].gateway.openkey: unknown field (line 33)"},
		{name: "unknown key in flow mapping", old: "alipay: {enabled: true, mode: redirect}", new: "alipay: {enabled: true, mod: redirect}", want: "config: merchants[1].stores[0].alipay.mod: unknown field"},
		{name: "max_amount text", old: "max_amount: 500000", new: "max_amount: lots", want: `config: merchants[0].max_amount: must be a whole number (got "lots") (line 25)`},
		{name: "max_amount decimal", old: "max_amount: 500000", new: "max_amount: 5000.5", want: `config: merchants[0].max_amount: must be a whole number (got "5000.5")`},
		{name: "enabled not bool", old: "          enabled: true\n          mode: native\n          app_id: wx", new: "          enabled: yesplease\n          mode: native\n          app_id: wx", want: `config: merchants[0].stores[0].wechat.enabled: must be true or false (got "yesplease")`},
		{name: "api_keys not a list", old: "    api_keys:\n      - sha256:2d6d", new: "    api_keys: sha256:2d6d\n    #", want: "config: merchants[1].api_keys: must be a list"},
		{name: "alipay a list", old: "        alipay: {enabled: true, mode: redirect}", new: "        alipay: [enabled, redirect]", want: "config: merchants[1].stores[0].alipay: must be a mapping of fields, not a list"},
		{name: "registered_name too long", old: "registered_name: 上海贝塔茶饮有限公司", new: "registered_name: " + strings.Repeat("茶", 65), want: "config: merchants[1].registered_name: is 65 characters; at most 64"},
		{name: "name a mapping", old: "    name: Beta Tea", new: "    name: {en: Beta Tea}", want: "config: merchants[1].name: must be a single text value, not a mapping"},
		{name: "syntax error", old: "    redirect_hosts: [tea.example]", new: "    redirect_hosts: [tea.example", want: "config: merchants file: is not valid YAML: line"},
		{name: "tab indentation", old: "    max_amount: 500000", new: "\tmax_amount: 500000", want: "config: merchants file: is not valid YAML"},
		{name: "two documents", old: "# A merchant", new: "merchants: []\n---\n# A merchant", want: "config: merchants file: holds more than one YAML document"},
		{name: "no merchants", old: "merchants:\n  - id: acme", new: "nothing:\n  - id: acme", want: "config: nothing: unknown field"},

		// environment references
		{name: "missing env var", env: map[string]string{"ACME_MAIN_OPEN_KEY": ""}, want: "config: merchants[0].stores[0].gateway.open_key: environment variable ACME_MAIN_OPEN_KEY is not set (or is empty)"},
		{name: "partial env reference", old: "${ACME_MAIN_SHOP_PASS}", new: "pass-${ACME_MAIN_SHOP_PASS}", want: "config: merchants[0].stores[0].gateway.shop_pass: an environment reference must be the whole value"},
		{name: "bad env name", old: "${ACME_MAIN_SHOP_PASS}", new: "${ACME-PASS}", want: "merchants[0].stores[0].gateway.shop_pass: an environment reference must be the whole value"},

		// merchant
		{name: "merchant id missing", old: "  - id: acme\n", new: "  - name2: x\n", want: "config: merchants[0].name2: unknown field"},
		{name: "merchant id empty", old: "  - id: acme\n", new: "  - id: \"\"\n", want: "config: merchants[0].id: is required"},
		{name: "merchant id shape", old: "  - id: acme\n", new: "  - id: Acme Coffee\n", want: `config: merchants[0].id: "Acme Coffee" must be 1 to 32 lowercase letters`},
		{name: "merchant id duplicate", old: "  - id: beta-tea", new: "  - id: acme", want: `config: merchants[1].id: "acme" is already the id of merchants[0]`},
		{name: "merchant name missing", old: "    name: Beta Tea\n", new: "", want: "config: merchants[1].name: is required"},
		{name: "merchant name long", old: "    name: Beta Tea", new: "    name: " + strings.Repeat("茶", 65), want: "config: merchants[1].name: is 65 characters; at most 64"},
		{name: "no api keys", old: "    api_keys:\n      - sha256:2d6d7f0c8a5b0e1a6f1c4c3f1f4f2d9a7d1e6b7c3a9e8f2b1c0d9e8f7a6b5c4d\n", new: "    api_keys: []\n", want: "config: merchants[1].api_keys: list at least one API key hash (create a key and its hash with `checkout hash-key -new`)"},
		{name: "plain live key", old: "sha256:2d6d7f0c8a5b0e1a6f1c4c3f1f4f2d9a7d1e6b7c3a9e8f2b1c0d9e8f7a6b5c4d", new: "sk_live_PLAINKEY0123456789abcdefghijklmnopqrstu", want: "config: merchants[1].api_keys[0]: is a plain API key; store only its hash: run `checkout hash-key` with your key on standard input"},
		{name: "plain test key", old: "sha256:2d6d7f0c8a5b0e1a6f1c4c3f1f4f2d9a7d1e6b7c3a9e8f2b1c0d9e8f7a6b5c4d", new: "sk_test_PLAINKEY0123456789abcdefghijklmnopqrstu", want: "config: merchants[1].api_keys[0]: is a plain API key"},
		{name: "plain key from env", old: "sha256:2d6d7f0c8a5b0e1a6f1c4c3f1f4f2d9a7d1e6b7c3a9e8f2b1c0d9e8f7a6b5c4d", new: "${BETA_KEY}", env: map[string]string{"BETA_KEY": "sk_live_PLAINKEY0123456789abcdefghijklmnopqrstu"}, want: "config: merchants[1].api_keys[0]: is a plain API key"},
		{name: "hash too short", old: "sha256:2d6d7f0c8a5b0e1a6f1c4c3f1f4f2d9a7d1e6b7c3a9e8f2b1c0d9e8f7a6b5c4d", new: "sha256:2d6d", want: "config: merchants[1].api_keys[0]: must be sha256: followed by 64 hex digits"},
		{name: "hash without prefix", old: "sha256:2d6d7f0c8a5b0e1a6f1c4c3f1f4f2d9a7d1e6b7c3a9e8f2b1c0d9e8f7a6b5c4d", new: "2d6d7f0c8a5b0e1a6f1c4c3f1f4f2d9a7d1e6b7c3a9e8f2b1c0d9e8f7a6b5c4d", want: "config: merchants[1].api_keys[0]: must be sha256: followed by 64 hex digits"},
		{name: "hash used twice", old: "sha256:2d6d7f0c8a5b0e1a6f1c4c3f1f4f2d9a7d1e6b7c3a9e8f2b1c0d9e8f7a6b5c4d", new: "sha256:0d6d7f0c8a5b0e1a6f1c4c3f1f4f2d9a7d1e6b7c3a9e8f2b1c0d9e8f7a6b5c4d", want: "config: merchants[1].api_keys[0]: the same key hash is already used at merchants[0].api_keys[0]"},
		{name: "webhook http", old: "url: https://hooks.acme.example/checkout", new: "url: http://hooks.acme.example/checkout", want: `config: merchants[0].webhook.url: "http://hooks.acme.example/checkout" must use https`},
		{name: "webhook loopback", old: "url: https://hooks.acme.example/checkout", new: "url: https://127.0.0.1/checkout", want: "config: merchants[0].webhook.url: \"https://127.0.0.1/checkout\" points at a loopback or private address"},
		{name: "webhook private v4", old: "url: https://hooks.acme.example/checkout", new: "url: https://10.1.2.3:8443/h", want: "points at a loopback or private address"},
		{name: "webhook link local", old: "url: https://hooks.acme.example/checkout", new: "url: https://169.254.169.254/latest", want: "points at a loopback or private address"},
		{name: "webhook localhost", old: "url: https://hooks.acme.example/checkout", new: "url: https://LOCALHOST./h", want: "points at a loopback or private address"},
		{name: "webhook ipv6 loopback", old: "url: https://hooks.acme.example/checkout", new: "url: https://[::1]:8443/h", want: "points at a loopback or private address"},
		{name: "webhook relative", old: "url: https://hooks.acme.example/checkout", new: "url: /checkout", want: `config: merchants[0].webhook.url: "/checkout" must start with https://`},
		{name: "webhook userinfo", old: "url: https://hooks.acme.example/checkout", new: "url: https://user:pw-secret@hooks.acme.example/", want: "config: merchants[0].webhook.url: \"https://%E2%80%A6@hooks.acme.example/\" must not contain user info"},
		{name: "webhook without secret", old: "      secrets:\n        - ${ACME_WEBHOOK_SECRET}\n        - ${ACME_WEBHOOK_SECRET_OLD}\n", new: "", want: "config: merchants[0].webhook.secrets: a webhook url needs a secret"},
		{name: "three webhook secrets", old: "        - ${ACME_WEBHOOK_SECRET_OLD}\n", new: "        - ${ACME_WEBHOOK_SECRET_OLD}\n        - ${ACME_WEBHOOK_SECRET}\n", want: "config: merchants[0].webhook.secrets: has 3 secrets; at most 2"},
		{name: "short webhook secret", env: map[string]string{"ACME_WEBHOOK_SECRET_OLD": "short"}, want: "config: merchants[0].webhook.secrets[1]: is 5 bytes; at least 32"},
		{name: "no redirect hosts", old: "    redirect_hosts: [tea.example]\n", new: "", want: "config: merchants[1].redirect_hosts: list the hosts"},
		{name: "logo loopback", old: "    redirect_hosts: [tea.example]\n", new: "    redirect_hosts: [tea.example]\n    logo_url: https://127.0.0.1/logo.png\n", want: "config: merchants[1].logo_url: \"https://127.0.0.1/logo.png\" points at a loopback or private address"},
		{name: "logo not https", old: "    redirect_hosts: [tea.example]\n", new: "    redirect_hosts: [tea.example]\n    logo_url: http://tea.example/logo.png\n", want: "config: merchants[1].logo_url: \"http://tea.example/logo.png\" must use https"},
		{name: "redirect host with scheme", old: "      - shop.acme.example", new: "      - https://shop.acme.example", want: `config: merchants[0].redirect_hosts[0]: "https://shop.acme.example" is not a host name`},
		{name: "redirect host wildcard", old: "      - shop.acme.example", new: "      - \"*.acme.example\"", want: `config: merchants[0].redirect_hosts[0]: "*.acme.example" is not a host name`},
		{name: "redirect host with path", old: "      - shop.acme.example", new: "      - shop.acme.example/ok", want: "is not a host name"},
		{name: "redirect host twice", old: "      - Pay.Acme.Example:8443", new: "      - SHOP.acme.example", want: `config: merchants[0].redirect_hosts[1]: "shop.acme.example" is listed twice`},
		{name: "negative max_amount", old: "max_amount: 500000", new: "max_amount: -1", want: "config: merchants[0].max_amount: must be a positive number of fen"},
		{name: "no stores", old: "    stores:\n      - id: sandbox", new: "    stores: []\n    xstores:\n      - id: sandbox", want: "config: merchants[1].xstores: unknown field"},
		{name: "empty stores", old: "    redirect_hosts: [tea.example]\n    stores:\n      - id: sandbox\n        sandbox: true\n        gateway: {base_url: \"http://127.0.0.1:9000/mct1\", open_id: 11112222333344445555666677778888, open_key: abcdefghijklmnopqrstuvwxyz012345, shop_pass: \"123456\"}\n        alipay: {enabled: true, mode: redirect}\n", new: "    redirect_hosts: [tea.example]\n    stores: []\n", want: "config: merchants[1].stores: list at least one store"},

		// store
		{name: "store id duplicate", old: "      - id: kiosk", new: "      - id: main", want: `config: merchants[0].stores[1].id: "main" is already the id of merchants[0].stores[0]`},
		{name: "store id shape", old: "      - id: kiosk", new: "      - id: Kiosk!", want: `config: merchants[0].stores[1].id: "Kiosk!" must be 1 to 32 lowercase letters`},
		{name: "late payment", old: "late_payment: refund", new: "late_payment: keep", want: `config: merchants[0].stores[0].late_payment: "keep" is not accept or refund`},
		{name: "no wallet", old: "        alipay: {enabled: true, mode: redirect}", new: "        alipay: {enabled: false, mode: redirect}", want: "config: merchants[1].stores[0]: enables no wallet; set wechat.enabled or alipay.enabled to true"},

		// gateway
		{name: "base_url missing", old: "base_url: \"http://127.0.0.1:9000/mct1\", ", new: "", want: "config: merchants[1].stores[0].gateway.base_url: is required"},
		{name: "base_url scheme", old: "base_url: https://api.gateway.example/mct1/", new: "base_url: api.gateway.example/mct1", want: `config: merchants[0].stores[0].gateway.base_url: "api.gateway.example/mct1" must start with https://`},
		{name: "open_id missing", old: " open_id: 11112222333344445555666677778888,", new: "", want: "config: merchants[1].stores[0].gateway.open_id: is required"},
		{name: "open_id shape", old: "open_id: 87f46f5db1b65f0ac195285f49ee6958", new: "open_id: 87f46f5d-b1b6", want: "config: merchants[0].stores[0].gateway.open_id: must be letters and digits"},
		{name: "open_id twice", old: "open_id: 11112222333344445555666677778888", new: "open_id: 87f46f5db1b65f0ac195285f49ee6958", want: `config: merchants[1].stores[0].gateway.open_id: "87f46f5db1b65f0ac195285f49ee6958" is already used at merchants[0].stores[0].gateway.open_id`},
		{name: "open_key short", env: map[string]string{"ACME_MAIN_OPEN_KEY": testOpenKey[:31]}, want: "config: merchants[0].stores[0].gateway.open_key: must be exactly 32 bytes (got 31)"},
		{name: "open_key long", old: "open_key: vCfnB1SvPQqUDa7q0AFpqdiGOCICGT92", new: "open_key: vCfnB1SvPQqUDa7q0AFpqdiGOCICGT92x", want: "config: merchants[0].stores[1].gateway.open_key: must be exactly 32 bytes (got 33)"},
		{name: "open_key missing", old: " open_key: abcdefghijklmnopqrstuvwxyz012345,", new: "", want: "config: merchants[1].stores[0].gateway.open_key: is required"},
		{name: "shop_pass missing", old: "          shop_pass: \"123456\"\n        wechat:\n          enabled: true\n          mode: redirect", new: "        wechat:\n          enabled: true\n          mode: redirect", want: "config: merchants[0].stores[1].gateway.shop_pass: is required"},

		// wechat
		{name: "wechat mode missing", old: "          enabled: true\n          mode: redirect", new: "          enabled: true", want: "config: merchants[0].stores[1].wechat.mode: is required when enabled: native"},
		{name: "wechat mode unknown", old: "mode: redirect\n        alipay:\n          enabled: false", new: "mode: jsapi\n        alipay:\n          enabled: false", want: `config: merchants[0].stores[1].wechat.mode: "jsapi" is not native or redirect`},
		{name: "wechat native without app", old: "          app_id: wx1234567890abcdef\n          app_secret: ${ACME_WECHAT_SECRET}\n", new: "", want: "config: merchants[0].stores[0].wechat.app_id: is required in native mode"},
		{name: "wechat app without secret", old: "          app_secret: ${ACME_WECHAT_SECRET}\n", new: "", want: "config: merchants[0].stores[0].wechat.app_secret: is required when app_id is set"},
		{name: "wechat secret without app", old: "          app_id: wx1234567890abcdef\n", new: "", want: "config: merchants[0].stores[0].wechat.app_id: is required when app_secret is set"},
		{name: "wechat app id shape", old: "app_id: wx1234567890abcdef", new: "app_id: wx123", want: `config: merchants[0].stores[0].wechat.app_id: "wx123" must be wx followed by 16 lowercase letters or digits`},
		{name: "mini program without secret", old: "          mini_program_secret: ${ACME_MP_SECRET}\n", new: "", want: "config: merchants[0].stores[0].wechat.mini_program_secret: is required when mini_program_app_id is set"},
		{name: "mini program id shape", old: "mini_program_app_id: wxfedcba0987654321", new: "mini_program_app_id: 2021001234567890", want: `config: merchants[0].stores[0].wechat.mini_program_app_id: "2021001234567890" must be wx followed by`},
		{name: "pmt_tag shape", old: "pmt_tag: WeixinBERL", new: "pmt_tag: Weixin BERL", want: `config: merchants[0].stores[0].wechat.pmt_tag: "Weixin BERL" must be letters and digits`},

		// alipay
		{name: "alipay app id shape", old: `app_id: "2021001234567890"`, new: "app_id: wx1234567890abcdef", want: `config: merchants[0].stores[0].alipay.app_id: "wx1234567890abcdef" must be the 16-digit app id`},
		{name: "alipay native without keys", old: "          private_key: ${ACME_ALIPAY_PRIVATE_KEY}\n          alipay_public_key: ${ACME_ALIPAY_PUBLIC_KEY}\n", new: "", want: "config: merchants[0].stores[0].alipay.private_key: is required in native mode"},
		{name: "alipay native without app id", old: "          app_id: \"2021001234567890\"\n", new: "", want: "config: merchants[0].stores[0].alipay.app_id: is required in native mode"},
		{name: "alipay public key without the rest", old: "        alipay: {enabled: true, mode: redirect}", new: "        alipay: {enabled: true, mode: redirect, alipay_public_key: \"${ACME_ALIPAY_PUBLIC_KEY}\"}", want: "config: merchants[1].stores[0].alipay.app_id: is required when any of app_id, private_key, alipay_public_key is set"},
		{name: "alipay private key garbage", env: map[string]string{"ACME_ALIPAY_PRIVATE_KEY": "not a key at all!"}, want: "config: merchants[0].stores[0].alipay.private_key: the RSA private key is neither PEM nor base64"},
		{name: "alipay private key is public", env: map[string]string{"ACME_ALIPAY_PRIVATE_KEY": k.pub}, want: "config: merchants[0].stores[0].alipay.private_key: is not an RSA private key in PKCS#1 or PKCS#8 form"},
		{name: "alipay private key EC", env: map[string]string{"ACME_ALIPAY_PRIVATE_KEY": k.ecPriv}, want: "config: merchants[0].stores[0].alipay.private_key: is not an RSA key"},
		{name: "alipay public key is private", env: map[string]string{"ACME_ALIPAY_PUBLIC_KEY": k.privPKCS1}, want: "config: merchants[0].stores[0].alipay.alipay_public_key: is not an RSA public key"},
		// The pages parse keys with wallet's parser, which refuses keys under
		// 2048 bits: the start must refuse them too, naming the field.
		{name: "alipay private key 1024 bits", env: map[string]string{"ACME_ALIPAY_PRIVATE_KEY": k.weakPriv}, want: "config: merchants[0].stores[0].alipay.private_key: is a 1024-bit RSA key; RSA2 needs at least 2048 bits"},
		{name: "alipay public key 1024 bits", env: map[string]string{"ACME_ALIPAY_PUBLIC_KEY": k.weakPub}, want: "config: merchants[0].stores[0].alipay.alipay_public_key: is a 1024-bit RSA key; RSA2 needs at least 2048 bits"},
		{name: "alipay private key empty PEM", env: map[string]string{"ACME_ALIPAY_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nAAAA"}, want: "config: merchants[0].stores[0].alipay.private_key: the RSA private key has a -----BEGIN line but no whole PEM block"},

		// identity providers
		{name: "provider url", old: "api_base: http://127.0.0.1:9100/wechat-api", new: "api_base: 127.0.0.1:9100", want: "config: identity_providers.wechat.api_base: \"127.0.0.1:9100\" is not a URL"},
		{name: "provider scheme", old: "api_base: http://127.0.0.1:9100/wechat-api", new: "api_base: ftp://x.example", want: "config: identity_providers.wechat.api_base: \"ftp://x.example\" must start with https://"},
		{name: "provider unknown", old: "  alipay:\n    authorize_base", new: "  unionpay:\n    authorize_base", want: "config: identity_providers.unionpay: unknown field"},
	}
	base := readFixture(t, "valid.yaml")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := base
			if tt.old != "" {
				if !strings.Contains(src, tt.old) {
					t.Fatalf("valid.yaml has no %q", tt.old)
				}
				src = strings.Replace(src, tt.old, tt.new, 1)
			}
			env := testEnv()
			for k, v := range tt.env {
				env[k] = v
			}
			got, err := ParseMerchants([]byte(src), Options{Getenv: envOf(env), AllowPrivateWebhooks: tt.private})
			if err == nil {
				t.Fatalf("want error %q, got %d merchants", tt.want, len(got.Merchants))
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not *config.Error: %v", err, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n  %s\nwant it to contain\n  %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			for _, s := range []string{testOpenKey[:20], testShopPass, testAppSecret, testWebhookSecret, "pw-secret", "PLAINKEY", "PRIVATE KEY", "MII"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error shows a secret (%q): %s", s, err)
				}
			}
		})
	}
}

func TestPrivateWebhooksAllowed(t *testing.T) {
	src := strings.Replace(readFixture(t, "valid.yaml"), "url: https://hooks.acme.example/checkout", "url: http://127.0.0.1:9999/hook", 1)
	got, err := ParseMerchants([]byte(src), Options{Getenv: envOf(testEnv()), AllowPrivateWebhooks: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.Merchants[0].WebhookURL != "http://127.0.0.1:9999/hook" {
		t.Errorf("webhook %q", got.Merchants[0].WebhookURL)
	}
}

func TestParseMerchantsEmptyAndGarbage(t *testing.T) {
	for name, src := range map[string]string{
		"empty":        "",
		"blank":        "  \n\n",
		"comment only": "# nothing\n",
		"scalar":       "hello",
		"list":         "- a\n- b\n",
		"null bytes":   "merchants:\x00\x01",
		"empty list":   "merchants: []",
		"deep nesting": strings.Repeat("[", 5000),
		"anchor bomb":  "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseMerchants([]byte(src), Options{Getenv: envOf(nil)})
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want *config.Error, got %v", err)
			}
			t.Log(err)
		})
	}
}

func TestLoadMerchantsMissingFile(t *testing.T) {
	_, err := LoadMerchants("testdata/does-not-exist.yaml", Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "config: CHECKOUT_CONFIG: cannot read the merchants file:") {
		t.Errorf("got %v", err)
	}
}

// TestExampleFile keeps examples/merchants.yaml, which operators copy, valid.
func TestExampleFile(t *testing.T) {
	env := testEnv()
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		switch {
		case strings.Contains(k, "OPEN_KEY"):
			return testOpenKey
		case strings.Contains(k, "PRIVATE_KEY"):
			return testKeys().privPKCS1
		case strings.Contains(k, "PUBLIC_KEY"):
			return testKeys().pub
		}
		return "example-secret-value-0123456789abcdef-" + k
	}
	got, err := LoadMerchants("../examples/merchants.yaml", Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Merchants) == 0 {
		t.Fatal("the example lists no merchant")
	}
}

func FuzzParseMerchants(f *testing.F) {
	for _, name := range []string{"valid.yaml", "minimal.yaml"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	env := testEnv()
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMerchants(data, Options{Getenv: envOf(env)})
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error is not *config.Error: %v", err)
			}
			return
		}
		if m.Directory == nil || len(m.Merchants) == 0 {
			t.Fatal("success without merchants")
		}
	})
}

// TestWebhookHostClasses: the merchants file refuses a webhook URL on every
// internal host class (internal/hostclass), the same classes the create API
// and the delivery dialer refuse.
func TestWebhookHostClasses(t *testing.T) {
	for host, refused := range map[string]bool{
		"localhost":          true, // localhost
		"api.localhost":      true,
		"127.0.0.1":          true, // loopback
		"[::1]":              true,
		"[::ffff:127.0.0.1]": true,
		"10.1.2.3":           true, // private
		"[fd00::1]":          true,
		"169.254.169.254":    true, // link-local
		"[fe80::1]":          true,
		"0.0.0.0":            true, // unspecified
		"224.0.0.251":        true, // multicast
		"100.64.0.1":         true, // reserved: carrier-grade NAT, once accepted here and refused at every delivery
		"198.18.0.1":         true,
		"8.8.8.8":            false, // public
		"[2606:4700::1111]":  false,
		"hooks.example.com":  false, // a name: checked again when dialed
	} {
		t.Run(host, func(t *testing.T) {
			src := strings.Replace(readFixture(t, "valid.yaml"), "url: https://hooks.acme.example/checkout", "url: https://"+host+"/h", 1)
			_, err := ParseMerchants([]byte(src), Options{Getenv: envOf(testEnv())})
			if refused != (err != nil) {
				t.Fatalf("refused %v, want %v (%v)", err != nil, refused, err)
			}
			if err != nil && !strings.Contains(err.Error(), "config: merchants[0].webhook.url: ") {
				t.Errorf("error does not name the field: %v", err)
			}
			// Development allows every class.
			if _, err := ParseMerchants([]byte(src), Options{Getenv: envOf(testEnv()), AllowPrivateWebhooks: true}); err != nil {
				t.Errorf("with private webhooks allowed: %v", err)
			}
		})
	}
}

// TestYAMLShapes: the file is walked as a tree of nodes alongside the
// expected layout, so each problem is named by its field path and line
// without reading go-yaml's message text; yaml's own features (anchors,
// aliases, merge keys) keep working.
func TestYAMLShapes(t *testing.T) {
	base := readFixture(t, "valid.yaml")
	for _, tt := range []struct {
		name, old, new, want string
	}{
		{"key set twice", "    max_amount: 500000\n", "    max_amount: 500000\n    max_amount: 600000\n", "config: merchants[0].max_amount: is set twice (lines 25 and 26); keep one"},
		{"key not a name", "    max_amount: 500000\n", "    [max_amount]: 500000\n", "config: merchants[0]: has a key that is not a name (line 25)"},
		{"merge of a list", "        alipay: {enabled: true, mode: redirect}", "        alipay: {<<: [a, b]}", "config: merchants[1].stores[0].alipay: merges (<<) something that is not a mapping (line"},
		{"long value quoted by its start", "max_amount: 500000", "max_amount: 5000000000000000000000000", `config: merchants[0].max_amount: must be a whole number (got "5000000…") (line 25)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(base, tt.old) {
				t.Fatalf("valid.yaml has no %q", tt.old)
			}
			_, err := ParseMerchants([]byte(strings.Replace(base, tt.old, tt.new, 1)), Options{Getenv: envOf(testEnv())})
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error\n  %v\nwant one line starting\n  %s", err, tt.want)
			}
		})
	}
	for src, want := range map[string]string{
		"- a\n- b\n":              "config: merchants file: must be a mapping of fields, not a list (line 1)",
		"hello":                   `config: merchants file: must be a mapping of fields (got "hello") (line 1)`,
		"# only a comment\n":      "config: merchants file: is empty; it needs a merchants: list",
		"merchants: [*nowhere]\n": "config: merchants file: is not valid YAML: ",
	} {
		_, err := ParseMerchants([]byte(src), Options{Getenv: envOf(nil)})
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: error %v, want %s", src, err, want)
		}
	}

	t.Run("anchors, aliases and merge keys", func(t *testing.T) {
		src := strings.Replace(base, "        wechat:\n          enabled: true\n          mode: redirect", "        wechat:\n          <<: &redirect {enabled: true, mode: native}\n          mode: redirect", 1)
		src = strings.Replace(src, "        alipay: {enabled: true, mode: redirect}", "        alipay: {<<: *redirect, mode: redirect}", 1)
		src = strings.Replace(src, "    redirect_hosts:\n      - shop.acme.example", "    redirect_hosts: &hosts\n      - shop.acme.example", 1)
		src = strings.Replace(src, "    redirect_hosts: [tea.example]", "    redirect_hosts: *hosts", 1)
		if src == base {
			t.Fatal("fixture changed")
		}
		got, err := ParseMerchants([]byte(src), Options{Getenv: envOf(testEnv())})
		if err != nil {
			t.Fatal(err)
		}
		kiosk, beta := got.Merchants[0].Stores[1], got.Merchants[1].Stores[0]
		// The mapping's own key wins over the merged one.
		if !kiosk.WeChat.Enabled || kiosk.WeChat.Mode != checkout.ModeRedirect {
			t.Errorf("merged wechat %+v", kiosk.WeChat)
		}
		if !beta.Alipay.Enabled || beta.Alipay.Mode != checkout.ModeRedirect {
			t.Errorf("merged alipay %+v", beta.Alipay)
		}
		if strings.Join(got.Merchants[1].RedirectHosts, ",") != "shop.acme.example,pay.acme.example:8443" {
			t.Errorf("aliased redirect hosts %v", got.Merchants[1].RedirectHosts)
		}
	})
}

// TestYAMLAliasBomb: aliases that expand past maxValues stop the start
// quickly with one line, instead of walking millions of values.
func TestYAMLAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("merchants:\n  - &m\n    id: acme\n    stores: [&s {id: main, name: x, late_payment: accept, wechat: {enabled: true, mode: redirect}}")
	for range 2000 {
		b.WriteString(", *s")
	}
	b.WriteString("]\n")
	for range 2000 {
		b.WriteString("  - *m\n")
	}
	_, err := ParseMerchants([]byte(b.String()), Options{Getenv: envOf(nil)})
	if err == nil || err.Error() != fmt.Sprintf("config: merchants file: holds more than %d values once its aliases are expanded", maxValues) {
		t.Fatalf("error %v", err)
	}
}

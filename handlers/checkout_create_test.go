package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/wallet-checkout/checkout/checkout"
)

func TestCreateMinimal(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/v1/checkouts", e.keyA, `{"amount":1000}`)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	m := r.json(t)
	id, _ := m["id"].(string)
	if !checkout.ValidID(id) {
		t.Fatalf("id %q", id)
	}
	want := map[string]any{
		"object": "checkout", "url": "https://pay.example/c/" + id, "status": "open", "amount": 1000.0,
		"original_amount": 1000.0, "discount_amount": 0.0, "ignore_amount": 0.0, "currency": "CNY",
		"store": "main", "late_policy": "refund", "webhook_url": "https://hooks.shop.example/checkout",
		"expires_at": "2026-11-25T08:30:00Z", "created_at": "2026-11-25T08:00:00Z", "late": false,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if cs, _ := m["client_secret"].(string); !strings.HasPrefix(cs, id+"_secret_") {
		t.Errorf("client_secret %q", cs)
	}
	if r.header.Get("Location") != "/v1/checkouts/"+id {
		t.Errorf("Location %q", r.header.Get("Location"))
	}
	stored, err := e.repo.Get(context.Background(), id)
	if err != nil || stored.MerchantID != "ma" || stored.Amounts.Trade != 1000 {
		t.Fatalf("stored %+v %v", stored, err)
	}
}

func TestCreateFull(t *testing.T) {
	e := newEnv(t)
	m := e.create(e.keyA, `{
		"amount": 900, "original_amount": 1000, "discount_amount": 60, "ignore_amount": 40,
		"description": "一杯拿铁 ☕", "reference": "ORDER-7",
		"success_url": "https://shop.example/done?checkout={CHECKOUT_ID}",
		"cancel_url": "https://pay.shop.example:8443/cancel/{CHECKOUT_ID}",
		"late_policy": "accept", "webhook_url": "https://hooks.shop.example/other",
		"expires_in": 600, "wallets": ["alipay"], "metadata": {"table": "7", "shift": "早"}
	}`)
	id := m["id"].(string)
	checks := map[string]any{
		"amount": 900.0, "original_amount": 1000.0, "discount_amount": 60.0, "ignore_amount": 40.0,
		"description": "一杯拿铁 ☕", "reference": "ORDER-7",
		"success_url": "https://shop.example/done?checkout=" + id,
		"cancel_url":  "https://pay.shop.example:8443/cancel/" + id,
		"late_policy": "accept", "webhook_url": "https://hooks.shop.example/other",
		"expires_at": "2026-11-25T08:10:00Z",
	}
	for k, v := range checks {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if fmt.Sprint(m["wallets"]) != "[alipay]" || fmt.Sprint(m["metadata"]) != "map[shift:早 table:7]" {
		t.Errorf("wallets %v metadata %v", m["wallets"], m["metadata"])
	}
	// The discount breakdown alone implies the original amount.
	m = e.create(e.keyA, `{"amount": 900, "discount_amount": 100}`)
	if m["original_amount"] != 1000.0 {
		t.Errorf("implied original_amount = %v", m["original_amount"])
	}
	// A live key uses a live store.
	m = e.create(e.liveA, `{"amount": 100, "store": "live"}`)
	if m["store"] != "live" {
		t.Errorf("store = %v", m["store"])
	}
}

// TestCreateReferenceAndWebhookHosts: the limits the domain owns hold
// through the API: a reference of 128 Chinese characters is taken (129 are
// refused, TestCreateValidation), and webhook URLs on public literals and
// names are taken (internal host classes are refused, TestCreateValidation).
func TestCreateReferenceAndWebhookHosts(t *testing.T) {
	e := newEnv(t)
	ref := strings.Repeat("单", checkout.MaxReferenceLen)
	m := e.create(e.keyA, `{"amount": 100, "reference": "`+ref+`"}`)
	if m["reference"] != ref {
		t.Errorf("reference %v", m["reference"])
	}
	for _, u := range []string{"https://[2606:4700::1111]/h", "https://8.8.8.8/h", "https://hooks.example.com/h"} {
		if m := e.create(e.keyA, `{"amount": 100, "webhook_url": "`+u+`"}`); m["webhook_url"] != u {
			t.Errorf("webhook_url %v, want %s", m["webhook_url"], u)
		}
	}
}

// TestCreateDescription: the description's rule is the domain's
// (checkout.CheckDescription) and holds through the API: the limit counts
// characters, so MaxDescriptionLen Chinese characters are taken and one more
// is refused, as are control characters, each naming param "description".
func TestCreateDescription(t *testing.T) {
	e := newEnv(t)
	desc := strings.Repeat("拿", checkout.MaxDescriptionLen)
	if m := e.create(e.keyA, `{"amount": 100, "description": "`+desc+`"}`); m["description"] != desc {
		t.Errorf("description %v", m["description"])
	}
	for name, body := range map[string]string{
		"one character more": `{"amount":1,"description":"` + desc + `拿"}`,
		"newline":            `{"amount":1,"description":"a\nb"}`,
		"bell":               `{"amount":1,"description":"a\u0007b"}`,
		"C1 control":         `{"amount":1,"description":"a\u0085b"}`,
	} {
		r := e.do("POST", "/v1/checkouts", e.keyA, body)
		if r.status != 400 {
			t.Errorf("%s: status %d %s", name, r.status, r.body)
			continue
		}
		if code, param := r.errorOf(t); code != "invalid_parameter" || param != "description" {
			t.Errorf("%s: error %s, param %q", name, code, param)
		}
	}
}

func TestCreateValidation(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("字", 101)
	meta21 := "{"
	for i := range 21 {
		meta21 += fmt.Sprintf(`"k%d":"v",`, i)
	}
	meta21 = strings.TrimSuffix(meta21, ",") + "}"
	tests := []struct {
		name   string
		key    string
		body   string
		hdr    []string
		status int
		code   string
		param  string
	}{
		{"empty body", "", ``, nil, 400, "invalid_json", ""},
		{"not an object", "", `[1,2]`, nil, 400, "invalid_json", ""},
		{"null", "", `null`, nil, 400, "invalid_json", ""},
		{"string", "", `"x"`, nil, 400, "invalid_json", ""},
		{"malformed", "", `{"amount":`, nil, 400, "invalid_json", ""},
		{"trailing garbage", "", `{"amount":1} {}`, nil, 400, "invalid_json", ""},
		{"syntax error", "", `{"amount":1,}`, nil, 400, "invalid_json", ""},
		{"unknown field", "", `{"amount":1,"amout":2}`, nil, 400, "unknown_parameter", "amout"},
		{"amount string", "", `{"amount":"1000"}`, nil, 400, "invalid_parameter", "amount"},
		{"amount float", "", `{"amount":10.5}`, nil, 400, "invalid_parameter", "amount"},
		{"amount huge", "", `{"amount":1e30}`, nil, 400, "invalid_parameter", "amount"},
		{"amount overflow", "", `{"amount":99999999999999999999}`, nil, 400, "invalid_parameter", "amount"},
		{"amount missing", "", `{"description":"x"}`, nil, 400, "invalid_parameter", "amount"},
		{"amount zero", "", `{"amount":0}`, nil, 400, "invalid_parameter", "amount"},
		{"amount negative", "", `{"amount":-5}`, nil, 400, "invalid_parameter", "amount"},
		{"amount above merchant max", "", `{"amount":500001}`, nil, 400, "invalid_parameter", "amount"},
		{"amounts do not add up", "", `{"amount":900,"original_amount":1000,"discount_amount":50}`, nil, 400, "invalid_parameter", "original_amount"},
		{"overflowing breakdown", "", `{"amount":2,"original_amount":0,"discount_amount":9223372036854775807,"ignore_amount":9223372036854775807}`, nil, 400, "invalid_parameter", "discount_amount"},
		{"negative discount", "", `{"amount":900,"discount_amount":-100}`, nil, 400, "invalid_parameter", "discount_amount"},
		{"description too long", "", `{"amount":1,"description":"` + long + `"}`, nil, 400, "invalid_parameter", "description"},
		{"description control", "", `{"amount":1,"description":"a\u0000b"}`, nil, 400, "invalid_parameter", "description"},
		{"description wrong type", "", `{"amount":1,"description":5}`, nil, 400, "invalid_parameter", "description"},
		{"reference too long", "", `{"amount":1,"reference":"` + strings.Repeat("r", 129) + `"}`, nil, 400, "invalid_parameter", "reference"},
		{"reference 129 characters", "", `{"amount":1,"reference":"` + strings.Repeat("单", 129) + `"}`, nil, 400, "invalid_parameter", "reference"},
		{"reference control", "", `{"amount":1,"reference":"a\u0007b"}`, nil, 400, "invalid_parameter", "reference"},
		{"late policy", "", `{"amount":1,"late_policy":"keep"}`, nil, 400, "invalid_parameter", "late_policy"},
		{"webhook not http", "", `{"amount":1,"webhook_url":"ftp://x.example/h"}`, nil, 400, "invalid_parameter", "webhook_url"},
		{"webhook relative", "", `{"amount":1,"webhook_url":"/hook"}`, nil, 400, "invalid_parameter", "webhook_url"},
		{"webhook userinfo", "", `{"amount":1,"webhook_url":"https://u:p@x.example/h"}`, nil, 400, "invalid_parameter", "webhook_url"},
		{"webhook plain http", "", `{"amount":1,"webhook_url":"http://hooks.shop.example/h"}`, nil, 400, "invalid_parameter", "webhook_url"},
		{"webhook loopback", "", `{"amount":1,"webhook_url":"https://127.0.0.1:6379/h"}`, nil, 400, "invalid_parameter", "webhook_url"},
		{"webhook localhost", "", `{"amount":1,"webhook_url":"https://localhost/h"}`, nil, 400, "invalid_parameter", "webhook_url"},
		{"webhook private", "", `{"amount":1,"webhook_url":"https://10.0.0.7/h"}`, nil, 400, "invalid_parameter", "webhook_url"},
		{"webhook without a merchant secret", "b", `{"amount":1,"webhook_url":"https://hooks.b.example/h"}`, nil, 400, "invalid_parameter", "webhook_url"},
		{"webhook link-local", "", `{"amount":1,"webhook_url":"https://169.254.169.254/latest"}`, nil, 400, "invalid_parameter", "webhook_url"},
		{"webhook mapped loopback", "", `{"amount":1,"webhook_url":"https://[::ffff:127.0.0.1]/h"}`, nil, 400, "invalid_parameter", "webhook_url"},
		// Every internal host class (internal/hostclass), as the merchants
		// file and the delivery dialer refuse them.
		{"webhook localhost subdomain", "", `{"amount":1,"webhook_url":"https://api.localhost/h"}`, nil, 400, "invalid_parameter", "webhook_url"},
		{"webhook ipv6 private", "", `{"amount":1,"webhook_url":"https://[fd00::1]/h"}`, nil, 400, "invalid_parameter", "webhook_url"},
		{"webhook unspecified", "", `{"amount":1,"webhook_url":"https://0.0.0.0/h"}`, nil, 400, "invalid_parameter", "webhook_url"},
		{"webhook multicast", "", `{"amount":1,"webhook_url":"https://239.1.2.3/h"}`, nil, 400, "invalid_parameter", "webhook_url"},
		{"webhook carrier-grade NAT", "", `{"amount":1,"webhook_url":"https://100.64.0.1/h"}`, nil, 400, "invalid_parameter", "webhook_url"},
		{"webhook NAT64", "", `{"amount":1,"webhook_url":"https://[64:ff9b::a00:1]/h"}`, nil, 400, "invalid_parameter", "webhook_url"},
		{"expires too short", "", `{"amount":1,"expires_in":59}`, nil, 400, "invalid_parameter", "expires_in"},
		{"expires too long", "", `{"amount":1,"expires_in":86401}`, nil, 400, "invalid_parameter", "expires_in"},
		{"expires wrong type", "", `{"amount":1,"expires_in":"600"}`, nil, 400, "invalid_parameter", "expires_in"},
		{"wallet unknown", "", `{"amount":1,"wallets":["paypal"]}`, nil, 400, "invalid_parameter", "wallets"},
		{"wallet twice", "", `{"amount":1,"wallets":["wechat","wechat"]}`, nil, 400, "invalid_parameter", "wallets"},
		{"wallet not enabled", "", `{"amount":1,"store":"wx","wallets":["alipay"]}`, nil, 400, "invalid_parameter", "wallets"},
		{"wallets wrong type", "", `{"amount":1,"wallets":"wechat"}`, nil, 400, "invalid_parameter", "wallets"},
		{"metadata too many", "", `{"amount":1,"metadata":` + meta21 + `}`, nil, 400, "invalid_parameter", "metadata"},
		{"metadata number", "", `{"amount":1,"metadata":{"a":1}}`, nil, 400, "invalid_parameter", "metadata"},
		{"metadata long key", "", `{"amount":1,"metadata":{"` + strings.Repeat("k", 41) + `":"v"}}`, nil, 400, "invalid_parameter", "metadata"},
		{"metadata long value", "", `{"amount":1,"metadata":{"k":"` + strings.Repeat("v", 501) + `"}}`, nil, 400, "invalid_parameter", "metadata"},
		{"metadata empty key", "", `{"amount":1,"metadata":{"":"v"}}`, nil, 400, "invalid_parameter", "metadata"},
		{"unknown store", "", `{"amount":1,"store":"nope"}`, nil, 400, "invalid_parameter", "store"},
		{"test key on live store", "", `{"amount":1,"store":"live"}`, nil, 400, "invalid_parameter", "store"},
		{"live key on sandbox store", "live", `{"amount":1}`, nil, 400, "invalid_parameter", "store"},
		{"other merchant's host", "", `{"amount":1,"success_url":"https://b.example/ok"}`, nil, 400, "invalid_parameter", "success_url"},
		{"wrong port", "", `{"amount":1,"success_url":"https://pay.shop.example:9999/ok"}`, nil, 400, "invalid_parameter", "success_url"},
		{"wrong content type", "", `{"amount":1}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", ""},
		{"idempotency key too long", "", `{"amount":1}`, []string{"Idempotency-Key", strings.Repeat("k", 256)}, 400, "invalid_parameter", "Idempotency-Key"},
		{"oversize body", "", `{"amount":1,"description":"` + strings.Repeat("x", 70<<10) + `"}`, nil, 413, "body_too_large", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := e.keyA
			switch tt.key {
			case "live":
				key = e.liveA
			case "b":
				key = e.keyB
			}
			var r *response
			if tt.body == "" {
				r = e.do("POST", "/v1/checkouts", key, "", tt.hdr...)
			} else {
				r = e.do("POST", "/v1/checkouts", key, tt.body, tt.hdr...)
			}
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			code, param := r.errorOf(t)
			if code != tt.code || param != tt.param {
				t.Fatalf("error %s/%s, want %s/%s: %s", code, param, tt.code, tt.param, r.body)
			}
		})
	}
	// Nothing was stored by any of them.
	page, _, err := e.repo.List(context.Background(), "ma", checkout.ListQuery{Limit: 100})
	if err != nil || len(page) != 0 {
		t.Fatalf("rejected requests stored %d checkouts (%v)", len(page), err)
	}
}

// TestPrivateWebhooksAllowed: with CHECKOUT_ALLOW_PRIVATE_WEBHOOKS a
// checkout's webhook_url may be plain http on a private host, as the
// merchants file's may.
func TestPrivateWebhooksAllowed(t *testing.T) {
	e := newEnv(t, allowPrivateWebhooks)
	h := e.handler
	for _, u := range []string{"http://127.0.0.1:9000/hook", "http://localhost/h", "https://10.0.0.7/h"} {
		req := httptest.NewRequest("POST", "/v1/checkouts", strings.NewReader(fmt.Sprintf(`{"amount":1,"webhook_url":%q}`, u)))
		req.Header.Set("Authorization", "Bearer "+e.keyA)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusCreated || !strings.Contains(w.Body.String(), u) {
			t.Errorf("%s: %d %s", u, w.Code, w.Body)
		}
	}
}

func TestOpenRedirects(t *testing.T) {
	e := newEnv(t)
	bad := []string{
		"https://evil.com/",
		"http://evil.com",
		"https://allowed.com@evil.com",
		"https://shop.example@evil.com/",
		"https://shop.example:x@evil.com/",
		"//evil.com",
		"//shop.example/ok",
		"/relative/path",
		"javascript:alert(1)",
		"JavaScript://shop.example/%0aalert(1)",
		"data:text/html,hi",
		"https://shop.example.evil.com/",
		"https://evilshop.example/",
		"https://shop.example%2eevil.com/",
		"https:\\\\evil.com",
		"https:/\\evil.com",
		"https:evil.com",
		"https:///evil.com",
		"https://evil.com\\@shop.example/",
		"https://evil.com#@shop.example",
		"https://evil.com?@shop.example",
		" https://shop.example/",
		"https://shop.example /",
		"https://shop.example\t/",
		"ftp://shop.example/",
		"https://[::1]/",
		"https://",
	}
	for _, u := range bad {
		for _, field := range []string{"success_url", "cancel_url"} {
			body := fmt.Sprintf(`{"amount":1,%q:%q}`, field, u)
			r := e.do("POST", "/v1/checkouts", e.keyA, body)
			if r.status != http.StatusBadRequest {
				t.Errorf("%s %q: status %d, want 400", field, u, r.status)
				continue
			}
			if code, param := r.errorOf(t); code != "invalid_parameter" || param != field {
				t.Errorf("%s %q: error %s/%s", field, u, code, param)
			}
		}
	}
	good := []string{
		"https://shop.example/ok",
		"http://shop.example/ok?x=1#frag",
		"https://SHOP.example./ok",
		"https://shop.example:444/{CHECKOUT_ID}",
		"https://pay.shop.example:8443/x",
	}
	for _, u := range good {
		body := fmt.Sprintf(`{"amount":1,"success_url":%q}`, u)
		if r := e.do("POST", "/v1/checkouts", e.keyA, body); r.status != http.StatusCreated {
			t.Errorf("%q refused: %s", u, r.body)
		}
	}
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	body := `{"amount":1234,"description":"idem"}`
	first := e.do("POST", "/v1/checkouts", e.keyA, body, "Idempotency-Key", "order-1")
	if first.status != http.StatusCreated {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	again := e.do("POST", "/v1/checkouts", e.keyA, body, "Idempotency-Key", "order-1")
	if again.status != http.StatusCreated || string(again.body) != string(first.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s", again.status, again.body)
	}
	other := e.do("POST", "/v1/checkouts", e.keyA, `{"amount":4321}`, "Idempotency-Key", "order-1")
	if other.status != http.StatusConflict {
		t.Fatalf("conflict: %d %s", other.status, other.body)
	}
	if code, param := other.errorOf(t); code != "idempotency_conflict" || param != "Idempotency-Key" {
		t.Fatalf("conflict error %s/%s", code, param)
	}
	// Keys are per merchant: B's "order-1" is a new checkout.
	b := e.do("POST", "/v1/checkouts", e.keyB, body, "Idempotency-Key", "order-1")
	if b.status != http.StatusCreated || b.json(t)["id"] == first.json(t)["id"] {
		t.Fatalf("merchant B: %d %s", b.status, b.body)
	}
	// A rejected request does not burn its key.
	if r := e.do("POST", "/v1/checkouts", e.keyA, `{"amount":-1}`, "Idempotency-Key", "order-2"); r.status != 400 {
		t.Fatalf("invalid: %d", r.status)
	}
	if r := e.do("POST", "/v1/checkouts", e.keyA, `{"amount":1}`, "Idempotency-Key", "order-2"); r.status != 201 {
		t.Fatalf("retry after invalid: %d %s", r.status, r.body)
	}
	page, _, _ := e.repo.List(context.Background(), "ma", checkout.ListQuery{Limit: 100})
	if len(page) != 2 {
		t.Fatalf("merchant A has %d checkouts, want 2", len(page))
	}
}

func TestIdempotencyConcurrent(t *testing.T) {
	e := newEnv(t)
	const n = 20
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	ids := make(chan string, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do("POST", "/v1/checkouts", e.keyA, `{"amount":77}`, "Idempotency-Key", "race")
			statuses <- r.status
			if r.status == 201 {
				m := r.json(t)
				ids <- m["id"].(string)
			}
		}()
	}
	wg.Wait()
	close(statuses)
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	for s := range statuses {
		if s != 201 && s != 409 {
			t.Fatalf("status %d", s)
		}
	}
	if len(seen) != 1 {
		t.Fatalf("%d different checkouts for one idempotency key", len(seen))
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	tests := []struct{ name, header string }{
		{"missing", ""},
		{"basic", "Basic " + e.keyA},
		{"no key", "Bearer "},
		{"wrong key", "Bearer sk_test_wrong"},
		{"prefix of key", "Bearer " + e.keyA[:20]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, route := range [][2]string{{"POST", "/v1/checkouts"}, {"GET", "/v1/checkouts"}, {"GET", "/v1/checkouts/co_000000000000000000000000"}, {"POST", "/v1/checkouts/co_000000000000000000000000/cancel"}} {
				var hdr []string
				if tt.header != "" {
					hdr = []string{"Authorization", tt.header}
				}
				r := e.do(route[0], route[1], "", `{"amount":1}`, hdr...)
				if r.status != http.StatusUnauthorized {
					t.Fatalf("%s %s: status %d", route[0], route[1], r.status)
				}
				if code, _ := r.errorOf(t); code != "unauthorized" {
					t.Fatalf("code %s", code)
				}
				if r.header.Get("WWW-Authenticate") == "" {
					t.Fatal("no WWW-Authenticate")
				}
			}
		})
	}
	if strings.Contains(e.logs.String(), e.keyA) || strings.Contains(e.logs.String(), e.keyA[8:]) {
		t.Fatal("an API key reached the logs")
	}
}

func TestLogsNoSecrets(t *testing.T) {
	e := newEnv(t)
	m := e.create(e.keyA, `{"amount":1}`)
	e.do("GET", "/v1/checkouts/"+m["id"].(string), e.keyA, "")
	logs := e.logs.String()
	for _, s := range []string{e.keyA, e.keyA[len(checkout.TestKeyPrefix):], testOpenKey, "supervisor", m["client_secret"].(string)} {
		if strings.Contains(logs, s) {
			t.Fatalf("secret %.12q… in logs", s)
		}
	}
	if !strings.Contains(logs, `"request_id"`) || !strings.Contains(logs, `"merchant_id":"ma"`) {
		t.Fatalf("access log lacks request_id or merchant_id: %s", logs)
	}
}

// TestGarbageNever500 sends hostile bodies: every answer is a 4xx error
// body (or a 201 for the few that are valid).
func TestGarbageNever500(t *testing.T) {
	e := newEnv(t)
	bodies := []string{
		"\x00\x01\x02", "{", "}", `{"amount":1`, `{"amount":{}}`, `{"amount":[]}`, `{"amount":true}`, `{"amount":null}`,
		`{"metadata":null,"amount":null}`, `{"wallets":[null]}`, `{"wallets":[1]}`, `{"metadata":[]}`,
		`{"amount":1,"success_url":123}`, `{"amount":-9223372036854775808}`, `{"amount":9223372036854775807}`,
		`{"amount":9223372036854775807,"discount_amount":9223372036854775807}`,
		`{"amount":1,"original_amount":9223372036854775807,"discount_amount":9223372036854775807}`,
		`{"amount":1,"expires_in":9223372036854775807}`, `{"amount":1,"expires_in":-9223372036854775808}`,
		`{"amount":1,"description":"\ud800"}`, "{\"amount\":1,\"description\":\"\xff\xfe\"}",
		`{"__proto__":1}`, strings.Repeat("[", 100000), `{"amount":1e309}`, `{"amount":-0}`, `{"amount":0x10}`,
		"\xef\xbb\xbf{\"amount\":1}",
	}
	for _, b := range bodies {
		r := e.do("POST", "/v1/checkouts", e.keyA, b)
		if r.status < 400 || r.status >= 500 {
			if r.status == 201 {
				continue
			}
			t.Errorf("body %.40q: status %d %s", b, r.status, r.body)
			continue
		}
		r.errorOf(t)
	}
}

// A webhook_url for a merchant without webhook secrets is refused with the
// merchants file's own name for the setting to add (webhook.secrets), not
// a name that exists nowhere.
func TestCreateWebhookURLWithoutSecrets(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/v1/checkouts", e.keyB, `{"amount":100,"webhook_url":"https://hooks.b.example/x"}`)
	code, param := r.errorOf(t)
	if r.status != 400 || code != "invalid_parameter" || param != "webhook_url" {
		t.Fatalf("%d %s %s: %s", r.status, code, param, r.body)
	}
	if !strings.Contains(string(r.body), "webhook.secrets") || strings.Contains(string(r.body), "webhook_secrets") {
		t.Errorf("message %s, want it to name webhook.secrets in the merchants file", r.body)
	}
}

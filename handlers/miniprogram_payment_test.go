package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
)

func TestMiniProgramPayment(t *testing.T) {
	e := newPgEnv(t)
	mp := e.browser("", "mp") // the mini-program's wx.request: no cookies needed
	post := func(id string, body any) pgResp {
		t.Helper()
		raw, _ := json.Marshal(body)
		return mp.do(false, "POST", "/v1/checkouts/"+id+"/wechat-mini-program-payments", raw, nil)
	}

	ck := e.newCheckout("native", 1500)
	code := e.sim.MintMiniProgramCode(pgMiniApp, "mini-payer")
	r := post(ck.ID, map[string]string{"client_secret": ck.ClientSecret, "code": code})
	if r.status != 200 {
		t.Fatalf("happy path: %d %s", r.status, r.body)
	}
	var got map[string]string
	decodeJSON(t, r.body, &got)
	keys := make([]string, 0, len(got))
	for k, v := range got {
		keys = append(keys, k)
		if v == "" || strings.TrimSpace(v) != v {
			t.Errorf("%s = %q", k, v)
		}
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "appId,nonceStr,package,paySign,signType,timeStamp" {
		t.Fatalf("answer keys %v: must be exactly what wx.requestPayment takes", keys)
	}
	if got["appId"] != pgMiniApp {
		t.Fatalf("appId %q", got["appId"])
	}
	o := e.gw.orders()
	if len(o) != 1 || !o[0].JSAPI || o[0].SubAppID != pgMiniApp || o[0].SubOpenID != e.sim.OpenID(pgMiniApp, "mini-payer") || o[0].TradeAmount != 1500 {
		t.Fatalf("payorder %+v", o)
	}
	// wx.requestPayment pays with exactly these parameters.
	p := sandbox.WeChatPayParams{AppID: got["appId"], TimeStamp: got["timeStamp"], NonceStr: got["nonceStr"],
		Package: got["package"], SignType: got["signType"], PaySign: got["paySign"]}
	if err := e.sb.PayWeChatJSAPI(context.Background(), p, true); err != nil {
		t.Fatal(err)
	}

	expired := e.newCheckout("native", 100)
	if _, err := e.repo.Cancel(context.Background(), expired.ID); err != nil {
		t.Fatal(err)
	}
	fresh := e.newCheckout("native", 100)
	late := e.expiredCheckout("native")
	alipayOnly := e.newCheckout("native", 100, func(d *checkout.Draft) { d.Wallets = []checkout.Method{checkout.MethodAlipay} })
	tests := []struct {
		name   string
		id     string
		body   any
		status int
		code   string
	}{
		{"wrong secret", fresh.ID, map[string]string{"client_secret": ck.ClientSecret, "code": "x"}, 401, "invalid_client_secret"},
		{"no secret", fresh.ID, map[string]string{"code": "x"}, 401, "invalid_client_secret"},
		{"cancelled", expired.ID, map[string]string{"client_secret": expired.ClientSecret, "code": "x"}, 409, "checkout_cancelled"},
		{"expired", late.ID, map[string]string{"client_secret": late.ClientSecret, "code": "x"}, 409, "checkout_expired"},
		{"bad code", fresh.ID, map[string]string{"client_secret": fresh.ClientSecret, "code": "not-a-code"}, 400, "invalid_code"},
		{"no code", fresh.ID, map[string]string{"client_secret": fresh.ClientSecret}, 400, "invalid_code"},
		{"wallet not allowed", alipayOnly.ID, map[string]string{"client_secret": alipayOnly.ClientSecret, "code": "x"}, 409, "wallet_unavailable"},
		{"unknown checkout", "co_AAAAAAAAAAAAAAAAAAAAAAAA", map[string]string{"client_secret": "x", "code": "x"}, 404, "not_found"},
		{"encoded slashes in the id", "..%2F..%2Fetc", map[string]string{"client_secret": "x", "code": "x"}, 400, "invalid_path"},
		{"garbage id", "..etc", map[string]string{"client_secret": "x", "code": "x"}, 404, "not_found"},
		{"garbage body", fresh.ID, "not an object", 400, "invalid_request"},
		{"amount ignored", fresh.ID, map[string]any{"client_secret": fresh.ClientSecret, "code": e.sim.MintMiniProgramCode(pgMiniApp, "b"), "amount": 1}, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := post(tc.id, tc.body)
			if r.status != tc.status || tc.code != "" && !strings.Contains(r.body, `"code":"`+tc.code+`"`) {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
	if o := e.gw.orders(); o[len(o)-1].TradeAmount != 100 {
		t.Fatalf("amount from the body: %+v", o[len(o)-1])
	}

	// Once paid, 409 with a clear code, and no new order.
	before := len(e.gw.orders())
	waitStatus(t, e, ck.ID, checkout.StatusPaid)
	r = post(ck.ID, map[string]string{"client_secret": ck.ClientSecret, "code": e.sim.MintMiniProgramCode(pgMiniApp, "mini-payer")})
	if r.status != http.StatusConflict || !strings.Contains(r.body, `"code":"checkout_paid"`) {
		t.Fatalf("paid: %d %s", r.status, r.body)
	}
	if len(e.gw.orders()) != before {
		t.Fatal("a paid checkout got a new order")
	}
}

// waitStatus waits for the notify to land.
func waitStatus(t *testing.T, e *pgEnv, id string, want checkout.Status) {
	t.Helper()
	b := e.browser(uaDesktop, "watcher")
	for range 100 {
		r := b.get("/c/" + id + "/status")
		var s payStatus
		decodeJSON(t, r.body, &s)
		if s.Status == string(want) {
			return
		}
		e.sleep()
	}
	t.Fatalf("checkout %s never became %s", id, want)
}

package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
)

// TestPayEndpointOffers is issue 12's sixth defect over every place a page
// can be opened: POST /c/:id/pay starts exactly the ways to pay the page
// could have offered there, written out here from the rules (not from
// offerFor): WeChat's browser only WeChat (JSAPI in native mode, the
// cashier in redirect mode), Alipay's only Alipay likewise, a
// mini-program's web-view nothing, any other browser (phone or desktop)
// only QR codes. Each other way answers 409 method_not_offered and makes
// no attempt.
func TestPayEndpointOffers(t *testing.T) {
	e := newPgEnv(t)
	type way struct{ wallet, scenario string }
	all := []way{{"wechat", "jsapi"}, {"wechat", "jump"}, {"wechat", "qr"}, {"alipay", "jsapi"}, {"alipay", "jump"}, {"alipay", "qr"}}
	qr := []way{{"wechat", "qr"}, {"alipay", "qr"}}
	for _, tc := range []struct {
		name, ua string
		offered  map[string][]way // by store
	}{
		{"wechat ios", uaWeChatIOS, map[string][]way{"native": {{"wechat", "jsapi"}}, "redirect": {{"wechat", "jump"}}}},
		{"wechat android", uaWeChatAndroid, map[string][]way{"native": {{"wechat", "jsapi"}}, "redirect": {{"wechat", "jump"}}}},
		{"alipay", uaAlipay, map[string][]way{"native": {{"alipay", "jsapi"}}, "redirect": {{"alipay", "jump"}}}},
		{"mini-program", uaWeChatMini, map[string][]way{"native": nil, "redirect": nil}},
		{"phone browser", uaPhone, map[string][]way{"native": qr, "redirect": qr}},
		{"desktop", uaDesktop, map[string][]way{"native": qr, "redirect": qr}},
	} {
		for _, store := range []string{"native", "redirect"} {
			t.Run(tc.name+" "+store, func(t *testing.T) {
				ck := e.newCheckout(store, 300)
				b := e.browser(tc.ua, "offer")
				r, _, csrf := b.openPage(ck.ID)
				if r.status != http.StatusOK || csrf == "" {
					t.Fatalf("page: %d, csrf %q", r.status, csrf)
				}
				for _, w := range all {
					offered := false
					for _, o := range tc.offered[store] {
						offered = offered || o == w
					}
					before, _ := e.repo.Get(context.Background(), ck.ID)
					pr := b.pay(ck.ID, csrf, map[string]string{"wallet": w.wallet, "scenario": w.scenario})
					var out struct {
						Error struct{ Code string } `json:"error"`
					}
					_ = json.Unmarshal([]byte(pr.body), &out)
					after, _ := e.repo.Get(context.Background(), ck.ID)
					switch {
					case offered && pr.status != http.StatusOK:
						t.Errorf("%s/%s, offered here, answered %d %.200s", w.wallet, w.scenario, pr.status, pr.body)
					case !offered && (pr.status != http.StatusConflict || out.Error.Code != "method_not_offered"):
						t.Errorf("%s/%s, not offered here, answered %d %.200s, want 409 method_not_offered", w.wallet, w.scenario, pr.status, pr.body)
					case !offered && after.Attempts != before.Attempts:
						t.Errorf("%s/%s, refused, made an attempt", w.wallet, w.scenario)
					}
				}
			})
		}
	}
}

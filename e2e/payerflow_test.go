package e2e

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// TestWalletMismatchGuidance is issue 12's second defect: a checkout that
// the wallet the page is opened in cannot pay says which wallet it needs,
// accurately, in every language.
func TestWalletMismatchGuidance(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})
	for _, tc := range []struct {
		name    string
		dev     device
		wallets []string
		query   string
		want    []string
		notWant []string
	}{
		{"wechat only in alipay", alipayPhone, []string{"wechat"}, "", []string{"仅支持微信支付", "微信"}, []string{"仅支持支付宝"}},
		{"wechat only in alipay zh-Hant", alipayPhone, []string{"wechat"}, "?lang=zh-Hant", []string{"僅支援微信支付"}, []string{"僅支援支付寶"}},
		{"wechat only in alipay en", alipayPhone, []string{"wechat"}, "?lang=en", []string{"WeChat Pay only", "WeChat"}, []string{"Alipay only"}},
		{"alipay only in wechat", wechatPhone, []string{"alipay"}, "", []string{"仅支持支付宝", "浏览器"}, []string{"仅支持微信"}},
		{"alipay only in wechat en", wechatPhone, []string{"alipay"}, "?lang=en", []string{"Alipay only", "browser"}, []string{"WeChat Pay only"}},
		{"alipay only in a mini-program", miniProgram, []string{"alipay"}, "", []string{"仅支持支付宝", "小程序"}, []string{"仅支持微信"}},
		{"alipay only in a mini-program zh-Hant", miniProgram, []string{"alipay"}, "?lang=zh-TW", []string{"僅支援支付寶", "小程式"}, []string{"僅支援微信"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, u := s.createCheckout(map[string]any{"store": storeNative, "wallets": tc.wallets})
			tb := newTab(t, s, tc.dev)
			tb.open(u+tc.query, "[data-testid=guide-open-in-browser]")
			got := tb.text("[data-testid=guide-open-in-browser]")
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("the guidance says %q, want %q in it", got, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(got, w) {
					t.Errorf("the guidance says %q, the opposite of the truth (%q)", got, w)
				}
			}
			if tb.isVisible("[data-testid=pay-button]") {
				t.Error("a pay button for a wallet that cannot pay here")
			}
		})
	}
}

// TestLanguageSurvivesOAuth is issue 12's third defect: a first visit with
// ?lang= inside WeChat or Alipay goes through the wallet's OAuth and comes
// back in the chosen language.
func TestLanguageSurvivesOAuth(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})
	for _, tc := range []struct {
		name, query, lang, button string
		dev                       device
	}{
		{"wechat en", "?lang=en", "en", "Pay with WeChat Pay", wechatPhone},
		{"wechat zh-TW", "?lang=zh-TW", "zh-Hant", "微信支付", wechatPhone},
		{"alipay en", "?lang=en", "en", "Pay with Alipay", alipayPhone},
		{"alipay zh-Hant", "?lang=zh-Hant", "zh-Hant", "支付寶付款", alipayPhone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, u := s.createCheckout(map[string]any{"store": storeNative})
			tb := newTab(t, s, tc.dev)
			tb.open(u+tc.query, "[data-testid=pay-button]")
			if !tb.sawRequest("/oauth/") {
				t.Fatal("the first visit did not go through the wallet's OAuth")
			}
			if got := eval[string](tb, `document.documentElement.lang`); got != tc.lang {
				t.Errorf("after OAuth the page is in %q, want %q (at %s)", got, tc.lang, tb.location())
			}
			if got := tb.text("[data-testid=pay-button] .btn-label"); got != tc.button {
				t.Errorf("the pay button says %q, want %q", got, tc.button)
			}
		})
	}
	t.Run("a changed language does not pass", func(t *testing.T) {
		// The language is part of the signed way back: a callback whose
		// lang was changed on the way is refused like any forged state,
		// and the genuine one comes back to the page in its language.
		_, u := s.createCheckout(map[string]any{"store": storeNative})
		jar, _ := cookiejar.New(nil)
		cl := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		step := func(target string) *http.Response {
			t.Helper()
			r, _ := http.NewRequest(http.MethodGet, target, nil)
			r.Header.Set("User-Agent", uaWeChat)
			res, err := cl.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res
		}
		authorize := step(u + "?lang=en").Header.Get("Location")
		callback := step(authorize).Header.Get("Location")
		cu, err := url.Parse(callback)
		if err != nil || !strings.Contains(cu.Path, "/oauth/wechat") {
			t.Fatalf("the wallet came back to %q", callback)
		}
		q := cu.Query()
		q.Set("lang", "zh-Hans")
		bad := *cu
		bad.RawQuery = q.Encode()
		if res := step(bad.String()); res.StatusCode != http.StatusBadRequest {
			t.Errorf("a callback with its language changed answered %s, want 400", res.Status)
		}
		// The state is spent once the callback checked it: start again.
		authorize = step(u + "?lang=en").Header.Get("Location")
		callback = step(authorize).Header.Get("Location")
		res := step(callback)
		if loc := res.Header.Get("Location"); res.StatusCode != http.StatusFound || !strings.HasSuffix(loc, "?lang=en") {
			t.Errorf("the genuine callback answered %s to %q, want 302 back to the page with ?lang=en", res.Status, loc)
		}
	})
}

// TestPayOnlyWhatThePageOffers is issue 12's sixth defect: the pay endpoint
// accepts only the ways to pay the page could have offered where it was
// opened; anything else is refused in the payer's language and creates no
// order.
func TestPayOnlyWhatThePageOffers(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})
	for _, tc := range []struct {
		name     string
		dev      device
		store    string
		open     string
		wallet   string
		scenario string
		query    string
		want     string
	}{
		{"alipay jump from wechat", wechatPhone, storeRedirect, "[data-testid=pay-button]", "alipay", "jump", "", "当前环境"},
		{"wechat qr from wechat", wechatPhone, storeRedirect, "[data-testid=pay-button]", "wechat", "qr", "", "当前环境"},
		{"wechat jump from alipay", alipayPhone, storeRedirect, "[data-testid=pay-button]", "wechat", "jump", "?lang=en", "here"},
		{"alipay jump from a desktop", desktop, storeRedirect, "[data-testid=qr-image-wechat]", "alipay", "jump", "", "当前环境"},
		{"wechat jsapi from a desktop", desktop, storeNative, "[data-testid=qr-image-wechat]", "wechat", "jsapi", "?lang=zh-Hant", "目前環境"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, u := s.createCheckout(map[string]any{"store": tc.store})
			tb := newTab(t, s, tc.dev)
			tb.allow(`status of 4`)
			tb.open(u+tc.query, tc.open)
			before := len(s.orders(tc.store, id))
			ck := s.checkout(id)
			out := eval[string](tb, `(async function(){
				var app = document.getElementById("app");
				var r = await fetch(app.dataset.payUrl, {method: "POST", headers: {"Content-Type": "application/json", "X-CSRF-Token": app.dataset.csrf},
					body: JSON.stringify({wallet: "`+tc.wallet+`", scenario: "`+tc.scenario+`"})});
				var j = await r.json();
				return r.status + " " + ((j.error && j.error.code) || "") + " " + ((j.error && j.error.message) || "");
			})()`)
			if !strings.HasPrefix(out, "409 method_not_offered ") || !strings.Contains(out, tc.want) {
				t.Errorf("pay %s/%s answered %q, want 409 method_not_offered with %q in the message", tc.wallet, tc.scenario, out, tc.want)
			}
			if n := len(s.orders(tc.store, id)); n != before {
				t.Errorf("the refused request made %d gateway orders", n-before)
			}
			if after := s.checkout(id); after.Attempts != ck.Attempts || after.Status != ck.Status {
				t.Errorf("the refused request changed the checkout: %s/%d → %s/%d", ck.Status, ck.Attempts, after.Status, after.Attempts)
			}
		})
	}
}

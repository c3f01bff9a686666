package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/web/templates"
)

// TestLinkOAuthFirstVisit: a payer opening a link's page in WeChat or
// Alipay (a native-mode store) goes through the wallet's silent OAuth on
// that first visit, with a stateless signed state, and comes back to the
// link's page; the tap then knows the payer's wallet identity, so the same
// identity tapping again from a fresh browser (no cookie of the first)
// gets the same open checkout, and the checkout's page needs no second
// OAuth. Another payer gets a checkout of their own.
func TestLinkOAuthFirstVisit(t *testing.T) {
	e := newEmulatorEnv(t)
	l := e.newLink(checkout.LinkTerms{Amount: 1800, Description: "拿铁"})
	for _, tc := range []struct {
		name, ua, authorize, callback, action string
	}{
		{"wechat", uaWeChatIOS, "/connect/oauth2/authorize?", "/l/" + l.ID + "/oauth/wechat", templates.ActionWeChatJSAPI},
		{"alipay", uaAlipay, "/oauth2/publicAppAuthorize.htm?", "/l/" + l.ID + "/oauth/alipay", templates.ActionAlipayJSAPI},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := e.browser(tc.ua, "alice").do(false, "GET", "/l/"+l.ID+"?lang=en", nil, nil)
			loc := first.header.Get("Location")
			if first.status != http.StatusFound || !strings.HasPrefix(loc, e.srv.URL+app.EmulatorPath+tc.authorize) {
				t.Fatalf("first visit: %d to %q, want the wallet's authorize page", first.status, loc)
			}
			if !strings.Contains(loc, url.QueryEscape(e.srv.URL+tc.callback+"?lang=en")) || !strings.Contains(loc, "state=") {
				t.Fatalf("authorize URL %q lacks the link's callback or a state", loc)
			}
			tap := func(payer string) string {
				b := e.browser(tc.ua, payer)
				if r := b.get("/l/" + l.ID); r.status != http.StatusOK || r.url != e.srv.URL+"/l/"+l.ID {
					t.Fatalf("back from the OAuth: %d at %s", r.status, r.url)
				}
				id := checkoutOf(t, b.tapLink(l.ID, nil))
				if r := b.do(false, "GET", "/c/"+id, nil, nil); r.status != http.StatusOK {
					t.Fatalf("the checkout's page asks for OAuth again: %d %q", r.status, r.header.Get("Location"))
				}
				if _, action, _ := b.openPage(id); action != tc.action {
					t.Fatalf("checkout page action %q, want %q", action, tc.action)
				}
				return id
			}
			a1, a2 := tap("alice"), tap("alice")
			if a1 != a2 {
				t.Fatalf("the same wallet identity in two fresh browsers got %s and %s", a1, a2)
			}
			if b1 := tap("bob"); b1 == a1 {
				t.Fatal("another payer got alice's checkout")
			}
		})
	}

	// A callback without the round trip's browser binding, or with a
	// state of another page, is refused and keeps nothing.
	b := e.browser(uaWeChatIOS, "mallory")
	if r := b.do(false, "GET", "/l/"+l.ID+"/oauth/wechat?code=x&state=1deadbeef", nil, nil); r.status != http.StatusBadRequest {
		t.Fatalf("forged state: %d", r.status)
	}
	first := b.do(false, "GET", "/l/"+l.ID, nil, nil)
	state := mustQuery(t, first.header.Get("Location"), "state")
	other := e.newLink(checkout.LinkTerms{Amount: 100})
	if r := b.do(false, "GET", "/l/"+other.ID+"/oauth/wechat?code=x&state="+state, nil, nil); r.status != http.StatusBadRequest {
		t.Fatalf("another link's state: %d", r.status)
	}
}

func mustQuery(t *testing.T, raw, key string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Query().Get(key) == "" {
		t.Fatalf("no %s in %q", key, raw)
	}
	return u.Query().Get(key)
}

// TestLinkOAuthStoresNothing: 1,000 anonymous first visits of a link's page
// from WeChat's and Alipay's browsers (without following the redirect, as
// a preview or a crawler) and from desktop browsers create no key: the
// OAuth's state is signed, and its browser binding is a cookie.
func TestLinkOAuthStoresNothing(t *testing.T) {
	e := newEmulatorEnv(t)
	l := e.newLink(checkout.LinkTerms{Amount: 1800})
	before := e.dbKeys()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	for i := range 1000 {
		wg.Go(func() {
			ua, want := uaWeChatIOS, http.StatusFound
			switch i % 3 {
			case 1:
				ua = uaAlipay
			case 2:
				ua, want = uaDesktop, http.StatusOK
			}
			req, _ := http.NewRequest("GET", e.srv.URL+"/l/"+l.ID, nil)
			req.Header.Set("User-Agent", ua)
			res, err := noFollow.Do(req)
			if err != nil {
				mu.Lock()
				bad = append(bad, err.Error())
				mu.Unlock()
				return
			}
			res.Body.Close()
			if res.StatusCode != want {
				mu.Lock()
				bad = append(bad, res.Status)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d bad answers, first %q", len(bad), bad[0])
	}
	if after := e.dbKeys(); after != before {
		t.Fatalf("1000 first visits changed the key count: %d → %d", before, after)
	}
}

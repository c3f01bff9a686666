package templates

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/a-h/templ"
)

// direct is the page rendered without the cache, as the handler rendered
// it before: v.Nonce is the context's nonce.
func direct(t testing.TB, v CheckoutView) string {
	t.Helper()
	var b bytes.Buffer
	if err := CheckoutPage(v).Render(templ.WithNonce(context.Background(), v.Nonce), &b); err != nil {
		t.Fatalf("render: %v", err)
	}
	return b.String()
}

func cached(t testing.TB, pc *PageCache, v CheckoutView) string {
	t.Helper()
	var b bytes.Buffer
	if err := pc.WriteCheckoutPage(context.Background(), &b, v); err != nil {
		t.Fatalf("cached render: %v", err)
	}
	return b.String()
}

// perRequest gives v another request's nonce, CSRF token and time.
func perRequest(v CheckoutView, n int) CheckoutView {
	v.Nonce = fmt.Sprintf("nonce-%d", n)
	v.CSRFToken = fmt.Sprintf("%d.csrf-of-request-%d", n, n)
	v.Now = v.Now.Add(time.Duration(n) * 7 * time.Second)
	return v
}

// TestPageCacheSameMarkup: from the cache or not, a page is byte for byte
// the template's render of its view, per-request values included, in
// every action, language and wallet.
func TestPageCacheSameMarkup(t *testing.T) {
	actions := []string{ActionWeChatJSAPI, ActionWeChatRedirect, ActionAlipayJSAPI, ActionAlipayRedirect, ActionQR,
		ActionOpenInWallet, ActionSnapshot, ActionMiniProgramHandoff, ActionOpenInBrowser, ActionPaid, ActionExpired, ActionCancelled}
	pc := NewPageCache(4 << 20)
	for _, lang := range []string{LangZhHans, LangEn, LangZhHant} {
		for _, action := range actions {
			for _, wallets := range [][]string{{"wechat", "alipay"}, {"alipay"}} {
				base := checkoutView(action)
				base.Lang = lang
				base.Wallets = wallets
				base.Notice = "notice <b>&"
				for n := range 4 { // a miss, then hits with other requests' values
					v := perRequest(base, n)
					if got, want := cached(t, pc, v), direct(t, v); got != want {
						t.Fatalf("%s %s %v request %d: cached page differs from the render:\n%s\nwant\n%s", lang, action, wallets, n, got, want)
					}
				}
			}
		}
	}
	if pages, _ := pc.Len(); pages != 3*len(actions)*2 {
		t.Fatalf("%d pages cached, want one per view: %d", pages, 3*len(actions)*2)
	}
}

// TestPageCacheLongCountdown: the clock's h:mm:ss form, and a countdown run
// out, spliced in as the template writes them.
func TestPageCacheLongCountdown(t *testing.T) {
	pc := NewPageCache(1 << 20)
	v := checkoutView(ActionQR)
	for _, left := range []time.Duration{2*time.Hour + 3*time.Minute + 4*time.Second, 59 * time.Second, 0, -time.Minute} {
		v.Now = v.ExpiresAt.Add(-left)
		if got, want := cached(t, pc, v), direct(t, v); got != want {
			t.Fatalf("%v left: cached page differs from the render", left)
		}
	}
}

// TestPageCacheKeyCoversTheView changes each field of the view in turn:
// every one but the per-request ones must change the key, so no field the
// markup shows can be served from another view's page. A field added to
// CheckoutView or Page without a place in checkoutKey fails here.
func TestPageCacheKeyCoversTheView(t *testing.T) {
	perRequestFields := map[string]bool{"Nonce": true, "CSRFToken": true, "Now": true}
	base := checkoutView(ActionQR)
	baseKey := string(checkoutKey(nil, &base))
	var walk func(rv reflect.Value, path string)
	walk = func(rv reflect.Value, path string) {
		rt := rv.Type()
		for i := range rt.NumField() {
			f := rt.Field(i)
			if !f.IsExported() {
				continue
			}
			if f.Anonymous {
				walk(rv.Field(i), path+f.Name+".")
				continue
			}
			fv := rv.Field(i)
			old := reflect.ValueOf(fv.Interface())
			switch x := fv.Interface().(type) {
			case string:
				fv.SetString(x + "x")
			case int64:
				fv.SetInt(x + 1)
			case time.Time:
				fv.Set(reflect.ValueOf(x.Add(time.Nanosecond)))
			case []string:
				fv.Set(reflect.ValueOf(append(append([]string(nil), x...), "x")))
			case bool:
				fv.SetBool(!x)
			default:
				t.Fatalf("field %s%s of type %s: give it a place in checkoutKey and a case here", path, f.Name, f.Type)
			}
			changed := string(checkoutKey(nil, &base)) != baseKey
			if perRequestFields[f.Name] && changed {
				t.Errorf("%s%s is per request, yet changes the key: every request would render", path, f.Name)
			}
			if !perRequestFields[f.Name] && !changed {
				t.Errorf("%s%s does not change the key: views differing in it would share a page", path, f.Name)
			}
			fv.Set(old)
		}
	}
	walk(reflect.ValueOf(&base).Elem(), "")
	if string(checkoutKey(nil, &base)) != baseKey {
		t.Fatal("the walk did not restore the view")
	}
	// Length prefixes: moving text from one field to the next is another key.
	a, b := checkoutView(ActionQR), checkoutView(ActionQR)
	a.MerchantName, a.Description = "ab", "c"
	b.MerchantName, b.Description = "a", "bc"
	if string(checkoutKey(nil, &a)) == string(checkoutKey(nil, &b)) {
		t.Fatal("fields' boundaries are not in the key")
	}
}

// TestPageCacheBounded: the cache never holds more than its bytes, drops
// the least recently used page first, and renders a dropped page again.
func TestPageCacheBounded(t *testing.T) {
	one := len(direct(t, checkoutView(ActionQR)))
	// Room for about eleven pages: page 0 and the ten added between its uses.
	limit := 11 * (one + 600)
	pc := NewPageCache(limit)
	view := func(i int) CheckoutView {
		v := checkoutView(ActionQR)
		v.ID = fmt.Sprintf("co_%04d", i)
		return v
	}
	for i := range 100 {
		v := view(i)
		if got, want := cached(t, pc, v), direct(t, v); got != want {
			t.Fatalf("page %d differs", i)
		}
		if i%10 == 0 {
			cached(t, pc, view(0)) // page 0 stays recently used
		}
		pages, size := pc.Len()
		if size > limit {
			t.Fatalf("after %d pages: %d bytes cached, limit %d", i+1, size, limit)
		}
		if i >= 20 && pages < 5 {
			t.Fatalf("after %d pages only %d kept", i+1, pages)
		}
	}
	pc.mu.Lock()
	_, kept0 := pc.entries[string(checkoutKey(nil, ptr(view(0))))]
	_, kept1 := pc.entries[string(checkoutKey(nil, ptr(view(1))))]
	_, kept99 := pc.entries[string(checkoutKey(nil, ptr(view(99))))]
	pc.mu.Unlock()
	if !kept0 || kept1 || !kept99 {
		t.Fatalf("kept: page 0 (recently used) %v, page 1 (oldest) %v, page 99 (newest) %v", kept0, kept1, kept99)
	}
	if got, want := cached(t, pc, view(1)), direct(t, view(1)); got != want {
		t.Fatal("an evicted page rendered again differs")
	}

	// A page larger than an eighth of the cache is never kept.
	small := NewPageCache(one)
	cached(t, small, checkoutView(ActionQR))
	if pages, size := small.Len(); pages != 0 || size != 0 {
		t.Fatalf("an oversized page was kept: %d pages, %d bytes", pages, size)
	}
}

func ptr(v CheckoutView) *CheckoutView { return &v }

// TestPageCacheConcurrent: many requests at once, over a few pages and
// with evictions, each get their own values in their page (go test -race).
func TestPageCacheConcurrent(t *testing.T) {
	pc := NewPageCache(3 * 8 << 10) // room for about 3 pages: evictions too
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for n := range 50 {
				v := checkoutView([]string{ActionQR, ActionWeChatJSAPI, ActionPaid, ActionOpenInWallet, ActionExpired}[(g+n)%5])
				v.ID = fmt.Sprintf("co_%d", n%7)
				v = perRequest(v, g*1000+n)
				got := cached(t, pc, v)
				if want := direct(t, v); got != want {
					t.Errorf("goroutine %d request %d: page differs", g, n)
					return
				}
				if !strings.Contains(got, v.CSRFToken) {
					t.Errorf("goroutine %d request %d: its CSRF token missing", g, n)
					return
				}
			}
		})
	}
	wg.Wait()
	if _, size := pc.Len(); size > 3*8<<10 {
		t.Fatalf("%d bytes cached", size)
	}
}

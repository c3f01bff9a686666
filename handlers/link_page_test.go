package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/web/templates"
)

var reLinkCSRF = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// newLink stores an active link of the pages' merchant at store "native".
func (e *pgEnv) newLink(terms checkout.LinkTerms) *checkout.PaymentLink {
	e.t.Helper()
	terms.Active = true
	l, err := checkout.NewPaymentLink("m_pages", "native", terms, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.repo.CreateLink(context.Background(), l, nil, ""); err != nil {
		e.t.Fatal(err)
	}
	return l
}

// tapLink opens /l/:id and posts its form with form (the CSRF token of
// the page added), not following the redirect.
func (b *pgBrowser) tapLink(id string, form url.Values) pgResp {
	b.e.t.Helper()
	page := b.get("/l/" + id)
	if page.status != 200 {
		b.e.t.Fatalf("link page: %d", page.status)
	}
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", attr(reLinkCSRF, page.body))
	return b.do(false, "POST", "/l/"+id, []byte(form.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

// checkoutOf is the checkout a tap's redirect names.
func checkoutOf(t *testing.T, r pgResp) string {
	t.Helper()
	loc := r.header.Get("Location")
	if r.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/c/co_") {
		t.Fatalf("tap: %d %q %s", r.status, loc, r.body)
	}
	return strings.TrimPrefix(loc, "/c/")
}

// dbKeys counts the keys under the env's prefix, on every primary of a
// Cluster.
func (e *pgEnv) dbKeys() int {
	e.t.Helper()
	keys, err := redistest.Keys(e.rdb, e.prefix+"*")
	if err != nil {
		e.t.Fatal(err)
	}
	return len(keys)
}

// TestLinkPageStoresNothing: 1,000 anonymous GETs of a link's page (a
// crawler, link previews, WeChat's) add no key under the service's
// prefix and make no checkout. A desktop browser's view sets no cookie;
// WeChat's in-app browser is sent to the wallet's OAuth (a native store)
// with nothing but the cookie binding the signed state to it.
func TestLinkPageStoresNothing(t *testing.T) {
	e := newPgEnv(t)
	l := e.newLink(checkout.LinkTerms{Amount: 1500, Description: "拿铁", MaxPayments: 3})
	entered := e.newLink(checkout.LinkTerms{MinAmount: 100, MaxAmount: 10000, Presets: []int64{500}})
	before := e.dbKeys()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	for i := range 1000 {
		wg.Go(func() {
			id := l.ID
			ua := uaWeChatIOS
			if i%2 == 1 {
				id, ua = entered.ID, uaDesktop
			}
			req, _ := http.NewRequest("GET", e.srv.URL+"/l/"+id, nil)
			req.Header.Set("User-Agent", ua)
			res, err := noFollow.Do(req)
			if err != nil {
				mu.Lock()
				bad = append(bad, err.Error())
				mu.Unlock()
				return
			}
			res.Body.Close()
			want, cookies := 200, 0
			if ua == uaWeChatIOS {
				want, cookies = http.StatusFound, 1
			}
			set := res.Header.Values("Set-Cookie")
			if res.StatusCode != want || len(set) != cookies || cookies == 1 && !strings.Contains(set[0], "checkout_oauth=") {
				mu.Lock()
				bad = append(bad, res.Status+" "+strings.Join(res.Header.Values("Set-Cookie"), ";"))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d bad answers, first %q", len(bad), bad[0])
	}
	if after := e.dbKeys(); after != before {
		t.Fatalf("1000 GETs changed the key count under the prefix: %d → %d", before, after)
	}
	if cs, _, err := e.repo.ListByLink(context.Background(), "m_pages", l.ID, checkout.ListQuery{}); err != nil || len(cs) != 0 {
		t.Fatalf("GETs made %d checkouts (%v)", len(cs), err)
	}
	// Garbage ids are 404 without touching Redis.
	for _, p := range []string{"/l/pl_x", "/l/co_000000000000000000000000", "/l/pl_000000000000000000000000"} {
		if r := e.browser(uaDesktop, "x").get(p); r.status != 404 {
			t.Errorf("%s: %d", p, r.status)
		}
	}
}

// TestLinkKeypadAmounts: what a payer types on an entered-amount link,
// checked on the server: refusals re-render the keypad page with a clear
// message in the payer's language and make nothing; good amounts make a
// checkout of exactly that many fen.
func TestLinkKeypadAmounts(t *testing.T) {
	e := newPgEnv(t)
	l := e.newLink(checkout.LinkTerms{MinAmount: 100, MaxAmount: 50000, Presets: []int64{1000, 2550}, Description: "随意付"})
	for _, tc := range []struct {
		lang, in, msg string
		fen           int64
	}{
		{"zh-Hans", "abc", "请输入正确的金额", 0},
		{"zh-Hans", "", "请输入正确的金额", 0},
		{"zh-Hans", "-5", "请输入正确的金额", 0},
		{"zh-Hans", "1e3", "请输入正确的金额", 0},
		{"zh-Hans", "12.345", "金额最多保留两位小数", 0},
		{"zh-Hant", "0.99", "金額不能低於 ¥1.00", 0},
		{"en", "500.01", "The amount must be at most ¥500.00", 0},
		{"en", "99999999999999999999", "Enter a valid amount", 0},
		{"zh-Hans", "0.29", "金额不能低于 ¥1.00", 0},
		{"zh-Hans", "12.3", "", 1230},
		{"zh-Hans", "¥ 8", "", 800},
		{"en", "500", "", 50000},
		{"zh-Hans", "1.00", "", 100},
	} {
		t.Run(tc.lang+" "+tc.in, func(t *testing.T) {
			b := e.browser(uaDesktop, "p")
			b.ua = uaDesktop
			r := b.do(false, "GET", "/l/"+l.ID+"?lang="+tc.lang, nil, nil)
			form := url.Values{"amount": {tc.in}, "csrf": {attr(reLinkCSRF, r.body)}}
			res := b.do(false, "POST", "/l/"+l.ID+"?lang="+tc.lang, []byte(form.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
			if tc.msg != "" {
				if res.status != http.StatusBadRequest || !strings.Contains(res.body, tc.msg) || !strings.Contains(res.body, `data-testid="amount-error"`) {
					t.Fatalf("%d, want 400 with %q: %s", res.status, tc.msg, res.body)
				}
				if len(res.header.Values("Set-Cookie")) != 0 {
					t.Fatal("a refused amount set a cookie")
				}
				return
			}
			id := checkoutOf(t, res)
			co, err := e.repo.Get(context.Background(), strings.SplitN(id, "?", 2)[0])
			if err != nil || co.Amounts.Trade != tc.fen || co.PaymentLink != l.ID {
				t.Fatalf("checkout %+v %v, want %d fen", co, err, tc.fen)
			}
		})
	}
	// A preset button posts its value.
	id := checkoutOf(t, e.browser(uaDesktop, "q").tapLink(l.ID, url.Values{"preset": {"25.50"}, "amount": {""}}))
	if co, _ := e.repo.Get(context.Background(), id); co.Amounts.Trade != 2550 {
		t.Fatalf("preset: %d fen", co.Amounts.Trade)
	}
	// The page shows the range and the presets.
	page := e.browser(uaDesktop, "r").get("/l/" + l.ID)
	for _, want := range []string{"¥1.00 – ¥500.00", `inputmode="decimal"`, `value="25.50"`, "¥25.50"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("keypad page without %q", want)
		}
	}
}

// TestLinkFlowToPaid: a fixed link and an entered-amount link, each from
// the tap to a checkout paid through the sandbox (desktop QR), with
// payment_link on the checkout and its checkout.paid event; a second tap
// in the same browser while the checkout is open reuses it; a link
// deactivated shows its message and takes no tap.
func TestLinkFlowToPaid(t *testing.T) {
	e := newPgEnv(t)
	fixed := e.newLink(checkout.LinkTerms{Amount: 4310, Description: "拿铁"})
	entered := e.newLink(checkout.LinkTerms{MinAmount: 100, MaxAmount: 50000, Description: "随意付"})
	for _, tc := range []struct {
		l    *checkout.PaymentLink
		form url.Values
		fen  int64
	}{{fixed, url.Values{"amount": {"1"}}, 4310}, {entered, url.Values{"amount": {"43.20"}}, 4320}} {
		b := e.browser(uaDesktop, "payer")
		id := checkoutOf(t, b.tapLink(tc.l.ID, tc.form))
		again := checkoutOf(t, b.tapLink(tc.l.ID, tc.form))
		if again != id {
			t.Fatalf("a second tap made %s besides %s", again, id)
		}
		if other := checkoutOf(t, e.browser(uaDesktop, "other").tapLink(tc.l.ID, tc.form)); other == id {
			t.Fatal("another browser got the same checkout")
		}
		r, action, csrf := b.openPage(id)
		if r.status != 200 || action != templates.ActionQR {
			t.Fatalf("checkout page: %d %q", r.status, action)
		}
		pr := b.pay(id, csrf, map[string]string{"wallet": "wechat", "scenario": "qr"})
		if pr.status != 200 {
			t.Fatalf("pay: %d %s", pr.status, pr.body)
		}
		snap, _ := e.sb.Order(e.sbNative.OpenID, checkout.OutNo(id, 1))
		if err := e.sb.PayQRCode(context.Background(), snap.TradeQRCode); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		var co *checkout.Checkout
		for {
			var err error
			if co, err = e.repo.Get(context.Background(), id); err == nil && co.Status == checkout.StatusPaid {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("checkout not paid: %+v", co)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if co.PaymentLink != tc.l.ID || co.Amounts.Trade != tc.fen {
			t.Fatalf("paid checkout %+v", co)
		}
		var evs []*webhook.Record
		for {
			evs, _, _ = e.app.Webhooks.List(context.Background(), "m_pages", webhook.ListQuery{CheckoutID: id, Type: webhook.TypePaid})
			if len(evs) == 1 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if len(evs) != 1 || evs[0].Data.Checkout.PaymentLink != tc.l.ID {
			t.Fatalf("paid events %+v", evs)
		}
		if got, _ := e.repo.GetLink(context.Background(), tc.l.ID); got.Payments != 1 {
			t.Fatalf("link payments %d", got.Payments)
		}
		// Paid: a tap now makes a new checkout.
		if next := checkoutOf(t, b.tapLink(tc.l.ID, tc.form)); next == id {
			t.Fatal("a tap after payment reused the paid checkout")
		}
	}
	off, msg := false, "今日已打烊"
	if _, err := e.repo.UpdateLink(context.Background(), "m_pages", fixed.ID, checkout.LinkUpdate{Active: &off, InactiveMessage: &msg}, ""); err != nil {
		t.Fatal(err)
	}
	b := e.browser(uaWeChatIOS, "late")
	page := b.get("/l/" + fixed.ID)
	if page.status != 200 || !strings.Contains(page.body, msg) || strings.Contains(page.body, `data-testid="link-form"`) {
		t.Fatalf("inactive page: %d", page.status)
	}
	form := url.Values{"csrf": {attr(reLinkCSRF, e.browser(uaDesktop, "x").get("/l/"+entered.ID).body)}}
	if r := b.do(false, "POST", "/l/"+fixed.ID, []byte(form.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); r.status == http.StatusSeeOther {
		t.Fatal("a tap on an inactive link (with another link's token) went through")
	}
}

// TestLinkTapGuards: a tap from another origin, without or with a wrong
// token is refused and makes nothing.
func TestLinkTapGuards(t *testing.T) {
	e := newPgEnv(t)
	l := e.newLink(checkout.LinkTerms{Amount: 100})
	b := e.browser(uaDesktop, "g")
	form := url.Values{"csrf": {attr(reLinkCSRF, b.get("/l/"+l.ID).body)}}
	hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	if r := b.do(false, "POST", "/l/"+l.ID, []byte("csrf=nope"), hdr); r.status != http.StatusForbidden {
		t.Fatalf("wrong token: %d", r.status)
	}
	cross := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
	if r := b.do(false, "POST", "/l/"+l.ID, []byte(form.Encode()), cross); r.status != http.StatusForbidden {
		t.Fatalf("cross-site: %d", r.status)
	}
	big := []byte("csrf=" + strings.Repeat("a", 10<<10))
	if r := b.do(false, "POST", "/l/"+l.ID, big, hdr); r.status != http.StatusBadRequest {
		t.Fatalf("oversized form: %d", r.status)
	}
	if cs, _, _ := e.repo.ListByLink(context.Background(), "m_pages", l.ID, checkout.ListQuery{}); len(cs) != 0 {
		t.Fatalf("refused taps made %d checkouts", len(cs))
	}
}

// TestLinkTapsUnderLimit: 50 payers tap a link limited to 10 payments at
// once; 10 get a checkout, the other 40 the link's inactive message, and
// the link holds 10 reservations.
func TestLinkTapsUnderLimit(t *testing.T) {
	e := newPgEnv(t)
	l := e.newLink(checkout.LinkTerms{Amount: 990, MaxPayments: 10, InactiveMessage: "名额已满"})
	tok := attr(reLinkCSRF, e.browser(uaDesktop, "t").get("/l/"+l.ID).body)
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	for i := range 50 {
		wg.Go(func() {
			b := e.browser(uaDesktop, "payer"+string(rune('A'+i)))
			r := b.do(false, "POST", "/l/"+l.ID, []byte(url.Values{"csrf": {tok}}.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
			mu.Lock()
			defer mu.Unlock()
			counts[r.status]++
			if r.status == http.StatusConflict && !strings.Contains(r.body, "名额已满") {
				t.Error("a refused payer without the inactive message")
			}
		})
	}
	wg.Wait()
	if counts[http.StatusSeeOther] != 10 || counts[http.StatusConflict] != 40 {
		t.Fatalf("answers %v, want 10 × 303 and 40 × 409", counts)
	}
	if n, err := e.repo.LinkHeld(context.Background(), l.ID); err != nil || n != 10 {
		t.Fatalf("held %d %v", n, err)
	}
	if cs, _, _ := e.repo.ListByLink(context.Background(), "m_pages", l.ID, checkout.ListQuery{Limit: 100}); len(cs) != 10 {
		t.Fatalf("%d checkouts", len(cs))
	}
}

// TestLinkReuseBySameWallet: a payer whose wallet identity is known (the
// session the OAuth on the link's first visit started) gets their open checkout
// back from a second tap in another browser of the same wallet (no link
// cookie there); another payer gets one of their own.
func TestLinkReuseBySameWallet(t *testing.T) {
	e := newPgEnv(t)
	l := e.newLink(checkout.LinkTerms{Amount: 1200})
	u, _ := url.Parse(e.srv.URL)
	// withSession is a fresh browser of payer's wallet holding only the
	// session of one that went through OAuth.
	session := func(payer string) []*http.Cookie {
		b := e.browser(uaWeChatIOS, payer)
		first := checkoutOf(t, b.tapLink(l.ID, nil))
		if r := b.get("/c/" + first); r.status != 200 || !strings.Contains(r.url, "/c/"+first) {
			t.Fatalf("checkout page after OAuth: %d %s", r.status, r.url)
		}
		return b.c.Jar.Cookies(u)
	}
	withSession := func(payer string, cookies []*http.Cookie) *pgBrowser {
		b := e.browser(uaWeChatIOS, payer)
		b.c.Jar.SetCookies(u, cookies)
		return b
	}
	alice := session("alice")
	a1 := checkoutOf(t, withSession("alice", alice).tapLink(l.ID, nil))
	a2 := checkoutOf(t, withSession("alice", alice).tapLink(l.ID, nil))
	if a1 != a2 {
		t.Fatalf("the same wallet got %s, then %s", a1, a2)
	}
	bob := session("bob")
	if b1 := checkoutOf(t, withSession("bob", bob).tapLink(l.ID, nil)); b1 == a1 {
		t.Fatal("another payer got alice's checkout")
	}
	// No openid in any key name.
	keys, _ := redistest.Keys(e.rdb, e.prefix+"*pl:{"+l.ID+"}:who:*")
	if len(keys) != 2 {
		t.Fatalf("payer keys %v", keys)
	}
	for _, k := range keys {
		if strings.Contains(k, "alice") || strings.Contains(k, "bob") || strings.Contains(k, "oPayer") {
			t.Fatalf("an identity in a key name: %s", k)
		}
		if ttl, _ := e.rdb.PTTL(context.Background(), k).Result(); ttl <= 0 || ttl > checkout.LinkCheckoutTTL {
			t.Fatalf("%s lives %s", k, ttl)
		}
	}
}

var reLinkTap = regexp.MustCompile(`name="tap" value="([^"]*)"`)

// TestLinkDoubleTap: a double tap (the same page's form posted twice at
// once, before any cookie came back) and the same wallet identity tapping
// from two browsers at once each make ONE checkout and hold one slot.
func TestLinkDoubleTap(t *testing.T) {
	e := newPgEnv(t)
	ctx := context.Background()
	hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	taps := func(n int, post func(i int) pgResp) map[string]int {
		var wg sync.WaitGroup
		var mu sync.Mutex
		got := map[string]int{}
		for i := range n {
			wg.Go(func() {
				r := post(i)
				mu.Lock()
				defer mu.Unlock()
				if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/c/co_") {
					t.Errorf("tap %d: %d %q", i, r.status, r.header.Get("Location"))
					return
				}
				got[strings.TrimPrefix(r.header.Get("Location"), "/c/")]++
			})
		}
		wg.Wait()
		return got
	}
	made := func(l *checkout.PaymentLink) (int, int64) {
		cs, _, err := e.repo.ListByLink(ctx, "m_pages", l.ID, checkout.ListQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		held, err := e.repo.LinkHeld(ctx, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(cs), held
	}

	// One browser, one page, its form posted 4 times at once.
	l := e.newLink(checkout.LinkTerms{Amount: 1500, MaxPayments: 5})
	b := e.browser(uaDesktop, "double")
	page := b.get("/l/" + l.ID).body
	form := url.Values{"csrf": {attr(reLinkCSRF, page)}, "tap": {attr(reLinkTap, page)}}
	if form.Get("tap") == "" {
		t.Fatal("the link's page carries no tap token")
	}
	got := taps(4, func(int) pgResp { return b.do(false, "POST", "/l/"+l.ID, []byte(form.Encode()), hdr) })
	if n, held := made(l); len(got) != 1 || n != 1 || held != 1 {
		t.Fatalf("double tap: redirects %v, %d checkouts, %d slots held; want one", got, n, held)
	}
	// Another page (another payer) gets its own.
	other := e.browser(uaDesktop, "other")
	if id := checkoutOf(t, other.tapLink(l.ID, url.Values{"tap": {attr(reLinkTap, other.get("/l/"+l.ID).body)}})); got[id] != 0 {
		t.Fatal("another page's tap got the first payer's checkout")
	}

	// One wallet identity, two browsers (no link cookie, pages of their
	// own) tapping at once, after its earlier checkout was cancelled.
	l2 := e.newLink(checkout.LinkTerms{Amount: 1200, MaxPayments: 5})
	u, _ := url.Parse(e.srv.URL)
	first := e.browser(uaWeChatIOS, "alice")
	c0 := checkoutOf(t, first.tapLink(l2.ID, nil))
	if r := first.get("/c/" + c0); r.status != 200 {
		t.Fatalf("checkout page after OAuth: %d", r.status)
	}
	if _, err := e.repo.Cancel(ctx, c0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.repo.ReleaseLinkSlot(ctx, l2.ID, c0); err != nil {
		t.Fatal(err)
	}
	var forms [2]url.Values
	var bs [2]*pgBrowser
	for i := range bs {
		bs[i] = e.browser(uaWeChatIOS, "alice")
		for _, ck := range first.c.Jar.Cookies(u) {
			if !strings.HasPrefix(ck.Name, "pl_co_") {
				bs[i].c.Jar.SetCookies(u, []*http.Cookie{ck})
			}
		}
		p := bs[i].get("/l/" + l2.ID)
		forms[i] = url.Values{"csrf": {attr(reLinkCSRF, p.body)}, "tap": {attr(reLinkTap, p.body)}}
	}
	got = taps(2, func(i int) pgResp {
		return bs[i].do(false, "POST", "/l/"+l2.ID, []byte(forms[i].Encode()), hdr)
	})
	if n, held := made(l2); len(got) != 1 || got[c0] != 0 || n != 2 || held != 1 {
		t.Fatalf("same wallet at once: redirects %v, %d checkouts (with the cancelled one), %d held; want one new", got, n, held)
	}
}

var reLinkTerms = regexp.MustCompile(`name="terms" value="([^"]*)"`)

// TestLinkTapOnChangedTerms: the merchant changes the link's description
// (or, unused, its amount) between the payer's page and the tap: the tap
// makes nothing and gets the page again (409) with the new terms and a
// message in the payer's language; tapping that page pays the new terms.
func TestLinkTapOnChangedTerms(t *testing.T) {
	e := newPgEnv(t)
	ctx := context.Background()
	hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for i, tc := range []struct{ lang, msg string }{
		{"zh-Hans", "商家刚刚修改了付款内容"},
		{"zh-Hant", "商家剛剛修改了付款內容"},
		{"en", "The merchant has just changed this payment"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			l := e.newLink(checkout.LinkTerms{Amount: 1500, Description: "拿铁", MaxPayments: 5})
			b := e.browser(uaDesktop, "stale"+tc.lang)
			path := "/l/" + l.ID + "?lang=" + tc.lang
			page := b.get(path).body
			desc := "美式 " + tc.lang
			newAmount := &checkout.PaymentLink{Amount: 2000 + int64(i)}
			if _, err := e.repo.UpdateLink(ctx, "m_pages", l.ID, checkout.LinkUpdate{Description: &desc, Amounts: newAmount}, ""); err != nil {
				t.Fatal(err)
			}
			form := url.Values{"csrf": {attr(reLinkCSRF, page)}, "tap": {attr(reLinkTap, page)}, "terms": {attr(reLinkTerms, page)}}
			r := b.do(false, "POST", path, []byte(form.Encode()), hdr)
			if r.status != http.StatusConflict || !strings.Contains(r.body, tc.msg) || !strings.Contains(r.body, desc) ||
				!strings.Contains(r.body, `data-testid="link-changed"`) || !strings.Contains(r.body, templates.FormatFen(newAmount.Amount)) {
				t.Fatalf("tap on changed terms: %d %s", r.status, r.body)
			}
			if cs, _, _ := e.repo.ListByLink(ctx, "m_pages", l.ID, checkout.ListQuery{}); len(cs) != 0 {
				t.Fatalf("%d checkouts made on stale terms", len(cs))
			}
			again := url.Values{"csrf": {attr(reLinkCSRF, r.body)}, "tap": {attr(reLinkTap, r.body)}, "terms": {attr(reLinkTerms, r.body)}}
			id := checkoutOf(t, b.do(false, "POST", path, []byte(again.Encode()), hdr))
			if co, err := e.repo.Get(ctx, strings.SplitN(id, "?", 2)[0]); err != nil || co.Amounts.Trade != newAmount.Amount || co.Description != desc {
				t.Fatalf("tap on the new page: %+v %v", co, err)
			}
		})
	}
}

// TestLinkRefusalsByType: each way a link stops taking payers, applied
// after the payer's page was shown: the tap gets the page that says so
// (the merchant's inactive message, or the catalogue's; the gone page for
// a deleted link), the page itself says so too, and nothing is made or
// held.
func TestLinkRefusalsByType(t *testing.T) {
	e := newPgEnv(t)
	ctx := context.Background()
	hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for _, tc := range []struct {
		name   string
		terms  checkout.LinkTerms
		refuse func(l *checkout.PaymentLink)
		status int
		want   string
	}{
		{"inactive by merchant", checkout.LinkTerms{Amount: 900, InactiveMessage: "今日休息"}, func(l *checkout.PaymentLink) {
			off := false
			if _, err := e.repo.UpdateLink(ctx, "m_pages", l.ID, checkout.LinkUpdate{Active: &off}, ""); err != nil {
				t.Fatal(err)
			}
		}, http.StatusConflict, "今日休息"},
		{"past active_until", checkout.LinkTerms{Amount: 900, ActiveUntil: time.Now().Add(time.Hour)}, func(l *checkout.PaymentLink) {
			past := time.Now().Add(-time.Second)
			if _, err := e.repo.UpdateLink(ctx, "m_pages", l.ID, checkout.LinkUpdate{ActiveUntil: &past}, ""); err != nil {
				t.Fatal(err)
			}
		}, http.StatusConflict, "此收款链接暂不可用"},
		{"limit reached", checkout.LinkTerms{Amount: 900, MaxPayments: 1, InactiveMessage: "已售罄"}, func(l *checkout.PaymentLink) {
			co, err := e.repo.CreateFromLink(ctx, l, 900, "", checkout.LinkTap{})
			if err != nil {
				t.Fatal(err)
			}
			if u, err := e.repo.ConsumeLinkSlot(ctx, l.ID, co.ID, false); err != nil || !u.Deactivated {
				t.Fatalf("pay the one payment: %+v %v", u, err)
			}
		}, http.StatusConflict, "已售罄"},
		{"deleted", checkout.LinkTerms{Amount: 900}, func(l *checkout.PaymentLink) {
			if _, err := e.app.Payments.DeleteLink(ctx, "m_pages", l.ID); err != nil {
				t.Fatal(err)
			}
		}, http.StatusNotFound, "该收款码已失效"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := e.newLink(tc.terms)
			b := e.browser(uaDesktop, "refused")
			page := b.get("/l/" + l.ID).body
			tc.refuse(l)
			before := e.dbKeys()
			form := url.Values{"csrf": {attr(reLinkCSRF, page)}, "tap": {attr(reLinkTap, page)}, "terms": {attr(reLinkTerms, page)}}
			r := b.do(false, "POST", "/l/"+l.ID, []byte(form.Encode()), hdr)
			if r.status != tc.status || !strings.Contains(r.body, tc.want) || strings.Contains(r.body, `data-testid="link-form"`) {
				t.Fatalf("tap: %d, want %d with %q: %s", r.status, tc.status, tc.want, r.body)
			}
			if len(r.header.Values("Set-Cookie")) != 0 || e.dbKeys() != before {
				t.Fatal("a refused tap stored something")
			}
			if g := b.get("/l/" + l.ID); !strings.Contains(g.body, tc.want) || strings.Contains(g.body, `data-testid="link-form"`) {
				t.Fatalf("the page: %d %s", g.status, g.body)
			}
			if n, _ := e.repo.LinkHeld(ctx, l.ID); n != 0 {
				t.Fatalf("%d slots held", n)
			}
		})
	}
}

// TestLinkTapTokenReplayed: payer A's page token, posted by another
// payer (bob's wallet, or a desktop browser with no identity) while A's
// checkout is open, makes that payer's own checkout: a page's token
// copied or replayed never hands out another payer's checkout.
func TestLinkTapTokenReplayed(t *testing.T) {
	e := newPgEnv(t)
	l := e.newLink(checkout.LinkTerms{Amount: 1200, MaxPayments: 10})
	u, _ := url.Parse(e.srv.URL)
	// wallet is a browser of payer's wallet past the OAuth (its session,
	// no link cookie, its first checkout cancelled), and the tap token of
	// a fresh page of the link.
	wallet := func(payer string) (*pgBrowser, url.Values) {
		b := e.browser(uaWeChatIOS, payer)
		first := checkoutOf(t, b.tapLink(l.ID, nil))
		if r := b.get("/c/" + first); r.status != 200 {
			t.Fatalf("checkout page after OAuth: %d", r.status)
		}
		// Ended, so that the next tap claims its page token afresh.
		if _, err := e.repo.Cancel(context.Background(), first); err != nil {
			t.Fatal(err)
		}
		fresh := e.browser(uaWeChatIOS, payer)
		for _, ck := range b.c.Jar.Cookies(u) {
			if !strings.HasPrefix(ck.Name, "pl_co_") {
				fresh.c.Jar.SetCookies(u, []*http.Cookie{ck})
			}
		}
		return fresh, url.Values{"tap": {attr(reLinkTap, fresh.get("/l/"+l.ID).body)}}
	}
	alice, aliceForm := wallet("alice")
	bob, _ := wallet("bob")
	a := checkoutOf(t, alice.tapLink(l.ID, url.Values{"tap": aliceForm["tap"]}))
	for name, b := range map[string]*pgBrowser{"bob": bob, "desktop": e.browser(uaDesktop, "d")} {
		if got := checkoutOf(t, b.tapLink(l.ID, url.Values{"tap": aliceForm["tap"]})); got == a {
			t.Fatalf("%s replaying alice's page token got her checkout %s", name, a)
		}
	}
}

// TestLinkRetapAfterDeactivation: the merchant switches a link off while
// a payer's checkout from it is open: a new payer gets the inactive
// message, but the payer's second tap (or a refresh of the tap) in the
// same browser still goes back to their open checkout, which finishes.
func TestLinkRetapAfterDeactivation(t *testing.T) {
	e := newPgEnv(t)
	hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for _, terms := range []checkout.LinkTerms{
		{Amount: 1500, InactiveMessage: "今日售罄"},
		{MinAmount: 100, MaxAmount: 5000, InactiveMessage: "今日售罄"},
	} {
		l := e.newLink(terms)
		b := e.browser(uaDesktop, "payer")
		page := b.get("/l/" + l.ID).body
		form := url.Values{"csrf": {attr(reLinkCSRF, page)}, "tap": {attr(reLinkTap, page)}, "terms": {attr(reLinkTerms, page)}}
		if l.EnteredAmount() {
			form.Set("amount", "12.50")
		}
		tap := func() pgResp { return b.do(false, "POST", "/l/"+l.ID, []byte(form.Encode()), hdr) }
		first := checkoutOf(t, tap())
		off := false
		if _, err := e.repo.UpdateLink(context.Background(), "m_pages", l.ID, checkout.LinkUpdate{Active: &off}, ""); err != nil {
			t.Fatal(err)
		}
		if r := e.browser(uaDesktop, "new").get("/l/" + l.ID); !strings.Contains(r.body, "今日售罄") || strings.Contains(r.body, `name="tap"`) {
			t.Fatalf("a new payer after the deactivation: %d, no inactive message or a pay form", r.status)
		}
		if again := checkoutOf(t, tap()); again != first {
			t.Fatalf("the payer's second tap got %s, want their open checkout %s", again, first)
		}
	}
}

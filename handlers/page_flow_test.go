package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/sessions"
	"github.com/wallet-checkout/checkout/web/templates"
)

type pgPayAnswer struct {
	Kind   string `json:"kind"`
	WeChat *struct {
		AppID     string `json:"appId"`
		TimeStamp string `json:"timeStamp"`
		NonceStr  string `json:"nonceStr"`
		Package   string `json:"package"`
		SignType  string `json:"signType"`
		PaySign   string `json:"paySign"`
	} `json:"wechat"`
	TradeNO     string `json:"trade_no"`
	RedirectURL string `json:"redirect_url"`
	QRImageURL  string `json:"qr_image_url"`
	ResultURL   string `json:"result_url"`
	Error       *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// openPage opens /c/:id and returns the final response, its action and
// CSRF token.
func (b *pgBrowser) openPage(id string) (pgResp, string, string) {
	b.e.t.Helper()
	r := b.get("/c/" + id)
	return r, attr(reAction, r.body), attr(reCSRF, r.body)
}

func TestWeChatNativeFlow(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 1234)
	b := e.browser(uaWeChatIOS, "alice")

	// The first visit goes through WeChat's OAuth and back.
	first := b.do(false, "GET", "/c/"+ck.ID, nil, nil)
	if first.status != http.StatusFound {
		t.Fatalf("first visit: %d, want a redirect to OAuth", first.status)
	}
	loc, _ := url.Parse(first.header.Get("Location"))
	q := loc.Query()
	if !strings.HasPrefix(loc.String(), e.srv.URL+"/walletsim/") || q.Get("appid") != pgOfficialApp ||
		q.Get("scope") != "snsapi_base" || q.Get("redirect_uri") != e.srv.URL+"/c/"+ck.ID+"/oauth/wechat" || len(q.Get("state")) < 16 {
		t.Fatalf("authorize URL %s", loc)
	}
	r, action, csrf := b.openPage(ck.ID)
	if r.status != 200 || action != templates.ActionWeChatJSAPI || csrf == "" || r.url != e.srv.URL+"/c/"+ck.ID {
		t.Fatalf("page after OAuth: %d %q %q at %s", r.status, action, csrf, r.url)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	csp := r.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self' 'nonce-") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	nonce := csp[strings.Index(csp, "'nonce-")+7:]
	nonce = nonce[:strings.Index(nonce, "'")]
	if !strings.Contains(r.body, `nonce="`+nonce+`"`) {
		t.Errorf("the page's script tag lacks the CSP nonce")
	}
	if strings.Contains(r.body, "<script>alert(1)</script>") || !strings.Contains(r.body, "&lt;script&gt;") {
		t.Errorf("the description is not escaped")
	}
	if !strings.Contains(r.body, "¥12.34") {
		t.Errorf("amount missing")
	}
	// The next checkout needs no redirect: the openid is in the session.
	ck2 := e.newCheckout("native", 500)
	if r := b.do(false, "GET", "/c/"+ck2.ID, nil, nil); r.status != 200 || attr(reAction, r.body) != templates.ActionWeChatJSAPI {
		t.Fatalf("second checkout: %d", r.status)
	}

	// Pay, with an amount in the body that must be ignored.
	pr := b.pay(ck.ID, csrf, map[string]any{"wallet": "wechat", "scenario": "jsapi", "amount": 1, "trade_amount": 1})
	var ans pgPayAnswer
	decodeJSON(t, pr.body, &ans)
	if pr.status != 200 || ans.Kind != "wechat_jsapi" || ans.WeChat == nil {
		t.Fatalf("pay: %d %s", pr.status, pr.body)
	}
	w := ans.WeChat
	for _, v := range []string{w.AppID, w.TimeStamp, w.NonceStr, w.Package, w.SignType, w.PaySign} {
		if v == "" || strings.TrimSpace(v) != v {
			t.Fatalf("bridge parameter %q empty or untrimmed: %s", v, pr.body)
		}
	}
	if w.AppID != pgOfficialApp || ans.ResultURL != "/c/"+ck.ID+"/result" {
		t.Fatalf("answer %s", pr.body)
	}
	orders := e.gw.orders()
	if len(orders) != 1 || orders[0].TradeAmount != 1234 || !orders[0].JSAPI || orders[0].SubAppID != pgOfficialApp ||
		orders[0].SubOpenID != e.sim.OpenID(pgOfficialApp, "alice") || orders[0].NotifyURL != e.srv.URL+"/notify/"+e.sbNative.OpenID {
		t.Fatalf("payorder %+v", orders)
	}

	// The bridge pays at the sandbox; the result page's stream sees paid.
	events := e.openEvents(t, ck.ID)
	if first := events.next(t); first["status"] != "pending" {
		t.Fatalf("initial event %v", first)
	}
	p := sandbox.WeChatPayParams{AppID: w.AppID, TimeStamp: w.TimeStamp, NonceStr: w.NonceStr, Package: w.Package, SignType: w.SignType, PaySign: w.PaySign}
	if err := e.sb.PayWeChatJSAPI(context.Background(), p, true); err != nil {
		t.Fatal(err)
	}
	if ev := events.next(t); ev["status"] != "paid" {
		t.Fatalf("event after paying: %v", ev)
	}
	events.wantClosed(t)

	// Re-opening a paid checkout shows it paid and never charges again.
	if _, action, _ := b.openPage(ck.ID); action != templates.ActionPaid {
		t.Fatalf("paid checkout page action %q", action)
	}
	if pr := b.pay(ck.ID, csrf, map[string]string{"wallet": "wechat", "scenario": "jsapi"}); pr.status != http.StatusConflict || !strings.Contains(pr.body, "checkout_paid") {
		t.Fatalf("paying a paid checkout: %d %s", pr.status, pr.body)
	}
	if n := len(e.gw.orders()); n != 1 {
		t.Fatalf("%d payorders", n)
	}
	res := b.get("/c/" + ck.ID + "/result")
	if res.status != 200 || !strings.Contains(res.body, "https://shop.example/ok?c="+ck.ID) || !strings.Contains(res.body, `data-status="paid"`) {
		t.Fatalf("result page: %d %s", res.status, res.body)
	}
}

// pgEvents reads a server-sent event stream.
type pgStream struct {
	ch   chan map[string]any
	done chan struct{}
}

func (e *pgEnv) openEvents(t *testing.T, id string) *pgStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/c/"+id+"/events", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	s := &pgStream{ch: make(chan map[string]any, 16), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer res.Body.Close()
		buf := make([]byte, 4096)
		var pending string
		for {
			n, err := res.Body.Read(buf)
			pending += string(buf[:n])
			for {
				i := strings.Index(pending, "\n\n")
				if i < 0 {
					break
				}
				block := pending[:i]
				pending = pending[i+2:]
				for _, line := range strings.Split(block, "\n") {
					if d, ok := strings.CutPrefix(line, "data: "); ok {
						var m map[string]any
						if json.Unmarshal([]byte(d), &m) == nil {
							s.ch <- m
						}
					}
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return s
}

func (s *pgStream) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case m := <-s.ch:
		return m
	case <-time.After(15 * time.Second):
		t.Fatal("no event within 15 s")
		return nil
	}
}

func (s *pgStream) wantClosed(t *testing.T) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream stayed open after a final state")
	}
}

func TestOAuthStateHandling(t *testing.T) {
	clk := newPgClock()
	e := newPgEnv(t, withClock(clk))
	ck := e.newCheckout("native", 100)
	other := e.newCheckout("native", 100)

	start := func(b *pgBrowser, id string) url.Values {
		t.Helper()
		r := b.do(false, "GET", "/c/"+id, nil, nil)
		if r.status != http.StatusFound {
			t.Fatalf("no OAuth redirect: %d", r.status)
		}
		loc, _ := url.Parse(r.header.Get("Location"))
		return loc.Query()
	}
	callback := func(b *pgBrowser, id, code, state string) pgResp {
		t.Helper()
		return b.do(false, "GET", "/c/"+id+"/oauth/wechat?"+url.Values{"code": {code}, "state": {state}}.Encode(), nil, nil)
	}

	t.Run("state mismatch", func(t *testing.T) {
		b := e.browser(uaWeChatIOS, "mallory")
		start(b, ck.ID)
		code := e.sim.MintOAuthCode(pgOfficialApp, "mallory", false)
		if r := callback(b, ck.ID, code, "forged-state-forged-state"); r.status != http.StatusBadRequest {
			t.Fatalf("forged state: %d", r.status)
		}
		// The forged attempt also burnt the real state: one check per state.
		if r := b.do(false, "GET", "/c/"+ck.ID, nil, nil); r.status != http.StatusFound {
			t.Fatalf("the payer must start over: %d", r.status)
		}
	})
	t.Run("state reuse", func(t *testing.T) {
		b := e.browser(uaWeChatIOS, "bob")
		q := start(b, ck.ID)
		state := q.Get("state")
		// A callback with the right state but another browser's session.
		thief := e.browser(uaWeChatIOS, "thief")
		if r := callback(thief, ck.ID, e.sim.MintOAuthCode(pgOfficialApp, "thief", false), state); r.status != http.StatusBadRequest {
			t.Fatalf("state in another session: %d", r.status)
		}
		if r := callback(b, ck.ID, e.sim.MintOAuthCode(pgOfficialApp, "bob", false), state); r.status != http.StatusFound {
			t.Fatalf("the payer's own callback: %d %s", r.status, r.body)
		}
		// A refresh of the callback (code reused) keeps the identity.
		if r := callback(b, ck.ID, "used-code", state); r.status != http.StatusFound || r.header.Get("Location") != "/c/"+ck.ID {
			t.Fatalf("refresh of the callback: %d %s", r.status, r.header.Get("Location"))
		}
	})
	t.Run("state for another checkout", func(t *testing.T) {
		b := e.browser(uaWeChatIOS, "carol")
		q := start(b, ck.ID)
		if r := callback(b, other.ID, e.sim.MintOAuthCode(pgOfficialApp, "carol", false), q.Get("state")); r.status != http.StatusBadRequest {
			t.Fatalf("state of another checkout: %d", r.status)
		}
	})
	t.Run("state expired", func(t *testing.T) {
		b := e.browser(uaWeChatIOS, "dave")
		q := start(b, ck.ID)
		// The round trip took longer than the state's lifetime.
		clk.Advance(sessions.StateLifetime + time.Second)
		defer clk.Advance(-sessions.StateLifetime - time.Second)
		if r := callback(b, ck.ID, e.sim.MintOAuthCode(pgOfficialApp, "dave", false), q.Get("state")); r.status != http.StatusBadRequest {
			t.Fatalf("expired state: %d", r.status)
		}
	})
	t.Run("snapshot user", func(t *testing.T) {
		b := e.browser(uaWeChatIOS, "erin")
		q := start(b, ck.ID)
		r := callback(b, ck.ID, e.sim.MintOAuthCode(pgOfficialApp, "erin", true), q.Get("state"))
		if r.status != 200 || attr(reAction, r.body) != templates.ActionSnapshot {
			t.Fatalf("snapshot: %d %q", r.status, attr(reAction, r.body))
		}
		// The virtual openid was not kept: paying is impossible.
		pr := b.pay(ck.ID, attr(reCSRF, r.body), map[string]string{"wallet": "wechat", "scenario": "jsapi"})
		if pr.status != http.StatusConflict || !strings.Contains(pr.body, "identity_required") {
			t.Fatalf("pay as snapshot user: %d %s", pr.status, pr.body)
		}
	})
	t.Run("bad code", func(t *testing.T) {
		b := e.browser(uaWeChatIOS, "frank")
		q := start(b, ck.ID)
		if r := callback(b, ck.ID, "not-a-code", q.Get("state")); r.status != http.StatusBadRequest {
			t.Fatalf("bad code: %d", r.status)
		}
	})
}

func TestAlipayNativeFlow(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 2000)
	b := e.browser(uaAlipay, "zhang")
	r, action, csrf := b.openPage(ck.ID)
	if r.status != 200 || action != templates.ActionAlipayJSAPI || r.url != e.srv.URL+"/c/"+ck.ID {
		t.Fatalf("page: %d %q at %s", r.status, action, r.url)
	}
	pr := b.pay(ck.ID, csrf, map[string]string{"wallet": "alipay", "scenario": "jsapi"})
	var ans pgPayAnswer
	decodeJSON(t, pr.body, &ans)
	if pr.status != 200 || ans.Kind != "alipay_jsapi" || ans.TradeNO == "" {
		t.Fatalf("pay: %d %s", pr.status, pr.body)
	}
	if o := e.gw.orders(); len(o) != 1 || o[0].BuyerID != e.sim.AlipayUserID(pgAlipayApp, "zhang") {
		t.Fatalf("payorder %+v", o)
	}
	if err := e.sb.PayAlipayTrade(context.Background(), ans.TradeNO, true); err != nil {
		t.Fatal(err)
	}
	// The page asks for a check; the gateway says paid.
	deadline := time.Now().Add(10 * time.Second)
	for {
		cr := b.do(false, "POST", "/c/"+ck.ID+"/check", nil, map[string]string{"X-CSRF-Token": csrf})
		var s map[string]any
		decodeJSON(t, cr.body, &s)
		if s["status"] == "paid" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never paid: %s", cr.body)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func TestRedirectModeAndReturn(t *testing.T) {
	e := newPgEnv(t)
	for _, tc := range []struct {
		ua, wallet, action string
	}{
		{uaWeChatAndroid, "wechat", templates.ActionWeChatRedirect},
		{uaAlipay, "alipay", templates.ActionAlipayRedirect},
	} {
		t.Run(tc.wallet, func(t *testing.T) {
			ck := e.newCheckout("redirect", 990)
			b := e.browser(tc.ua, "p-"+tc.wallet)
			r, action, csrf := b.openPage(ck.ID)
			if r.status != 200 || action != tc.action {
				t.Fatalf("page: %d %q", r.status, action)
			}
			pr := b.pay(ck.ID, csrf, map[string]string{"wallet": tc.wallet, "scenario": "jump"})
			var ans pgPayAnswer
			decodeJSON(t, pr.body, &ans)
			if pr.status != 200 || ans.Kind != "redirect" || !strings.HasPrefix(ans.RedirectURL, e.srv.URL+"/sandbox/pay/") {
				t.Fatalf("pay: %d %s", pr.status, pr.body)
			}
			o := e.gw.orders()
			if last := o[len(o)-1]; last.JumpURL != e.srv.URL+"/c/"+ck.ID+"/return" || last.JSAPI {
				t.Fatalf("payorder %+v", last)
			}
			// The hosted pay page works and its order pays.
			if pp := b.get(ans.RedirectURL); pp.status != 200 {
				t.Fatalf("sandbox pay page: %d", pp.status)
			}
			snap, ok := e.sb.Order(e.sbRedir.OpenID, checkout.OutNo(ck.ID, 1))
			if !ok {
				t.Fatal("no sandbox order")
			}
			if err := e.sb.PayOrderNo(context.Background(), snap.OrdNo); err != nil {
				t.Fatal(err)
			}
			// Back through a signed jump to the result page.
			q := e.jumpQuery(e.sbRedir, snap.OrdNo, snap.OutNo, 1)
			ret := b.do(false, "GET", "/c/"+ck.ID+"/return?"+q.Encode(), nil, nil)
			if ret.status != http.StatusSeeOther || ret.header.Get("Location") != "/c/"+ck.ID+"/result?wallet=ok" {
				t.Fatalf("return: %d %s", ret.status, ret.header.Get("Location"))
			}
		})
	}
}

func TestDesktopQR(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 4310) // not a magic amount: the notify comes at once
	b := e.browser(uaDesktop, "desk")
	r, action, csrf := b.openPage(ck.ID)
	if r.status != 200 || action != templates.ActionQR {
		t.Fatalf("page: %d %q", r.status, action)
	}
	if _, a, _ := e.browser(uaPhone, "x").openPage(ck.ID); a != templates.ActionOpenInWallet {
		t.Fatalf("phone browser action %q", a)
	}
	events := e.openEvents(t, ck.ID)
	events.next(t)
	pr := b.pay(ck.ID, csrf, map[string]string{"wallet": "alipay", "scenario": "qr"})
	var ans pgPayAnswer
	decodeJSON(t, pr.body, &ans)
	if pr.status != 200 || ans.Kind != "qr" || ans.QRImageURL != "/c/"+ck.ID+"/qr/1.svg" {
		t.Fatalf("pay: %d %s", pr.status, pr.body)
	}
	img := b.get(ans.QRImageURL)
	if img.status != 200 || img.header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(img.body, "<svg") ||
		!strings.HasPrefix(img.header.Get("Cache-Control"), "private") {
		t.Fatalf("QR image: %d %s %s", img.status, img.header.Get("Content-Type"), img.header.Get("Cache-Control"))
	}
	// Another checkout's path, a missing attempt, garbage: 404.
	other := e.newCheckout("native", 100)
	for _, p := range []string{"/c/" + other.ID + "/qr/1.svg", "/c/" + ck.ID + "/qr/2.svg", "/c/" + ck.ID + "/qr/x.svg", "/c/" + ck.ID + "/qr/1.png"} {
		if r := b.get(p); r.status != http.StatusNotFound {
			t.Errorf("%s: %d", p, r.status)
		}
	}
	snap, _ := e.sb.Order(e.sbNative.OpenID, checkout.OutNo(ck.ID, 1))
	if err := e.sb.PayQRCode(context.Background(), snap.TradeQRCode); err != nil {
		t.Fatal(err)
	}
	// The sandbox's notify reaches /notify/…, is confirmed, and the stream
	// tells the page without any reload or check.
	for {
		ev := events.next(t)
		if ev["status"] == "paid" {
			break
		}
	}
}

func TestDoubleClickOneOrder(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 777)
	b := e.browser(uaDesktop, "clicker")
	_, _, csrf := b.openPage(ck.ID)
	const n = 20
	var wg sync.WaitGroup
	answers := make([]pgPayAnswer, n)
	status := make([]int, n)
	for i := range n {
		wg.Go(func() {
			pr := b.pay(ck.ID, csrf, map[string]string{"wallet": "wechat", "scenario": "qr"})
			status[i] = pr.status
			_ = json.Unmarshal([]byte(pr.body), &answers[i])
		})
	}
	wg.Wait()
	for i := range n {
		if status[i] != 200 || answers[i].QRImageURL != answers[0].QRImageURL {
			t.Fatalf("click %d: %d %+v", i, status[i], answers[i])
		}
	}
	if got := len(e.gw.orders()); got != 1 {
		t.Fatalf("%d gateway orders for a double click", got)
	}
}

func TestPayRequestGuards(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 100)
	b := e.browser(uaDesktop, "guard")
	_, _, csrf := b.openPage(ck.ID)
	body := []byte(`{"wallet":"wechat","scenario":"qr"}`)
	tests := []struct {
		name   string
		hdr    map[string]string
		body   []byte
		status int
		code   string
	}{
		{"no csrf", map[string]string{}, body, 403, "csrf"},
		{"wrong csrf", map[string]string{"X-CSRF-Token": "nope"}, body, 403, "csrf"},
		{"cross origin", map[string]string{"X-CSRF-Token": csrf, "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, body, 403, "cross_origin"},
		{"garbage body", map[string]string{"X-CSRF-Token": csrf}, []byte(`{"wallet":`), 400, "invalid_request"},
		{"bad wallet", map[string]string{"X-CSRF-Token": csrf}, []byte(`{"wallet":"paypal","scenario":"qr"}`), 400, "invalid_request"},
		{"bad scenario", map[string]string{"X-CSRF-Token": csrf}, []byte(`{"wallet":"wechat","scenario":"barcode"}`), 400, "invalid_request"},
		// A desktop page offers QR codes only (offerFor).
		{"jsapi from a desktop", map[string]string{"X-CSRF-Token": csrf}, []byte(`{"wallet":"wechat","scenario":"jsapi"}`), 409, "method_not_offered"},
		{"jump from a desktop", map[string]string{"X-CSRF-Token": csrf}, []byte(`{"wallet":"alipay","scenario":"jump"}`), 409, "method_not_offered"},
		{"huge body", map[string]string{"X-CSRF-Token": csrf}, []byte(`{"wallet":"` + strings.Repeat("w", 10000) + `"}`), 400, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := b.do(false, "POST", "/c/"+ck.ID+"/pay", tc.body, tc.hdr)
			if r.status != tc.status || !strings.Contains(r.body, `"code":"`+tc.code+`"`) {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
	if n := len(e.gw.orders()); n != 0 {
		t.Fatalf("%d payorders from refused requests", n)
	}
	// Messages follow the payer's language.
	r := b.do(false, "POST", "/c/"+ck.ID+"/pay", body, map[string]string{"Accept-Language": "en-US,en;q=0.9"})
	if !strings.Contains(r.body, "expired. Reload") {
		t.Errorf("English message: %s", r.body)
	}
	r = b.do(false, "POST", "/c/"+ck.ID+"/pay", body, map[string]string{"Accept-Language": "zh-TW"})
	if !strings.Contains(r.body, "頁面已過期") {
		t.Errorf("Traditional Chinese message: %s", r.body)
	}
}

package handlers_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/console"
	"github.com/wallet-checkout/checkout/internal/redistest"
)

const (
	consolePassword = "console-test-password"
	consoleTOTP     = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
)

var consoleHash = sync.OnceValue(func() string {
	h, err := console.HashPassword(consolePassword)
	if err != nil {
		panic(err)
	}
	return h
})

// consoleMerchants is two merchants, each with console users; shop's
// owner has a one-time code.
func consoleMerchants(users string) string {
	store := func(openID string) string {
		return `    redirect_hosts: [shop.example]
    stores:
      - id: main
        gateway:
          base_url: https://api.gateway.example/mct1
          open_id: ` + openID + `
          open_key: 0828e83720fdbe3685a7b94214af04f9
          shop_pass: "123456"
        wechat: {enabled: true, mode: redirect}
`
	}
	return `merchants:
  - id: shop
    name: Console Shop
    api_keys: [` + config.HashAPIKeyLine("sk_live_ConsoleShopKey0123456789abcdefghi") + `]
` + store("11112222333344445555666677778888") + `    console:
      users:
` + users + `  - id: other
    name: Other Shop
    api_keys: [` + config.HashAPIKeyLine("sk_live_ConsoleOtherKey0123456789abcdefgh") + `]
` + store("99998888777766665555444433332222") + `    console:
      users:
        - {email: clerk@other.example, password_hash: "` + consoleHash() + `", role: admin}
`
}

func shopUsers() string {
	return `        - {email: viewer@shop.example, password_hash: "` + consoleHash() + `", role: viewer}
        - {email: owner@shop.example, password_hash: "` + consoleHash() + `", role: admin, totp_secret: "${OWNER_TOTP}"}
`
}

// consoleEnv is the whole service (app.New) on a test clock.
type consoleEnv struct {
	t   *testing.T
	srv *httptest.Server
	app *app.App
	now atomic.Int64
}

func (e *consoleEnv) clock() time.Time { return time.Unix(0, e.now.Load()) }
func (e *consoleEnv) advance(d time.Duration) {
	e.now.Add(int64(d))
}

func parseConsoleFile(t *testing.T, users string) *config.Merchants {
	t.Helper()
	m, err := config.ParseMerchants([]byte(consoleMerchants(users)), config.Options{Getenv: func(k string) string {
		if k == "OWNER_TOTP" {
			return consoleTOTP
		}
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newConsoleEnv(t *testing.T) *consoleEnv {
	t.Helper()
	e := &consoleEnv{t: t}
	e.now.Store(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC).UnixNano())
	settings, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	rdb := redistest.New(t)
	m := parseConsoleFile(t, shopUsers())
	e.app, err = app.New(app.Config{Settings: settings, Redis: rdb, Directory: m.Directory, Accounts: m.Accounts,
		Providers: m.Providers, Prefix: redistest.Prefix(t, rdb), Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.app.Handler)
	t.Cleanup(e.srv.Close)
	return e
}

// browser is a client with its own cookies that does not follow redirects.
func (e *consoleEnv) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

type answer struct {
	status   int
	location string
	body     string
}

func (e *consoleEnv) do(b *http.Client, method, path string, form url.Values) answer {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Get("Location"), string(data)}
}

// csrf is the token of the page at path.
func (e *consoleEnv) csrf(b *http.Client, path string) string {
	e.t.Helper()
	a := e.do(b, "GET", path, nil)
	m := csrfField.FindStringSubmatch(a.body)
	if m == nil {
		e.t.Fatalf("GET %s: %d, no csrf field:\n%s", path, a.status, a.body)
	}
	return m[1]
}

func (e *consoleEnv) login(b *http.Client, email, password, code string) answer {
	e.t.Helper()
	return e.do(b, "POST", "/console/login", url.Values{"csrf": {e.csrf(b, "/console/login")}, "email": {email}, "password": {password}, "totp": {code}})
}

// scrub removes what differs between two renderings of one page: the CSRF
// token and the CSP nonce.
var scrubRe = regexp.MustCompile(`(value|nonce)="[^"]*"`)

func scrub(s string) string { return scrubRe.ReplaceAllString(s, `$1=""`) }

func TestConsoleLogin(t *testing.T) {
	e := newConsoleEnv(t)
	b := e.browser()
	if a := e.do(b, "GET", "/console/", nil); a.status != http.StatusSeeOther || a.location != "/console/login" {
		t.Fatalf("GET /console/ signed out: %d %s", a.status, a.location)
	}
	a := e.login(b, "Viewer@Shop.Example", consolePassword, "")
	if a.status != http.StatusSeeOther || a.location != "/console/" {
		t.Fatalf("good sign-in: %d %s\n%s", a.status, a.location, a.body)
	}
	home := e.do(b, "GET", "/console/", nil)
	if home.status != http.StatusOK || !strings.Contains(home.body, "viewer@shop.example") || !strings.Contains(home.body, "Console Shop") {
		t.Fatalf("home: %d\n%s", home.status, home.body)
	}
	if strings.Contains(home.body, "Other Shop") {
		t.Error("the home page names another merchant")
	}

	// Wrong password and unknown email: the same answer, word for word.
	wrong := e.login(e.browser(), "viewer@shop.example", "not-the-password", "")
	unknown := e.login(e.browser(), "nobody@shop.example", "not-the-password", "")
	if wrong.status != http.StatusUnauthorized || !strings.Contains(wrong.body, `data-testid="login-failed"`) {
		t.Fatalf("wrong password: %d\n%s", wrong.status, wrong.body)
	}
	w, u := scrub(wrong.body), scrub(unknown.body)
	if unknown.status != wrong.status || w != u {
		t.Errorf("unknown email answers differently from a wrong password:\n%d %s\n%d %s", wrong.status, w, unknown.status, u)
	}

	// TOTP: the password alone is the same failure; with the code, in; the
	// same code again, refused.
	noCode := e.login(e.browser(), "owner@shop.example", consolePassword, "")
	if noCode.status != http.StatusUnauthorized || scrub(noCode.body) != w {
		t.Errorf("owner without a code: %d, or an answer unlike a wrong password's", noCode.status)
	}
	code, err := totp.GenerateCode(consoleTOTP, e.clock())
	if err != nil {
		t.Fatal(err)
	}
	if a := e.login(e.browser(), "owner@shop.example", consolePassword, "000000"); a.status != http.StatusUnauthorized && code != "000000" {
		t.Errorf("a wrong code: %d", a.status)
	}
	if a := e.login(e.browser(), "owner@shop.example", consolePassword, code); a.status != http.StatusSeeOther {
		t.Fatalf("owner with the code: %d\n%s", a.status, a.body)
	}
	if a := e.login(e.browser(), "owner@shop.example", consolePassword, code); a.status != http.StatusUnauthorized {
		t.Errorf("the same code twice: %d, want 401", a.status)
	}

	// Sign-out needs the page's token; then the session is gone.
	if a := e.do(b, "POST", "/console/logout", url.Values{"csrf": {"forged"}}); a.status != http.StatusForbidden {
		t.Errorf("sign-out with a forged token: %d, want 403", a.status)
	}
	if a := e.do(b, "POST", "/console/logout", url.Values{"csrf": {e.csrf(b, "/console/")}}); a.status != http.StatusSeeOther || a.location != "/console/login" {
		t.Errorf("sign-out: %d %s", a.status, a.location)
	}
	if a := e.do(b, "GET", "/console/", nil); a.status != http.StatusSeeOther {
		t.Errorf("after sign-out: %d, want 303 to the sign-in page", a.status)
	}
}

func TestConsoleLoginCSRF(t *testing.T) {
	e := newConsoleEnv(t)
	b := e.browser()
	for name, token := range map[string]string{"none": "", "forged": "zzz.abc", "payer page token shape": "1a2b3c.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		form := url.Values{"email": {"viewer@shop.example"}, "password": {consolePassword}}
		if token != "" {
			form.Set("csrf", token)
		}
		if a := e.do(b, "POST", "/console/login", form); a.status != http.StatusForbidden || !strings.Contains(a.body, "login-expired") {
			t.Errorf("%s: %d, want 403 and the expired message", name, a.status)
		}
	}
	// A token older than its lifetime is refused too.
	token := e.csrf(b, "/console/login")
	e.advance(26 * time.Hour)
	if a := e.do(b, "POST", "/console/login", url.Values{"csrf": {token}, "email": {"viewer@shop.example"}, "password": {consolePassword}}); a.status != http.StatusForbidden {
		t.Errorf("expired token: %d, want 403", a.status)
	}
	// A cross-site POST is refused before anything else.
	req, _ := http.NewRequest("POST", e.srv.URL+"/console/login", strings.NewReader("email=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: %d, want 403", resp.StatusCode)
	}
}

func TestConsoleLoginLockout(t *testing.T) {
	e := newConsoleEnv(t)
	for i := range 5 {
		if a := e.login(e.browser(), "viewer@shop.example", "wrong-password-"+string(rune('a'+i)), ""); a.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, a.status)
		}
	}
	// The sixth, even with the right password, is locked, and says so.
	a := e.login(e.browser(), "viewer@shop.example", consolePassword, "")
	if a.status != http.StatusTooManyRequests || !strings.Contains(a.body, `data-testid="login-locked"`) || !strings.Contains(a.body, "15") {
		t.Fatalf("sixth attempt: %d\n%s", a.status, a.body)
	}
	// Another account from the same address is not locked by it.
	if a := e.login(e.browser(), "clerk@other.example", consolePassword, ""); a.status != http.StatusSeeOther {
		t.Errorf("another account: %d, want 303", a.status)
	}
	// An unknown email is locked the same way: the lock names no account.
	for range 5 {
		e.login(e.browser(), "ghost@shop.example", "x-password-123", "")
	}
	if a := e.login(e.browser(), "ghost@shop.example", "x-password-123", ""); a.status != http.StatusTooManyRequests {
		t.Errorf("unknown email, sixth attempt: %d, want 429", a.status)
	}
}

func TestConsoleSessionIdleAndReload(t *testing.T) {
	e := newConsoleEnv(t)
	b := e.browser()
	if a := e.login(b, "viewer@shop.example", consolePassword, ""); a.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", a.status)
	}
	e.advance(11 * time.Hour)
	if a := e.do(b, "GET", "/console/", nil); a.status != http.StatusOK {
		t.Fatalf("after 11 h: %d", a.status)
	}
	e.advance(12*time.Hour + 2*time.Minute)
	if a := e.do(b, "GET", "/console/", nil); a.status != http.StatusSeeOther || a.location != "/console/login" {
		t.Fatalf("after 12 h idle: %d %s, want 303 to the sign-in page", a.status, a.location)
	}

	// A reload that removes the user ends its session at the next request.
	b = e.browser()
	if a := e.login(b, "viewer@shop.example", consolePassword, ""); a.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", a.status)
	}
	if err := e.app.Reload(parseConsoleFile(t, `        - {email: owner@shop.example, password_hash: "`+consoleHash()+`", role: admin}
`)); err != nil {
		t.Fatal(err)
	}
	if a := e.do(b, "GET", "/console/", nil); a.status != http.StatusSeeOther {
		t.Errorf("removed user: %d, want 303 to the sign-in page", a.status)
	}
	if a := e.login(e.browser(), "viewer@shop.example", consolePassword, ""); a.status != http.StatusUnauthorized {
		t.Errorf("removed user signs in: %d", a.status)
	}
}

// TestConsoleAudit: sign-in and sign-out are in the merchant's audit log
// with who, when and from where; another merchant's user sees none of it.
func TestConsoleAudit(t *testing.T) {
	e := newConsoleEnv(t)
	b := e.browser()
	if a := e.login(b, "viewer@shop.example", consolePassword, ""); a.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", a.status)
	}
	e.advance(time.Minute)
	page := e.do(b, "GET", "/console/audit", nil)
	if page.status != http.StatusOK || strings.Count(page.body, `data-testid="audit-entry"`) != 1 ||
		!strings.Contains(page.body, "sign_in") || !strings.Contains(page.body, "viewer@shop.example") ||
		!strings.Contains(page.body, "127.0.0.1") || !strings.Contains(page.body, "2026-12-02 17:00:00") {
		t.Fatalf("audit page: %d\n%s", page.status, page.body)
	}
	if a := e.do(b, "POST", "/console/logout", url.Values{"csrf": {e.csrf(b, "/console/")}}); a.status != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", a.status)
	}
	other := e.browser()
	if a := e.login(other, "clerk@other.example", consolePassword, ""); a.status != http.StatusSeeOther {
		t.Fatalf("other's sign-in: %d", a.status)
	}
	page = e.do(other, "GET", "/console/audit", nil)
	if strings.Contains(page.body, "viewer@shop.example") || strings.Count(page.body, `data-testid="audit-entry"`) != 1 {
		t.Errorf("another merchant's audit page shows shop's entries:\n%s", page.body)
	}
	// The shop's log has both entries, newest first.
	b = e.browser()
	e.login(b, "viewer@shop.example", consolePassword, "")
	page = e.do(b, "GET", "/console/audit", nil)
	if i, j := strings.Index(page.body, "sign_out"), strings.LastIndex(page.body, "sign_in"); i < 0 || j < i {
		t.Errorf("want sign_out listed before the first sign_in:\n%s", page.body)
	}
	if a := e.do(b, "GET", "/console/audit?before=garbage", nil); a.status != http.StatusBadRequest {
		t.Errorf("garbage cursor: %d, want 400", a.status)
	}
}

// mkCheckout stores a checkout of merchantID created at the env's clock.
func (e *consoleEnv) mkCheckout(merchantID, reference string, amount int64) string {
	e.t.Helper()
	co, err := checkout.NewCheckout(&checkout.Draft{
		MerchantID: merchantID, StoreID: "main", Amounts: checkout.Amounts{Original: amount, Trade: amount},
		Description: "Console test", Reference: reference, SuccessURL: "https://shop.example/ok",
		LatePolicy: checkout.LatePolicyAccept, TTL: time.Hour,
	}, e.clock())
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.app.Repo.Create(e.t.Context(), co, nil); err != nil {
		e.t.Fatal(err)
	}
	return co.ID
}

// TestConsolePayments: the list shows the merchant's own checkouts newest
// first; a search by id finds the merchant's own and nothing of another
// merchant's; bad filters are a 400.
func TestConsolePayments(t *testing.T) {
	e := newConsoleEnv(t)
	first := e.mkCheckout("shop", "order-first", 1999)
	e.advance(time.Second)
	second := e.mkCheckout("shop", "order-second", 2500)
	foreign := e.mkCheckout("other", "order-foreign", 777)
	b := e.browser()
	if a := e.login(b, "viewer@shop.example", consolePassword, ""); a.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", a.status)
	}
	list := e.do(b, "GET", "/console/payments", nil)
	if list.status != http.StatusOK || strings.Count(list.body, `data-testid="payment-row"`) != 2 {
		t.Fatalf("list: %d\n%s", list.status, list.body)
	}
	if i, j := strings.Index(list.body, second), strings.Index(list.body, first); i < 0 || j < i {
		t.Errorf("not newest first")
	}
	if !strings.Contains(list.body, "<td>¥19.99</td>") || !strings.Contains(list.body, "order-second") {
		t.Errorf("amount or reference missing:\n%s", list.body)
	}
	if strings.Contains(list.body, foreign) || strings.Contains(list.body, "order-foreign") {
		t.Error("another merchant's checkout is listed")
	}
	if a := e.do(b, "GET", "/console/payments?q="+first, nil); strings.Count(a.body, `data-testid="payment-row"`) != 1 || !strings.Contains(a.body, first) {
		t.Errorf("search by own id: %d\n%s", a.status, a.body)
	}
	if a := e.do(b, "GET", "/console/payments?q="+foreign, nil); a.status != http.StatusOK || !strings.Contains(a.body, `data-testid="payments-empty"`) || strings.Contains(a.body, "order-foreign") {
		t.Errorf("search by another merchant's id finds it: %d\n%s", a.status, a.body)
	}
	if a := e.do(b, "GET", "/console/payments?status=expired", nil); !strings.Contains(a.body, `data-testid="payments-empty"`) {
		t.Errorf("status filter: nothing is expired, yet rows are listed")
	}
	if a := e.do(b, "GET", "/console/payments?status=open", nil); strings.Count(a.body, `data-testid="payment-row"`) != 2 {
		t.Errorf("status filter open: %d rows", strings.Count(a.body, `data-testid="payment-row"`))
	}
	for _, bad := range []string{"?status=bogus", "?after=co_nonexistent000000000000", "?after=%00"} {
		if a := e.do(b, "GET", "/console/payments"+bad, nil); a.status != http.StatusBadRequest {
			t.Errorf("GET /console/payments%s: %d, want 400", bad, a.status)
		}
	}
	// Signed out, the list is not served.
	if a := e.do(e.browser(), "GET", "/console/payments", nil); a.status != http.StatusSeeOther {
		t.Errorf("signed out: %d", a.status)
	}
}

// TestConsolePaymentDetail: a merchant's user opens its own checkout, and
// another merchant's checkout by URL is a 404, as an unknown one.
func TestConsolePaymentDetail(t *testing.T) {
	e := newConsoleEnv(t)
	own := e.mkCheckout("shop", "order-own", 4200)
	foreign := e.mkCheckout("other", "order-foreign", 777)
	b := e.browser()
	if a := e.login(b, "viewer@shop.example", consolePassword, ""); a.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", a.status)
	}
	a := e.do(b, "GET", "/console/payments/"+own, nil)
	if a.status != http.StatusOK || !strings.Contains(a.body, `data-testid="payment-amount">¥42.00<`) ||
		!strings.Contains(a.body, `data-status="open"`) || !strings.Contains(a.body, "order-own") ||
		!strings.Contains(a.body, `data-testid="refunds-empty"`) {
		t.Fatalf("own checkout: %d\n%s", a.status, a.body)
	}
	list := e.do(b, "GET", "/console/payments", nil)
	if !strings.Contains(list.body, `href="/console/payments/`+own+`"`) {
		t.Error("the list does not link to the detail page")
	}
	for _, id := range []string{foreign, "co_doesnotexist00000000000", "garbage%00"} {
		a := e.do(b, "GET", "/console/payments/"+id, nil)
		if a.status != http.StatusNotFound || strings.Contains(a.body, "order-foreign") {
			t.Errorf("GET /console/payments/%s: %d, want 404 showing nothing", id, a.status)
		}
	}
	if a := e.do(e.browser(), "GET", "/console/payments/"+own, nil); a.status != http.StatusSeeOther {
		t.Errorf("signed out: %d", a.status)
	}
}

// TestConsoleLoginLockoutPerAddress: one address that tries 30 emails,
// none more than the per-account limit, is locked itself (an hour's 30),
// even for a real user with the right password, and the page says so.
func TestConsoleLoginLockoutPerAddress(t *testing.T) {
	e := newConsoleEnv(t)
	for i := range 30 {
		email := "guess" + strconv.Itoa(i) + "@shop.example"
		if a := e.login(e.browser(), email, "wrong-password-123", ""); a.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d, want 401", i+1, a.status)
		}
	}
	a := e.login(e.browser(), "viewer@shop.example", consolePassword, "")
	if a.status != http.StatusTooManyRequests || !strings.Contains(a.body, `data-testid="login-locked"`) {
		t.Fatalf("the 31st attempt from the address: %d, want 429 and the lock message\n%s", a.status, a.body)
	}
	// Locked, a known and an unknown email get the same page.
	u := e.login(e.browser(), "nobody@shop.example", consolePassword, "")
	if u.status != a.status || strings.ReplaceAll(scrub(u.body), "nobody@shop.example", "viewer@shop.example") != scrub(a.body) {
		t.Errorf("locked, an unknown email answers differently: %d", u.status)
	}
}

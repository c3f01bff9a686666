package handlers_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/console"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
)

// cpEnv is the whole service (app.New) for the console's payment pages:
// the sandbox gateway (mounted at /sandbox/ too, as in demo mode), real
// Redis, a merchant "shop" with a viewer, a support user (limits 5.00 a
// refund, 8.00 a day) and an admin, a second merchant "rival" with an
// admin, and shop's webhook receiver. Deliveries run by Tick.
type cpEnv struct {
	t     *testing.T
	rdb   redis.UniversalClient
	clk   *testClock
	sb    *sandbox.Server
	gw    *gateway.Client
	gs    *gateway.Store
	app   *app.App
	pfx   string
	srv   *httptest.Server
	key   string
	hooks struct {
		sync.Mutex
		got int
	}
}

const (
	cpViewer  = "viewer@shop.example"
	cpSupport = "support@shop.example"
	cpAdmin   = "admin@shop.example"
	cpRival   = "admin@rival.example"
)

func newCPEnv(t *testing.T) *cpEnv {
	t.Helper()
	e := &cpEnv{t: t, clk: &testClock{}, rdb: redistest.New(t)}
	e.clk.ns.Store(time.Now().UnixNano())
	sb, err := sandbox.New(sandbox.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e.sb = sb
	sbSrv := httptest.NewServer(sb.Handler())
	t.Cleanup(sbSrv.Close)
	t.Cleanup(sb.Close)
	st := sandbox.GenerateStore()
	if err := sb.AddStore(st); err != nil {
		t.Fatal(err)
	}
	if e.gs, err = gateway.NewStore(sbSrv.URL+sb.Prefix(), st.OpenID, st.OpenKey, st.ShopPass); err != nil {
		t.Fatal(err)
	}
	e.gw = gateway.NewClient(gateway.WithRetries(0, 0, 0))
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		e.hooks.Lock()
		e.hooks.got++
		e.hooks.Unlock()
		_, _ = io.WriteString(w, "got it, thanks")
	}))
	t.Cleanup(receiver.Close)
	e.key, _ = checkout.NewAPIKey(false)
	rivalKey, _ := checkout.NewAPIKey(false)
	user := func(email string, role checkout.Role) *checkout.ConsoleUser {
		return &checkout.ConsoleUser{Email: email, PasswordHash: consoleHash(), Role: role}
	}
	store := func() *checkout.Store {
		return &checkout.Store{ID: "main", Name: "Main street", Sandbox: true, LatePolicy: checkout.LatePolicyAccept,
			WeChat: checkout.WeChatConfig{Enabled: true, Mode: checkout.ModeRedirect},
			Alipay: checkout.AlipayConfig{Enabled: true, Mode: checkout.ModeRedirect}}
	}
	shop := &checkout.Merchant{ID: "shop", Name: "Console Shop", APIKeys: []checkout.APIKey{checkout.APIKeyFor(e.key)},
		WebhookURL: receiver.URL + "/hooks", WebhookSecrets: []checkout.Secret{evSecretNew},
		Stores: []*checkout.Store{store()},
		Console: checkout.Console{
			Users:         []*checkout.ConsoleUser{user(cpViewer, checkout.RoleViewer), user(cpSupport, checkout.RoleSupport), user(cpAdmin, checkout.RoleAdmin)},
			SupportLimits: checkout.RefundLimits{PerRefund: 500, PerDay: 800},
		}}
	rival := &checkout.Merchant{ID: "rival", Name: "Rival", APIKeys: []checkout.APIKey{checkout.APIKeyFor(rivalKey)},
		Stores: []*checkout.Store{store()}, Console: checkout.Console{Users: []*checkout.ConsoleUser{user(cpRival, checkout.RoleAdmin)}}}
	dir, err := checkout.NewDirectory([]*checkout.Merchant{shop, rival})
	if err != nil {
		t.Fatal(err)
	}
	accounts := payments.NewAccounts()
	if err := accounts.Add("shop", "main", e.gs); err != nil {
		t.Fatal(err)
	}
	gsRival, err := gateway.NewStore(sbSrv.URL+sb.Prefix(), "OR"+rand.Text()[:10], st.OpenKey, st.ShopPass)
	if err != nil {
		t.Fatal(err)
	}
	if err := accounts.Add("rival", "main", gsRival); err != nil {
		t.Fatal(err)
	}
	e.pfx = redistest.Prefix(t, e.rdb)
	e.app = build(t, &app.Config{Redis: e.rdb, Directory: dir, Accounts: accounts, Gateway: e.gw, Clock: e.clk.Now,
		Prefix: e.pfx, Sandbox: sb.Handler()}, allowPrivateWebhooks)
	e.srv = httptest.NewServer(e.app.Handler)
	t.Cleanup(e.srv.Close)
	return e
}

// cpBrowser is a signed-in console user.
type cpBrowser struct {
	e *cpEnv
	c *http.Client
}

func (e *cpEnv) signIn(email string) *cpBrowser {
	e.t.Helper()
	ce := &consoleEnv{t: e.t, srv: e.srv}
	b := &cpBrowser{e: e, c: ce.browser()}
	if a := ce.login(b.c, email, consolePassword, ""); a.status != http.StatusSeeOther || a.location != "/console/" {
		e.t.Fatalf("sign-in of %s: %d %s", email, a.status, a.body)
	}
	return b
}

func (b *cpBrowser) do(method, path string, form url.Values) answer {
	b.e.t.Helper()
	return (&consoleEnv{t: b.e.t, srv: b.e.srv}).do(b.c, method, path, form)
}

// post posts form with the session's CSRF token (from the home page's
// sign-out form; from is the page the user is on, read first as a browser
// would).
func (b *cpBrowser) post(from, path string, form url.Values) answer {
	b.e.t.Helper()
	b.do("GET", from, nil)
	page := b.do("GET", "/console/", nil)
	m := csrfField.FindStringSubmatch(page.body)
	if m == nil {
		b.e.t.Fatalf("GET %s: %d, no csrf field", from, page.status)
	}
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", m[1])
	return b.do("POST", path, form)
}

// order creates a checkout through the API and orders it at the sandbox
// the way the pages do; it returns the checkout id, the attempt and the
// gateway's ord_no.
func (e *cpEnv) order(reference string, amount int64) (string, *checkout.Attempt, string) {
	e.t.Helper()
	body := `{"amount":` + itoa(amount) + `,"reference":"` + reference + `","metadata":{"table":"7"}}`
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/checkouts", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	var created struct {
		ID string `json:"id"`
	}
	err = json.NewDecoder(res.Body).Decode(&created)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusCreated {
		e.t.Fatalf("create: %d %v", res.StatusCode, err)
	}
	ctx := context.Background()
	a, _, err := e.app.Repo.AddAttempt(ctx, created.ID, checkout.MethodWeChat, checkout.ScenarioJump)
	if err != nil {
		e.t.Fatal(err)
	}
	or, err := e.gw.PayOrder(ctx, e.gs, &gateway.PayOrderRequest{
		OutNo: a.OutNo, PmtTag: "Weixin", OrdName: "咖啡", OriginalAmount: amount, TradeAmount: amount,
		NotifyURL: payments.NotifyURL(e.srv.URL, e.gs.OpenID), JumpURL: e.srv.URL + "/c/" + created.ID + "/return",
	})
	if err != nil {
		e.t.Fatalf("payorder: %v", err)
	}
	if _, err := e.app.Repo.UpdateAttempt(ctx, created.ID, a.Seq, "", string(or.OrdNo)); err != nil {
		e.t.Fatal(err)
	}
	return created.ID, a, string(or.OrdNo)
}

// paid is order, paid at the sandbox; it waits until the sandbox's notify
// made the checkout paid and its event is stored.
func (e *cpEnv) paid(reference string, amount int64) (id, outNo, ordNo string) {
	e.t.Helper()
	id, a, ordNo := e.order(reference, amount)
	if err := e.sb.PayOrderNo(context.Background(), ordNo); err != nil {
		e.t.Fatal(err)
	}
	e.waitPaid(id)
	return id, a.OutNo, ordNo
}

func (e *cpEnv) waitPaid(id string) {
	e.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := e.app.Repo.Get(ctx, id)
		evs, _, _ := e.app.Webhooks.List(ctx, "shop", webhook.ListQuery{CheckoutID: id, Type: webhook.TypePaid})
		if err == nil && c.Status == checkout.StatusPaid && len(evs) > 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("checkout not paid by the sandbox's notify (%v, %v)", c, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// audit is the service's audit log (console.NewAudit on its keys).
func (e *cpEnv) audit() *console.Audit { return console.NewAudit(e.rdb, e.pfx, 0, e.clk.Now) }

func (e *cpEnv) tick() {
	e.t.Helper()
	if _, err := e.app.Webhooks.Tick(context.Background(), e.clk.Now()); err != nil {
		e.t.Fatal(err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func rows(body string) int { return strings.Count(body, `data-testid="payment-row"`) }

// TestConsolePaymentSearch: a payment is found by its reference, checkout
// id, out_no and ord_no, only by its own merchant's users; the filters
// keep what they say; bad filters are a 400 that lists nothing.
func TestConsolePaymentSearch(t *testing.T) {
	e := newCPEnv(t)
	id, outNo, ordNo := e.paid("order-7", 1000)
	open, _, _ := e.order("order-8", 250)
	b := e.signIn(cpViewer)
	for _, q := range []string{"order-7", id, outNo, ordNo} {
		a := b.do("GET", "/console/payments?q="+url.QueryEscape(q), nil)
		if a.status != http.StatusOK || rows(a.body) != 1 || !strings.Contains(a.body, id) {
			t.Errorf("search %q: %d, %d rows\n%s", q, a.status, rows(a.body), a.body)
		}
	}
	rival := e.signIn(cpRival)
	for _, q := range []string{"order-7", id, outNo, ordNo} {
		if a := rival.do("GET", "/console/payments?q="+url.QueryEscape(q), nil); rows(a.body) != 0 || strings.Contains(a.body, `data-checkout-id="`+id) {
			t.Errorf("another merchant's user finds %q: %d rows", q, rows(a.body))
		}
	}
	today := e.clk.Now().In(time.FixedZone("UTC+8", 8*3600)).Format(time.DateOnly)
	yesterday := e.clk.Now().In(time.FixedZone("UTC+8", 8*3600)).AddDate(0, 0, -1).Format(time.DateOnly)
	for _, f := range []struct {
		query string
		want  []string
	}{
		{"status=paid", []string{id}},
		{"status=pending", []string{open}},
		{"wallet=wechat", []string{id, open}},
		{"wallet=alipay", nil},
		{"min=5&max=10", []string{id}},
		{"max=2.50", []string{open}},
		{"from=" + today + "&to=" + today, []string{id, open}},
		{"to=" + yesterday, nil},
		{"store=main&status=paid", []string{id}},
		{"link=pl_nosuchlink0000000000000", nil},
	} {
		a := b.do("GET", "/console/payments?"+f.query, nil)
		if a.status != http.StatusOK || rows(a.body) != len(f.want) {
			t.Errorf("%s: %d, %d rows, want %d", f.query, a.status, rows(a.body), len(f.want))
			continue
		}
		for _, w := range f.want {
			if !strings.Contains(a.body, w) {
				t.Errorf("%s: %s not listed", f.query, w)
			}
		}
	}
	if a := b.do("GET", "/console/payments", nil); !strings.Contains(a.body, `data-testid="test-badge"`) {
		t.Error("a sandbox store's payments are not marked as test data")
	}
	for _, bad := range []string{"from=2026-13-01", "from=2026-12-02&to=2026-12-01", "min=abc", "min=-1", "max=1.234",
		"min=9&max=1", "wallet=cash", "store=nope", "status=bogus", "q=" + strings.Repeat("x", 200)} {
		a := b.do("GET", "/console/payments?"+bad, nil)
		if a.status != http.StatusBadRequest || rows(a.body) != 0 || !strings.Contains(a.body, `data-testid="payments-bad-filter"`) {
			t.Errorf("%s: %d, %d rows, want a 400 listing nothing", bad, a.status, rows(a.body))
		}
	}
}

// TestConsolePaymentSearchFurther: a filter without an index scans a
// bounded window; a page it leaves short offers to search further, and
// following it finds the older match.
func TestConsolePaymentSearchFurther(t *testing.T) {
	e := newCPEnv(t)
	ctx := context.Background()
	mk := func(amount int64) string {
		co, err := checkout.NewCheckout(&checkout.Draft{MerchantID: "shop", StoreID: "main",
			Amounts: checkout.Amounts{Original: amount, Trade: amount}, Description: "x", Reference: "bulk",
			SuccessURL: "https://shop.example/ok", LatePolicy: checkout.LatePolicyAccept, TTL: time.Hour}, e.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := e.app.Repo.Create(ctx, co, nil); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(time.Millisecond)
		return co.ID
	}
	old := mk(99999)
	for range 1100 {
		mk(100)
	}
	b := e.signIn(cpViewer)
	a := b.do("GET", "/console/payments?min=999", nil)
	if a.status != http.StatusOK || rows(a.body) != 0 || !strings.Contains(a.body, `data-testid="payments-further"`) {
		t.Fatalf("first window: %d, %d rows, further link? %v", a.status, rows(a.body), strings.Contains(a.body, "payments-further"))
	}
	next := regexp.MustCompile(`href="([^"]+)" data-testid="payments-further"`).FindStringSubmatch(a.body)
	a = b.do("GET", strings.ReplaceAll(next[1], "&amp;", "&"), nil)
	if rows(a.body) != 1 || !strings.Contains(a.body, old) {
		t.Errorf("searching further: %d rows\n%.2000s", rows(a.body), a.body)
	}
}

// TestConsolePaymentPage: the page shows the amounts, the timeline, the
// attempt with its gateway order, the event with each delivery attempt
// (status, response excerpt) and the metadata; another merchant's user
// gets a 404 for it by URL, for the page and every action.
func TestConsolePaymentPage(t *testing.T) {
	e := newCPEnv(t)
	id, outNo, ordNo := e.paid("order-7", 1000)
	e.tick()
	b := e.signIn(cpViewer)
	a := b.do("GET", "/console/payments/"+id, nil)
	for _, want := range []string{
		`data-testid="payment-amount">¥10.00<`, `data-testid="payment-refundable">¥10.00<`, outNo, ordNo,
		`data-kind="created"`, `data-kind="attempt"`, `data-kind="paid"`, `data-kind="checkout.paid"`,
		`data-event-type="checkout.paid"`, `data-testid="delivery-status">200<`, "got it, thanks",
		`<dt>table</dt><dd>7</dd>`, `data-testid="test-badge"`,
	} {
		if !strings.Contains(a.body, want) {
			t.Errorf("payment page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("%s", a.body)
	}
	rival := e.signIn(cpRival)
	if a := rival.do("GET", "/console/payments/"+id, nil); a.status != http.StatusNotFound || strings.Contains(a.body, "order-7") {
		t.Errorf("another merchant's user opens it: %d", a.status)
	}
	evs, _, err := e.app.Webhooks.List(context.Background(), "shop", webhook.ListQuery{CheckoutID: id})
	if err != nil || len(evs) == 0 {
		t.Fatal(err)
	}
	for _, p := range []struct {
		path string
		form url.Values
	}{
		{"/console/payments/" + id + "/refund", url.Values{"amount": {"100"}, "key": {rand.Text()}}},
		{"/console/payments/" + id + "/cancel", nil},
		{"/console/payments/" + id + "/events/" + evs[0].ID + "/resend", nil},
		{"/console/payments/" + id + "/sandbox-pay", url.Values{"ord_no": {ordNo}}},
	} {
		if a := rival.post("/console/payments", p.path, p.form); a.status != http.StatusNotFound {
			t.Errorf("another merchant's POST %s: %d, want 404", p.path, a.status)
		}
	}
	co, _ := e.app.Repo.Get(context.Background(), id)
	if co.Refunded != 0 || co.Status != checkout.StatusPaid {
		t.Errorf("another merchant's posts changed the checkout: %+v", co)
	}
}

var keyField = regexp.MustCompile(`name="key" value="([^"]+)"`)

// confirm opens the refund's confirmation step and returns its form.
func (b *cpBrowser) confirm(id, yuan, reason string) (answer, url.Values) {
	b.e.t.Helper()
	a := b.do("GET", "/console/payments/"+id+"/refund?"+url.Values{"amount": {yuan}, "reason": {reason}}.Encode(), nil)
	form := url.Values{"reason": {reason}}
	if m := keyField.FindStringSubmatch(a.body); m != nil {
		form.Set("key", m[1])
	}
	if m := regexp.MustCompile(`name="amount" value="([^"]+)"`).FindStringSubmatch(a.body); m != nil {
		form.Set("amount", m[1])
	}
	if m := csrfField.FindStringSubmatch(a.body); m != nil {
		form.Set("csrf", m[1])
	}
	return a, form
}

// TestConsoleRefund: support refunds within its limits through a
// confirmation step; a double submit refunds once and is audited once;
// over per_refund or per_day it is refused; a viewer has no button and
// its POST is refused; an admin has no limits; every POST needs the CSRF
// token.
func TestConsoleRefund(t *testing.T) {
	e := newCPEnv(t)
	id, _, _ := e.paid("order-7", 1000)
	ctx := context.Background()

	viewer := e.signIn(cpViewer)
	page := viewer.do("GET", "/console/payments/"+id, nil)
	for _, button := range []string{`data-testid="refund-form"`, `data-testid="cancel-form"`, `data-testid="event-resend"`} {
		if strings.Contains(page.body, button) {
			t.Errorf("the viewer's page has %s", button)
		}
	}
	if a := viewer.do("GET", "/console/payments/"+id+"/refund?amount=1", nil); a.status != http.StatusForbidden {
		t.Errorf("viewer's confirmation step: %d, want 403", a.status)
	}
	if a := viewer.post("/console/payments/"+id, "/console/payments/"+id+"/refund", url.Values{"amount": {"100"}, "key": {rand.Text()}}); a.status != http.StatusForbidden {
		t.Errorf("viewer's refund POST: %d, want 403", a.status)
	}

	support := e.signIn(cpSupport)
	page = support.do("GET", "/console/payments/"+id, nil)
	if !strings.Contains(page.body, `data-testid="refund-amount" value="10.00"`) && !strings.Contains(page.body, `value="10.00"`) {
		t.Errorf("refund amount not prefilled with the refundable 10.00")
	}
	a, form := support.confirm(id, "3.00", "cold coffee")
	if a.status != http.StatusOK || !strings.Contains(a.body, `data-testid="confirm-amount">¥3.00<`) || form.Get("key") == "" {
		t.Fatalf("confirmation step: %d\n%s", a.status, a.body)
	}
	if n := refundCount(t, e, id); n != 0 {
		t.Fatalf("the confirmation step refunded (%d refunds)", n)
	}
	noCSRF := url.Values{"amount": form["amount"], "key": form["key"], "reason": form["reason"]}
	if a := support.do("POST", "/console/payments/"+id+"/refund", noCSRF); a.status != http.StatusForbidden {
		t.Errorf("refund without CSRF: %d, want 403", a.status)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := support.do("POST", "/console/payments/"+id+"/refund", form)
			if a.status != http.StatusSeeOther {
				t.Errorf("refund POST: %d\n%s", a.status, a.body)
			}
		}()
	}
	wg.Wait()
	if a := support.do("POST", "/console/payments/"+id+"/refund", form); a.status != http.StatusSeeOther {
		t.Errorf("refund POST again: %d", a.status)
	}
	if n := refundCount(t, e, id); n != 1 {
		t.Fatalf("a form posted 4 times made %d refunds, want 1", n)
	}
	co, _ := e.app.Repo.Get(ctx, id)
	page = support.do("GET", "/console/payments/"+id+"?done=refund", nil)
	if !strings.Contains(page.body, `data-testid="refund-row-amount">¥3.00<`) || !strings.Contains(page.body, `data-testid="action-done"`) {
		t.Errorf("the refund is not on the page (checkout %s refunded %d)", co.Status, co.Refunded)
	}
	entries, _, err := e.audit().List(ctx, "shop", 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	refunds := 0
	for _, en := range entries {
		if en.Action == "refund" {
			refunds++
			if en.Actor != cpSupport || en.Target != id || en.Address == "" || !strings.Contains(en.Detail, "¥3.00") {
				t.Errorf("audit entry %+v lacks who, what or where", en)
			}
		}
	}
	if refunds != 1 {
		t.Errorf("%d refund audit entries, want 1", refunds)
	}

	// Limits: 5.00 a refund, 8.00 a day (3.00 used).
	if a, _ := support.confirm(id, "6.00", ""); a.status != http.StatusForbidden || !strings.Contains(a.body, `data-testid="action-failed"`) {
		t.Errorf("over per_refund at the confirmation: %d", a.status)
	}
	forged := url.Values{"amount": {"600"}, "key": {rand.Text()}}
	if a := support.post("/console/payments/"+id, "/console/payments/"+id+"/refund", forged); a.status != http.StatusForbidden {
		t.Errorf("over per_refund posted directly: %d, want 403", a.status)
	}
	_, form = support.confirm(id, "5.00", "")
	if a := support.do("POST", "/console/payments/"+id+"/refund", form); a.status != http.StatusSeeOther {
		t.Errorf("3.00 + 5.00 = 8.00 a day: %d, want 303", a.status)
	}
	_, form = support.confirm(id, "0.50", "")
	if a := support.do("POST", "/console/payments/"+id+"/refund", form); a.status != http.StatusForbidden || !strings.Contains(a.body, "data-testid=\"action-failed\"") {
		t.Errorf("8.00 + 0.50 > 8.00 a day: %d, want 403", a.status)
	}
	if n := refundCount(t, e, id); n != 2 {
		t.Errorf("%d refunds, want 2 (the refused ones made none)", n)
	}
	for _, bad := range []url.Values{{"amount": {"0"}}, {"amount": {"-5"}}, {"amount": {"abc"}}, {"amount": {"1"}, "key": {"short"}}, {"amount": {"1"}, "reason": {"two\nlines"}}} {
		if bad.Get("key") == "" {
			bad.Set("key", rand.Text())
		}
		if a := support.post("/console/payments/"+id, "/console/payments/"+id+"/refund", bad); a.status < 400 || a.status >= 500 {
			t.Errorf("refund %v: %d, want a 4xx", bad, a.status)
		}
	}

	// An admin has no limit: the 2.00 left in one refund.
	admin := e.signIn(cpAdmin)
	_, form = admin.confirm(id, "2.00", "")
	if a := admin.do("POST", "/console/payments/"+id+"/refund", form); a.status != http.StatusSeeOther {
		t.Fatalf("admin refund: %d\n%s", a.status, a.body)
	}
	if _, form := admin.confirm(id, "0.01", ""); form.Get("key") != "" {
		t.Error("a fully refunded checkout offers a refund")
	}
}

func refundCount(t *testing.T, e *cpEnv, id string) int {
	t.Helper()
	rs, err := e.app.Payments.Refunds(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return len(rs)
}

// TestConsoleCancelResendSandboxPay: support resends an event (delivered
// again) but cannot cancel; an admin cancels an open checkout and pays a
// sandbox order from the page.
func TestConsoleCancelResendSandboxPay(t *testing.T) {
	e := newCPEnv(t)
	ctx := context.Background()
	id, _, _ := e.paid("order-7", 1000)
	e.tick()
	evs, _, err := e.app.Webhooks.List(ctx, "shop", webhook.ListQuery{CheckoutID: id})
	if err != nil || len(evs) != 1 {
		t.Fatalf("events %v %v", evs, err)
	}
	support := e.signIn(cpSupport)
	page := support.do("GET", "/console/payments/"+id, nil)
	if !strings.Contains(page.body, `data-testid="event-resend"`) {
		t.Error("support has no resend button")
	}
	e.hooks.Lock()
	before := e.hooks.got
	e.hooks.Unlock()
	if a := support.post("/console/payments/"+id, "/console/payments/"+id+"/events/"+evs[0].ID+"/resend", nil); a.status != http.StatusSeeOther {
		t.Fatalf("resend: %d\n%s", a.status, a.body)
	}
	e.tick()
	e.hooks.Lock()
	after := e.hooks.got
	e.hooks.Unlock()
	if after != before+1 {
		t.Errorf("deliveries %d → %d after a resend", before, after)
	}
	other, _, _ := e.order("order-9", 300)
	if a := support.post("/console/payments/"+other, "/console/payments/"+other+"/cancel", nil); a.status != http.StatusForbidden {
		t.Errorf("support cancels: %d, want 403", a.status)
	}
	if a := support.post("/console/payments/"+id, "/console/payments/"+other+"/events/"+evs[0].ID+"/resend", nil); a.status != http.StatusNotFound {
		t.Errorf("resend of an event under another checkout: %d, want 404", a.status)
	}

	admin := e.signIn(cpAdmin)
	page = admin.do("GET", "/console/payments/"+other, nil)
	if !strings.Contains(page.body, `data-testid="cancel-form"`) || !strings.Contains(page.body, `data-testid="sandbox-mark-paid"`) {
		t.Fatalf("admin lacks cancel or sandbox pay on a pending test checkout")
	}
	if a := admin.post("/console/payments/"+other, "/console/payments/"+other+"/cancel", nil); a.status != http.StatusSeeOther {
		t.Fatalf("admin cancel: %d\n%s", a.status, a.body)
	}
	if co, _ := e.app.Repo.Get(ctx, other); co.Status != checkout.StatusCancelled {
		t.Errorf("after cancel: %s", co.Status)
	}
	third, _, ordNo := e.order("order-10", 400)
	if a := support.post("/console/payments/"+third, "/console/payments/"+third+"/sandbox-pay", url.Values{"ord_no": {ordNo}}); a.status != http.StatusForbidden {
		t.Errorf("support marks paid: %d, want 403", a.status)
	}
	if a := admin.post("/console/payments/"+third, "/console/payments/"+third+"/sandbox-pay", url.Values{"ord_no": {ordNo}}); a.status != http.StatusSeeOther {
		t.Fatalf("sandbox pay: %d\n%s", a.status, a.body)
	}
	e.waitPaid(third)
	entries, _, _ := e.audit().List(ctx, "shop", 0, 50)
	seen := map[string]bool{}
	for _, en := range entries {
		seen[en.Action] = true
	}
	for _, action := range []string{"resend", "cancel", "sandbox_pay"} {
		if !seen[action] {
			t.Errorf("no %s audit entry", action)
		}
	}
}

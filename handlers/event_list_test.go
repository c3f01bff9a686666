package handlers_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/handlers"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
)

const (
	evSecretNew = "whsec_events_test_new_0123456789abcdef"
	evSecretOld = "whsec_events_test_old_0123456789abcdef"
)

// evReceiver is a merchant's webhook endpoint: it answers with the status
// of the moment and keeps what it got.
type evReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	got    []evDelivery
}

type evDelivery struct {
	id, typ, sig string
	body         []byte
}

func (rc *evReceiver) setStatus(code int) { rc.mu.Lock(); rc.status = code; rc.mu.Unlock() }
func (rc *evReceiver) deliveries() []evDelivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]evDelivery(nil), rc.got...)
}

// evEnv is the whole service (app.New) for merchant events: the sandbox
// gateway on httptest, real Redis when reachable, the handlers on
// httptest, and a merchant receiver. Webhook deliveries run on a fake
// clock, by Tick.
type evEnv struct {
	t          *testing.T
	rdb        redis.UniversalClient
	clk        *testClock
	sb         *sandbox.Server
	gw         *gateway.Client
	store      *checkout.Store
	gs         *gateway.Store
	dir        *checkout.Directory
	accounts   *payments.Accounts
	repo       *checkout.Repo
	hooks      *webhook.Service
	api        *httptest.Server
	oas        *handlers.OpenAPICheck // what api's answers validated (OpenAPIValidating)
	rc         *evReceiver
	keyA, keyB string
	merchantA  string
	prefix     string
}

func newEvEnv(t *testing.T, opts ...option) *evEnv {
	t.Helper()
	e := &evEnv{t: t, clk: &testClock{}, rdb: redistest.New(t)}
	e.prefix = redistest.Prefix(t, e.rdb)
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
	gs, err := gateway.NewStore(sbSrv.URL+sb.Prefix(), st.OpenID, st.OpenKey, st.ShopPass)
	if err != nil {
		t.Fatal(err)
	}
	e.gw = gateway.NewClient(gateway.WithRetries(0, 0, 0))

	e.rc = &evReceiver{status: http.StatusOK}
	e.rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.rc.mu.Lock()
		e.rc.got = append(e.rc.got, evDelivery{id: r.Header.Get(webhook.HeaderEventID), typ: r.Header.Get(webhook.HeaderEventType), sig: r.Header.Get(webhook.HeaderSignature), body: body})
		code := e.rc.status
		e.rc.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(e.rc.Close)

	e.store = &checkout.Store{ID: "main", Name: "Main", Sandbox: true, LatePolicy: checkout.LatePolicyAccept,
		WeChat: checkout.WeChatConfig{Enabled: true, Mode: checkout.ModeRedirect},
		Alipay: checkout.AlipayConfig{Enabled: true, Mode: checkout.ModeRedirect}}
	e.keyA, _ = checkout.NewAPIKey(false)
	e.keyB, _ = checkout.NewAPIKey(false)
	e.merchantA = "m_" + rand.Text()[:8]
	a := &checkout.Merchant{ID: e.merchantA, Name: "Shop A", APIKeys: []checkout.APIKey{checkout.APIKeyFor(e.keyA)},
		WebhookURL: e.rc.URL + "/hooks", WebhookSecrets: []checkout.Secret{evSecretNew, evSecretOld},
		Stores: []*checkout.Store{e.store}}
	gsB, err := gateway.NewStore(sbSrv.URL+sb.Prefix(), "OB"+rand.Text()[:10], st.OpenKey, st.ShopPass)
	if err != nil {
		t.Fatal(err)
	}
	b := &checkout.Merchant{ID: "m_" + rand.Text()[:8], Name: "Shop B", APIKeys: []checkout.APIKey{checkout.APIKeyFor(e.keyB)},
		Stores: []*checkout.Store{{ID: "main", Name: "B", Sandbox: true, LatePolicy: checkout.LatePolicyAccept,
			WeChat: checkout.WeChatConfig{Enabled: true, Mode: checkout.ModeRedirect}}}}
	e.dir, err = checkout.NewDirectory([]*checkout.Merchant{a, b})
	if err != nil {
		t.Fatal(err)
	}
	e.gs, e.accounts = gs, payments.NewAccounts()
	if err := e.accounts.Add(a.ID, "main", gs); err != nil {
		t.Fatal(err)
	}
	if err := e.accounts.Add(b.ID, "main", gsB); err != nil {
		t.Fatal(err)
	}

	svc := build(t, &app.Config{Redis: e.rdb, Directory: e.dir, Accounts: e.accounts, Gateway: e.gw, Clock: e.clk.Now, Prefix: e.prefix},
		append([]option{publicURL("https://pay.example"), allowPrivateWebhooks}, opts...)...)
	e.repo, e.hooks = svc.Repo, svc.Webhooks
	validating, oas := handlers.OpenAPIValidating(t, svc.Handler)
	e.api, e.oas = httptest.NewServer(validating), oas
	t.Cleanup(e.api.Close)
	return e
}

func (e *evEnv) do(method, path, key string) *response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.api.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &response{status: res.StatusCode, header: res.Header, body: b}
}

// paidCheckout creates a checkout through the API, orders it at the sandbox
// the way the pages do, pays it there, and waits until the sandbox's
// notify made it paid.
func (e *evEnv) paidCheckout() string {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.api.URL+"/v1/checkouts", strings.NewReader(`{"amount":1000,"reference":"order-7","metadata":{"table":"7"}}`))
	req.Header.Set("Authorization", "Bearer "+e.keyA)
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
	a, _, err := e.repo.AddAttempt(ctx, created.ID, checkout.MethodWeChat, checkout.ScenarioJump)
	if err != nil {
		e.t.Fatal(err)
	}
	or, err := e.gw.PayOrder(ctx, e.gs, &gateway.PayOrderRequest{
		OutNo: a.OutNo, PmtTag: "Weixin", OrdName: "咖啡", OriginalAmount: 1000, TradeAmount: 1000,
		NotifyURL: payments.NotifyURL(e.api.URL, e.gs.OpenID), JumpURL: "https://pay.example/c/" + created.ID + "/return",
	})
	if err != nil {
		e.t.Fatalf("payorder: %v", err)
	}
	if _, err := e.repo.UpdateAttempt(ctx, created.ID, a.Seq, "", string(or.OrdNo)); err != nil {
		e.t.Fatal(err)
	}
	if err := e.sb.PayOrderNo(ctx, string(or.OrdNo)); err != nil {
		e.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The checkout turns paid before its event is stored (the event is
		// the transition's follow-up): wait for both.
		c, err := e.repo.Get(ctx, created.ID)
		if err == nil && c.Status == checkout.StatusPaid && len(e.list("?checkout_id="+created.ID, e.keyA).Data) > 0 {
			return created.ID
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("checkout not paid by the sandbox's notify (status %v, %v)", c, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *evEnv) tick() {
	e.t.Helper()
	if _, err := e.hooks.Tick(context.Background(), e.clk.Now()); err != nil {
		e.t.Fatal(err)
	}
}

type evList struct {
	Object     string            `json:"object"`
	Data       []*webhook.Record `json:"data"`
	HasMore    bool              `json:"has_more"`
	NextCursor string            `json:"next_cursor"`
}

func (e *evEnv) list(query, key string) evList {
	e.t.Helper()
	r := e.do("GET", "/v1/events"+query, key)
	if r.status != http.StatusOK {
		e.t.Fatalf("GET /v1/events%s: %d %s", query, r.status, r.body)
	}
	var l evList
	if err := json.Unmarshal(r.body, &l); err != nil {
		e.t.Fatal(err)
	}
	return l
}

// A payment confirmed through the real notify path becomes a checkout.paid
// event: listed with its attempts, delivered signed once the receiver
// recovers, and resent with the same id on request.
func TestEventsEndToEnd(t *testing.T) {
	e := newEvEnv(t)
	id := e.paidCheckout()

	l := e.list("", e.keyA)
	if l.Object != "list" || len(l.Data) != 1 || l.HasMore {
		t.Fatalf("list %+v", l)
	}
	ev := l.Data[0]
	if ev.Type != webhook.TypePaid || ev.CheckoutID != id || ev.Data.Checkout.Status != "paid" ||
		ev.Data.Checkout.Reference != "order-7" || ev.Data.Checkout.Metadata["table"] != "7" ||
		ev.Delivery.State != webhook.StatePending || len(ev.Delivery.Attempts) != 0 {
		t.Fatalf("event %+v", ev)
	}

	// The receiver is down for the first attempt.
	e.rc.setStatus(http.StatusServiceUnavailable)
	e.tick()
	e.rc.setStatus(http.StatusOK)
	l = e.list("", e.keyA)
	if d := l.Data[0].Delivery; d.State != webhook.StateRetrying || len(d.Attempts) != 1 || d.Attempts[0].Status != 503 || d.NextAttempt == nil {
		t.Fatalf("after a 503: %+v", d)
	}
	e.tick() // not due yet
	e.clk.Advance(30 * time.Second)
	e.tick()
	l = e.list("", e.keyA)
	if d := l.Data[0].Delivery; d.State != webhook.StateDelivered || len(d.Attempts) != 2 || d.Attempts[1].Status != 200 {
		t.Fatalf("after recovery: %+v", d)
	}

	// Another merchant cannot see or resend it.
	if r := e.do("POST", "/v1/events/"+ev.ID+"/resend", e.keyB); r.status != http.StatusNotFound {
		t.Errorf("other merchant's resend: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/events/"+ev.ID, e.keyB); r.status != http.StatusNotFound {
		t.Errorf("other merchant's get: %d", r.status)
	}
	if l := e.list("", e.keyB); len(l.Data) != 0 {
		t.Errorf("other merchant lists %d events", len(l.Data))
	}

	r := e.do("POST", "/v1/events/"+ev.ID+"/resend", e.keyA)
	if r.status != http.StatusAccepted {
		t.Fatalf("resend: %d %s", r.status, r.body)
	}
	var rec webhook.Record
	if err := json.Unmarshal(r.body, &rec); err != nil || rec.ID != ev.ID || rec.Delivery.State != webhook.StatePending {
		t.Fatalf("resend answer %s (%v)", r.body, err)
	}
	e.tick()

	got := e.rc.deliveries()
	if len(got) != 3 {
		t.Fatalf("receiver got %d deliveries, want 3 (503, 200, resend)", len(got))
	}
	for i, d := range got {
		if d.id != ev.ID {
			t.Errorf("delivery %d has id %q, want %q", i+1, d.id, ev.ID)
		}
		if err := webhook.Verify(d.body, d.sig, []string{evSecretOld}, time.Hour, e.clk.Now()); err != nil {
			t.Errorf("delivery %d: %v", i+1, err)
		}
	}
	r = e.do("GET", "/v1/events/"+ev.ID, e.keyA)
	if err := json.Unmarshal(r.body, &rec); err != nil || len(rec.Delivery.Attempts) != 3 || rec.Delivery.State != webhook.StateDelivered {
		t.Errorf("event after resend: %s", r.body)
	}
}

// The list's filters, pagination and every bad parameter.
func TestEventsListAPI(t *testing.T) {
	e := newEvEnv(t)
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		c, err := checkout.NewCheckout(&checkout.Draft{MerchantID: e.merchantA, StoreID: "main",
			Amounts: checkout.Amounts{Original: 500, Trade: 500}, LatePolicy: checkout.LatePolicyAccept}, e.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		typ := webhook.TypeExpired
		if i%2 == 0 {
			typ = webhook.TypeCancelled
		}
		ev, err := webhook.NewEvent(typ, c, "https://pay.example", e.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := e.hooks.Emit(ctx, ev); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
		e.clk.Advance(time.Second)
	}

	first := e.list("?limit=2", e.keyA)
	if len(first.Data) != 2 || !first.HasMore || first.NextCursor != ids[3] || first.Data[0].ID != ids[4] {
		t.Fatalf("first page %+v", first)
	}
	second := e.list("?limit=2&starting_after="+first.NextCursor, e.keyA)
	third := e.list("?limit=2&starting_after="+second.NextCursor, e.keyA)
	if len(second.Data) != 2 || len(third.Data) != 1 || third.HasMore || third.Data[0].ID != ids[0] {
		t.Errorf("pages %d %d (more %v)", len(second.Data), len(third.Data), third.HasMore)
	}
	if l := e.list("?type=checkout.cancelled", e.keyA); len(l.Data) != 3 {
		t.Errorf("type filter: %d", len(l.Data))
	}
	one := first.Data[0].CheckoutID
	if l := e.list("?checkout_id="+one, e.keyA); len(l.Data) != 1 || l.Data[0].ID != ids[4] {
		t.Errorf("checkout filter: %+v", l.Data)
	}

	bad := []struct{ query, param string }{
		{"?type=checkout.exploded", "type"},
		{"?checkout_id=../../etc", "checkout_id"},
		{"?limit=0", "limit"},
		{"?limit=101", "limit"},
		{"?limit=ten", "limit"},
		{"?starting_after=evt_nope", "starting_after"},
		{"?starting_after=" + strings.Repeat("x", 2000), "starting_after"},
	}
	for _, tc := range bad {
		r := e.do("GET", "/v1/events"+tc.query, e.keyA)
		if code, param := r.errorOf(t); r.status != http.StatusBadRequest || code != "invalid_parameter" || param != tc.param {
			t.Errorf("%s: %d %s %s", tc.query, r.status, code, param)
		}
	}
	for _, p := range []string{"/v1/events/evt_nope", "/v1/events/" + strings.Repeat("a", 300), "/v1/events/%00"} {
		if r := e.do("GET", p, e.keyA); r.status != http.StatusNotFound {
			t.Errorf("GET %s: %d", p, r.status)
		}
		if r := e.do("POST", p+"/resend", e.keyA); r.status != http.StatusNotFound {
			t.Errorf("POST %s/resend: %d", p, r.status)
		}
	}
	for _, p := range []string{"/v1/events", "/v1/events/" + ids[0]} {
		if r := e.do("GET", p, ""); r.status != http.StatusUnauthorized {
			t.Errorf("GET %s without a key: %d", p, r.status)
		}
	}
	if r := e.do("POST", "/v1/events/"+ids[0]+"/resend", "sk_test_forged"); r.status != http.StatusUnauthorized {
		t.Errorf("resend with a forged key: %d", r.status)
	}
}

// Redis down: the API says unavailable, never 500, never a partial list.
func TestEventsRedisDown(t *testing.T) {
	e := newEvEnv(t)
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	t.Cleanup(func() { _ = dead.Close() })
	a := build(t, &app.Config{Redis: dead, Directory: e.dir, Accounts: e.accounts}, publicURL("https://pay.example"))
	validating, _ := handlers.OpenAPIValidating(t, a.Handler)
	srv := httptest.NewServer(validating)
	t.Cleanup(srv.Close)
	e.api = srv
	evID, _ := webhook.NewID()
	for _, m := range [][2]string{{"GET", "/v1/events"}, {"GET", "/v1/events/" + evID}, {"POST", "/v1/events/" + evID + "/resend"}} {
		r := e.do(m[0], m[1], e.keyA)
		if code, _ := r.errorOf(t); r.status != http.StatusServiceUnavailable || code != "unavailable" {
			t.Errorf("%s %s: %d %s", m[0], m[1], r.status, r.body)
		}
	}
}

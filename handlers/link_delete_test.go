package handlers_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/web/templates"
)

// linkEvents lists merchant A's events of type typ about link id.
func (e *env) linkEvents(typ, id string) []*webhook.Record {
	e.t.Helper()
	recs, _, err := e.app.Webhooks.List(context.Background(), "ma", webhook.ListQuery{Type: typ, Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*webhook.Record
	for _, r := range recs {
		if r.Data.PaymentLink != nil && r.Data.PaymentLink.ID == id {
			out = append(out, r)
		}
	}
	return out
}

// TestLinkDelete: DELETE /v1/payment-links/{id} answers the deleted link,
// removes every key of the link that has no TTL (the link, its
// reservations, its checkout index, the merchant's list entry), emits
// payment_link.deleted once, and leaves the link a 404 everywhere; a
// second delete, another merchant's and a malformed id are 404 and change
// nothing.
func TestLinkDelete(t *testing.T) {
	e := newEnv(t)
	l := e.createLink(e.keyA, `{"amount":1500,"description":"拿铁","max_payments":5}`)
	id := l["id"].(string)
	keep := e.createLink(e.keyA, `{"amount":900}`)
	link, err := e.repo.GetLink(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	co, err := e.app.Payments.CheckoutFromLink(context.Background(), link, 1500, checkout.LinkTap{})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.do("DELETE", "/v1/payment-links/"+id, e.keyB, ""); r.status != http.StatusNotFound {
		t.Fatalf("B deletes A's link: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", "/v1/payment-links/pl_nope", e.keyA, ""); r.status != http.StatusNotFound {
		t.Fatalf("a malformed id: %d", r.status)
	}
	r := e.do("DELETE", "/v1/payment-links/"+id, e.keyA, "")
	if r.status != http.StatusOK {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if got := r.json(t); got["id"] != id || got["object"] != "payment_link" || got["deleted"] != true {
		t.Fatalf("delete answered %v", got)
	}
	if r := e.do("GET", "/v1/payment-links/"+id, e.keyA, ""); r.status != http.StatusNotFound {
		t.Fatalf("read after delete: %d", r.status)
	}
	if r := e.do("DELETE", "/v1/payment-links/"+id, e.keyA, ""); r.status != http.StatusNotFound {
		t.Fatalf("second delete: %d", r.status)
	}
	list := e.do("GET", "/v1/payment-links", e.keyA, "").json(t)["data"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != keep["id"] {
		t.Fatalf("list after delete %v", list)
	}
	// No key of the link without a TTL is left (the payers' digests and
	// the paid markers end by themselves).
	keys, err := redistest.Keys(e.rdb, "*"+id+"*")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if ttl, _ := e.rdb.PTTL(context.Background(), k).Result(); ttl < 0 {
			t.Errorf("key %s left without a TTL", k)
		}
	}
	lists, err := redistest.Keys(e.rdb, "*m:{ma}:links")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range lists {
		if err := e.rdb.ZScore(context.Background(), k, id).Err(); !errors.Is(err, redis.Nil) {
			t.Errorf("the merchant's list %s still has the link (%v)", k, err)
		}
	}
	if evs := e.linkEvents(webhook.TypePaymentLinkDeleted, id); len(evs) != 1 || evs[0].Data.PaymentLink.Amount != 1500 {
		t.Fatalf("deleted events %+v", evs)
	}
	// The link's open checkout stands on its own.
	if got, err := e.repo.Get(context.Background(), co.ID); err != nil || got.Status != checkout.StatusOpen || got.PaymentLink != id {
		t.Fatalf("the link's checkout after delete: %+v %v", got, err)
	}
}

// failEmits is a Redis hook that fails, while on is set, every script that
// stores a webhook event (the one that carries an event's body): the emit,
// after whatever the caller stored before it.
type failEmits struct{ on atomic.Bool }

func (f *failEmits) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (f *failEmits) hit(cmd redis.Cmder) bool {
	if !f.on.Load() {
		return false
	}
	name := strings.ToLower(cmd.Name())
	if name != "evalsha" && name != "eval" && name != "evalsha_ro" {
		return false
	}
	for _, a := range cmd.Args() {
		switch v := a.(type) {
		case string:
			if strings.Contains(v, `"object":"event"`) {
				return true
			}
		case []byte:
			if strings.Contains(string(v), `"object":"event"`) {
				return true
			}
		}
	}
	return false
}

var errInjected = errors.New("injected: the emit failed")

func (f *failEmits) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if f.hit(cmd) {
			cmd.SetErr(errInjected)
			return errInjected
		}
		return next(ctx, cmd)
	}
}

func (f *failEmits) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			if f.hit(c) {
				c.SetErr(errInjected)
				return errInjected
			}
		}
		return next(ctx, cmds)
	}
}

// TestLinkEventsSurviveFailedEmit: every emit of a payment_link event fails
// (a hook on Redis fails the webhook store's script) after the link's
// change was stored: the API still answers the change, and the
// reconciler's next pass after the writer's grace delivers each event
// exactly once: created, updated, deactivated and deleted.
func TestLinkEventsSurviveFailedEmit(t *testing.T) {
	rdb := redistest.New(t)
	f := &failEmits{}
	rdb.AddHook(f)
	e := newEnv(t, withRedis(rdb))
	f.on.Store(true)
	l := e.createLink(e.keyA, `{"amount":1500}`)
	id := l["id"].(string)
	if r := e.do("POST", "/v1/payment-links/"+id, e.keyA, `{"active":false}`); r.status != http.StatusOK {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	gone := e.createLink(e.keyA, `{"amount":700}`)["id"].(string)
	if r := e.do("DELETE", "/v1/payment-links/"+gone, e.keyA, ""); r.status != http.StatusOK {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	want := []struct {
		typ, id string
	}{
		{webhook.TypePaymentLinkCreated, id}, {webhook.TypePaymentLinkUpdated, id},
		{webhook.TypePaymentLinkDeactivated, id}, {webhook.TypePaymentLinkCreated, gone}, {webhook.TypePaymentLinkDeleted, gone},
	}
	for _, w := range want {
		if n := len(e.linkEvents(w.typ, w.id)); n != 0 {
			t.Fatalf("%s of %s stored %d times with its emit failing", w.typ, w.id, n)
		}
	}
	f.on.Store(false)
	ctx := context.Background()
	for range 2 {
		e.clk.Advance(5 * time.Minute)
		if err := e.app.Reconciler.Tick(ctx, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range want {
		if n := len(e.linkEvents(w.typ, w.id)); n != 1 {
			t.Errorf("%s of %s: %d events after the reconciler, want 1", w.typ, w.id, n)
		}
	}
}

// TestLinkDeletedPages: once the merchant deletes a link, its page and
// poster answer 404 with the page saying so in the payer's language, a
// tap makes nothing; a checkout the link made before is paid all the same
// through the sandbox (it holds its own terms).
func TestLinkDeletedPages(t *testing.T) {
	e := newPgEnv(t)
	ctx := context.Background()
	l := e.newLink(checkout.LinkTerms{Amount: 2500, Description: "拿铁"})
	b := e.browser(uaDesktop, "before")
	id := checkoutOf(t, b.tapLink(l.ID, nil))
	form := url.Values{"csrf": {attr(reLinkCSRF, b.get("/l/"+l.ID).body)}}
	if _, err := e.app.Payments.DeleteLink(ctx, "m_pages", l.ID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ lang, want string }{
		{"", templates.Translate("zh-Hans", "error.link_gone.title")},
		{"zh-Hant", templates.Translate("zh-Hant", "error.link_gone.title")},
		{"en", "This payment link no longer exists"},
	} {
		for _, path := range []string{"/l/" + l.ID, "/l/" + l.ID + "/poster"} {
			if tc.lang != "" {
				path += "?lang=" + tc.lang
			}
			r := e.browser(uaWeChatIOS, "after").do(false, "GET", path, nil, nil)
			if r.status != http.StatusNotFound || !strings.Contains(r.body, tc.want) {
				t.Errorf("%s: %d, want 404 saying %q", path, r.status, tc.want)
			}
		}
	}
	r := b.do(false, "POST", "/l/"+l.ID, []byte(form.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if r.status != http.StatusNotFound {
		t.Fatalf("a tap on a deleted link: %d", r.status)
	}
	// The checkout made before pays.
	page, action, csrf := b.openPage(id)
	if page.status != 200 || action != templates.ActionQR {
		t.Fatalf("the link's checkout page after delete: %d %q", page.status, action)
	}
	if pr := b.pay(id, csrf, map[string]string{"wallet": "alipay", "scenario": "qr"}); pr.status != 200 {
		t.Fatalf("pay: %d %s", pr.status, pr.body)
	}
	snap, _ := e.sb.Order(e.sbNative.OpenID, checkout.OutNo(id, 1))
	if err := e.sb.PayQRCode(ctx, snap.TradeQRCode); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		co, err := e.repo.Get(ctx, id)
		if err == nil && co.Status == checkout.StatusPaid {
			if co.PaymentLink != l.ID || co.Amounts.Trade != 2500 {
				t.Fatalf("paid checkout %+v", co)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deleted link's checkout was not paid: %+v %v", co, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if cs, _, err := e.repo.ListByLink(ctx, "m_pages", l.ID, checkout.ListQuery{}); !errors.Is(err, checkout.ErrNotFound) || len(cs) != 0 {
		t.Fatalf("the deleted link's checkouts: %d %v", len(cs), err)
	}
}

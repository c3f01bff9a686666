package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/client"
	"github.com/wallet-checkout/checkout/gateway"
)

// dropProxy stands between the client and the service. While armed, the
// next request whose path ends in dropSuffix is forwarded and done by the
// service, but its answer is thrown away and the client's connection
// closed: the network failing after the server acted.
type dropProxy struct {
	target     string
	dropSuffix string
	armed      atomic.Bool
	dropped    atomic.Int32
	keys       chan string // Idempotency-Key of every request to dropSuffix
}

func (p *dropProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	out, err := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	drop := strings.HasSuffix(r.URL.Path, p.dropSuffix)
	if drop {
		p.keys <- r.Header.Get("Idempotency-Key")
	}
	res, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(res.Body)
	if drop && p.armed.CompareAndSwap(true, false) {
		p.dropped.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	for k, vs := range res.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(res.StatusCode)
	w.Write(answer)
}

// TestGoClient drives the merchants' Go client (the client module) against
// the real service: create, get, list across pages, cancel, a refund whose
// first answer the network loses (the client's retry under the same
// idempotency key gets the same refund, and money moves once), errors and
// events. It also decodes the service's raw answers strictly into the
// client's types, so a field the API answers and the client does not
// know fails here.
func TestGoClient(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})
	proxy := &dropProxy{target: s.url, dropSuffix: "/refunds", keys: make(chan string, 8)}
	psrv := httptest.NewServer(proxy)
	t.Cleanup(psrv.Close)
	// No keep-alive: on a reused connection net/http itself resends a
	// request carrying an Idempotency-Key that died with the connection,
	// and the test is about the client's own retry.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	c, err := client.New(psrv.URL, s.apiKey, client.WithHTTPClient(hc), client.WithBackoff(10*time.Millisecond, 100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Create three checkouts.
	var ids []string
	for i, amount := range []int64{1000, 2000, 3000} {
		var ri client.ResponseInfo
		co, err := c.CreateCheckout(ctx, &client.CheckoutCreateParams{
			Amount: amount, Description: "拿铁", Reference: "order-" + string(rune('a'+i)),
			SuccessURL: s.url + successURL, Store: storeNative, Metadata: map[string]string{"table": "12"},
		}, client.WithResponseInfo(&ri))
		if err != nil {
			t.Fatalf("create %d: %v", amount, err)
		}
		if co.Status != client.StatusOpen || co.Amount != amount || co.Store != storeNative || co.Metadata["table"] != "12" || co.URL == "" {
			t.Errorf("created %+v", co)
		}
		if ri.StatusCode != http.StatusCreated || ri.RequestID == "" || ri.IdempotencyKey == "" || ri.Replayed {
			t.Errorf("create answer %+v", ri)
		}
		ids = append(ids, co.ID)
		// The list orders by creation time in milliseconds; two creates
		// in one millisecond would tie (and list by id). The next create
		// waits for the service's clock to pass the millisecond this one
		// had returned in (the API shows whole seconds only).
		for done := s.clock.Now().UnixMilli(); s.clock.Now().UnixMilli() <= done; {
			time.Sleep(time.Millisecond)
		}
	}

	// Get one.
	got, err := c.GetCheckout(ctx, ids[1])
	if err != nil || got.ID != ids[1] || got.Amount != 2000 || got.Reference != "order-b" {
		t.Fatalf("get: %+v, %v", got, err)
	}

	// List two at a time: newest first, across pages.
	page, err := c.ListCheckouts(ctx, &client.CheckoutListParams{Limit: 2})
	if err != nil || len(page.Data) != 2 || !page.HasMore || page.NextCursor == "" {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	it := c.IterCheckouts(ctx, &client.CheckoutListParams{Limit: 2})
	var listed []string
	for it.Next() {
		listed = append(listed, it.Current().ID)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{ids[2], ids[1], ids[0]}; strings.Join(listed, ",") != strings.Join(want, ",") {
		t.Errorf("listed %v, want %v", listed, want)
	}

	// Cancel one, twice (the same answer), then the list by status.
	for range 2 {
		co, err := c.CancelCheckout(ctx, ids[0])
		if err != nil || co.Status != client.StatusCancelled {
			t.Fatalf("cancel: %+v, %v", co, err)
		}
	}
	it = c.IterCheckouts(ctx, &client.CheckoutListParams{Status: client.StatusCancelled})
	var cancelled []string
	for it.Next() {
		cancelled = append(cancelled, it.Current().ID)
	}
	if it.Err() != nil || len(cancelled) != 1 || cancelled[0] != ids[0] {
		t.Errorf("cancelled list %v, %v", cancelled, it.Err())
	}

	// Errors: typed, with code, param and request id.
	_, err = c.GetCheckout(ctx, "co_000000000000000000000000")
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || !errors.Is(err, client.ErrNotFound) || apiErr.StatusCode != 404 || apiErr.RequestID == "" {
		t.Errorf("missing checkout: %#v", err)
	}
	_, err = c.CreateCheckout(ctx, &client.CheckoutCreateParams{Amount: 100, SuccessURL: "https://evil.example/x"})
	if !errors.As(err, &apiErr) || apiErr.Code != client.CodeInvalidParameter || apiErr.Param != "success_url" {
		t.Errorf("bad success_url: %#v", err)
	}

	// Pay the third, as a payer's desktop browser and phone would.
	paid := ids[2]
	payQR(t, s, paid)
	deadline := time.Now().Add(15 * time.Second)
	for {
		co, err := c.GetCheckout(ctx, paid)
		if err != nil {
			t.Fatal(err)
		}
		if co.Status == client.StatusPaid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkout still %s", co.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Refund 500 fen; the proxy loses the service's first answer. The
	// client retries under the same key and gets the same refund.
	proxy.armed.Store(true)
	var ri client.ResponseInfo
	re, err := c.CreateRefund(ctx, paid, &client.RefundCreateParams{Amount: 500, Reason: "cold"}, client.WithResponseInfo(&ri))
	if err != nil {
		t.Fatalf("refund: %v", err)
	}
	if proxy.dropped.Load() != 1 || ri.Attempts != 2 || ri.StatusCode != http.StatusCreated {
		t.Errorf("dropped %d answers, %d attempts, last status %d: want 1, 2, 201", proxy.dropped.Load(), ri.Attempts, ri.StatusCode)
	}
	if k1, k2 := <-proxy.keys, <-proxy.keys; k1 == "" || k1 != k2 || k1 != ri.IdempotencyKey {
		t.Errorf("keys sent %q and %q, want the same", k1, k2)
	}
	if re.Amount != 500 || re.CheckoutID != paid || re.Kind != "merchant" || re.Reason != "cold" {
		t.Errorf("refund %+v", re)
	}
	co, err := c.GetCheckout(ctx, paid)
	if err != nil {
		t.Fatal(err)
	}
	if re.Status != "succeeded" || len(co.Refunds) != 1 || co.Refunds[0].ID != re.ID || co.RefundedAmount != 500 {
		t.Errorf("after the refund (%s): refunded %d, refunds %+v", re.Status, co.RefundedAmount, co.Refunds)
	}
	// What the gateway itself refunded against the payment.
	var gwRefunds int64
	for _, o := range s.orders(storeNative, paid) {
		if o.OrdType == gateway.OrderPayment {
			gwRefunds += o.Refunded
		}
	}
	if gwRefunds != 500 {
		t.Errorf("the gateway refunded %d fen, want 500 once", gwRefunds)
	}
	// More than is left is refused, with its code and param.
	_, err = c.CreateRefund(ctx, paid, &client.RefundCreateParams{Amount: 3000})
	if !errors.Is(err, client.ErrRefundExceedsRefundable) {
		t.Errorf("over-refund: %v", err)
	}

	// Events: the paid checkout's, newest first, each readable by id.
	var evs []client.Event
	deadline = time.Now().Add(15 * time.Second)
	for {
		evs = evs[:0]
		eit := c.IterEvents(ctx, &client.EventListParams{CheckoutID: paid, Limit: 1})
		for eit.Next() {
			evs = append(evs, eit.Current())
		}
		if err := eit.Err(); err != nil {
			t.Fatal(err)
		}
		if hasType(evs, client.EventCheckoutPaid) && hasType(evs, client.EventRefundSucceeded) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !hasType(evs, client.EventCheckoutPaid) || !hasType(evs, client.EventRefundSucceeded) {
		t.Fatalf("events %+v: want checkout.paid and checkout.refund.succeeded", evs)
	}
	for _, ev := range evs {
		if ev.CheckoutID != paid || ev.Data.Checkout == nil || ev.Data.Checkout.ID != paid || ev.Delivery == nil {
			t.Errorf("event %+v", ev)
		}
		if ev.Type == client.EventRefundSucceeded && (ev.Data.Refund == nil || ev.Data.Refund.Amount != 500) {
			t.Errorf("refund event %+v", ev.Data.Refund)
		}
		one, err := c.GetEvent(ctx, ev.ID)
		if err != nil || one.ID != ev.ID || one.Type != ev.Type {
			t.Errorf("get event %s: %+v, %v", ev.ID, one, err)
		}
	}

	// Resend one; a missing one is not found.
	again, err := c.ResendEvent(ctx, evs[0].ID)
	if err != nil || again.ID != evs[0].ID || again.Delivery == nil {
		t.Errorf("resend %s: %+v, %v", evs[0].ID, again, err)
	}
	if _, err := c.ResendEvent(ctx, "evt_000000000000000000000000"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("resend of a missing event: %v", err)
	}

	// Reconcile the store's gateway day so far (UTC+8), read it back, list.
	day := time.Now().In(time.FixedZone("UTC+8", 8*3600)).Format("2006-01-02")
	rc, err := c.CreateReconciliation(ctx, &client.ReconciliationCreateParams{StoreID: storeNative, Date: day})
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	if rc.StoreID != storeNative || rc.Date != day || rc.Runs < 1 {
		t.Errorf("reconciliation %+v", rc)
	}
	if one, err := c.GetReconciliation(ctx, rc.ID); err != nil || one.ID != rc.ID {
		t.Errorf("get reconciliation: %+v, %v", one, err)
	}
	if runs, err := c.ListReconciliations(ctx, &client.ReconciliationListParams{StoreID: storeNative, Date: day}); err != nil || len(runs.Data) != 1 || runs.Data[0].ID != rc.ID {
		t.Errorf("list reconciliations: %+v, %v", runs, err)
	}
	if _, err := c.CreateReconciliation(ctx, &client.ReconciliationCreateParams{StoreID: "nosuchstore", Date: day}); !errors.Is(err, client.ErrInvalidParameter) {
		t.Errorf("reconcile an unknown store: %v", err)
	}

	// The client's types know every field the service answers.
	strictDecode(t, s, "/v1/reconciliations/"+rc.ID, &client.Reconciliation{})
	strictDecode(t, s, "/v1/reconciliations", &client.ReconciliationList{})
	strictDecode(t, s, "/v1/checkouts/"+paid, &client.Checkout{})
	strictDecode(t, s, "/v1/checkouts?limit=100", &client.CheckoutList{})
	strictDecode(t, s, "/v1/events?checkout_id="+paid, &client.EventList{})
	strictDecode(t, s, "/v1/events/"+evs[0].ID, &client.Event{})
}

func hasType(evs []client.Event, typ string) bool {
	for _, ev := range evs {
		if ev.Type == typ {
			return true
		}
	}
	return false
}

// payQR does what a desktop payer's page does (ask for a WeChat QR code),
// then pays the order at the sandbox as the phone that scans it.
func payQR(t *testing.T, s *stack, id string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	req, _ := http.NewRequest(http.MethodGet, s.url+"/c/"+id, nil)
	req.Header.Set("User-Agent", uaDesktop)
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`data-csrf="([^"]*)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the checkout page (%d)", res.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodPost, s.url+"/c/"+id+"/pay", strings.NewReader(`{"wallet":"wechat","scenario":"qr"}`))
	req.Header.Set("User-Agent", uaDesktop)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", string(m[1]))
	res, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("pay: %d %s", res.StatusCode, body)
	}
	orders := s.orders(storeNative, id)
	if len(orders) != 1 {
		t.Fatalf("%d gateway orders, want 1", len(orders))
	}
	if err := s.sb.PayOrderNo(context.Background(), orders[0].OrdNo); err != nil {
		t.Fatal(err)
	}
}

// strictDecode reads path from the service and decodes it into v,
// refusing members v does not have.
func strictDecode(t *testing.T, s *stack, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.apiKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, raw)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Errorf("GET %s: the client's %T does not match the answer: %v\n%s", path, v, err, raw)
	}
}

// TestGoClientEventTypes decodes the service's golden body of every event
// type (notify/webhook/testdata/events, pinned by the service's own tests)
// strictly into the client's Event: every member the service sends has a
// field in the client.
func TestGoClientEventTypes(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../notify/webhook/testdata/events/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden events: %v", err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev client.Event
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if want := strings.TrimSuffix(filepath.Base(f), ".json"); ev.Type != want || ev.ID == "" {
			t.Errorf("%s: decoded type %q id %q", filepath.Base(f), ev.Type, ev.ID)
		}
		// A ping (the console's "send test event") carries no object: its
		// data is empty by contract; every other event carries one.
		hasObject := ev.Data.Checkout != nil || ev.Data.Reconciliation != nil || ev.Data.PaymentLink != nil
		if ev.Type == client.EventPing {
			if hasObject || ev.CheckoutID != "" {
				t.Errorf("%s: a ping carries data %+v, checkout %q", filepath.Base(f), ev.Data, ev.CheckoutID)
			}
		} else if !hasObject {
			t.Errorf("%s: none of data.checkout, data.reconciliation, data.payment_link decoded", filepath.Base(f))
		}
		// One shape: the client's own API types, at the client's version.
		if ev.APIVersion != client.APIVersion || ev.Object != "event" || ev.CreatedAt.IsZero() {
			t.Errorf("%s: api_version %q (client %q), object %q, created_at %v", filepath.Base(f), ev.APIVersion, client.APIVersion, ev.Object, ev.CreatedAt)
		}
		if co := ev.Data.Checkout; co != nil && (co.Object != "checkout" || co.ID != ev.CheckoutID || co.Store == "" || co.URL == "") {
			t.Errorf("%s: checkout %+v", filepath.Base(f), co)
		}
		if strings.Contains(ev.Type, "refund") && (ev.Data.Refund == nil || ev.Data.Refund.Object != "refund" || ev.Data.Refund.CheckoutID != ev.CheckoutID) {
			t.Errorf("%s: refund %+v", filepath.Base(f), ev.Data.Refund)
		}
	}
	// The bodies written before api_version are another shape: strictly,
	// the client's Event refuses them (docs/webhooks.md, "Versions").
	legacy, err := filepath.Glob("../notify/webhook/testdata/legacy/*.json")
	if err != nil || len(legacy) == 0 {
		t.Fatalf("no legacy events: %v", err)
	}
	for _, f := range legacy {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		var ev client.Event
		if err := dec.Decode(&ev); err == nil {
			t.Errorf("legacy %s decoded strictly as the current shape", filepath.Base(f))
		}
		if err := json.Unmarshal(raw, &ev); err != nil || ev.APIVersion != "" {
			t.Errorf("legacy %s: api_version %q, %v", filepath.Base(f), ev.APIVersion, err)
		}
	}
}

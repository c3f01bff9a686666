package app_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/metrics"
	"github.com/wallet-checkout/checkout/payments"
)

// scrape GETs url (a /metrics) and returns each sample line's value by its
// name and labels, as the text format writes them (labels sorted).
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// paidFlow is the whole service (app.New) on the sandbox gateway with its
// metrics, loops running, the merchant's webhook receiver, and the admin
// handler on a listener of its own.
type paidFlow struct {
	api, admin *httptest.Server
	app        *app.App
	sb         *sandbox.Server
	key        string
	openID     string
	hooks      atomic.Int32
}

func newPaidFlow(t *testing.T, opts metrics.Options) *paidFlow {
	t.Helper()
	f := &paidFlow{}
	rdb := redistest.New(t)
	sb, err := sandbox.New(sandbox.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	f.sb = sb
	sbSrv := httptest.NewServer(sb.Handler())
	t.Cleanup(sbSrv.Close)
	st := sandbox.GenerateStore()
	if err := sb.AddStore(st); err != nil {
		t.Fatal(err)
	}
	gs, err := gateway.NewStore(sbSrv.URL+sb.Prefix(), st.OpenID, st.OpenKey, st.ShopPass)
	if err != nil {
		t.Fatal(err)
	}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hooks.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)

	key, _ := checkout.NewAPIKey(false)
	f.key, f.openID = key, st.OpenID
	m := &checkout.Merchant{
		ID: "m_" + strings.ToLower(rand.Text()[:8]), Name: "Shop", APIKeys: []checkout.APIKey{checkout.APIKeyFor(key)},
		WebhookURL: receiver.URL + "/hooks", WebhookSecrets: []checkout.Secret{"whsec_metrics_test"},
		Stores: []*checkout.Store{{ID: "main", Name: "Main", Sandbox: true, LatePolicy: checkout.LatePolicyAccept,
			WeChat: checkout.WeChatConfig{Enabled: true, Mode: checkout.ModeRedirect},
			Alipay: checkout.AlipayConfig{Enabled: true, Mode: checkout.ModeRedirect}}},
	}
	dir, err := checkout.NewDirectory([]*checkout.Merchant{m})
	if err != nil {
		t.Fatal(err)
	}
	accounts := payments.NewAccounts()
	if err := accounts.Add(m.ID, "main", gs); err != nil {
		t.Fatal(err)
	}

	// The public URL (notify_url) must be known before the service is
	// built: the server starts first and forwards to it.
	var handler atomic.Pointer[http.Handler]
	f.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(f.api.Close)
	settings, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	settings.PublicURL, settings.AllowPrivateWebhooks = f.api.URL, true
	f.app, err = app.New(app.Config{
		Settings: settings, Redis: rdb, Prefix: redistest.Prefix(t, rdb), Directory: dir, Accounts: accounts,
		Logger: slog.New(slog.DiscardHandler), Metrics: metrics.New(opts), ReconcileEvery: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := f.app.Handler
	handler.Store(&h)
	ctx, cancel := context.WithCancel(context.Background())
	wait := f.app.Start(ctx)
	t.Cleanup(func() { cancel(); wait() })
	f.admin = httptest.NewServer(f.app.Admin(nil))
	t.Cleanup(f.admin.Close)
	return f
}

// pay creates a checkout through the API, opens its page, asks for a QR
// order as a desktop browser does, pays it at the sandbox, and waits for
// the checkout to be paid and its webhook delivered. It returns the id.
func (f *paidFlow) pay(t *testing.T) string {
	t.Helper()
	id := f.create(t)
	return f.payIt(t, id)
}

// create makes an open checkout through the API and returns its id.
func (f *paidFlow) create(t *testing.T) string {
	t.Helper()
	req, _ := http.NewRequest("POST", f.api.URL+"/v1/checkouts", strings.NewReader(`{"amount":1999,"description":"metrics"}`))
	req.Header.Set("Authorization", "Bearer "+f.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ ID string }
	err = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || err != nil {
		t.Fatalf("create = %s, %v", resp.Status, err)
	}
	return created.ID
}

// payIt pays checkout id as pay says.
func (f *paidFlow) payIt(t *testing.T, id string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := browser.Get(f.api.URL + "/c/" + id)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`data-csrf="([^"]+)"`).FindSubmatch(page)
	if csrf == nil {
		t.Fatalf("GET /c/%s = %s without a CSRF token", id, resp.Status)
	}
	req, _ := http.NewRequest("POST", f.api.URL+"/c/"+id+"/pay", strings.NewReader(`{"wallet":"wechat","scenario":"qr"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", string(csrf[1]))
	req.Header.Set("Origin", f.api.URL)
	resp, err = browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /c/%s/pay = %s %s", id, resp.Status, body)
	}

	ctx := context.Background()
	as, err := f.app.Repo.Attempts(ctx, id)
	if err != nil || len(as) != 1 || as[0].OrdNo == "" {
		t.Fatalf("attempts %v, %v: want one with its ord_no", as, err)
	}
	if err := f.sb.PayOrderNo(ctx, as[0].OrdNo); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := f.app.Repo.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status == checkout.StatusPaid && f.hooks.Load() > 0 {
			return id
		}
		if time.Now().After(deadline) {
			t.Fatalf("60 s after the payment: checkout %s, %d webhooks received", c.Status, f.hooks.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetricsAfterAPaidFlow drives a payment through the whole service
// (API, page, gateway, the sandbox's notify, the webhook) and reads the
// admin listener's /metrics: every counter on the way moved, by route
// template, endpoint and source, and no checkout id is a label anywhere.
func TestMetricsAfterAPaidFlow(t *testing.T) {
	f := newPaidFlow(t, metrics.Options{Version: "v9.9.9", Commit: "abc123"})
	id := f.pay(t)

	var got map[string]float64
	// The webhook's counter moves right after the receiver answered; the
	// notify's once the handler returned: poll until both are there.
	deadline := time.Now().Add(30 * time.Second)
	for {
		got = scrape(t, f.admin.URL+"/metrics")
		if got[`checkout_webhook_deliveries_total{result="ok"}`] >= 1 && got[`checkout_notifies_received_total{result="success"}`] >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook or notify never counted:\n%v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	atLeastOne := []string{
		`checkout_http_requests_total{method="POST",route="/v1/checkouts",status="201"}`,
		`checkout_http_requests_total{method="GET",route="/c/:id",status="200"}`,
		`checkout_http_requests_total{method="POST",route="/c/:id/pay",status="200"}`,
		`checkout_http_requests_total{method="GET",route="/notify/:store",status="200"}`,
		`checkout_http_request_duration_seconds_count{method="POST",route="/v1/checkouts"}`,
		`checkout_gateway_calls_total{endpoint="payorder",result="ok"}`,
		`checkout_gateway_calls_total{endpoint="paystatus",result="ok"}`,
		`checkout_gateway_call_duration_seconds_count{endpoint="payorder"}`,
		`checkout_notifies_received_total{result="success"}`,
		`checkout_webhook_deliveries_total{result="ok"}`,
		`checkout_build_info{commit="abc123",goversion="` + runtime.Version() + `",version="v9.9.9"}`,
	}
	for _, k := range atLeastOne {
		if got[k] < 1 {
			t.Errorf("%s = %v, want at least 1", k, got[k])
		}
	}
	exactlyOne := []string{
		`checkout_confirmations_total{source="notify"}`,
		`checkout_checkout_transitions_total{from="open",to="pending"}`,
		`checkout_checkout_transitions_total{from="pending",to="paid"}`,
	}
	for _, k := range exactlyOne {
		if got[k] != 1 {
			t.Errorf("%s = %v, want 1 (one payment, one move)", k, got[k])
		}
	}
	// Read from Redis at the scrape: present, whatever their value.
	for _, k := range []string{"checkout_webhook_queue_depth", "checkout_webhook_oldest_due_age_seconds",
		"checkout_reconciler_lag_seconds", "checkout_redis_pool_connections", "checkout_sse_streams_open"} {
		if _, ok := got[k]; !ok {
			t.Errorf("%s missing from the scrape", k)
		}
	}
	for k := range got {
		if strings.Contains(k, id) || strings.Contains(k, "merchant_id") {
			t.Errorf("series %s names the checkout or the merchant (labels must be bounded)", k)
		}
	}
}

// TestMetricsMerchantLabel: the operator's switch adds merchant_id to
// the per-merchant series, and only to them.
func TestMetricsMerchantLabel(t *testing.T) {
	f := newPaidFlow(t, metrics.Options{MerchantLabel: true})
	f.pay(t)
	// The webhook's counter moves right after the receiver answered, which
	// may be after pay returned: poll until its series is there.
	var withMerchant []string
	for deadline := time.Now().Add(30 * time.Second); ; {
		withMerchant = withMerchant[:0]
		delivered := false
		for k := range scrape(t, f.admin.URL+"/metrics") {
			if strings.Contains(k, `merchant_id="m_`) {
				name := k[:strings.IndexByte(k, '{')]
				withMerchant = append(withMerchant, name)
				delivered = delivered || name == "checkout_webhook_deliveries_total"
			}
		}
		if delivered || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := map[string]bool{"checkout_confirmations_total": true, "checkout_checkout_transitions_total": true,
		"checkout_webhook_deliveries_total": true}
	seen := map[string]bool{}
	for _, name := range withMerchant {
		if !want[name] && name != "checkout_refunds_total" {
			t.Errorf("%s carries merchant_id", name)
		}
		seen[name] = true
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("%s has no merchant_id series (got %v)", name, withMerchant)
		}
	}
}

// TestMetricsRefusalsAndStreams: a forged notify counts as rejected, an
// address failing authentication past its limit as rate limited, and an
// open status stream shows in the gauge until it ends.
func TestMetricsRefusalsAndStreams(t *testing.T) {
	f := newPaidFlow(t, metrics.Options{})
	// A notify with a bad signature: 400, rejected.
	code, _ := getStatus(t, payments.NotifyURL(f.api.URL, f.openID)+"?out_no=x&ord_no=1&status=1&timestamp=1&rand_str=a&sign=bad")
	if code != http.StatusBadRequest {
		t.Fatalf("forged notify = %d, want 400", code)
	}
	// Failed authentications past the per-address limit (default 20/m).
	limited := 0
	for range 30 {
		req, _ := http.NewRequest("GET", f.api.URL+"/v1/checkouts", nil)
		req.Header.Set("Authorization", "Bearer sk_test_wrong")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("30 failed authentications, none refused with 429")
	}
	got := scrape(t, f.admin.URL+"/metrics")
	if v := got[`checkout_notifies_received_total{result="rejected"}`]; v != 1 {
		t.Errorf("rejected notifies = %v, want 1", v)
	}
	if v := got[`checkout_rate_limited_requests_total{limit="auth_failures"}`]; v != float64(limited) {
		t.Errorf("rate limited = %v, want the %d 429 answers", v, limited)
	}
	if v := got[`checkout_http_requests_total{method="GET",route="/v1/checkouts",status="429"}`]; v != float64(limited) {
		t.Errorf("429 answers counted %v, want %d", v, limited)
	}

	// A status stream on an open checkout: counted while open, gone once
	// closed.
	id := f.create(t)
	resp, err := http.Get(f.api.URL + "/c/" + id + "/events")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		t.Fatalf("GET events = %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	buf := make([]byte, 64)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	streams := func() float64 { return scrape(t, f.admin.URL+"/metrics")["checkout_sse_streams_open"] }
	if v := streams(); v != 1 {
		t.Errorf("open streams = %v with one stream open, want 1", v)
	}
	resp.Body.Close()
	deadline := time.Now().Add(30 * time.Second)
	for streams() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("open streams still %v 30 s after the stream closed", streams())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetricsDoublePayment pays one checkout twice (a WeChat and an Alipay
// order, both paid at the sandbox): the duplicate payment, the automatic
// refund it starts and that refund's success are each counted once, by the
// code paths that make them, not only registered.
func TestMetricsDoublePayment(t *testing.T) {
	f := newPaidFlow(t, metrics.Options{})
	id := f.create(t)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := browser.Get(f.api.URL + "/c/" + id)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`data-csrf="([^"]+)"`).FindSubmatch(page)
	if csrf == nil {
		t.Fatalf("GET /c/%s = %s without a CSRF token", id, resp.Status)
	}
	for _, wallet := range []string{"wechat", "alipay"} {
		req, _ := http.NewRequest("POST", f.api.URL+"/c/"+id+"/pay", strings.NewReader(`{"wallet":"`+wallet+`","scenario":"qr"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", string(csrf[1]))
		req.Header.Set("Origin", f.api.URL)
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /c/%s/pay %s = %s %s", id, wallet, resp.Status, body)
		}
	}
	ctx := context.Background()
	as, err := f.app.Repo.Attempts(ctx, id)
	if err != nil || len(as) != 2 {
		t.Fatalf("attempts %v, %v: want two", as, err)
	}
	for _, a := range as {
		if err := f.sb.PayOrderNo(ctx, a.OrdNo); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]float64{
		`checkout_duplicate_payments_total`:                             1,
		`checkout_automatic_refunds_total{kind="duplicate"}`:            1,
		`checkout_refunds_total{result="succeeded"}`:                    1,
		`checkout_checkout_transitions_total{from="pending",to="paid"}`: 1,
	}
	var got map[string]float64
	deadline := time.Now().Add(60 * time.Second)
	for {
		got = scrape(t, f.admin.URL+"/metrics")
		done := true
		for k, v := range want {
			if got[k] < v {
				done = false
			}
		}
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if got[`checkout_late_payments_total`] != 0 {
		t.Errorf("a double payment counted late: %v", got[`checkout_late_payments_total`])
	}
}

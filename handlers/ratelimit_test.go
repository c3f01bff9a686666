package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/handlers"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/web/templates"
)

// rates sets CHECKOUT_RATE_API, CHECKOUT_RATE_AUTH_FAILURES and
// CHECKOUT_RATE_PAYER ("" keeps the default).
func rates(t testing.TB, api, authFailures, payer string) option {
	return func(_ *app.Config, s *config.Settings) {
		set := func(raw string, to *redis_rate.Limit) {
			if raw == "" {
				return
			}
			l, err := config.ParseRate(raw)
			if err != nil {
				t.Fatal(err)
			}
			*to = l
		}
		set(api, &s.RateAPI)
		set(authFailures, &s.RateAuthFailures)
		set(payer, &s.RatePayer)
	}
}

// trustLoopbackProxy believes X-Forwarded-For from the test's client, so
// that a test speaks from any address it likes.
func trustLoopbackProxy(_ *app.Config, s *config.Settings) {
	s.TrustedProxies = []string{"127.0.0.1", "::1"}
}

// checkLimited checks a 429: the rate_limited body with want's message,
// Retry-After in whole seconds of at least 1, and the RateLimit-* headers.
func checkLimited(t *testing.T, status int, h http.Header, body []byte, limit, wantMessage string) {
	t.Helper()
	if status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", status, body)
	}
	var b struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &b); err != nil || b.Error.Code != "rate_limited" {
		t.Fatalf("body %s, want the rate_limited error", body)
	}
	if b.Error.Message != wantMessage {
		t.Errorf("message %q, want %q", b.Error.Message, wantMessage)
	}
	if n, err := strconv.Atoi(h.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("Retry-After %q, want whole seconds ≥ 1", h.Get("Retry-After"))
	}
	if h.Get("RateLimit-Limit") != limit || h.Get("RateLimit-Remaining") != "0" {
		t.Errorf("RateLimit-Limit %q, -Remaining %q; want %s and 0", h.Get("RateLimit-Limit"), h.Get("RateLimit-Remaining"), limit)
	}
	if n, err := strconv.Atoi(h.Get("RateLimit-Reset")); err != nil || n < 1 {
		t.Errorf("RateLimit-Reset %q, want whole seconds ≥ 1", h.Get("RateLimit-Reset"))
	}
}

var enRateLimited = templates.Translate(templates.LangEn, "api_error.rate_limited")

// A flood of wrong keys from one address (issue 11: 3,000 in 1.1 s, all
// 401) meets the failed-authentication limit: 429 from then on, one
// warning in the log; a right key from another address, or from the same
// one, still gets in.
func TestRateLimitAuthFailures(t *testing.T) {
	e := newEnv(t, trustLoopbackProxy, rates(t, "", "10/m", ""))
	const attacker = "198.51.100.7"
	var limited int
	for i := range 60 {
		r := e.do("GET", "/v1/checkouts", "sk_test_wrong"+strconv.Itoa(i), "", "X-Forwarded-For", attacker)
		switch {
		case i < 10 && r.status != http.StatusUnauthorized:
			t.Fatalf("failure %d: status %d, want 401 within the limit", i, r.status)
		case i < 10:
			if r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		default:
			checkLimited(t, r.status, r.header, r.body, "10", enRateLimited)
			limited++
		}
	}
	if limited != 50 {
		t.Fatalf("%d of 50 limited", limited)
	}
	// No Authorization header at all counts as a failure too.
	r := e.do("GET", "/v1/checkouts", "", "", "X-Forwarded-For", attacker)
	checkLimited(t, r.status, r.header, r.body, "10", enRateLimited)

	if r := e.do("GET", "/v1/checkouts", e.keyA, "", "X-Forwarded-For", "203.0.113.9"); r.status != http.StatusOK {
		t.Errorf("right key from another address: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/checkouts", e.keyB, "", "X-Forwarded-For", attacker); r.status != http.StatusOK {
		t.Errorf("right key from the limited address: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/checkouts", "sk_test_wrong", "", "X-Forwarded-For", "203.0.113.9"); r.status != http.StatusUnauthorized {
		t.Errorf("one wrong key from another address: %d, want 401", r.status)
	}
	// An IPv6 client is counted by its /64: moving within it does not help.
	for i := range 11 {
		r := e.do("GET", "/v1/checkouts", "sk_test_wrong", "", "X-Forwarded-For", "2001:db8:1:2::"+strconv.FormatInt(int64(i+1), 16))
		if i == 10 {
			checkLimited(t, r.status, r.header, r.body, "10", enRateLimited)
		}
	}

	logs := e.logs.String()
	warned := map[string]int{}
	for line := range strings.Lines(logs) {
		if strings.Contains(line, "keeps failing authentication") {
			var l struct {
				ClientIP string `json:"client_ip"`
			}
			_ = json.Unmarshal([]byte(line), &l)
			warned[l.ClientIP]++
		}
	}
	if len(warned) != 2 || warned[attacker] != 1 || warned["2001:db8:1:2::/64"] != 1 {
		t.Errorf("warnings by address %v, want one for %s and one for 2001:db8:1:2::/64:\n%s", warned, attacker, logs)
	}
	if strings.Contains(logs, "sk_test_wrong") {
		t.Errorf("a key reached the log:\n%s", logs)
	}
}

// Each API key has its own budget on the merchant API; the headers tell
// the merchant where it stands.
func TestRateLimitPerAPIKey(t *testing.T) {
	e := newEnv(t, rates(t, "3/m", "", ""))
	for i := range 3 {
		r := e.do("GET", "/v1/checkouts", e.keyA, "")
		if r.status != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
		if r.header.Get("RateLimit-Limit") != "3" || r.header.Get("RateLimit-Remaining") != strconv.Itoa(2-i) {
			t.Errorf("request %d: RateLimit-Limit %q, -Remaining %q", i, r.header.Get("RateLimit-Limit"), r.header.Get("RateLimit-Remaining"))
		}
	}
	r := e.do("POST", "/v1/checkouts", e.keyA, `{"amount":1}`)
	checkLimited(t, r.status, r.header, r.body, "3", enRateLimited)
	if r := e.do("GET", "/v1/checkouts", e.keyB, ""); r.status != http.StatusOK {
		t.Errorf("merchant B: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/checkouts", e.liveA, ""); r.status != http.StatusOK {
		t.Errorf("A's other key: %d %s", r.status, r.body)
	}
}

// A limiter that cannot reach Redis lets requests through (fail open) and
// says so in the log, once in a while rather than per request.
func TestRateLimitFailsOpen(t *testing.T) {
	t.Run("scripts fail", func(t *testing.T) {
		e := newEnv(t, rates(t, "1/m", "1/m", ""))
		e.rdb.AddHook(failScripts{})
		for i := range 5 {
			if r := e.do("GET", "/v1/checkouts", e.keyA, ""); r.status != http.StatusOK {
				t.Fatalf("request %d: %d %s", i, r.status, r.body)
			}
			if r := e.do("GET", "/v1/checkouts", "sk_test_wrong", ""); r.status != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d %s", i, r.status, r.body)
			}
		}
		if n := strings.Count(e.logs.String(), "Rate limiter unavailable"); n != 1 {
			t.Errorf("%d log lines about the limiter, want 1:\n%s", n, e.logs.String())
		}
	})
	t.Run("redis down", func(t *testing.T) {
		dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		t.Cleanup(func() { _ = dead.Close() })
		e := newEnv(t, withRedis(dead), rates(t, "", "1/m", ""))
		for i := range 5 {
			if r := e.do("GET", "/v1/checkouts", "sk_test_wrong", ""); r.status != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d %s, want 401", i, r.status, r.body)
			}
		}
		if n := strings.Count(e.logs.String(), "Rate limiter unavailable"); n != 1 {
			t.Errorf("%d log lines about the limiter, want 1:\n%s", n, e.logs.String())
		}
	})
}

// failScripts fails the limiter's script calls (redis_rate's keys start
// with "rate:"), as a Redis that refuses them would; the rest works.
type failScripts struct{}

func (failScripts) DialHook(next redis.DialHook) redis.DialHook { return next }

func (failScripts) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		switch strings.ToLower(cmd.Name()) {
		case "evalsha", "eval":
			if len(args) < 4 {
				break
			}
			if key, _ := args[3].(string); strings.HasPrefix(key, "rate:") {
				err := errors.New("ERR scripts refused (test)")
				cmd.SetErr(err)
				return err
			}
		}
		return next(ctx, cmd)
	}
}

func (failScripts) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A payer's POSTs are limited per checkout and address: another checkout
// from the same address, or the same checkout from another address (a
// carrier NAT's other side), is not; the page gets the error in the
// payer's language.
func TestRateLimitPayer(t *testing.T) {
	e := newPgEnv(t, trustLoopbackProxy, rates(t, "", "", "3/m"))
	one, two := e.newCheckout("native", 100), e.newCheckout("native", 100)
	b := e.browser(uaDesktop, "payer-1")
	page := b.get("/c/" + one.ID)
	csrf := attr(reCSRF, page.body)
	if csrf == "" {
		t.Fatalf("no CSRF token on the page: %d", page.status)
	}
	// The CSRF token is the checkout's.
	tokens := map[string]string{one.ID: csrf, two.ID: attr(reCSRF, b.get("/c/"+two.ID).body)}
	post := func(id, action, from, lang string) pgResp {
		return b.do(false, "POST", "/c/"+id+"/"+action, []byte(`{"wallet":"nope"}`),
			map[string]string{"X-CSRF-Token": tokens[id], "X-Forwarded-For": from, "Accept-Language": lang})
	}
	const nat = "100.64.0.1"
	for i := range 3 {
		if r := post(one.ID, "pay", nat, "zh-CN"); r.status != http.StatusBadRequest {
			t.Fatalf("pay %d: %d %s, want 400 (a bad request within the limit)", i, r.status, r.body)
		}
	}
	r := post(one.ID, "pay", nat, "zh-CN")
	checkLimited(t, r.status, r.header, []byte(r.body), "3", templates.Translate(templates.LangZhHans, "api_error.rate_limited"))
	r = post(one.ID, "pay", nat, "zh-TW")
	checkLimited(t, r.status, r.header, []byte(r.body), "3", templates.Translate(templates.LangZhHant, "api_error.rate_limited"))

	if r := post(two.ID, "pay", nat, "zh-CN"); r.status != http.StatusBadRequest {
		t.Errorf("another checkout from the same address: %d %s", r.status, r.body)
	}
	if r := post(one.ID, "pay", "100.64.0.2", "zh-CN"); r.status != http.StatusBadRequest {
		t.Errorf("the same checkout from another address: %d %s", r.status, r.body)
	}
	// check has its own budget.
	for i := range 3 {
		if r := post(one.ID, "check", nat, "en"); r.status == http.StatusTooManyRequests {
			t.Fatalf("check %d limited by pay's budget: %s", i, r.body)
		}
	}
	r = post(one.ID, "check", nat, "en")
	checkLimited(t, r.status, r.header, []byte(r.body), "3", enRateLimited)
}

// The mini-program endpoint (which calls jscode2session) is limited per
// checkout and address too, before the client secret is checked.
func TestRateLimitMiniProgram(t *testing.T) {
	e := newPgEnv(t, trustLoopbackProxy, rates(t, "", "", "2/m"))
	one, two := e.newCheckout("native", 100), e.newCheckout("native", 100)
	post := func(id string) (int, http.Header, []byte) {
		req, _ := http.NewRequest("POST", e.srv.URL+"/v1/checkouts/"+id+"/wechat-mini-program-payments",
			bytes.NewReader([]byte(`{"client_secret":"wrong","code":"c"}`)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "100.64.0.1")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(res.Body)
		return res.StatusCode, res.Header, buf.Bytes()
	}
	for i := range 2 {
		if st, _, body := post(one.ID); st != http.StatusUnauthorized {
			t.Fatalf("request %d: %d %s, want 401 invalid_client_secret", i, st, body)
		}
	}
	st, h, body := post(one.ID)
	checkLimited(t, st, h, body, "2", enRateLimited)
	if st, _, body := post(two.ID); st != http.StatusUnauthorized {
		t.Errorf("another checkout: %d %s", st, body)
	}
}

// limiterCalls counts the limiter's script calls (on "rate:" keys).
type limiterCalls struct{ n atomic.Int64 }

func (*limiterCalls) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *limiterCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if args := cmd.Args(); len(args) >= 4 {
			if key, _ := args[3].(string); strings.HasPrefix(key, "rate:") {
				h.n.Add(1)
			}
		}
		return next(ctx, cmd)
	}
}

func (*limiterCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// Two replicas sharing Redis share each key's budget: of 60 concurrent
// creates, 30 on each, exactly the burst (10) are created and the rest
// refused with 429, Retry-After and the RateLimit-* headers, however the
// replicas coalesced their calls. Each replica then remembers the refusal
// and refuses without a round trip.
func TestRateLimitAcrossReplicas(t *testing.T) {
	rdb := redistest.New(t)
	calls := &limiterCalls{}
	rdb.AddHook(calls)
	prefix := redistest.Prefix(t, rdb)
	m := handlers.NewMerchants(t)
	var srvs []*httptest.Server
	for range 2 {
		cfg := &app.Config{Directory: m.Dir, Accounts: accountsFor(t, m.Dir), Redis: rdb, Prefix: prefix}
		a := build(t, cfg, publicURL("https://pay.example"), rates(t, "10/h", "", ""))
		validating, _ := handlers.OpenAPIValidating(t, a.Handler)
		srv := httptest.NewServer(validating)
		t.Cleanup(srv.Close)
		srvs = append(srvs, srv)
	}
	type answer struct {
		status int
		header http.Header
		body   []byte
	}
	answers := make([]answer, 60)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			r := handlers.Do(t, srvs[i%2], "POST", "/v1/checkouts", m.KeyA, `{"amount":1}`)
			answers[i] = answer{r.Status, r.Header, r.Body}
		})
	}
	wg.Wait()
	created := 0
	for _, a := range answers {
		if a.status == http.StatusCreated {
			created++
			continue
		}
		checkLimited(t, a.status, a.header, a.body, "10", enRateLimited)
	}
	if created != 10 {
		t.Fatalf("%d of 60 created, want 10 (the burst)", created)
	}
	before := calls.n.Load()
	for i := range 10 {
		r := handlers.Do(t, srvs[i%2], "POST", "/v1/checkouts", m.KeyA, `{"amount":1}`)
		checkLimited(t, r.Status, r.Header, r.Body, "10", enRateLimited)
	}
	if n := calls.n.Load() - before; n != 0 {
		t.Errorf("%d limiter calls for 10 refusals the replicas had learned, want 0", n)
	}
	if r := handlers.Do(t, srvs[0], "GET", "/v1/checkouts", m.KeyB, ""); r.Status != http.StatusOK {
		t.Errorf("merchant B: %d %s", r.Status, r.Body)
	}
}

// The wallets' OAuth callbacks are limited per checkout and address like
// the payer's POSTs: each spends an OAuth state and leaves a used-marker
// in Redis for minutes, so their rate must be bounded. Beyond the limit a
// callback gets the error page in the payer's language with Retry-After.
func TestRateLimitOAuthCallbacks(t *testing.T) {
	e := newPgEnv(t, trustLoopbackProxy, rates(t, "", "", "3/m"))
	ck := e.newCheckout("native", 100)
	b := e.browser(uaWeChatIOS, "payer-1")
	get := func(wallet, from, lang string) pgResp {
		return b.do(false, "GET", "/c/"+ck.ID+"/oauth/"+wallet+"?code=c&state=forged", nil,
			map[string]string{"X-Forwarded-For": from, "Accept-Language": lang})
	}
	const nat = "100.64.0.9"
	for i := range 3 {
		if r := get("wechat", nat, "zh-CN"); r.status == http.StatusTooManyRequests {
			t.Fatalf("callback %d limited within the limit: %s", i, r.body)
		}
	}
	for _, tc := range []struct{ wallet, lang, want string }{
		{"wechat", "zh-CN", templates.LangZhHans},
		{"wechat", "en", templates.LangEn},
	} {
		r := get(tc.wallet, nat, tc.lang)
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("%s callback over the limit: %d, want 429", tc.wallet, r.status)
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("Content-Type %q, want the error page", ct)
		}
		if want := templates.Translate(tc.want, "error.rate_limited.title"); !strings.Contains(r.body, want) {
			t.Errorf("%s page lacks %q", tc.lang, want)
		}
		if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
			t.Errorf("Retry-After %q, want whole seconds ≥ 1", r.header.Get("Retry-After"))
		}
	}
	// Alipay's callback has its own budget; another address too.
	if r := get("alipay", nat, "zh-CN"); r.status == http.StatusTooManyRequests {
		t.Errorf("alipay callback limited by wechat's budget")
	}
	if r := get("wechat", "100.64.0.10", "zh-CN"); r.status == http.StatusTooManyRequests {
		t.Errorf("another address limited by the first one's budget")
	}
}

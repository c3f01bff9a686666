package handlers_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
)

// checkoutReads records the commands sent for checkout hashes ("co:{…}").
type checkoutReads struct {
	mu    sync.Mutex
	names []string
}

func (h *checkoutReads) note(cmds ...redis.Cmder) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range cmds {
		if args := c.Args(); len(args) > 1 {
			if k, _ := args[1].(string); strings.Contains(k, "co:{") && !strings.HasSuffix(k, "}:att") {
				h.names = append(h.names, c.Name())
			}
		}
	}
}

func (h *checkoutReads) take() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := strings.Join(h.names, ",")
	h.names = nil
	return s
}

func (h *checkoutReads) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *checkoutReads) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.note(cmd); return next(ctx, cmd) }
}
func (h *checkoutReads) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.note(cmds...); return next(ctx, cmds) }
}

// TestRepeatViewsReadOnlyTheState (issue 11, the page's budget): once a
// process has read a checkout, a view, a returning payer's view and a
// status poll read only its state fields (HMGET), not the whole hash;
// the terms come from the process's cache. A payment made meanwhile still
// shows at once.
func TestRepeatViewsReadOnlyTheState(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 1234)
	returning := e.browser(uaWeChatIOS, "returning")
	if r, _, _ := returning.openPage(ck.ID); r.status != 200 {
		t.Fatalf("after OAuth: %d", r.status)
	}
	h := &checkoutReads{}
	e.rdb.AddHook(h)
	for _, tc := range []struct {
		name string
		b    *pgBrowser
		path string
	}{
		{"checkout page, no cookie", e.browser(uaDesktop, "new"), "/c/" + ck.ID},
		{"result page, no cookie", e.browser(uaDesktop, "new"), "/c/" + ck.ID + "/result"},
		{"checkout page, returning payer", returning, "/c/" + ck.ID},
		{"status poll", e.browser(uaDesktop, "new"), "/c/" + ck.ID + "/status"},
	} {
		if r := tc.b.do(false, "GET", tc.path, nil, nil); r.status != 200 {
			t.Fatalf("%s: %d", tc.name, r.status)
		}
		if got := h.take(); got != "hmget" {
			t.Errorf("%s: commands on the checkout's hash %q; want hmget", tc.name, got)
		}
	}
	ctx := context.Background()
	if _, _, err := e.repo.AddAttempt(ctx, ck.ID, checkout.MethodWeChat, checkout.ScenarioQR); err != nil {
		t.Fatal(err)
	}
	if _, err := e.repo.MarkPaid(ctx, ck.ID, 1, ""); err != nil {
		t.Fatal(err)
	}
	h.take()
	r := e.browser(uaDesktop, "new").do(false, "GET", "/c/"+ck.ID, nil, nil)
	if got := attr(reStatus, r.body); got != "paid" {
		t.Fatalf("a view after the payment shows %q; want paid", got)
	}
	if got := h.take(); got != "hmget" {
		t.Errorf("paid page: commands on the checkout's hash %q; want hmget", got)
	}
}

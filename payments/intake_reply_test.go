package payments_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
)

// lostReply reports lost the reply of the first command that lost accepts
// and the server ran (a connection cut after the command reached it).
type lostReply struct {
	mu   sync.Mutex
	lost func(args []any) bool
}

func (h *lostReply) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *lostReply) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil {
			return err // not run (NOSCRIPT before EVAL, say): not this one
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.lost != nil && h.lost(cmd.Args()) {
			h.lost = nil
			err = errors.New("test: reply lost")
			cmd.SetErr(err)
		}
		return err
	}
}
func (h *lostReply) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestNotifyPayReplyLost: the script that records a payment and claims
// what follows it runs, but its reply is lost. The notify is not answered
// success; the payment is recorded and its follow-up owned (a lease), so
// nothing is lost: a retry within the lease is refused (the gateway
// retries), and the first retry after it stores the paid event, once, and
// is answered success.
func TestNotifyPayReplyLost(t *testing.T) {
	spy := &gwSpy{}
	e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	ctx := context.Background()
	c := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	e.pay(a)
	h := &lostReply{lost: func(args []any) bool {
		// The pay script is the one script that names the effect
		// markers with ARGV[5] (take the checkout out of the expiry
		// queue) and the checkout id as ARGV[6]; the intake script's
		// arguments start with "claim" or "look".
		name, _ := args[0].(string)
		if name != "evalsha" && name != "eval" {
			return false
		}
		var paidKey, claim bool
		for _, v := range args {
			s, _ := v.(string)
			paidKey = paidKey || strings.HasSuffix(s, "fx:{"+c.ID+"}:paid")
			claim = claim || s == "claim" || s == "look"
		}
		return paidKey && !claim
	}}
	e.rdb.AddHook(h)

	if err := e.svc.Notify(ctx, e.gs.OpenID, e.notifyQuery(a, gateway.StatusPaid)); err == nil {
		t.Fatal("notify answered success though the payment's reply was lost")
	}
	h.mu.Lock()
	ran := h.lost == nil
	h.mu.Unlock()
	if !ran {
		t.Fatal("the pay script never ran")
	}
	if got := e.get(c.ID); got.Status != checkout.StatusPaid {
		t.Fatalf("checkout %s: the payment was not recorded", got.Status)
	}
	if evs := e.events.of(c.ID, webhook.TypePaid); len(evs) != 0 {
		t.Fatalf("%d paid events before any retry", len(evs))
	}
	// Past the paystatus window, within the effect lease (5 s): the
	// follow-up is still the lost step's; not success.
	e.clk.Advance(3 * time.Second)
	if err := e.svc.Notify(ctx, e.gs.OpenID, e.notifyQuery(a, gateway.StatusPaid)); !errors.Is(err, payments.ErrBusy) {
		t.Fatalf("retry within the lease: %v, want ErrBusy (a 503)", err)
	}
	e.clk.Advance(3 * time.Second)
	if err := e.svc.Notify(ctx, e.gs.OpenID, e.notifyQuery(a, gateway.StatusPaid)); err != nil {
		t.Fatalf("retry after the lease: %v", err)
	}
	if evs := e.events.of(c.ID, webhook.TypePaid); len(evs) != 1 {
		t.Fatalf("%d paid events, want 1", len(evs))
	}
	calls := spy.statusCalls(a.OutNo)
	if err := e.svc.Notify(ctx, e.gs.OpenID, e.notifyQuery(a, gateway.StatusPaid)); err != nil || spy.statusCalls(a.OutNo) != calls {
		t.Fatalf("duplicate after: %v, %d paystatus calls", err, spy.statusCalls(a.OutNo)-calls)
	}
}

package payments_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/payments"
)

// failAnswered fails the writes of a refund's first answer while on.
type failAnswered struct{ on atomic.Bool }

func (h *failAnswered) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *failAnswered) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.on.Load() && isAnswered(cmd) {
			err := errors.New("READONLY You can't write against a read only replica.")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

func (h *failAnswered) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func isAnswered(cmd redis.Cmder) bool {
	a := cmd.Args()
	if len(a) < 2 {
		return false
	}
	return fmt.Sprint(a[0]) == "evalsha" && fmt.Sprint(a[1]) == payments.ScriptAnsweredHash
}

// TestRefundAnswerNotRecorded: when the first answer to a refund request
// cannot be recorded (a Redis failover refusing the write), the merchant
// gets a retryable 503, never an answer a replay may contradict; the retry
// with the same Idempotency-Key finds the one refund, records its answer
// and answers it, and every later replay answers the same. Seen in the
// Sentinel replicas drive: a 202 whose replay answered 201.
func TestRefundAnswerNotRecorded(t *testing.T) {
	spy := &gwSpy{}
	e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	c, _ := e.paidCheckout(1000)
	fail := &failAnswered{}
	e.rdb.AddHook(fail)
	fail.on.Store(true)
	first := e.postRefund(c.ID, "k1", `{"amount":300}`)
	fail.on.Store(false)
	if first.status != http.StatusServiceUnavailable || first.Error == nil || first.Error.Code != "unavailable" {
		t.Fatalf("first answer while its record fails: %d %+v, want 503 unavailable", first.status, first.Error)
	}
	retry := e.postRefund(c.ID, "k1", `{"amount":300}`)
	if retry.status != http.StatusCreated || retry.Status != "succeeded" {
		t.Fatalf("retry: %d %+v", retry.status, retry)
	}
	for range 2 {
		again := e.postRefund(c.ID, "k1", `{"amount":300}`)
		if again.status != retry.status || again.ID != retry.ID || again.Status != retry.Status {
			t.Fatalf("replay %d %+v, want what the retry answered: %d %+v", again.status, again, retry.status, retry)
		}
	}
	if n := spy.refundCalls(); n != 1 {
		t.Fatalf("%d payrefund calls, want 1", n)
	}
}

package checkout

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/internal/redistest"
)

// hookRead is a hook that shows what ReadAttempt's hooks see, and writes
// its first key to show it ran.
var hookRead = NewAttemptScript(`
redis.call('SET', keys[1], args[1])
return {checkout.status, checkout.merchant, checkout.store, checkout.paid_attempt, attempt.seq, attempt.status,
  attempt.ord_no, #keys, #args}
`)

// hookBrief answers without the records.
var hookBrief = NewAttemptScript(`return attempt.status, true`)

// hookPaid shows what MarkPaidThen's hooks see, and counts its runs in its
// first key.
var hookPaid = NewPayScript(`
redis.call('INCR', keys[1])
return {code, seq, paid_attempt, args[1]}
`)

// TestRepoHooks: a hook runs inside ReadAttempt's and MarkPaidThen's step
// with what they document, on a single Redis and through the cluster
// client (all keys in the checkout's slot), and never when the step fails.
func TestRepoHooks(t *testing.T) {
	for _, tc := range []struct {
		name string
		rdb  func(t *testing.T) redis.UniversalClient
	}{
		{"single", func(t *testing.T) redis.UniversalClient { return redistest.New(t) }},
		{"cluster", func(t *testing.T) redis.UniversalClient {
			m, _ := redistest.Miniredis(t)
			rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{m.Addr()}})
			t.Cleanup(func() { _ = rdb.Close() })
			return rdb
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			rdb := tc.rdb(t)
			prefix := redistest.Prefix(t, rdb)
			r := NewRepo(rdb, WithPrefix(prefix), WithClock(clk.Now))
			ctx := context.Background()
			c := create(t, r, clk, "m1")
			a1, _, err := r.AddAttempt(ctx, c.ID, MethodWeChat, ScenarioQR)
			if err != nil {
				t.Fatal(err)
			}
			a2, _, err := r.AddAttempt(ctx, c.ID, MethodAlipay, ScenarioQR)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.UpdateAttempt(ctx, c.ID, a2.Seq, "", "ORD2"); err != nil {
				t.Fatal(err)
			}
			mine := prefix + "hook:{" + c.ID + "}"
			t.Cleanup(func() { rdb.Del(context.Background(), mine) })

			gc, ga, v, err := r.ReadAttempt(ctx, hookRead, a2.OutNo, []string{mine}, "x", "y")
			want := fmt.Sprint([]any{"pending", "m1", c.StoreID, int64(0), int64(2), "pending", "ORD2", int64(1), int64(2)})
			if err != nil || gc.ID != c.ID || ga.Seq != 2 || ga.OrdNo != "ORD2" || ga.Method != MethodAlipay || fmt.Sprint(v) != want {
				t.Fatalf("read attempt: %+v %+v %v %v; hook saw %v, want %v", gc, ga, v, err, fmt.Sprint(v), want)
			}
			if got, _ := rdb.Get(ctx, mine).Result(); got != "x" {
				t.Fatalf("hook's write: %q", got)
			}
			rdb.Del(ctx, mine)
			if gc, ga, v, err := r.ReadAttempt(ctx, hookBrief, a2.OutNo, nil); err != nil || gc != nil || ga != nil || v != "pending" {
				t.Fatalf("brief read: %+v %+v %v %v", gc, ga, v, err)
			}
			other := "co_" + rand.Text()[:24]
			for _, outNo := range []string{OutNo(c.ID, 3), OutNo(other, 1), "nonsense"} {
				// The hook's key is in the out_no's checkout's slot, as
				// callers' keys are (a Cluster refuses any other).
				k := mine
				if id, _, ok := ParseOutNo(outNo); ok && id == other {
					k = prefix + "hook:{" + other + "}"
				}
				if _, _, _, err := r.ReadAttempt(ctx, hookRead, outNo, []string{k}, "x"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("read %s: %v, want not found", outNo, err)
				}
				if n, _ := rdb.Exists(ctx, k).Result(); n != 0 {
					t.Fatal("the hook ran for an attempt that does not exist")
				}
			}

			for _, step := range []struct {
				seq       int
				ordNo     string
				want      string
				wantErr   error
				hookCalls string
			}{
				{a1.Seq, "ORD1", fmt.Sprint([]any{int64(2), int64(1), int64(1), "z"}), nil, "1"},
				{a1.Seq, "ORD1", fmt.Sprint([]any{int64(0), int64(1), int64(1), "z"}), nil, "2"},
				{a2.Seq, "OTHER", "", ErrInvalid, "2"},
				{a2.Seq, "ORD2", fmt.Sprint([]any{int64(1), int64(2), int64(1), "z"}), nil, "3"},
			} {
				p, v, err := r.MarkPaidThen(ctx, c.ID, step.seq, step.ordNo, hookPaid, []string{mine}, "z")
				if step.wantErr != nil {
					if !errors.Is(err, step.wantErr) {
						t.Fatalf("mark %d paid with %s: %v, want %v", step.seq, step.ordNo, err, step.wantErr)
					}
				} else if err != nil || p.Checkout.Status != StatusPaid || fmt.Sprint(v) != step.want {
					t.Fatalf("mark %d paid: %+v %v; hook answered %v, want %v", step.seq, p, err, fmt.Sprint(v), step.want)
				}
				if got, _ := rdb.Get(ctx, mine).Result(); got != step.hookCalls {
					t.Fatalf("after marking %d paid with %s: hook ran %s times, want %s", step.seq, step.ordNo, got, step.hookCalls)
				}
			}
			// The paid checkout's expiry entry (another slot) is left to
			// the poller: its Expire is refused and removes it.
			clk.Advance(time.Hour)
			if due, err := r.DueForExpiry(ctx, clk.Now(), 10); err != nil || len(due) != 1 || due[0] != c.ID {
				t.Fatalf("due after payment: %v %v", due, err)
			}
			if tr, err := r.Expire(ctx, c.ID); err != nil || tr.Changed || tr.To != StatusPaid {
				t.Fatalf("expire a paid checkout: %+v %v", tr, err)
			}
			if due, err := r.DueForExpiry(ctx, clk.Now(), 10); err != nil || len(due) != 0 {
				t.Fatalf("due after the refused expire: %v %v", due, err)
			}
		})
	}
}

package checkout

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/internal/redistest"
)

// cmdNames records the names of the Redis commands a client sends.
type cmdNames struct {
	on    atomic.Bool
	names []string
}

func (h *cmdNames) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *cmdNames) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.on.Load() {
			h.names = append(h.names, cmd.Name())
		}
		return next(ctx, cmd)
	}
}
func (h *cmdNames) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.on.Load() {
			for _, c := range cmds {
				h.names = append(h.names, c.Name())
			}
		}
		return next(ctx, cmds)
	}
}

// TestGetCurrentMatchesGet takes checkouts through every transition the
// repository makes, reading each with the terms cache warm, and checks
// that GetCurrent (and its pipelined and with-attempts forms) gives what
// Get gives after each: a state field a script writes but stateFields
// leaves out would show here as a stale value.
func TestGetCurrentMatchesGet(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRepo(t)
	check := func(t *testing.T, id, after string) {
		t.Helper()
		want, err := r.Get(ctx, id)
		if err != nil {
			t.Fatalf("after %s: Get: %v", after, err)
		}
		got, err := r.GetCurrent(ctx, id)
		if err != nil {
			t.Fatalf("after %s: GetCurrent: %v", after, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("after %s: GetCurrent\n got %+v\nwant %+v", after, got, want)
		}
		pipe := r.rdb.Pipeline()
		queued := r.QueueGetCurrent(ctx, pipe, id)
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if got, err = queued(); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("after %s: QueueGetCurrent = %+v, %v; want %+v", after, got, err, want)
		}
		wantC, wantA, err := r.GetWithAttempts(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		gotC, gotA, err := r.GetCurrentWithAttempts(ctx, id)
		if err != nil || !reflect.DeepEqual(gotC, wantC) || !reflect.DeepEqual(gotA, wantA) {
			t.Fatalf("after %s: GetCurrentWithAttempts = %+v %+v, %v; want %+v %+v", after, gotC, gotA, err, wantC, wantA)
		}
	}
	type step struct {
		name string
		do   func(id string) error
	}
	attempt := step{"AddAttempt", func(id string) error { _, _, err := r.AddAttempt(ctx, id, MethodWeChat, ScenarioQR); return err }}
	paid := step{"MarkPaid", func(id string) error { _, err := r.MarkPaid(ctx, id, 1, "ORD1"); return err }}
	for _, path := range [][]step{
		{attempt, paid,
			{"RecordRefund part", func(id string) error { _, err := r.RecordRefund(ctx, id, "R1", 100); return err }},
			{"RecordRefund rest", func(id string) error { _, err := r.RecordRefund(ctx, id, "R2", 900); return err }}},
		{attempt, {"UpdateAttempt", func(id string) error { _, err := r.UpdateAttempt(ctx, id, 1, AttemptFailed, "ORD1"); return err }},
			{"MarkReturnedUnpaid", func(id string) error { _, err := r.MarkReturnedUnpaid(ctx, id, 1); return err }},
			{"Cancel", func(id string) error { _, err := r.Cancel(ctx, id); return err }},
			{"MarkPaid late", func(id string) error { _, err := r.MarkPaid(ctx, id, 1, "ORD1"); return err }}},
		{{"Expire", func(id string) error { clk.Advance(31 * time.Minute); _, err := r.Expire(ctx, id); return err }}},
	} {
		c := create(t, r, clk, "m1")
		check(t, c.ID, "Create")
		for _, s := range path {
			if err := s.do(c.ID); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			check(t, c.ID, s.name)
		}
	}
}

// TestGetCurrentReadsOnlyTheState checks what a warm read asks of Redis:
// the state fields, not the whole hash.
func TestGetCurrentReadsOnlyTheState(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRepo(t)
	c := create(t, r, clk, "m1")
	if _, err := r.GetCurrent(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	h := &cmdNames{}
	r.rdb.AddHook(h)
	h.on.Store(true)
	if _, err := r.GetCurrent(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.GetCurrentWithAttempts(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	h.on.Store(false)
	if got := strings.Join(h.names, ","); got != "hmget,hmget,hgetall" {
		t.Fatalf("commands of a warm GetCurrent and GetCurrentWithAttempts: %s; want hmget,hmget,hgetall", got)
	}
}

// TestGetCurrentGone: a checkout that is gone (its TTL, a removal) reads as
// not found, warm or cold, and its terms are dropped.
func TestGetCurrentGone(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRepo(t)
	if _, err := r.GetCurrent(ctx, "co_"+strings.Repeat("a", 24)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing checkout: %v; want ErrNotFound", err)
	}
	if _, err := r.GetCurrent(ctx, "../x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bad id: %v; want ErrNotFound", err)
	}
	c := create(t, r, clk, "m1")
	if _, err := r.GetCurrent(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if n, _ := r.terms.len(); n != 1 {
		t.Fatalf("%d terms kept; want 1", n)
	}
	if err := r.rdb.Del(ctx, r.keyCheckout(c.ID)).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.GetCurrent(ctx, c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted checkout: %v; want ErrNotFound", err)
	}
	if n, size := r.terms.len(); n != 0 || size != 0 {
		t.Fatalf("%d terms (%d bytes) kept after the checkout went; want none", n, size)
	}
}

// TestGetCurrentOlderRecord: a checkout stored by an earlier version,
// without the fields added since (late_from, payment_link), reads the same
// through the cache as through Get.
func TestGetCurrentOlderRecord(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRepo(t)
	c := create(t, r, clk, "m1")
	if err := r.rdb.HDel(ctx, r.keyCheckout(c.ID), "late_from", "payment_link", "late").Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		got, err := r.GetCurrent(ctx, c.ID)
		want, err2 := r.Get(ctx, c.ID)
		if err != nil || err2 != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("read %d: GetCurrent = %+v, %v; Get = %+v, %v", i, got, err, want, err2)
		}
	}
}

// TestTermsCacheBounded: the cache keeps no more than its bound, drops
// the least recently used first, and never keeps an oversized checkout.
func TestTermsCacheBounded(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	rdb := redistest.New(t)
	const bound = 16 << 10
	r := NewRepo(rdb, WithPrefix(redistest.Prefix(t, rdb)), WithClock(clk.Now), WithTermsCache(bound))
	var ids []string
	for range 60 {
		c := create(t, r, clk, "m1")
		ids = append(ids, c.ID)
		if _, err := r.GetCurrent(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if n, size := r.terms.len(); size > bound {
			t.Fatalf("%d terms in %d bytes; bound %d", n, size, bound)
		}
	}
	n, _ := r.terms.len()
	if n == 0 || n >= len(ids) {
		t.Fatalf("%d terms kept of %d read; want some, not all", n, len(ids))
	}
	if r.terms.get(ids[0]) != nil || r.terms.get(ids[len(ids)-1]) == nil {
		t.Fatal("the least recently used checkout should go first, the last read stay")
	}
	d := draft("m1")
	d.Metadata = map[string]string{}
	for i := range 20 {
		d.Metadata[fmt.Sprintf("k%d", i)] = strings.Repeat("x", 400)
	}
	big, err := NewCheckout(d, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Create(ctx, big, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.GetCurrent(ctx, big.ID); err != nil {
		t.Fatal(err)
	}
	if r.terms.get(big.ID) != nil {
		t.Fatal("a checkout larger than an eighth of the bound was kept")
	}
	off := NewRepo(rdb, WithPrefix(r.prefix), WithClock(clk.Now), WithTermsCache(0))
	if got, err := off.GetCurrent(ctx, ids[0]); err != nil || got.ID != ids[0] {
		t.Fatalf("without a cache: %v, %v", got, err)
	}
}

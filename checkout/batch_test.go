package checkout

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// heldPipelines records each pipeline sent and, while holding, keeps
// every one from going until release.
type heldPipelines struct {
	mu      sync.Mutex
	sends   [][]string
	entered chan struct{}
	gate    chan struct{}
}

func newHeldPipelines() *heldPipelines {
	return &heldPipelines{entered: make(chan struct{}, 100), gate: make(chan struct{})}
}

func (h *heldPipelines) release() { close(h.gate) }

func (h *heldPipelines) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *heldPipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *heldPipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if cmds[0].Name() == "client" || cmds[0].Name() == "hello" {
			return next(ctx, cmds) // a new connection's handshake
		}
		names := make([]string, len(cmds))
		for i, c := range cmds {
			names[i] = c.Name()
		}
		h.mu.Lock()
		h.sends = append(h.sends, names)
		h.mu.Unlock()
		h.entered <- struct{}{}
		<-h.gate
		return next(ctx, cmds)
	}
}

// gathered is how many callers wait for the next shared pipeline.
func (b *batcher) gathered() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.next == nil {
		return 0
	}
	return len(b.next.queue)
}

// TestSharedPipelines: while maxInFlight pipelines are in flight, the
// creates and reads that come meanwhile go together in one pipeline, and
// each gets its own answer, its own error included.
func TestSharedPipelines(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	var read []*Checkout
	for range 6 {
		c := create(t, r, clk, "m1")
		if _, err := r.GetCurrent(ctx, c.ID); err != nil { // its terms now cached
			t.Fatal(err)
		}
		read = append(read, c)
	}
	// One create of the gathered pipeline fails: its merchant's list is
	// not a sorted set.
	if err := r.rdb.Set(ctx, r.keyList("m_bad"), "not a list", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	// A page read the checkout and a session key in one Share.
	if err := r.rdb.Set(ctx, r.prefix+"session", "s1", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}

	h := newHeldPipelines()
	r.rdb.AddHook(h)
	newCheckout := func(merchant string) *Checkout {
		c, err := NewCheckout(draft(merchant), clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var wg sync.WaitGroup
	// The first maxInFlight callers go alone, and are held.
	alone := make([]*Checkout, maxInFlight)
	aloneErr := make([]error, maxInFlight)
	for i := range alone {
		alone[i] = newCheckout("m1")
		wg.Go(func() { aloneErr[i] = r.Create(ctx, alone[i], nil) })
		<-h.entered
	}
	// Everyone after them gathers.
	got := make([]*Checkout, len(read))
	gotErr := make([]error, len(read))
	for i, c := range read {
		wg.Go(func() { got[i], gotErr[i] = r.GetCurrent(ctx, c.ID) })
	}
	good, bad := newCheckout("m2"), newCheckout("m_bad")
	var goodErr, badErr error
	wg.Go(func() { goodErr = r.Create(ctx, good, nil) })
	wg.Go(func() { badErr = r.Create(ctx, bad, nil) })
	var shared *redis.StringCmd
	var sharedCk func() (*Checkout, error)
	wg.Go(func() {
		r.Share(ctx, func(p redis.Pipeliner) {
			sharedCk = r.QueueGetCurrent(ctx, p, read[0].ID)
			shared = p.Get(ctx, r.prefix+"session")
		})
	})
	want := len(read) + 3
	for r.batch.gathered() < want {
		time.Sleep(time.Millisecond) // nothing they wait for can go: the two in flight are held
	}
	h.release()
	wg.Wait()

	for i, err := range aloneErr {
		if err != nil {
			t.Fatalf("create %d alone: %v", i, err)
		}
	}
	for i, c := range read {
		if gotErr[i] != nil || got[i].ID != c.ID || got[i].Status != StatusOpen || got[i].Amounts != c.Amounts {
			t.Fatalf("read %d: %+v, %v", i, got[i], gotErr[i])
		}
	}
	if goodErr != nil {
		t.Fatalf("create beside a failing one: %v", goodErr)
	}
	if badErr == nil || !strings.Contains(badErr.Error(), "WRONGTYPE") || !strings.Contains(badErr.Error(), bad.ID) {
		t.Fatalf("create whose ZADD failed: %v", badErr)
	}
	if ck, err := sharedCk(); err != nil || ck.ID != read[0].ID || shared.Val() != "s1" {
		t.Fatalf("shared read: %+v %v, session %q %v", ck, err, shared.Val(), shared.Err())
	}
	for _, c := range append(alone, good) {
		if stored, err := r.Get(ctx, c.ID); err != nil || stored.Amounts != c.Amounts {
			t.Fatalf("created %s: %+v %v", c.ID, stored, err)
		}
		if _, err := r.rdb.ZScore(ctx, r.keyList(c.MerchantID), c.ID).Result(); err != nil {
			t.Fatalf("created %s not listed: %v", c.ID, err)
		}
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.sends) != maxInFlight+1 {
		t.Fatalf("%d pipelines, want %d alone and one shared: %v", len(h.sends), maxInFlight, h.sends)
	}
	var hmgets int
	for _, name := range h.sends[maxInFlight] {
		if name == "hmget" {
			hmgets++
		}
	}
	if hmgets != len(read)+1 {
		t.Fatalf("shared pipeline %v: %d reads, want %d", h.sends[maxInFlight], hmgets, len(read)+1)
	}
}

// TestSharedPipelineAfterPanic: a caller whose queue panics (a bug) gives
// its slot back; the next callers are not left waiting for a pipeline
// nobody runs.
func TestSharedPipelineAfterPanic(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	c := create(t, r, clk, "m1")
	for range maxInFlight + 1 {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			r.Share(ctx, func(redis.Pipeliner) { panic("bug") })
		}()
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.GetCurrent(ctx, c.ID)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a read after the panics never ran: the slots stayed taken")
	}
	if r.batch.inflight != 0 {
		t.Fatalf("%d slots still taken", r.batch.inflight)
	}
}

// TestSharedPipelineRedisDown: with Redis gone every caller gets its
// error, the gathered ones too.
func TestSharedPipelineRedisDown(t *testing.T) {
	r, clk := newTestRepo(t)
	c := create(t, r, clk, "m1")
	down := NewRepo(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second}), WithPrefix(r.prefix))
	down.terms = r.terms // the terms are cached: the read goes to Redis for the state only
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = down.GetCurrent(context.Background(), c.ID) })
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil || errors.Is(err, ErrNotFound) {
			t.Fatalf("read %d with Redis down: %v", i, err)
		}
	}
}

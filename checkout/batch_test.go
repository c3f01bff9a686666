package checkout

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/internal/redistest"
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
		if handshake(cmds) {
			return next(ctx, cmds)
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

// handshake reports whether cmds are a new connection's handshake, which
// the hooks here let through untouched.
func handshake(cmds []redis.Cmder) bool {
	return cmds[0].Name() == "client" || cmds[0].Name() == "hello"
}

// gathered is how many callers wait for the next shared pipeline.
func (b *batcher) gathered() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.next == nil {
		return 0
	}
	n := 0
	for _, c := range b.next.callers {
		if !c.left {
			n++
		}
	}
	return n
}

// holdBoth has maxInFlight creates go alone and be held by h, and returns
// what lets them finish and reports their errors.
func holdBoth(t *testing.T, r *Repo, clk *clock, h *heldPipelines) (alone []*Checkout, finish func() []error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, maxInFlight)
	for i := range maxInFlight {
		c := newCheckout(t, clk, "m1")
		alone = append(alone, c)
		wg.Go(func() { errs[i] = r.Create(context.Background(), c, nil) })
		<-h.entered
	}
	return alone, func() []error { h.release(); wg.Wait(); return errs }
}

// sharing skips a test of shared pipelines on a Cluster, where each goes
// alone (TestClusterPipelinesAlone).
func sharing(t *testing.T, r *Repo) {
	if r.batch.alone {
		t.Skip("on a Cluster every caller's pipeline goes alone")
	}
}

// TestSharedPipelines: while maxInFlight pipelines are in flight, the
// creates and reads that come meanwhile go together in one pipeline, and
// each gets its own answer, its own error included.
func TestSharedPipelines(t *testing.T) {
	r, clk := newTestRepo(t)
	sharing(t, r)
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
	// The first maxInFlight callers go alone, and are held.
	alone, finish := holdBoth(t, r, clk, h)
	var wg sync.WaitGroup
	// Everyone after them gathers.
	got := make([]*Checkout, len(read))
	gotErr := make([]error, len(read))
	for i, c := range read {
		wg.Go(func() { got[i], gotErr[i] = r.GetCurrent(ctx, c.ID) })
	}
	good, bad := newCheckout(t, clk, "m2"), newCheckout(t, clk, "m_bad")
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
	aloneErr := finish()
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

// TestSharedPipelineAfterPanic: a caller whose queue panics (a bug), alone
// or while pipelines are in flight, panics on its own goroutine, where
// the request's recovery catches it; it takes no slot and leaves nothing
// behind, and the callers after it go on.
func TestSharedPipelineAfterPanic(t *testing.T) {
	r, clk := newTestRepo(t)
	sharing(t, r)
	ctx := context.Background()
	c := create(t, r, clk, "m1")
	if _, err := r.GetCurrent(ctx, c.ID); err != nil { // its terms now cached
		t.Fatal(err)
	}
	panics := func() {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		_ = r.Share(ctx, func(p redis.Pipeliner) { p.Get(ctx, "x"); panic("bug") })
	}
	for range maxInFlight + 1 {
		panics()
	}
	h := newHeldPipelines()
	r.rdb.AddHook(h)
	_, finish := holdBoth(t, r, clk, h)
	panics() // while both are in flight
	if n := r.batch.gathered(); n != 0 {
		t.Fatalf("%d callers gathered after a panic", n)
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.GetCurrent(ctx, c.ID)
		done <- err
	}()
	for r.batch.gathered() < 1 {
		time.Sleep(time.Millisecond)
	}
	for i, err := range finish() {
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r.batch.mu.Lock()
	defer r.batch.mu.Unlock()
	if r.batch.inflight != 0 {
		t.Fatalf("%d slots still taken", r.batch.inflight)
	}
}

// TestSharedPipelineCallerGivesUp: a gathered caller whose context ends
// before its pipeline goes leaves at once with its context's error, and
// its commands are dropped: a create that answered an error, whose
// Idempotency-Key the handler then released, does not land afterwards.
func TestSharedPipelineCallerGivesUp(t *testing.T) {
	r, clk := newTestRepo(t)
	sharing(t, r)
	h := newHeldPipelines()
	r.rdb.AddHook(h)
	_, finish := holdBoth(t, r, clk, h)
	ctx, cancel := context.WithCancel(context.Background())
	c := newCheckout(t, clk, "m1")
	idem := &IdempotentResponse{MerchantID: "m1", Key: "k-given-up", Status: 201, Body: []byte(`{}`)}
	done := make(chan error, 1)
	go func() { done <- r.Create(ctx, c, idem) }()
	for r.batch.gathered() < 1 {
		time.Sleep(time.Millisecond)
	}
	// Another caller gathers behind it and stays.
	other := newCheckout(t, clk, "m1")
	otherDone := make(chan error, 1)
	go func() { otherDone <- r.Create(context.Background(), other, nil) }()
	for r.batch.gathered() < 2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), c.ID) {
		t.Fatalf("create given up: %v", err)
	}
	if n := r.batch.gathered(); n != 1 {
		t.Fatalf("%d callers still gathered, want the other one", n)
	}
	for i, err := range finish() {
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
	}
	if err := <-otherDone; err != nil {
		t.Fatalf("the create gathered beside it: %v", err)
	}
	bg := context.Background()
	if _, err := r.Get(bg, other.ID); err != nil {
		t.Fatalf("the other create: %v", err)
	}
	if _, err := r.Get(bg, c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the given-up create landed: %v", err)
	}
	if n := r.rdb.Exists(bg, r.keyIdem("m1", "k-given-up")).Val(); n != 0 {
		t.Fatal("the given-up create's idempotent answer landed")
	}
}

// refusePipelines fails every pipeline without sending it, as go-redis
// does when a new connection's login fails: the commands carry no error
// of their own.
type refusePipelines struct{}

func (refusePipelines) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (refusePipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (refusePipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if handshake(cmds) {
			return next(ctx, cmds)
		}
		return errors.New("refused before sending")
	}
}

// TestSharedPipelineFailsEveryCaller: a pipeline that fails as a whole
// without an error on its commands fails every caller's call, alone or
// gathered: no create answers success for a checkout never stored.
func TestSharedPipelineFailsEveryCaller(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	c := create(t, r, clk, "m1")
	if _, err := r.GetCurrent(ctx, c.ID); err != nil { // its terms now cached
		t.Fatal(err)
	}
	var h *heldPipelines
	if !r.batch.alone {
		h = newHeldPipelines()
		r.rdb.AddHook(h)
	}
	r.rdb.AddHook(refusePipelines{})
	var finish func() []error
	if h != nil {
		_, finish = holdBoth(t, r, clk, h)
	}
	var wg sync.WaitGroup
	var createErr, readErr error
	fresh := newCheckout(t, clk, "m1")
	wg.Go(func() { createErr = r.Create(ctx, fresh, nil) })
	wg.Go(func() { _, readErr = r.GetCurrent(ctx, c.ID) })
	if h != nil {
		for r.batch.gathered() < 2 {
			time.Sleep(time.Millisecond)
		}
		for i, err := range finish() {
			if err == nil || !strings.Contains(err.Error(), "refused before sending") {
				t.Fatalf("create %d alone: %v", i, err)
			}
		}
	}
	wg.Wait()
	if createErr == nil || !strings.Contains(createErr.Error(), "refused before sending") {
		t.Fatalf("create: %v", createErr)
	}
	if readErr == nil || !strings.Contains(readErr.Error(), "refused before sending") {
		t.Fatalf("read: %v", readErr)
	}
}

// denyAfter sends every pipeline, then reports an error of its own.
type denyAfter struct{}

func (denyAfter) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (denyAfter) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (denyAfter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if handshake(cmds) {
			return err
		}
		return errors.New("denied after sending")
	}
}

// TestSharedPipelineErrorBesideANil: a pipeline-wide error reaches the
// commands without one of their own even when another command in the
// pipeline carries a reply error (a missing key's redis.Nil), which
// stays as it is.
func TestSharedPipelineErrorBesideANil(t *testing.T) {
	r, _ := newTestRepo(t)
	r.rdb.AddHook(denyAfter{})
	ctx := context.Background()
	var missing *redis.StringCmd
	var set *redis.StatusCmd
	if err := r.Share(ctx, func(p redis.Pipeliner) {
		missing = p.Get(ctx, r.prefix+"missing")
		set = p.Set(ctx, r.prefix+"set", "v", time.Minute)
	}); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(missing.Err(), redis.Nil) {
		t.Fatalf("missing key: %v, want redis.Nil", missing.Err())
	}
	if err := set.Err(); err == nil || err.Error() != "denied after sending" {
		t.Fatalf("set beside it: %v", err)
	}
}

// TestCreateWrongPassword: a client whose login Redis refuses fails the
// create (go-redis leaves that error off the pipeline's commands).
func TestCreateWrongPassword(t *testing.T) {
	r, clk := newTestRepo(t)
	cl, ok := r.rdb.(*redis.Client)
	if !ok {
		t.Skip("not a single-node client")
	}
	o := *cl.Options()
	o.Username, o.Password, o.MaxRetries = "nobody", "wrong", -1
	bad := redis.NewClient(&o)
	t.Cleanup(func() { _ = bad.Close() })
	err := NewRepo(bad, WithPrefix(r.prefix)).Create(context.Background(), newCheckout(t, clk, "m1"), nil)
	if err == nil {
		t.Fatal("create with a refused login answered success")
	}
}

// TestClusterPipelinesAlone: on a Cluster each caller's pipeline goes
// alone, so a pipeline held up (a slow node) holds up nobody else.
func TestClusterPipelinesAlone(t *testing.T) {
	_, cc := redistest.MiniCluster(t)
	if !NewRepo(cc).batch.alone {
		t.Fatal("a Repo on a cluster client shares pipelines")
	}
	r, clk := newTestRepo(t)
	r.batch.alone = true
	ctx := context.Background()
	c := create(t, r, clk, "m1")
	if _, err := r.GetCurrent(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	h := newHeldPipelines()
	r.rdb.AddHook(h)
	held := make(chan error, 1)
	go func() { held <- r.Create(ctx, newCheckout(t, clk, "m1"), nil) }()
	<-h.entered
	// Everything after it is held too (the hook holds every pipeline),
	// but each one reaches Redis by itself: none waits for the first.
	results := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := r.GetCurrent(ctx, c.ID)
			results <- err
		}()
	}
	for range 4 {
		<-h.entered
	}
	if n := r.batch.gathered(); n != 0 {
		t.Fatalf("%d callers gathered on a Cluster", n)
	}
	h.release()
	for range 4 {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	if err := <-held; err != nil {
		t.Fatal(err)
	}
}

// newCheckout is a new checkout of merchant, not stored yet.
func newCheckout(t *testing.T, clk *clock, merchant string) *Checkout {
	t.Helper()
	c, err := NewCheckout(draft(merchant), clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
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

package checkout

import (
	"context"
	"slices"
	"sync"

	"github.com/redis/go-redis/v9"
)

// A round trip to Redis costs both sides more than the small commands in
// it: a write and a read system call on each side and a turn of Redis's
// event loop. Under load the hot paths' round trips (a create's writes, a
// page view's or a status poll's read) therefore share pipelines, the way
// a database commits a group of transactions with one log write:
//
//   - Fewer than maxInFlight pipelines in flight: the caller's commands go
//     at once, alone, as before. A lone request costs what it did.
//   - Otherwise the caller's commands join the next pipeline, which goes
//     as soon as one in flight is back. Every caller waits for its own
//     pipeline, so a create still answers only once its writes are done
//     (or have failed), and a read sees what Redis held when it ran.
//
// A shared pipeline is not a transaction, as a pipeline was not before:
// each caller's commands stay together and in order, and another
// caller's may run before or after them, as they could between two round
// trips. Every caller reads its own commands' results and errors (a
// network failure fails them all). A gathered pipeline runs with the
// values of its first caller's context but no deadline: it decides for
// several requests and must not end with one that gives up. go-redis's
// read and write timeouts bound it, and a caller waits for it even when
// its own context ends.
type batcher struct {
	rdb redis.UniversalClient

	mu       sync.Mutex
	inflight int
	// next gathers the callers that came while maxInFlight pipelines were
	// in flight.
	next *batch
}

// maxInFlight is how many shared pipelines may be in flight at once: with
// two, Redis works on one while the next is read and written, and no
// caller waits behind more than one.
const maxInFlight = 2

// batch is the callers of one gathered pipeline.
type batch struct {
	ctx   context.Context
	queue []func(redis.Pipeliner)
	done  chan struct{}
}

// do has queue add its commands to a pipeline and returns once that
// pipeline has run; the caller then reads the commands it queued. queue
// must only queue commands: it may run on another goroutine (the caller
// waits meanwhile).
func (b *batcher) do(ctx context.Context, queue func(redis.Pipeliner)) {
	b.mu.Lock()
	if b.inflight >= maxInFlight {
		n := b.next
		if n == nil {
			n = &batch{ctx: context.WithoutCancel(ctx), done: make(chan struct{})}
			b.next = n
		}
		n.queue = append(n.queue, queue)
		b.mu.Unlock()
		<-n.done
		return
	}
	b.inflight++
	b.mu.Unlock()
	// Deferred: a panic in queue (a bug) must not keep the slot taken.
	defer b.release()
	p := b.rdb.Pipeline()
	queue(p)
	_, _ = p.Exec(ctx) // each command keeps its own error
}

// release gives up a pipeline's slot: to the callers that gathered
// meanwhile, whose pipelines then run one after the other on a goroutine
// of their own, or back to the batcher when nobody waits.
func (b *batcher) release() {
	if n := b.handOver(); n != nil {
		go b.chain(n)
	}
}

// chain runs the gathered pipelines, each after the other, until nobody
// waits.
func (b *batcher) chain(n *batch) {
	for n != nil {
		b.run(n)
		n = b.handOver()
	}
}

// run runs n's pipeline and lets its callers go. A panic in a queue
// (a bug) ends the process, as on any goroutine without a request: the
// callers must not read commands that never ran.
func (b *batcher) run(n *batch) {
	p := b.rdb.Pipeline()
	for _, q := range n.queue {
		q(p)
	}
	_, _ = p.Exec(n.ctx)
	close(n.done)
}

// handOver takes the callers that gathered, if any; without any the slot
// is free again.
func (b *batcher) handOver() *batch {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.next
	b.next = nil
	if n == nil {
		b.inflight--
	}
	return n
}

// pipelineTail is what was queued on p after its first n commands: the
// commands of one caller of a shared pipeline.
func pipelineTail(p redis.Pipeliner, n int) []redis.Cmder {
	return slices.Clone(p.Cmds()[n:])
}

package checkout

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// A round trip to Redis costs both sides more than the small commands in
// it: a write and a read system call on each side and a turn of Redis's
// event loop. Under load the hot paths' round trips (a create's writes, a
// page view's or a status poll's read) therefore share pipelines, the way
// a database commits a group of transactions with one log write:
//
//   - Every caller queues its commands on its own goroutine, on a
//     pipeline of its own; a panic there stays the caller's.
//   - Fewer than maxInFlight pipelines in flight: that pipeline goes at
//     once, alone, as before. A lone request costs what it did.
//   - Otherwise the caller's commands join the next shared pipeline, which
//     goes as soon as one in flight is back. The caller waits for it, so
//     a create still answers only once its writes are done (or have
//     failed), and a read sees what Redis held when it ran. A caller whose
//     context ends before its pipeline has gone leaves with its context's
//     error, and its commands are dropped: nothing it queued runs after it
//     answered (a create whose answer is an error may not land later, once
//     its Idempotency-Key is released). Once its pipeline has gone, it
//     waits for the answer.
//
// A shared pipeline is not a transaction, as a pipeline was not before:
// each caller's commands stay together and in order, and another
// caller's may run before or after them, as they could between two round
// trips. Every caller reads its own commands' results and errors (a
// network failure fails them all). A shared pipeline runs with the values
// of its first caller's context but no deadline: it decides for several
// requests and must not end with one that gives up; go-redis's read and
// write timeouts bound it.
//
// On a Redis Cluster every caller's pipeline goes alone: a shared one
// would wait for every node it touches, so one slow node would hold up
// the requests for all the others.
type batcher struct {
	rdb redis.UniversalClient
	// alone sends every caller's pipeline by itself (a Cluster).
	alone bool

	mu       sync.Mutex
	inflight int
	// next gathers the callers that came while maxInFlight pipelines
	// were in flight.
	next *batch
}

// maxInFlight is how many shared pipelines may be in flight at once: with
// two, Redis works on one while the next is read and written, and no
// caller waits behind more than one.
const maxInFlight = 2

// batch is the callers of one shared pipeline.
type batch struct {
	ctx     context.Context
	callers []*caller
	done    chan struct{}
}

// caller is one caller's commands in a batch.
type caller struct {
	cmds []redis.Cmder
	// left is set when the caller gave up before the batch went (under
	// the batcher's lock, while the batch is still its next).
	left bool
}

// do has queue add its commands to a pipeline and returns once that
// pipeline has run; the caller then reads the commands it queued. The
// error is the caller's context's when it ended before the pipeline went
// (its commands are dropped); otherwise each command holds its own.
func (b *batcher) do(ctx context.Context, queue func(redis.Pipeliner)) error {
	p := b.rdb.Pipeline()
	queue(p)
	if p.Len() == 0 {
		return nil
	}
	b.mu.Lock()
	if b.alone || b.inflight < maxInFlight {
		if !b.alone {
			b.inflight++
		}
		b.mu.Unlock()
		defer b.release()
		exec(ctx, p)
		return nil
	}
	if err := ctx.Err(); err != nil {
		b.mu.Unlock()
		return err
	}
	n := b.next
	if n == nil {
		n = &batch{ctx: context.WithoutCancel(ctx), done: make(chan struct{})}
		b.next = n
	}
	me := &caller{cmds: p.Cmds()}
	n.callers = append(n.callers, me)
	b.mu.Unlock()
	select {
	case <-n.done:
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	if b.next == n {
		me.left = true
		b.mu.Unlock()
		return ctx.Err()
	}
	b.mu.Unlock()
	// Gone already: its answer is on its way.
	<-n.done
	return nil
}

// exec runs p. A failure of the whole pipeline that go-redis leaves off
// the commands (a Redis error while a new connection logs in, such as a
// wrong password, or a hook's) is set on each command without an error of
// its own: a caller that reads only its own commands must not take an
// empty reply for success. When Exec's error is a command's own reply
// (the first one's: a WRONGTYPE, a redis.Nil), the others' replies stand.
func exec(ctx context.Context, p redis.Pipeliner) {
	cmds := p.Cmds()
	_, err := p.Exec(ctx)
	if err == nil {
		return
	}
	for _, c := range cmds {
		if c.Err() == err {
			return
		}
	}
	for _, c := range cmds {
		if c.Err() == nil {
			c.SetErr(err)
		}
	}
}

// release gives up a pipeline's slot: to the callers that gathered
// meanwhile, whose pipelines then run one after the other on a goroutine
// of their own, or back to the batcher when nobody waits.
func (b *batcher) release() {
	if b.alone {
		return
	}
	if n := b.handOver(); n != nil {
		go b.chain(n)
	}
}

// chain runs the gathered pipelines, each after the other, until nobody
// waits.
func (b *batcher) chain(n *batch) {
	for n != nil {
		p := b.rdb.Pipeline()
		for _, c := range n.callers {
			if c.left {
				continue
			}
			for _, cmd := range c.cmds {
				_ = p.Process(n.ctx, cmd) // queues cmd
			}
		}
		exec(n.ctx, p)
		close(n.done)
		n = b.handOver()
	}
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

// queued is what was queued on p: at the end of a queue function, the
// commands of that caller (Exec hands the slice on without changing it).
func queued(p redis.Pipeliner) []redis.Cmder {
	return p.Cmds()
}

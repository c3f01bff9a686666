package payments_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
)

// pipeListener serves HTTP over in-memory connections (net.Pipe), so ten
// thousand streams fit in one process without ten thousand socket pairs.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *pipeListener) Addr() net.Addr { return &net.UnixAddr{Name: "pipe", Net: "pipe"} }

// dial returns the client end of a new connection.
func (l *pipeListener) dial() (net.Conn, error) {
	srv, cli := net.Pipe()
	select {
	case l.conns <- srv:
		return cli, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// BenchmarkFanoutSSE measures what BenchmarkFanout leaves out: 10,000 real
// result-page event streams (GET /c/:id/events, the production handler
// with the Hub) open on one checkout in one process; an op is the time from
// the transition's publish until every stream has sent "paid" (the streams
// share one re-read of the checkout). Memory per waiter is the process's
// heap and stack growth with the streams open, after GC; it counts the
// test's client end too (a goroutine, a pipe and a 512-byte reader per
// stream), so it is an upper bound for the server. The server's own share
// is measured by the load harness, with the server in its own process:
// `go run ./cmd/loadharness -only sse` (docs/performance.md).
func BenchmarkFanoutSSE(b *testing.B) {
	const waiters = 10_000
	e := newEnv(b, envConfig{sandbox: sandbox.Config{DropNotifies: true}, quietStreams: true})
	startHub(b, e)
	h := e.app.Handler
	l := newPipeListener()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	b.Cleanup(func() { _ = srv.Close() })
	ctx := context.Background()

	var perWaiter float64
	b.ReportAllocs()
	b.StopTimer()
	for i := range b.N {
		c := e.newCheckout(1000, 30*time.Minute)
		a := e.order(c, checkout.ScenarioQR, "")
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		var ready, paid sync.WaitGroup
		ready.Add(waiters)
		paid.Add(waiters)
		req := "GET /c/" + c.ID + "/events HTTP/1.1\r\nHost: pay.example\r\nAccept: text/event-stream\r\n\r\n"
		sem := make(chan struct{}, 256) // open streams a few hundred at a time
		for range waiters {
			sem <- struct{}{}
			go func() {
				conn, err := l.dial()
				if err != nil {
					b.Error(err)
					ready.Done()
					paid.Done()
					return
				}
				defer conn.Close()
				if _, err := conn.Write([]byte(req)); err != nil {
					b.Error(err)
					ready.Done()
					paid.Done()
					return
				}
				r := bufio.NewReaderSize(conn, 512)
				first := true
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						b.Errorf("stream ended early: %v", err)
						if first {
							ready.Done()
						}
						paid.Done()
						return
					}
					if !strings.HasPrefix(line, "data: ") {
						continue
					}
					if first {
						first = false
						<-sem
						ready.Done()
						continue
					}
					if strings.Contains(line, `"status":"paid"`) {
						paid.Done()
						return
					}
				}
			}()
		}
		ready.Wait()
		runtime.GC()
		runtime.ReadMemStats(&m1)
		perWaiter = float64(int64(m1.HeapAlloc+m1.StackInuse)-int64(m0.HeapAlloc+m0.StackInuse)) / waiters
		if e.app.Hub.Waiters() != waiters {
			b.Fatalf("round %d: %d hub waiters, want %d", i, e.app.Hub.Waiters(), waiters)
		}
		// The transition is stored first; the publish is what the op times.
		if _, err := e.repo.MarkPaid(ctx, c.ID, a.Seq, a.OrdNo); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := e.rdb.Publish(ctx, e.svc.Channel(), c.ID+" paid 0").Err(); err != nil {
			b.Fatal(err)
		}
		paid.Wait()
		b.StopTimer()
		waitFor(b, 10*time.Second, "streams closed", func() bool { return e.app.Hub.Waiters() == 0 })
	}
	b.ReportMetric(perWaiter, "B/waiter")
}

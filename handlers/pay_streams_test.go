package handlers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/internal/redistest"
	"github.com/wallet-checkout/checkout/notify"
)

// streamCaps sets the event streams' caps (zero keeps the default).
func streamCaps(process, client, perCheckout, reads int) option {
	return func(_ *app.Config, s *config.Settings) {
		set := func(dst *int, v int) {
			if v > 0 {
				*dst = v
			}
		}
		set(&s.StreamsMax, process)
		set(&s.StreamsPerClient, client)
		set(&s.StreamsPerCheckout, perCheckout)
		set(&s.StreamReads, reads)
	}
}

// trustLoopback believes X-Forwarded-For from the test client, so a test
// can speak from several addresses.
func trustLoopback(_ *app.Config, s *config.Settings) {
	s.TrustedProxies = []string{"127.0.0.1", "::1"}
}

// sseStream is an opened GET /c/:id/events: its answer and what it sent
// up to its first data event.
type sseStream struct {
	status int
	ctype  string
	head   string
	cancel context.CancelFunc
}

var (
	reRetry = regexp.MustCompile(`(?m)^retry: (\d+)$`)
	rePoll  = regexp.MustCompile(`(?m)^event: poll\ndata: (\{.*\})$`)
)

// hint reports whether the stream answered the polling hint.
func (s *sseStream) hint() bool { return rePoll.MatchString(s.head) }

// retry is the stream's `retry:` in ms.
func (s *sseStream) retry(t *testing.T) int {
	t.Helper()
	m := reRetry.FindStringSubmatch(s.head)
	if m == nil {
		t.Fatalf("no retry line in %q", s.head)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func (s *sseStream) close() { s.cancel() }

// openStream opens the checkout's event stream from client address from
// (X-Forwarded-For; empty: none) and reads up to its first data event.
func openStream(t *testing.T, base, id, from string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/c/"+id+"/events", nil)
	if from != "" {
		req.Header.Set("X-Forwarded-For", from)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &sseStream{status: res.StatusCode, ctype: res.Header.Get("Content-Type"),
		cancel: func() { cancel(); res.Body.Close() }}
	t.Cleanup(s.close)
	rd := bufio.NewReader(res.Body)
	var b strings.Builder
	data := false
	for {
		line, err := rd.ReadString('\n')
		b.WriteString(line)
		if strings.HasPrefix(line, "data: ") {
			data = true
		}
		if data && line == "\n" {
			break
		}
		if err != nil {
			t.Fatalf("stream ended before its first event: %q %v", b.String(), err)
		}
	}
	s.head = b.String()
	return s
}

// checkHint fails unless s is the polling hint of checkout id.
func checkHint(t *testing.T, s *sseStream, id string) {
	t.Helper()
	if s.status != 200 || !strings.HasPrefix(s.ctype, "text/event-stream") || !s.hint() {
		t.Fatalf("want the polling hint, got %d %s %q", s.status, s.ctype, s.head)
	}
	var h struct {
		PollMS    int    `json:"poll_ms"`
		StatusURL string `json:"status_url"`
	}
	if err := json.Unmarshal([]byte(rePoll.FindStringSubmatch(s.head)[1]), &h); err != nil {
		t.Fatal(err)
	}
	if r := s.retry(t); r < 5000 || r > 10000 || h.PollMS != r || h.StatusURL != "/c/"+id+"/status" {
		t.Fatalf("hint retry %d, data %+v", r, h)
	}
}

// checkLive fails unless s is a real stream.
func checkLive(t *testing.T, s *sseStream) {
	t.Helper()
	if s.status != 200 || !strings.HasPrefix(s.ctype, "text/event-stream") || s.hint() || !strings.Contains(s.head, `data: {"status":"open"`) {
		t.Fatalf("want a live stream, got %d %s %q", s.status, s.ctype, s.head)
	}
}

// eventually opens a stream until it is live: a closed stream gives its
// place back once its handler has noticed the client left.
func eventually(t *testing.T, open func() *sseStream) *sseStream {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := open()
		if !s.hint() {
			return s
		}
		s.close()
		if time.Now().After(deadline) {
			t.Fatalf("still capped: %q", s.head)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStreamCapPerCheckout(t *testing.T) {
	t.Parallel()
	e := newPgEnv(t, streamCaps(0, 0, 3, 0))
	ck, other := e.newCheckout("native", 100), e.newCheckout("native", 200)
	var open []*sseStream
	for range 3 {
		s := openStream(t, e.srv.URL, ck.ID, "")
		checkLive(t, s)
		open = append(open, s)
	}
	checkHint(t, openStream(t, e.srv.URL, ck.ID, ""), ck.ID)
	// The cap is the checkout's: another one still streams.
	checkLive(t, openStream(t, e.srv.URL, other.ID, ""))
	// Once one closes, a new one gets a real stream.
	open[0].close()
	open[0] = eventually(t, func() *sseStream { return openStream(t, e.srv.URL, ck.ID, "") })
	checkLive(t, open[0])
	checkHint(t, openStream(t, e.srv.URL, ck.ID, ""), ck.ID)
	// All closed: the whole cap is free again.
	for _, s := range open {
		s.close()
	}
	for range 3 {
		checkLive(t, eventually(t, func() *sseStream { return openStream(t, e.srv.URL, ck.ID, "") }))
	}
}

func TestStreamCapPerClient(t *testing.T) {
	t.Parallel()
	e := newPgEnv(t, streamCaps(0, 2, 0, 0), trustLoopback)
	cks := []*checkout.Checkout{e.newCheckout("native", 100), e.newCheckout("native", 200), e.newCheckout("native", 300)}
	a := openStream(t, e.srv.URL, cks[0].ID, "10.0.0.1")
	b := openStream(t, e.srv.URL, cks[1].ID, "10.0.0.1")
	checkLive(t, a)
	checkLive(t, b)
	checkHint(t, openStream(t, e.srv.URL, cks[2].ID, "10.0.0.1"), cks[2].ID)
	// Another address is not capped by this one's streams.
	checkLive(t, openStream(t, e.srv.URL, cks[2].ID, "10.0.0.2"))
	a.close()
	checkLive(t, eventually(t, func() *sseStream { return openStream(t, e.srv.URL, cks[2].ID, "10.0.0.1") }))
	checkHint(t, openStream(t, e.srv.URL, cks[0].ID, "10.0.0.1"), cks[0].ID)
}

func TestStreamCapPerProcess(t *testing.T) {
	t.Parallel()
	e := newPgEnv(t, streamCaps(3, 0, 0, 0), trustLoopback)
	var open []*sseStream
	for i := range 3 {
		ck := e.newCheckout("native", int64(100+i))
		s := openStream(t, e.srv.URL, ck.ID, fmt.Sprintf("10.0.1.%d", i))
		checkLive(t, s)
		open = append(open, s)
	}
	ck := e.newCheckout("native", 500)
	checkHint(t, openStream(t, e.srv.URL, ck.ID, "10.0.2.1"), ck.ID)
	for _, s := range open {
		s.close()
	}
	// Every slot comes back: three new streams from three new addresses.
	for i := range 3 {
		checkLive(t, eventually(t, func() *sseStream { return openStream(t, e.srv.URL, ck.ID, fmt.Sprintf("10.0.3.%d", i)) }))
	}
	checkHint(t, openStream(t, e.srv.URL, ck.ID, "10.0.2.1"), ck.ID)
}

// TestStreamRetryJitter: the reconnect delays of real streams and of the
// polling hint vary from answer to answer, within the documented ranges
// (3 to 6 s, and 5 to 10 s).
func TestStreamRetryJitter(t *testing.T) {
	t.Parallel()
	e := newPgEnv(t, streamCaps(0, 0, 1, 0))
	ended := e.newCheckout("native", 100)
	if _, err := e.repo.Cancel(context.Background(), ended.ID); err != nil {
		t.Fatal(err)
	}
	held := e.newCheckout("native", 200)
	checkLive(t, openStream(t, e.srv.URL, held.ID, ""))
	streams, hints := map[int]bool{}, map[int]bool{}
	for range 25 {
		// Final: one event, then the end (the previous one's place comes
		// back when its handler has returned).
		s := eventually(t, func() *sseStream { return openStream(t, e.srv.URL, ended.ID, "") })
		if s.hint() || !strings.Contains(s.head, `"status":"cancelled"`) {
			t.Fatalf("stream of a cancelled checkout: %q", s.head)
		}
		s.close()
		if r := s.retry(t); r < 3000 || r > 6000 {
			t.Fatalf("stream retry %d outside 3000..6000", r)
		} else {
			streams[r] = true
		}
		h := openStream(t, e.srv.URL, held.ID, "")
		checkHint(t, h, held.ID) // checks the 5000..10000 range
		hints[h.retry(t)] = true
	}
	if len(streams) < 2 || len(hints) < 2 {
		t.Fatalf("retry values not jittered: streams %v, hints %v", streams, hints)
	}
}

// slowConn delays every read from Redis: the connection is held meanwhile,
// as it is when Redis is slow or far. It counts the reads under way and
// their peak.
type slowConn struct {
	net.Conn
	m *readMeter
}

type readMeter struct {
	mu               sync.Mutex
	now, peak, total int
}

func (m *readMeter) reset() (peak, total int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	peak, total = m.peak, m.total
	m.peak, m.total = m.now, 0
	return peak, total
}

func (c slowConn) Read(b []byte) (int, error) {
	c.m.mu.Lock()
	c.m.now++
	c.m.total++
	c.m.peak = max(c.m.peak, c.m.now)
	c.m.mu.Unlock()
	defer func() {
		c.m.mu.Lock()
		c.m.now--
		c.m.mu.Unlock()
	}()
	time.Sleep(2 * time.Millisecond)
	return c.Conn.Read(b)
}

// TestStreamReadsBound: with the streams' Redis reads bounded to one at a
// time, many streams re-reading at once on a slow Redis and a small pool
// leave connections to the merchant API and the notify intake.
func TestStreamReadsBound(t *testing.T) {
	t.Parallel()
	base, ok := redistest.New(t).(*redis.Client)
	if !ok {
		t.Skip("redistest gave no *redis.Client")
	}
	meter := &readMeter{}
	bo := base.Options()
	o := redis.Options{Addr: bo.Addr, Username: bo.Username, Password: bo.Password, DB: bo.DB, Protocol: bo.Protocol, PoolSize: 8}
	o.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return slowConn{c, meter}, nil
	}
	rdb := redis.NewClient(&o)
	t.Cleanup(func() { rdb.Close() })

	e := newEvEnv(t, withRedis(rdb), streamCaps(0, 0, 0, 1), func(c *app.Config, _ *config.Settings) {
		c.PageEventsPoll = 20 * time.Millisecond
		c.PageHeartbeat = time.Second
	})
	const n = 60
	live := 0
	for i := range n {
		c, err := checkout.NewCheckout(&checkout.Draft{MerchantID: e.merchantA, StoreID: "main",
			Amounts: checkout.Amounts{Original: 100, Trade: 100}, Description: "x", LatePolicy: checkout.LatePolicyAccept}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := e.repo.Create(context.Background(), c, nil); err != nil {
			t.Fatal(err)
		}
		// Every stream on its own checkout: no shared read.
		if s := openStream(t, e.api.URL, c.ID, fmt.Sprintf("10.9.0.%d", i)); !s.hint() {
			live++
		}
	}
	if live < n/2 {
		t.Fatalf("only %d of %d streams opened", live, n)
	}
	// The streams now re-read every 20 ms, 60 of them, and nothing else
	// uses Redis (no loop runs): never more than the bound's one read at
	// a time.
	meter.reset()
	time.Sleep(500 * time.Millisecond)
	if peak, total := meter.reset(); peak > 1 || total == 0 {
		t.Fatalf("streams alone: %d reads, at most %d at once; want some, one at a time", total, peak)
	} else {
		t.Logf("streams alone: %d reads in 500 ms, at most %d at once", total, peak)
	}
	// The API and the notify intake find connections.
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 5 {
		wg.Go(func() {
			cl := &http.Client{Timeout: 15 * time.Second}
			req, _ := http.NewRequest("POST", e.api.URL+"/v1/checkouts", strings.NewReader(`{"amount":100}`))
			req.Header.Set("Authorization", "Bearer "+e.keyA)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", fmt.Sprintf("bound-%d", i))
			res, err := cl.Do(req)
			if err != nil {
				errs <- err
				return
			}
			res.Body.Close()
			if res.StatusCode != http.StatusCreated {
				errs <- fmt.Errorf("create: %d", res.StatusCode)
			}
		})
	}
	// A real notify from the sandbox, confirmed and stored.
	e.paidCheckout()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// openOn opens checkout id's event stream with client and reads up to its
// first data event; close ends it from the payer's side.
func openOn(t *testing.T, client *http.Client, base, id string) (res *http.Response, rd *bufio.Reader, close func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/c/"+id+"/events", nil)
	res, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	close = func() { cancel(); res.Body.Close() }
	t.Cleanup(close)
	rd = bufio.NewReader(res.Body)
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended before its first event: %v", err)
		}
		if strings.HasPrefix(line, "data: ") {
			if !strings.Contains(line, `"status":"open"`) {
				t.Fatalf("first event %q", line)
			}
			return res, rd, close
		}
	}
}

// TestStreamsGiveBack: when their payers leave, streams give back what
// they held: their Hub registrations and their goroutines (the process
// returns to its count from before they opened; each stream's connection,
// buffers and timers go with its goroutine). Held streams (HTTP/1.1, whose
// connection the stream takes over) and looping ones (HTTP/2) alike. Not
// parallel: it counts the process's goroutines.
func TestStreamsGiveBack(t *testing.T) {
	for _, tc := range []struct {
		name string
		h2   bool
	}{{"held, HTTP/1.1", false}, {"loop, HTTP/2", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPgEnv(t, streamCaps(0, 100, 100, 0))
			srv := httptest.NewUnstartedServer(e.srv.Config.Handler)
			srv.EnableHTTP2 = tc.h2
			if tc.h2 {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			t.Cleanup(srv.Close)
			client := srv.Client()
			ck := e.newCheckout("native", 100)
			base := serverGoroutines()

			const n = 40
			var closes []func()
			for range n {
				res, _, close := openOn(t, client, srv.URL, ck.ID)
				if tc.h2 && res.ProtoMajor != 2 || !tc.h2 && (res.ProtoMajor != 1 || !res.Close) {
					t.Fatalf("HTTP/%d.%d, Connection: close %v", res.ProtoMajor, res.ProtoMinor, res.Close)
				}
				closes = append(closes, close)
			}
			if w := e.hub.Waiters(); w != n {
				t.Fatalf("%d Hub waiters with %d streams open", w, n)
			}
			// At least one goroutine per open stream. Not base+n: base may
			// count a connection of an earlier test that ended since.
			if g := serverGoroutines(); g < n {
				t.Fatalf("%d goroutines with %d streams open, %d before: are they open?", g, n, base)
			}
			for _, close := range closes {
				close()
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				// The client's connections go idle once their streams
				// are reset (HTTP/2: one connection for all).
				client.CloseIdleConnections()
				w, g := e.hub.Waiters(), serverGoroutines()
				if w == 0 && g <= base {
					break
				}
				if time.Now().After(deadline) {
					buf := make([]byte, 1<<20)
					t.Fatalf("streams closed 30 s ago: %d Hub waiters, %d goroutines (%d before)\n%s", w, g, base, buf[:runtime.Stack(buf, true)])
				}
				time.Sleep(20 * time.Millisecond)
			}
			// Every place under the caps is back too: n new streams open.
			for range n {
				openOn(t, client, srv.URL, ck.ID)
			}
		})
	}
}

// serverGoroutines counts the goroutines of the HTTP servers' connections
// and of our handlers (a held stream's among them). It leaves out the rest,
// such as a Redis pool that grew by a connection under load (and the
// server side of it, when Redis is miniredis), which come and go on their
// own.
func serverGoroutines() int {
	buf := make([]byte, 4<<20)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "net/http.(*conn).serve") || strings.Contains(g, "net/http.(*http2serverConn)") ||
			strings.Contains(g, "checkout/handlers.") {
			n++
		}
	}
	return n
}

// TestHeldStreamEndsWhenHubStops: a held stream has no request context
// that a shutdown could cancel; the Hub's end (at shutdown) ends it.
func TestHeldStreamEndsWhenHubStops(t *testing.T) {
	t.Parallel()
	e := newPgEnv(t)
	ck := e.newCheckout("native", 100)
	res, rd, _ := openOn(t, http.DefaultClient, e.srv.URL, ck.ID)
	if !res.Close {
		t.Fatal("not a held stream (no Connection: close)")
	}
	// A Run that returns at once tells every waiter the Hub stopped, as
	// the env's own Run does when it ends.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e.hub.Run(ctx)
	for {
		line, err := rd.ReadString('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		if strings.HasPrefix(line, "data: ") {
			t.Fatalf("unexpected event %q", line)
		}
	}
	if w := e.hub.Waiters(); w != 0 {
		t.Fatalf("%d Hub waiters after the stream ended", w)
	}
}

// TestHeldStreamWakesOnUpdate: a held stream, which waits in a read of its
// connection, is woken by the Hub's update at once; with the re-read and
// the heartbeat an hour away, only the update can bring the change.
func TestHeldStreamWakesOnUpdate(t *testing.T) {
	t.Parallel()
	rdb := redistest.New(t)
	e := newPgEnv(t, withRedis(rdb), func(c *app.Config, _ *config.Settings) {
		c.PageEventsPoll = time.Hour
		c.PageHeartbeat = time.Hour
	})
	ck := e.newCheckout("native", 100)
	res, rd, _ := openOn(t, http.DefaultClient, e.srv.URL, ck.ID)
	if !res.Close {
		t.Fatal("not a held stream (no Connection: close)")
	}
	ctx := context.Background()
	if _, err := e.repo.Cancel(ctx, ck.ID); err != nil {
		t.Fatal(err)
	}
	if err := notify.Publish(ctx, rdb, e.app.Payments.Channel(), notify.Update{CheckoutID: ck.ID, Status: checkout.StatusCancelled}); err != nil {
		t.Fatal(err)
	}
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended before the cancelled event: %v", err)
		}
		if strings.HasPrefix(line, "data: ") {
			if !strings.Contains(line, `"status":"cancelled"`) {
				t.Fatalf("event %q", line)
			}
			break
		}
	}
	// A final state ends the stream.
	if _, err := io.Copy(io.Discard, rd); err != nil {
		t.Fatalf("the stream did not end cleanly: %v", err)
	}
}

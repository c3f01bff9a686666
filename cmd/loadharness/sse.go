package main

// The sse kind: the result page's event streams (GET /c/:id/events) held
// by the thousand, against a floor.
//
// Both servers run in child processes (this binary, re-executed with
// LOADHARNESS_CHILD set), so that their memory is theirs alone: the
// streams' client ends, which cost about as much again, stay in this
// process. The harness reads a child's VmRSS from /proc/<pid>/status
// before the streams open, while they are held, and after they have
// closed, and asks the child over a control port (not the measured server)
// for its Go memory statistics and, at the end, for a garbage collection
// and debug.FreeOSMemory.
//
// The floor is the least a held stream needs: gin and go-redis, one Redis
// read on open (HGETALL of a small hash), one Redis subscription per
// process fanned out to the streams by checkout, a heartbeat ticker, and
// the state change written straight from the published message. The
// service streams the real way: caps, a read slot, the checkout and its
// attempts read on open, the Hub, one shared re-read per change.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/notify"
	"github.com/wallet-checkout/checkout/payments"
)

// Environment of a child process.
const (
	childEnv       = "LOADHARNESS_CHILD" // "service" or "floor"
	childRedisEnv  = "LOADHARNESS_REDIS"
	childPrefixEnv = "LOADHARNESS_PREFIX"
)

// profileDir, when set (-sseprofile), receives each child's heap profile
// with the streams held (heap-floor.pb.gz, heap-service.pb.gz).
var profileDir string

// settle, when set (-ssesettle), is how long after the streams closed the
// harness reads the children's RSS once more, asking nothing of them.
var settle time.Duration

// sseHeartbeat is the floor's heartbeat, the service's default.
const sseHeartbeat = 15 * time.Second

// childMain runs this process as a child when LOADHARNESS_CHILD asks for
// one (ok), and returns its exit code. A child serves until its standard
// input closes, so it never outlives the harness.
func childMain() (code int, ok bool) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		return 0, false
	}
	if err := serveChild(mode, os.Getenv(childRedisEnv), os.Getenv(childPrefixEnv), os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "loadharness child %s: %v\n", mode, err)
		return 1, true
	}
	return 0, true
}

// sseSide is one server of the sse kind, inside its child process.
type sseSide interface {
	// prepare creates a checkout to stream, waiting for its payment.
	prepare(ctx context.Context) (string, error)
	// paid stores the checkout as paid without telling anyone: the
	// harness publishes the change itself, and times from there.
	paid(ctx context.Context, id string) error
	// streams counts the streams held (their subscriptions).
	streams() int
}

// childInfo is the line a child prints once it serves.
type childInfo struct {
	URL     string `json:"url"`
	Control string `json:"control"`
	Channel string `json:"channel"`
}

// childStats is a child's view of itself.
type childStats struct {
	Goroutines int    `json:"goroutines"`
	Streams    int    `json:"streams"`
	HeapInuse  uint64 `json:"heap_inuse"`
	StackInuse uint64 `json:"stack_inuse"`
}

func serveChild(mode, redisURL, prefix string, stdin io.Reader, stdout io.Writer) error {
	gin.SetMode(gin.ReleaseMode)
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx := context.Background()
	var (
		side sseSide
		info childInfo
	)
	switch mode {
	case "service":
		svc, err := startService(ctx, rdb, prefix, map[string]string{
			// The caps far above the load: the harness measures what a
			// held stream costs, not the caps.
			"CHECKOUT_STREAMS_MAX":          "1000000",
			"CHECKOUT_STREAMS_PER_CLIENT":   "1000000",
			"CHECKOUT_STREAMS_PER_CHECKOUT": "1000000",
		})
		if err != nil {
			return err
		}
		defer svc.close()
		side = &serviceSide{svc: svc}
		info = childInfo{URL: svc.url, Channel: svc.app.Payments.Channel()}
	case "floor":
		f, err := startSSEFloor(rdb, prefix)
		if err != nil {
			return err
		}
		defer f.close()
		side = f
		info = childInfo{URL: f.url, Channel: f.channel}
	default:
		return fmt.Errorf("unknown child %q", mode)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /prepare", func(w http.ResponseWriter, r *http.Request) {
		id, err := side.prepare(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, id)
	})
	mux.HandleFunc("POST /paid", func(w http.ResponseWriter, r *http.Request) {
		if err := side.paid(r.Context(), r.FormValue("id")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		// gc=n collects n times: each collection may halve the stack of
		// a goroutine that uses less than a quarter of it.
		gcs, _ := strconv.Atoi(r.FormValue("gc"))
		for range gcs {
			runtime.GC()
		}
		if r.FormValue("free") == "1" {
			debug.FreeOSMemory()
		}
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		_ = json.NewEncoder(w).Encode(childStats{Goroutines: runtime.NumGoroutine(), Streams: side.streams(),
			HeapInuse: m.HeapInuse, StackInuse: m.StackInuse})
	})
	mux.HandleFunc("GET /cpu", func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.FormValue("d"))
		if err := pprof.StartCPUProfile(w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		time.Sleep(d)
		pprof.StopCPUProfile()
	})
	mux.HandleFunc("GET /heap", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		_ = pprof.Lookup("heap").WriteTo(w, 0)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctl := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = ctl.Serve(ln) }()
	defer ctl.Close()
	info.Control = "http://" + ln.Addr().String()
	if err := json.NewEncoder(stdout).Encode(info); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, stdin)
	return nil
}

// serviceSide is the service, streaming on checkouts with a payment
// started (the result page's case).
type serviceSide struct {
	svc      *service
	attempts sync.Map // checkout id → *checkout.Attempt
}

func (s *serviceSide) prepare(ctx context.Context) (string, error) {
	// The Hub must hear the publish that ends the round.
	select {
	case <-s.svc.app.Hub.Ready():
	case <-ctx.Done():
		return "", ctx.Err()
	}
	id, err := createCheckout(s.svc.url, s.svc.apiKey)
	if err != nil {
		return "", err
	}
	act, err := s.svc.app.Payments.Start(ctx, payments.StartRequest{CheckoutID: id, Wallet: checkout.MethodAlipay, Scenario: checkout.ScenarioQR})
	if err != nil {
		return "", fmt.Errorf("start a payment: %w", err)
	}
	_, att, err := s.svc.app.Repo.AttemptByOutNo(ctx, act.OutNo)
	if err != nil {
		return "", fmt.Errorf("load the attempt: %w", err)
	}
	s.attempts.Store(id, att)
	return id, nil
}

func (s *serviceSide) paid(ctx context.Context, id string) error {
	v, ok := s.attempts.Load(id)
	if !ok {
		return fmt.Errorf("no prepared checkout %q", id)
	}
	att := v.(*checkout.Attempt)
	_, err := s.svc.app.Repo.MarkPaid(ctx, id, att.Seq, att.OrdNo)
	return err
}

func (s *serviceSide) streams() int { return s.svc.app.Hub.Waiters() }

// sseFloor is the floor's server.
type sseFloor struct {
	url, channel, prefix string
	rdb                  *redis.Client
	open                 atomic.Int64

	mu      sync.Mutex
	waiters map[string]map[chan string]struct{}

	close func()
}

func startSSEFloor(rdb *redis.Client, prefix string) (*sseFloor, error) {
	f := &sseFloor{channel: prefix + "floor:sse", prefix: prefix, rdb: rdb, waiters: map[string]map[chan string]struct{}{}}
	ctx, stop := context.WithCancel(context.Background())
	ps := rdb.Subscribe(ctx, f.channel)
	if _, err := ps.Receive(ctx); err != nil {
		stop()
		return nil, fmt.Errorf("floor subscription: %w", err)
	}
	go func() {
		for {
			m, err := ps.ReceiveMessage(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				continue
			}
			id, status, _ := strings.Cut(m.Payload, " ")
			f.mu.Lock()
			for ch := range f.waiters[id] {
				select {
				case ch <- status:
				default:
				}
			}
			f.mu.Unlock()
		}
	}()

	r := gin.New()
	r.GET("/c/:id/events", f.stream)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		stop()
		return nil, err
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	go func() { _ = srv.Serve(ln) }()
	f.url = "http://" + ln.Addr().String()
	f.close = func() {
		_ = srv.Close()
		stop()
		_ = ps.Close()
	}
	return f, nil
}

func (f *sseFloor) key(id string) string { return f.prefix + "floor:sse:" + id }

func (f *sseFloor) subscribe(id string) (chan string, func()) {
	ch := make(chan string, 1)
	f.mu.Lock()
	if f.waiters[id] == nil {
		f.waiters[id] = map[chan string]struct{}{}
	}
	f.waiters[id][ch] = struct{}{}
	f.mu.Unlock()
	return ch, func() {
		f.mu.Lock()
		delete(f.waiters[id], ch)
		if len(f.waiters[id]) == 0 {
			delete(f.waiters, id)
		}
		f.mu.Unlock()
	}
}

// stream holds a stream: one read, the state, heartbeats, and the change.
func (f *sseFloor) stream(c *gin.Context) {
	id := c.Param("id")
	ctx := c.Request.Context()
	updates, cancel := f.subscribe(id)
	defer cancel()
	m, err := f.rdb.HGetAll(ctx, f.key(id)).Result()
	if err != nil || len(m) == 0 {
		c.AbortWithStatus(http.StatusServiceUnavailable)
		return
	}
	f.open.Add(1)
	defer f.open.Add(-1)
	w := c.Writer
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	_, _ = fmt.Fprintf(w, "retry: 3000\n\ndata: {\"status\":%q}\n\n", m["status"])
	w.Flush()
	beat := time.NewTicker(sseHeartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			if _, err := io.WriteString(w, ": ping\n\n"); err != nil {
				return
			}
			w.Flush()
		case st := <-updates:
			_, _ = fmt.Fprintf(w, "data: {\"status\":%q}\n\n", st)
			w.Flush()
			return
		}
	}
}

func (f *sseFloor) prepare(ctx context.Context) (string, error) {
	id := "co_" + rand.Text()[:24]
	return id, f.rdb.HSet(ctx, f.key(id), "status", "open", "amount", "100", "description", "压测").Err()
}

func (f *sseFloor) paid(ctx context.Context, id string) error {
	return f.rdb.HSet(ctx, f.key(id), "status", "paid").Err()
}

func (f *sseFloor) streams() int { return int(f.open.Load()) }

// child is a running child process, seen from the harness.
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	childInfo
}

// startChild re-executes this binary as the named child.
func startChild(name, redisURL, prefix string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+name, childRedisEnv+"="+redisURL, childPrefixEnv+"="+prefix)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{name: name, cmd: cmd, stdin: stdin}
	if err := json.NewDecoder(bufio.NewReader(stdout)).Decode(&c.childInfo); err != nil {
		c.close()
		return nil, fmt.Errorf("child %s did not start: %w", name, err)
	}
	return c, nil
}

// close ends the child (its standard input closes) and waits for it.
func (c *child) close() {
	_ = c.stdin.Close()
	_ = c.cmd.Wait()
}

// rss is the child's resident set (VmRSS), in bytes.
func (c *child) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("the child's RSS (Linux only): %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS line")
}

func (c *child) call(method, path string) ([]byte, error) {
	req, _ := http.NewRequest(method, c.Control+path, nil)
	return fetch(req, http.StatusOK)
}

func (c *child) stats(gc int, free bool) (childStats, error) {
	q := url.Values{}
	if gc > 0 {
		q.Set("gc", strconv.Itoa(gc))
	}
	if free {
		q.Set("free", "1")
	}
	var st childStats
	b, err := c.call(http.MethodGet, "/stats?"+q.Encode())
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

// sseClient is the harness's end of one stream.
type sseClient struct {
	conn  net.Conn
	first time.Duration // from dialling to the first data event
	paid  time.Time     // when the paid event came
	err   error
	done  chan struct{}
}

// dialSSE opens a stream of checkout id and reads up to its first event;
// then a goroutine reads on until the paid event or the end.
func dialSSE(base, id string) (*sseClient, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	conn, err := net.DialTimeout("tcp", u.Host, 30*time.Second)
	if err != nil {
		return nil, err
	}
	s := &sseClient{conn: conn, done: make(chan struct{})}
	_ = conn.SetDeadline(t0.Add(60 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET /c/%s/events HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nUser-Agent: %s\r\n\r\n", id, u.Host, desktopUA); err != nil {
		conn.Close()
		return nil, err
	}
	res, err := http.ReadResponse(bufio.NewReaderSize(conn, 1024), nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		conn.Close()
		return nil, fmt.Errorf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	rd := bufio.NewReaderSize(res.Body, 512)
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("stream ended before its first event: %w", err)
		}
		if line == "event: poll\n" {
			conn.Close()
			return nil, errors.New("the polling hint: a stream cap is too low")
		}
		if strings.HasPrefix(line, "data: ") {
			break
		}
	}
	s.first = time.Since(t0)
	_ = conn.SetDeadline(time.Time{})
	go func() {
		defer close(s.done)
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				s.err = fmt.Errorf("stream ended before the paid event: %w", err)
				return
			}
			if strings.HasPrefix(line, "data: ") && strings.Contains(line, `"status":"paid"`) {
				s.paid = time.Now()
				// As the page's script does at a final state: it
				// closes the EventSource.
				conn.Close()
				return
			}
		}
	}()
	return s, nil
}

// sseResult is one side of one round.
type sseResult struct {
	openRate                                float64
	first50, first99                        float64 // ms
	pub50, pub99, pubMax                    float64 // ms
	rssBefore, rssHeld, rssClosed, rssFreed int64
	rssSettled                              int64 // -ssesettle after close
	goHeld                                  int64 // heap and stacks in use with the streams held, after a GC, over the baseline
	stackHeld                               int64 // the stacks' part of goHeld
}

// sseRound opens n streams on a new checkout of side, at conns at a time,
// holds them, publishes the checkout's payment and times its arrival on
// every stream (which then ends), and reads the child's memory at each
// step.
func sseRound(ctx context.Context, rdb *redis.Client, side *child, n, conns int) (sseResult, error) {
	var r sseResult
	idb, err := side.call(http.MethodPost, "/prepare")
	if err != nil {
		return r, err
	}
	id := string(idb)
	// The baseline: the previous round's garbage collected and returned,
	// and the preparation's connections (to the gateway) open.
	base, err := side.stats(1, true)
	if err != nil {
		return r, err
	}
	if r.rssBefore, err = side.rss(); err != nil {
		return r, err
	}

	clients := make([]*sseClient, n)
	var (
		next   atomic.Int64
		wg     sync.WaitGroup
		errMu  sync.Mutex
		openEr error
	)
	var cpu chan []byte
	if profileDir != "" {
		// A CPU profile of the opening (its first second).
		cpu = make(chan []byte, 1)
		go func() {
			b, _ := side.call(http.MethodGet, "/cpu?d=1s")
			cpu <- b
		}()
	}
	t0 := time.Now()
	for range min(conns, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				s, err := dialSSE(side.URL, id)
				if err != nil {
					errMu.Lock()
					openEr = fmt.Errorf("stream %d: %w", i, err)
					errMu.Unlock()
					return
				}
				clients[i] = s
			}
		})
	}
	wg.Wait()
	defer func() {
		for _, s := range clients {
			if s != nil {
				s.conn.Close()
			}
		}
	}()
	if openEr != nil {
		return r, openEr
	}
	r.openRate = float64(n) / time.Since(t0).Seconds()
	if cpu != nil {
		if err := os.WriteFile(filepath.Join(profileDir, "cpu-open-"+side.name+".pb.gz"), <-cpu, 0o644); err != nil {
			return r, err
		}
	}
	firsts := make([]time.Duration, n)
	for i, s := range clients {
		firsts[i] = s.first
	}
	r.first50, r.first99 = quantile(firsts, 0.5), quantile(firsts, 0.99)

	if err := waitChild(side, 30*time.Second, "every stream subscribed", func(st childStats) bool { return st.Streams == n }); err != nil {
		return r, err
	}
	if r.rssHeld, err = side.rss(); err != nil {
		return r, err
	}
	held, err := side.stats(4, false)
	if err != nil {
		return r, err
	}
	r.goHeld = int64(held.HeapInuse+held.StackInuse) - int64(base.HeapInuse+base.StackInuse)
	r.stackHeld = int64(held.StackInuse) - int64(base.StackInuse)
	if profileDir != "" {
		b, err := side.call(http.MethodGet, "/heap")
		if err != nil {
			return r, err
		}
		if err := os.WriteFile(filepath.Join(profileDir, "heap-"+side.name+".pb.gz"), b, 0o644); err != nil {
			return r, err
		}
	}

	if _, err := side.call(http.MethodPost, "/paid?id="+id); err != nil {
		return r, err
	}
	var pub error
	t1 := time.Now()
	if side.name == "service" {
		pub = notify.Publish(ctx, rdb, side.Channel, notify.Update{CheckoutID: id, Status: checkout.StatusPaid})
	} else {
		pub = rdb.Publish(ctx, side.Channel, id+" paid").Err()
	}
	if pub != nil {
		return r, fmt.Errorf("publish: %w", pub)
	}
	lat := make([]time.Duration, n)
	deadline := time.After(60 * time.Second)
	for i, s := range clients {
		select {
		case <-s.done:
		case <-deadline:
			return r, fmt.Errorf("stream %d: no paid event within 60 s", i)
		}
		if s.err != nil {
			return r, fmt.Errorf("stream %d: %w", i, s.err)
		}
		lat[i] = s.paid.Sub(t1)
	}
	r.pub50, r.pub99, r.pubMax = quantile(lat, 0.5), quantile(lat, 0.99), quantile(lat, 1)

	// The streams ended at the paid event; wait until the child has let
	// every one go, and their goroutines with them (a few more may come
	// and go meanwhile: the loops' calls to the gateway).
	if err := waitChild(side, 60*time.Second, "every stream closed", func(st childStats) bool {
		return st.Streams == 0 && st.Goroutines <= base.Goroutines+10
	}); err != nil {
		return r, err
	}
	if r.rssClosed, err = side.rss(); err != nil {
		return r, err
	}
	if settle > 0 {
		// Nothing asked of the child: what the runtime gives back on
		// its own (its forced GC every 2 minutes, then the scavenger).
		time.Sleep(settle)
		if r.rssSettled, err = side.rss(); err != nil {
			return r, err
		}
	}
	if _, err := side.stats(1, true); err != nil {
		return r, err
	}
	if r.rssFreed, err = side.rss(); err != nil {
		return r, err
	}
	return r, nil
}

// waitChild polls the child's stats until ok, for at most d.
func waitChild(c *child, d time.Duration, what string, ok func(childStats) bool) error {
	deadline := time.Now().Add(d)
	for {
		st, err := c.stats(0, false)
		if err != nil {
			return err
		}
		if ok(st) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %s (%+v)", what, d, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func quantile(ds []time.Duration, q float64) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[int(q*float64(len(s)-1))]) / float64(time.Millisecond)
}

// runSSE runs the sse kind: rounds of n streams per side, interleaved, and
// prints the medians.
func runSSE(w io.Writer, rdb *redis.Client, redisURL, prefix string, rounds, n, conns int) error {
	ctx := context.Background()
	// Each stream is a descriptor here and one in its server. Go has
	// raised the soft limit to the hard one at start, in each process;
	// beyond that only the administrator can help.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < uint64(n)+256 {
		return fmt.Errorf("sse: %d streams need more open files than the limit of %d (ulimit -n)", n, lim.Cur)
	}
	sides := map[string]*child{}
	for _, name := range []string{"floor", "service"} {
		c, err := startChild(name, redisURL, prefix+"sse-"+name+":")
		if err != nil {
			return err
		}
		defer c.close()
		sides[name] = c
	}
	res := map[string][]sseResult{}
	for r := range rounds {
		order := []string{"floor", "service"}
		if r%2 == 1 {
			order = []string{"service", "floor"}
		}
		for _, name := range order {
			out, err := sseRound(ctx, rdb, sides[name], n, conns)
			if err != nil {
				return fmt.Errorf("sse, %s: %w", name, err)
			}
			res[name] = append(res[name], out)
		}
	}
	fmt.Fprintf(w, "\nsse: %d streams on one checkout per side, opened %d at a time, each server in its own process; median of %d rounds\n",
		n, min(conns, n), rounds)
	fmt.Fprintf(w, "%-38s %12s %12s %9s\n", "", "floor", "service", "svc/floor")
	const mb = 1 << 20
	type row struct {
		name  string
		value func(sseResult) float64
	}
	rows := []row{
		{"sse opens/s", func(r sseResult) float64 { return r.openRate }},
		{"sse first event p50 (ms)", func(r sseResult) float64 { return r.first50 }},
		{"sse first event p99 (ms)", func(r sseResult) float64 { return r.first99 }},
		{"sse publish to receive p50 (ms)", func(r sseResult) float64 { return r.pub50 }},
		{"sse publish to receive p99 (ms)", func(r sseResult) float64 { return r.pub99 }},
		{"sse publish to receive max (ms)", func(r sseResult) float64 { return r.pubMax }},
		{"sse RSS before (MB)", func(r sseResult) float64 { return float64(r.rssBefore) / mb }},
		{"sse RSS held (MB)", func(r sseResult) float64 { return float64(r.rssHeld) / mb }},
		{"sse KB per held stream (RSS)", func(r sseResult) float64 { return float64(r.rssHeld-r.rssBefore) / 1024 / float64(n) }},
		{"sse KB per held stream (Go, after GC)", func(r sseResult) float64 { return float64(r.goHeld) / 1024 / float64(n) }},
		{"sse KB per held stream (stacks)", func(r sseResult) float64 { return float64(r.stackHeld) / 1024 / float64(n) }},
		{"sse RSS after close (MB)", func(r sseResult) float64 { return float64(r.rssClosed) / mb }},
		{"sse RSS after FreeOSMemory (MB)", func(r sseResult) float64 { return float64(r.rssFreed) / mb }},
	}
	if settle > 0 {
		rows = slices.Insert(rows, len(rows)-1, row{"sse RSS " + settle.String() + " after close (MB)", func(r sseResult) float64 { return float64(r.rssSettled) / mb }})
	}
	for _, row := range rows {
		f, s := medianOf(res["floor"], row.value), medianOf(res["service"], row.value)
		fmt.Fprintf(w, "%-38s %12.1f %12.1f %8.2f×\n", row.name, f, s, s/f)
	}
	return nil
}

func medianOf(rs []sseResult, v func(sseResult) float64) float64 {
	xs := make([]float64, len(rs))
	for i, r := range rs {
		xs[i] = v(r)
	}
	return median(xs)
}

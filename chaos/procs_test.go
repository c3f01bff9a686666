package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/internal/redistest"
)

// binDir holds the binary built once per test process; TestMain removes it.
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error
)

func TestMain(m *testing.M) {
	// Ctrl-C (or a SIGTERM from CI) ends the test binary without running
	// cleanups, and the children, in process groups of their own, would
	// not get the terminal's signal: kill them and remove the directories
	// here. (A child also dies with the binary by its parent-death signal.)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		n, dirs := live.killAll()
		fmt.Fprintf(os.Stderr, "chaos: %v: killed %d child processes, removed %d directories\n", sig, n, dirs)
		os.Exit(2)
	}()
	code := m.Run()
	signal.Stop(sigs)
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// live is every child still running and every directory the runs made
// (work and log directories, the built binary's), for an interrupt.
var live = &registry{procs: map[*proc]bool{}, dirs: map[string]bool{}}

type registry struct {
	mu    sync.Mutex
	procs map[*proc]bool
	dirs  map[string]bool
}

func (r *registry) addDir(d string) {
	r.mu.Lock()
	r.dirs[d] = true
	r.mu.Unlock()
}

func (r *registry) setProc(p *proc, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on {
		r.procs[p] = true
	} else {
		delete(r.procs, p)
	}
}

// killAll kills every live child's process group, waits a moment for
// them to exit and removes the directories.
func (r *registry) killAll() (procs, dirs int) {
	r.mu.Lock()
	var ps []*proc
	for p := range r.procs {
		ps = append(ps, p)
	}
	var ds []string
	for d := range r.dirs {
		ds = append(ds, d)
	}
	if binDir != "" {
		ds = append(ds, binDir)
	}
	r.mu.Unlock()
	for _, p := range ps {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	for _, p := range ps {
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
		}
	}
	for _, d := range ds {
		if os.RemoveAll(d) == nil {
			dirs++
		}
	}
	return len(ps), dirs
}

// needReal skips where the suite cannot run or was not asked for: without
// CHAOS=1 (CI sets it; the drives take minutes of a machine, so a
// developer's `go test ./...` stays quick), in the miniredis pass, or with
// no redis-server binary to start.
func needReal(t *testing.T) string {
	t.Helper()
	if os.Getenv("CHAOS") != "1" {
		t.Skip("the kill -9 drives run with CHAOS=1, as CI does: CHAOS=1 go test -count=1 ./chaos")
	}
	if redistest.ForcedMiniredis() {
		t.Skip("REDISTEST=miniredis: the chaos suite needs real redis-server processes (it kills and restarts them)")
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("no redis-server binary on PATH: the chaos suite starts its own Redis (CI installs one)")
	}
	return p
}

// checkoutBinary builds ./cmd/checkout once for the whole package, unless
// CHAOS_BINARY names a binary to test instead (another build, e.g. of an
// older commit, to see what the suite finds there).
func checkoutBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("CHAOS_BINARY"); b != "" {
		t.Logf("testing CHAOS_BINARY=%s", b)
		return b
	}
	binOnce.Do(func() {
		binDir, binError = os.MkdirTemp("", "chaos-bin-")
		if binError != nil {
			return
		}
		binPath = filepath.Join(binDir, "checkout")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/checkout")
		cmd.Dir = ".."
		out, err := cmd.CombinedOutput()
		if err != nil {
			binError = fmt.Errorf("go build ./cmd/checkout: %v\n%s", err, out)
		}
	})
	if binError != nil {
		t.Fatal(binError)
	}
	return binPath
}

// freePort asks the kernel for a free loopback port. Redis gets its port
// this way (it has no -addr-file); the tiny race with another process
// taking it is covered by retrying the start.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is one child process in its own process group, so that a kill
// reaches everything it started.
type proc struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// lineHook sees every line a child writes to stderr.
type lineHook func(line string)

// startProc starts bin with args and env, appending stdout and stderr to
// logPath (and handing stderr lines to hook).
func startProc(t *testing.T, name, logPath string, hook lineHook, bin string, args []string, env []string) *proc {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(logf, "\n===== %s start %s: %s %s\n", name, time.Now().Format(time.RFC3339Nano), filepath.Base(bin), strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	// Its own group, so that a kill reaches whatever it starts; SIGKILLed
	// when the test binary dies, however it dies (a panic, a timeout).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stdout = logf
	var pw *io.PipeWriter
	if hook != nil {
		var pr *io.PipeReader
		pr, pw = io.Pipe()
		cmd.Stderr = io.MultiWriter(logf, pw)
		go func() {
			sc := bufio.NewScanner(pr)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				hook(sc.Text())
			}
			_, _ = io.Copy(io.Discard, pr)
		}()
	} else {
		cmd.Stderr = logf
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, exited: make(chan struct{})}
	live.setProc(p, true)
	go func() {
		p.err = cmd.Wait()
		live.setProc(p, false)
		if pw != nil {
			pw.Close()
		}
		fmt.Fprintf(logf, "===== %s exit %s: %v\n", name, time.Now().Format(time.RFC3339Nano), p.err)
		logf.Close()
		close(p.exited)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

// kill sends SIGKILL to the process group and waits for the exit.
func (p *proc) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
}

// running reports whether the process has not exited.
func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// waitAddrFile waits for a child to write its bound address.
func waitAddrFile(t *testing.T, p *proc, path string, within time.Duration) (string, error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b), nil
		}
		if !p.running() {
			return "", fmt.Errorf("%s exited before listening: %v", p.name, p.err)
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s did not listen within %s", p.name, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// redisServer is a redis-server with AOF in a directory of its own; it
// keeps its port across restarts so the service's REDIS_URL stays valid.
type redisServer struct {
	t       *testing.T
	bin     string
	dir     string
	logPath string
	port    int
	fsync   string // everysec or always
	p       *proc
	// restarts counts graceful and hard restarts.
	restarts atomic.Int64
}

func newRedis(t *testing.T, bin, dataDir, logDir, fsync string) *redisServer {
	r := &redisServer{t: t, bin: bin, dir: dataDir, logPath: filepath.Join(logDir, "redis.log"), fsync: fsync}
	r.port = freePort(t)
	r.start()
	return r
}

func (r *redisServer) url() string { return "redis://127.0.0.1:" + strconv.Itoa(r.port) + "/0" }

func (r *redisServer) client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(r.port), MaxRetries: -1, DialTimeout: time.Second})
}

// start runs redis-server and waits until it answers PING with its data
// loaded. Retried: the port may be in TIME_WAIT or briefly taken.
func (r *redisServer) start() {
	r.t.Helper()
	args := []string{
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--appendonly", "yes", "--appendfsync", r.fsync, "--save", "",
		"--daemonize", "no", "--protected-mode", "yes",
	}
	var lastErr error
	for try := 0; try < 20; try++ {
		r.p = startProc(r.t, "redis", r.logPath, nil, r.bin, args, os.Environ())
		rdb := r.client()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) && r.p.running() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := rdb.Ping(ctx).Err()
			cancel()
			if err == nil {
				rdb.Close()
				return
			}
			lastErr = err
			time.Sleep(50 * time.Millisecond)
		}
		rdb.Close()
		r.p.kill()
		time.Sleep(200 * time.Millisecond)
	}
	r.t.Fatalf("redis-server on port %d did not start: %v (see %s)", r.port, lastErr, r.logPath)
}

// restartGraceful asks Redis to SHUTDOWN (writing the AOF completely), then
// starts it again on the same data.
func (r *redisServer) restartGraceful() {
	rdb := r.client()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := rdb.Shutdown(ctx).Err()
	cancel()
	rdb.Close()
	select {
	case <-r.p.exited:
	case <-time.After(30 * time.Second):
		r.t.Errorf("redis did not stop after SHUTDOWN (%v); killing it", err)
		r.p.kill()
	}
	r.restarts.Add(1)
	r.start()
}

// restartKill kills Redis with SIGKILL and starts it again.
func (r *redisServer) restartKill() {
	r.p.kill()
	r.restarts.Add(1)
	r.start()
}

// frontProxy is the service's fixed public address: a reverse proxy to the
// current incarnation, like a load balancer. Notify and jump URLs given to
// the gateway point here, so they stay valid across restarts on new ports.
// With a pool (the replicas drive) it spreads requests round robin over
// several replicas, skipping those taken out of it or found dead.
type frontProxy struct {
	srv     *http.Server
	ln      net.Listener
	backend atomic.Pointer[url.URL]
	pool    atomic.Pointer[[]*url.URL]
	rr      atomic.Uint64
	// Answers by class, for the replicas drive's throughput figures:
	// every request, those answered 5xx (502 when no replica could
	// answer, or one died mid-answer), and 429s.
	requests, failed, limited atomic.Int64
}

type backendKey struct{}

// pick is the backend for the next request: the pool's next in turn, else
// the single backend; nil when there is none.
func (f *frontProxy) pick() *url.URL {
	if p := f.pool.Load(); p != nil {
		if len(*p) == 0 {
			return nil
		}
		return (*p)[f.rr.Add(1)%uint64(len(*p))]
	}
	return f.backend.Load()
}

// setPool makes the front spread requests over backends.
func (f *frontProxy) setPool(backends []*url.URL) {
	cp := append([]*url.URL(nil), backends...)
	f.pool.Store(&cp)
}

// drop takes b out of the pool (a replica about to be killed, or one whose
// port refused a connection).
func (f *frontProxy) drop(b *url.URL) {
	for {
		old := f.pool.Load()
		if old == nil {
			return
		}
		var next []*url.URL
		for _, u := range *old {
			if u.Host != b.Host {
				next = append(next, u)
			}
		}
		if f.pool.CompareAndSwap(old, &next) {
			return
		}
	}
}

// statusWriter records the status an answer had; Unwrap keeps flushing
// (event streams) working through it.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func newFrontProxy(t *testing.T) *frontProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &frontProxy{ln: ln}
	tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second, ResponseHeaderTimeout: 60 * time.Second}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			if b, ok := pr.In.Context().Value(backendKey{}).(*url.URL); ok {
				pr.SetURL(b)
			}
			pr.Out.Host = pr.In.Host // the service sees its public host
		},
		Transport: tr,
		// A kill cuts answers short; that is the point, not news.
		ErrorLog: log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// A refused connection: that replica is gone, skip it from now
			// on (a load balancer's health check, at once).
			var op *net.OpError
			if b, ok := r.Context().Value(backendKey{}).(*url.URL); ok && errors.As(err, &op) && op.Op == "dial" {
				f.drop(b)
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	f.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		b := f.pick()
		if b == nil {
			f.failed.Add(1)
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		rp.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), backendKey{}, b)))
		switch {
		case sw.code >= 500:
			f.failed.Add(1)
		case sw.code == http.StatusTooManyRequests:
			f.limited.Add(1)
		}
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = f.srv.Shutdown(ctx)
		tr.CloseIdleConnections()
	})
	return f
}

func (f *frontProxy) url() string { return "http://" + f.ln.Addr().String() }

// service runs and restarts the checkout binary.
type service struct {
	t        *testing.T
	bin      string
	env      []string
	logPath  string
	dir      string
	front    *frontProxy
	hook     lineHook
	mu       sync.Mutex
	p        *proc
	n        int
	kills    atomic.Int64
	restarts atomic.Int64
}

// start runs a new incarnation on a free port and points the front at it.
func (s *service) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	addrFile := filepath.Join(s.dir, fmt.Sprintf("service-%d.addr", s.n))
	p := startProc(s.t, "service", s.logPath, s.hook, s.bin, []string{"-addr", "127.0.0.1:0", "-addr-file", addrFile}, s.env)
	addr, err := waitAddrFile(s.t, p, addrFile, 60*time.Second)
	if err != nil {
		p.kill()
		return err
	}
	u, _ := url.Parse("http://" + addr)
	s.p = p
	s.front.backend.Store(u)
	return nil
}

// killAndRestart kill -9s the running incarnation and starts the next.
func (s *service) killAndRestart(pause time.Duration) error {
	s.mu.Lock()
	p := s.p
	s.mu.Unlock()
	if p != nil {
		s.front.backend.Store(nil)
		p.kill()
		s.kills.Add(1)
	}
	time.Sleep(pause)
	var err error
	for try := 0; try < 3; try++ {
		if err = s.start(); err == nil {
			s.restarts.Add(1)
			return nil
		}
	}
	return err
}

// alive reports whether the current incarnation still runs (it must never
// exit by itself).
func (s *service) alive() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil && !s.p.running() {
		return fmt.Errorf("the service exited by itself: %v", s.p.err)
	}
	return nil
}

// Command loadharness measures the service against a floor on the same
// machine: for each request kind it runs a minimal gin + go-redis server
// that does the least the same answer needs (one Redis round trip, a body
// of the same size) and the service itself, interleaved round by round so
// that both see the same machine, and prints throughput ratios and latency
// percentiles. The service runs in this process (app.New) on a real Redis,
// with the sandbox gateway on its own HTTP server; the sse kind, which
// measures each server's memory per held event stream, runs the floor and
// the service in child processes instead (sse.go).
//
//	go run ./cmd/loadharness -rounds 5 -duration 5s -conns 64
//
// docs/performance.md holds the figures and how to read them.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
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

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/payments"
)

// desktopUA is a desktop browser: the page offers QR codes, no wallet
// redirect.
const desktopUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"

func main() {
	if code, ok := childMain(); ok {
		os.Exit(code)
	}
	redisURL := flag.String("redis", "redis://127.0.0.1:6379/0", "Redis to run on (a real server: the point is its round trips)")
	rounds := flag.Int("rounds", 5, "interleaved rounds per request kind; ratios are the median over rounds")
	duration := flag.Duration("duration", 5*time.Second, "length of one side of one round")
	conns := flag.Int("conns", 64, "concurrent connections (one request in flight on each)")
	only := flag.String("only", "", "comma-separated kinds to run (page,status,create,notify,notify-first,sse); default all")
	flag.IntVar(&firstNotifies, "notifies", 2000, "notify-first: paid orders whose first notify each side is sent per round")
	streams := flag.Int("streams", 10_000, "sse: event streams held per side and round")
	flag.StringVar(&profileDir, "sseprofile", "", "sse: write each child's heap profile with the streams held into this directory")
	flag.StringVar(&cpuProfileDir, "cpuprofile", "", "write a CPU profile of the process during each side of each round of page, status, create, notify and notify-first into this directory (<side>-<kind>-<round>.pprof)")
	flag.DurationVar(&settle, "ssesettle", 0, "sse: also read each server's RSS this long after its streams closed, asking nothing of it (the runtime returns memory within its 2-minute forced GC)")
	flag.Parse()
	if err := run(os.Stdout, *redisURL, *rounds, *duration, *conns, *streams, *only); err != nil {
		fmt.Fprintln(os.Stderr, "loadharness:", err)
		os.Exit(1)
	}
}

// kind is one request kind: how to make its request against a base URL,
// for the floor and for the service.
type kind struct {
	name    string
	floor   func(base string) *http.Request
	service func(base string) *http.Request
	// want is the status a successful answer has.
	want int
}

func run(w io.Writer, redisURL string, rounds int, d time.Duration, conns, streams int, only string) error {
	gin.SetMode(gin.ReleaseMode)
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return fmt.Errorf("-redis: %w", err)
	}
	opts.PoolSize = max(opts.PoolSize, 2*conns)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w", opts.Addr, err)
	}
	prefix := "loadharness:" + rand.Text()[:8] + ":"
	defer cleanup(rdb, prefix)
	selected := func(name string) bool { return only == "" || strings.Contains(","+only+",", ","+name+",") }
	if err := runHTTP(w, rdb, opts.Addr, prefix, rounds, d, conns, selected); err != nil {
		return err
	}
	if selected("sse") {
		return runSSE(w, rdb, redisURL, prefix, rounds, streams, conns)
	}
	return nil
}

// runHTTP runs the selected request kinds, one request at a time on each
// connection.
func runHTTP(w io.Writer, rdb *redis.Client, addr, prefix string, rounds int, d time.Duration, conns int, selected func(string) bool) error {
	ctx := context.Background()
	if !slices.ContainsFunc([]string{"page", "status", "create", "notify", "notify-first"}, selected) {
		return nil
	}
	svc, err := startService(ctx, rdb, prefix, nil)
	if err != nil {
		return err
	}
	defer svc.close()
	floor, err := startFloor(rdb, prefix, svc)
	if err != nil {
		return err
	}
	defer floor.Close()

	kinds := []kind{
		{name: "page", want: 200,
			floor:   func(b string) *http.Request { return get(b+"/page", desktopUA) },
			service: func(b string) *http.Request { return get(b+"/c/"+svc.checkoutID, desktopUA) }},
		{name: "status", want: 200,
			floor:   func(b string) *http.Request { return get(b+"/status", desktopUA) },
			service: func(b string) *http.Request { return get(b+"/c/"+svc.checkoutID+"/status", desktopUA) }},
		{name: "create", want: 201,
			floor: func(b string) *http.Request { return post(b+"/create", "", `{"amount":100}`) },
			service: func(b string) *http.Request {
				return post(b+"/v1/checkouts", svc.apiKey, `{"amount":100,"description":"压测"}`)
			}},
		{name: "notify (duplicate of a settled order)", want: 200,
			floor:   func(b string) *http.Request { return get(b+"/notify?"+svc.notifyQuery, "") },
			service: func(b string) *http.Request { return get(b+svc.notifyPath+"?"+svc.notifyQuery, "") }},
	}
	kinds = slices.DeleteFunc(kinds, func(k kind) bool { return !selected(strings.Fields(k.name)[0]) })

	fmt.Fprintf(w, "loadharness: %d rounds × %s per side, %d connections, Redis %s, %d CPUs, page %d bytes\n\n",
		rounds, d, conns, addr, runtime.GOMAXPROCS(0), svc.pageSize)
	fmt.Fprintf(w, "%-38s %12s %12s %7s %9s %9s %9s %9s %10s %10s %10s %10s %6s %6s\n", "kind", "floor req/s", "svc req/s", "ratio", "floor p50", "svc p50", "floor p99", "svc p99", "floor cpu", "svc cpu", "floor rcpu", "svc rcpu", "f idle", "s idle")
	for _, k := range kinds {
		var rows roundRows
		for r := range rounds {
			// Alternate which side goes first, so neither always runs on a
			// machine warmed (or loaded) by the other.
			sides := []string{"floor", "service"}
			if r%2 == 1 {
				sides = []string{"service", "floor"}
			}
			res := map[string]result{}
			for _, side := range sides {
				base, mk := floor.URL, k.floor
				if side == "service" {
					base, mk = svc.url, k.service
				}
				stop, err := profileSide(k.name, side, r)
				if err != nil {
					return err
				}
				out, err := measured(rdb, func() (result, error) { return load(base, mk, k.want, d, conns) })
				stop()
				if err != nil {
					return fmt.Errorf("%s, %s: %w", k.name, side, err)
				}
				res[side] = out
			}
			rows.add(res["floor"], res["service"])
		}
		rows.print(w, k.name)
	}
	if selected("notify-first") {
		return runFirstNotifies(w, rdb, svc, floor.URL, rounds, conns)
	}
	return nil
}

// cpuProfileDir, when set (-cpuprofile), receives a CPU profile of each
// side of each round. The process holds the load generator and both
// servers, but only one side runs at a time, so a side's profile shows
// that server's share beside the load generator's (go tool pprof -top
// takes several files).
var cpuProfileDir string

// profileSide starts the CPU profile of one side of a round, if asked;
// stop ends it.
func profileSide(kind, side string, round int) (stop func(), err error) {
	if cpuProfileDir == "" {
		return func() {}, nil
	}
	f, err := os.Create(filepath.Join(cpuProfileDir, fmt.Sprintf("%s-%s-%d.pprof", side, strings.Fields(kind)[0], round)))
	if err != nil {
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// roundRows collects a kind's rounds, floor and service side by side.
type roundRows struct {
	ratios                                 []float64
	frps, srps, fp50, sp50, fp99, sp99     []float64
	fcpu, scpu, frcpu, srcpu, fidle, sidle []float64
}

func (r *roundRows) add(f, s result) {
	r.ratios = append(r.ratios, s.rps/f.rps)
	r.frps, r.srps = append(r.frps, f.rps), append(r.srps, s.rps)
	r.fp50, r.sp50 = append(r.fp50, f.p50), append(r.sp50, s.p50)
	r.fp99, r.sp99 = append(r.fp99, f.p99), append(r.sp99, s.p99)
	r.fcpu, r.scpu = append(r.fcpu, f.cpu), append(r.scpu, s.cpu)
	r.frcpu, r.srcpu = append(r.frcpu, f.redisCPU), append(r.srcpu, s.redisCPU)
	r.fidle, r.sidle = append(r.fidle, 100*f.idle), append(r.sidle, 100*s.idle)
}

// print prints the medians of the rounds; cpu is µs of this process per
// answer, rcpu Redis's, idle the machine's idle share during the side.
func (r *roundRows) print(w io.Writer, name string) {
	fmt.Fprintf(w, "%-38s %12.0f %12.0f %6.0f%% %8.2fms %8.2fms %8.2fms %8.2fms %8.1fµs %8.1fµs %8.1fµs %8.1fµs %5.0f%% %5.0f%%\n", name,
		median(r.frps), median(r.srps), 100*median(r.ratios), median(r.fp50), median(r.sp50), median(r.fp99), median(r.sp99),
		median(r.fcpu), median(r.scpu), median(r.frcpu), median(r.srcpu), median(r.fidle), median(r.sidle))
}

// measured runs one side's load and adds to its result Redis's CPU time
// per answer and the machine's idle share meanwhile.
func measured(rdb *redis.Client, run func() (result, error)) (result, error) {
	r0, i0 := redisCPU(rdb), machineIdle()
	out, err := run()
	if err == nil && out.rps > 0 {
		// A figure that could not be read (0) leaves its column at 0.
		if r1 := redisCPU(rdb); r0 > 0 && r1 > r0 {
			out.redisCPU = float64((r1 - r0).Microseconds()) / (out.rps * out.elapsed.Seconds())
		}
		out.idle = machineIdle().since(i0)
	}
	return out, err
}

// result is one side of one round.
type result struct {
	rps      float64
	p50, p99 float64 // milliseconds
	// cpu is this process's CPU time (user and system) per answer, in
	// microseconds: the server's and the load generator's share, not
	// Redis's. Unlike rps, it barely moves when other jobs load the
	// machine, so it shows what a change saved.
	cpu float64
	// redisCPU is Redis's CPU time (user and system, every thread) per
	// answer, in microseconds; idle is the share of the machine's CPU
	// time left idle during the side. Together with cpu they tell a side
	// bound by the CPU (idle near 0) from one bound by waiting.
	redisCPU, idle float64
	elapsed        time.Duration
}

// redisCPU is the CPU time the Redis server has used (INFO cpu); 0 when
// it cannot be read.
func redisCPU(rdb *redis.Client) time.Duration {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		return 0
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		name, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (name == "used_cpu_sys" || name == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// cpuTimes is the machine's CPU time from /proc/stat: idle (with iowait)
// and all, in clock ticks.
type cpuTimes struct{ idle, all uint64 }

// machineIdle reads /proc/stat's first line; zero where there is none.
func machineIdle() cpuTimes {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	var t cpuTimes
	// user nice system idle iowait irq softirq steal; the guest columns
	// after them are counted in user and nice already.
	fields := strings.Fields(line)[1:]
	for i, f := range fields[:min(len(fields), 8)] {
		n, _ := strconv.ParseUint(f, 10, 64)
		t.all += n
		if i == 3 || i == 4 { // idle, iowait
			t.idle += n
		}
	}
	return t
}

// since is the idle share of the CPU time between t0 and t.
func (t cpuTimes) since(t0 cpuTimes) float64 {
	if t.all <= t0.all {
		return 0
	}
	return float64(t.idle-t0.idle) / float64(t.all-t0.all)
}

// processCPU is the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// load runs conns workers, each with one keep-alive connection, sending
// requests back to back for d (or until mk has none left: it returns nil),
// and measures what came back as want.
func load(base string, mk func(string) *http.Request, want int, d time.Duration, conns int) (result, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	deadline := time.Now().Add(d)
	var (
		mu      sync.Mutex
		lat     []time.Duration
		bad     atomic.Int64
		badCode atomic.Int64
		wg      sync.WaitGroup
	)
	start, cpu0 := time.Now(), processCPU()
	for range conns {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(deadline) {
				req := mk(base)
				if req == nil { // a kind with a fixed number of requests is done
					break
				}
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					bad.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != want {
					bad.Add(1)
					badCode.Store(int64(res.StatusCode))
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), processCPU()-cpu0
	if n := bad.Load(); n > 0 && int(n) > len(lat)/100 {
		return result{}, fmt.Errorf("%d of %d answers were not %d (last %d)", n, int(n)+len(lat), want, badCode.Load())
	}
	if len(lat) == 0 {
		return result{}, errors.New("no answer")
	}
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond) }
	return result{rps: float64(len(lat)) / elapsed.Seconds(), p50: ms(0.50), p99: ms(0.99),
		cpu: float64(cpu.Microseconds()) / float64(len(lat)), elapsed: elapsed}, nil
}

func get(u, ua string) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if ua != "" {
		req.Header.Set("User-Agent", ua)
	}
	return req
}

func post(u, key, body string) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return req
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// service is the service under test with what the requests need: a
// checkout to show, an API key, and a signed notify for a settled order.
type service struct {
	url         string
	checkoutID  string
	apiKey      string
	notifyPath  string
	notifyQuery string
	pageSize    int
	app         *app.App
	// gateway is the sandbox and the store's account on it, for the
	// first notifies' orders (firstnotify.go).
	sandbox *sandbox.Server
	store   *gateway.Store
	close   func()
}

// startService starts the service on rdb under prefix; env overrides its
// settings (CHECKOUT_… names), over the harness's own.
func startService(ctx context.Context, rdb *redis.Client, prefix string, env map[string]string) (*service, error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sb, err := sandbox.New(sandbox.Config{DropNotifies: true, Logger: log})
	if err != nil {
		return nil, err
	}
	sbStore := sandbox.GenerateStore()
	if err := sb.AddStore(sbStore); err != nil {
		return nil, err
	}
	// The gateway on its own server, so its work is not the service's.
	sbSrv := &http.Server{Handler: sb.Handler(), ReadHeaderTimeout: 10 * time.Second}
	sbLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() { _ = sbSrv.Serve(sbLn) }()
	gs, err := gateway.NewStore("http://"+sbLn.Addr().String()+sb.Prefix(), sbStore.OpenID, sbStore.OpenKey, sbStore.ShopPass)
	if err != nil {
		return nil, err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	base := "http://" + ln.Addr().String()
	key, err := checkout.NewAPIKey(false)
	if err != nil {
		return nil, err
	}
	m := &checkout.Merchant{ID: "m_load", Name: "压测商户", APIKeys: []checkout.APIKey{checkout.APIKeyFor(key)},
		Stores: []*checkout.Store{{ID: "main", Name: "压测门店", Sandbox: true,
			WeChat: checkout.WeChatConfig{Enabled: true, Mode: checkout.ModeRedirect},
			Alipay: checkout.AlipayConfig{Enabled: true, Mode: checkout.ModeRedirect}}}}
	dir, err := checkout.NewDirectory([]*checkout.Merchant{m})
	if err != nil {
		return nil, err
	}
	accounts := payments.NewAccounts()
	if err := accounts.Add(m.ID, "main", gs); err != nil {
		return nil, err
	}
	// The limits stay on (their Redis call is part of the cost) but far
	// above what the harness sends: it measures speed, not the limits.
	settings, err := config.FromEnv(func(name string) string {
		if v, ok := env[name]; ok {
			return v
		}
		if name == "CHECKOUT_RATE_API" || name == "CHECKOUT_RATE_PAYER" {
			return "1000000/s"
		}
		return ""
	})
	if err != nil {
		return nil, err
	}
	settings.PublicURL = base
	a, err := app.New(app.Config{Settings: settings, Redis: rdb, Directory: dir, Accounts: accounts, Logger: log, Prefix: prefix})
	if err != nil {
		return nil, err
	}
	loops, stop := context.WithCancel(ctx)
	wait := a.Start(loops)
	// The production server's timeouts (cmd/checkout/serve.go).
	srv := &http.Server{Handler: a.Handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	go func() { _ = srv.Serve(ln) }()

	s := &service{url: base, apiKey: key, app: a, notifyPath: payments.NotifyPath + url.PathEscape(gs.OpenID), sandbox: sb, store: gs}
	s.close = func() {
		_ = srv.Close()
		stop()
		wait()
		_ = sbSrv.Close()
		sb.Close()
	}
	// A checkout to show, and one paid and settled, whose notify the
	// gateway repeats.
	show, err := createCheckout(base, key)
	if err != nil {
		s.close()
		return nil, err
	}
	s.checkoutID = show
	paid, err := createCheckout(base, key)
	if err != nil {
		s.close()
		return nil, err
	}
	act, err := a.Payments.Start(ctx, payments.StartRequest{CheckoutID: paid, Wallet: checkout.MethodAlipay, Scenario: checkout.ScenarioQR})
	if err != nil {
		s.close()
		return nil, fmt.Errorf("start a payment: %w", err)
	}
	if err := sb.PayQRCode(ctx, act.QRCode); err != nil {
		s.close()
		return nil, fmt.Errorf("pay at the sandbox: %w", err)
	}
	res, err := a.Payments.Confirm(ctx, act.OutNo)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("confirm: %w", err)
	}
	c, att, err := a.Repo.AttemptByOutNo(ctx, act.OutNo)
	if err != nil || !c.Status.Paid() {
		s.close()
		return nil, fmt.Errorf("the paid checkout is %v (%+v): %v", c, res, err)
	}
	s.notifyQuery = gateway.CallbackQuery(gs.Key, gateway.Callback{
		OrdNo: att.OrdNo, OutNo: att.OutNo, Status: gateway.StatusPaid, Timestamp: time.Now(), RandStr: strings.Repeat("a1B2", 32),
	}).Encode()
	page, err := fetch(get(base+"/c/"+show, desktopUA), http.StatusOK)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("the page: %w", err)
	}
	s.pageSize = len(page)
	return s, nil
}

func createCheckout(base, key string) (string, error) {
	body, err := fetch(post(base+"/v1/checkouts", key, `{"amount":100,"description":"压测","expires_in":86400}`), http.StatusCreated)
	if err != nil {
		return "", fmt.Errorf("create a checkout: %w", err)
	}
	var out struct{ ID string }
	if err := json.Unmarshal(body, &out); err != nil || out.ID == "" {
		return "", fmt.Errorf("create a checkout: %s", body)
	}
	return out.ID, nil
}

func fetch(req *http.Request, want int) ([]byte, error) {
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, res.StatusCode, body)
	}
	return body, nil
}

// floorServer is the least a server can do for each kind: gin, one Redis
// round trip, a body of the service's size written once.
type floorServer struct {
	URL   string
	close func()
}

func (f *floorServer) Close() { f.close() }

func startFloor(rdb *redis.Client, prefix string, svc *service) (*floorServer, error) {
	ctx := context.Background()
	key := prefix + "floor:checkout"
	if err := rdb.HSet(ctx, key, "status", "open", "amount", "100", "description", "压测").Err(); err != nil {
		return nil, err
	}
	page := bytes.Repeat([]byte("x"), svc.pageSize)
	var n atomic.Int64
	r := gin.New()
	readOne := func(c *gin.Context) (map[string]string, bool) {
		m, err := rdb.HGetAll(c.Request.Context(), key).Result()
		if err != nil {
			c.AbortWithStatus(http.StatusServiceUnavailable)
			return nil, false
		}
		return m, true
	}
	r.GET("/page", func(c *gin.Context) {
		if _, ok := readOne(c); ok {
			c.Data(http.StatusOK, "text/html; charset=utf-8", page)
		}
	})
	r.GET("/status", func(c *gin.Context) {
		if m, ok := readOne(c); ok {
			c.JSON(http.StatusOK, gin.H{"status": m["status"]})
		}
	})
	r.GET("/notify", func(c *gin.Context) {
		if _, ok := readOne(c); ok {
			c.String(http.StatusOK, gateway.NotifySuccess)
		}
	})
	r.GET("/notify-first", floorFirstNotify(rdb, prefix, svc))
	r.POST("/create", func(c *gin.Context) {
		body, _ := io.ReadAll(c.Request.Body)
		id := prefix + "floor:co:" + strconv.FormatInt(n.Add(1), 10)
		if err := rdb.HSet(c.Request.Context(), id, "body", body).Err(); err != nil {
			c.AbortWithStatus(http.StatusServiceUnavailable)
			return
		}
		c.JSON(http.StatusCreated, gin.H{"id": id})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &floorServer{URL: "http://" + ln.Addr().String(), close: func() { _ = srv.Close() }}, nil
}

// cleanup deletes every key of the run.
func cleanup(rdb *redis.Client, prefix string) {
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		rdb.Del(ctx, iter.Val())
	}
}

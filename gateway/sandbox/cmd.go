package sandbox

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/wallet-checkout/checkout/gateway"
)

// storeFlags collects repeated -store OPEN_ID:OPEN_KEY[:SHOP_PASS] flags.
type storeFlags []Store

func (f *storeFlags) String() string { return fmt.Sprintf("%d stores", len(*f)) }

func (f *storeFlags) Set(v string) error {
	parts := strings.SplitN(v, ":", 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return errors.New("want OPEN_ID:OPEN_KEY[:SHOP_PASS]")
	}
	st := Store{OpenID: parts[0], OpenKey: parts[1]}
	if len(parts) == 3 {
		st.ShopPass = parts[2]
	}
	if len(st.OpenKey) != 32 {
		return fmt.Errorf("open_key of %s must be exactly 32 characters, got %d", st.OpenID, len(st.OpenKey))
	}
	*f = append(*f, st)
	return nil
}

// bindFlags collects repeated -bind OPEN_ID:PMT_TAG:APPID flags.
type bindFlags [][3]string

func (f *bindFlags) String() string { return fmt.Sprintf("%d bindings", len(*f)) }

func (f *bindFlags) Set(v string) error {
	parts := strings.Split(v, ":")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return errors.New("want OPEN_ID:PMT_TAG:APPID")
	}
	*f = append(*f, [3]string{parts[0], parts[1], parts[2]})
	return nil
}

// parsePayMethods reads -pay-methods: comma-separated pmt_tags. A tag of
// DefaultPayList keeps its entry; another WeChat or Alipay tag (Weixin…,
// Alipay…, as deployments name them) takes every scenario, any other tag
// cash only.
func parsePayMethods(s string) ([]PayMethod, error) {
	var out []PayMethod
	seen := map[string]bool{}
	for _, tag := range strings.Split(s, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "" || len(tag) > 32 || strings.ContainsFunc(tag, func(r rune) bool {
			return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
		}) {
			return nil, fmt.Errorf("pay method %q: want letters and digits, at most 32", tag)
		}
		if seen[tag] {
			return nil, fmt.Errorf("pay method %q listed twice", tag)
		}
		seen[tag] = true
		m := PayMethod{Tag: tag, Name: tag, Types: "0"}
		for _, d := range DefaultPayList() {
			if d.Tag == tag {
				m = d
			}
		}
		if _, ok := gateway.WalletOf(gateway.PayMethod{Tag: gateway.Text(tag)}); ok && m.Types == "0" {
			m.Types = "2,3,4"
		}
		out = append(out, m)
	}
	return out, nil
}

// Main runs the standalone sandbox: `checkout sandbox -addr 127.0.0.1:9000
// -store OPEN_ID:OPEN_KEY[:SHOP_PASS]` (repeatable). With no -store it makes
// one store and prints its credentials. It serves until ctx is cancelled and
// returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		stores    storeFlags
		binds     bindFlags
		addr      = fs.String("addr", "127.0.0.1:9000", "listen address")
		prefix    = fs.String("prefix", DefaultPrefix, "protocol path prefix")
		publicURL = fs.String("public-url", "", "absolute URL where the sandbox is reachable (default http://ADDR)")
		noQuirks  = fs.Bool("no-quirks", false, "write plain JSON instead of the real server's PHP-style quirks")
		latency   = fs.Duration("latency", 0, "latency added to every protocol answer")
		failRate  = fs.Float64("failure-rate", 0, "share of protocol requests answered with HTTP 502")
		timeRate  = fs.Float64("timeout-rate", 0, "share of protocol requests left unanswered")
		drop      = fs.Bool("drop-notifies", false, "never send async notifies")
		dup       = fs.Int("duplicate-notifies", 0, "extra identical copies of every notify attempt")
		step      = fs.Duration("notify-step", DefaultNotifyStep, "notify retry step (retries after 1, 2, 3… steps)")
		giveUp    = fs.Duration("notify-give-up", DefaultNotifyGiveUp, "stop notify retries this long after the first attempt")
		verbose   = fs.Bool("v", false, "log every request outcome")
		addrFile  = fs.String("addr-file", "", "once listening, write the bound address (host:port) to this file; with -addr 127.0.0.1:0 scripts and tests learn the port")
		journal   = fs.Bool("journal", false, "record every payorder and payrefund request and serve the record, with every order, as JSON at "+PathJournal)
		lateDelay = fs.Duration("late-pay-delay", DefaultLatePayDelay, "when the late payer of magic amount ..25 pays, after payorder")
		ntfDelay  = fs.Duration("notify-delay", DefaultNotifyDelay, "how late the first notify of magic amount ..21 comes")
		pwDelay   = fs.Duration("password-delay", DefaultPasswordDelay, "how long a barcode payer with auth_code ..9001 takes to type the password")
		skew      = fs.Duration("clock-skew", 0, "run the sandbox's clock this far ahead of the machine's (negative: behind); beyond ±10m every call is refused with errcode 9")
		methods   = fs.String("pay-methods", "", "every store's paylist: comma-separated pmt_tags (default Weixin,Alipay,Cash,Diy); other Weixin…/Alipay… tags take every scenario, any other tag cash only")
	)
	fs.Var(&stores, "store", "store credentials OPEN_ID:OPEN_KEY[:SHOP_PASS] (repeatable; default one generated store)")
	fs.Var(&binds, "bind", "bind a WeChat appid to a store's pay method, as mpconfig/add does: OPEN_ID:PMT_TAG:APPID (repeatable; appids start unbound)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: checkout sandbox [-addr 127.0.0.1:9000] [-store OPEN_ID:OPEN_KEY[:SHOP_PASS]]... [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sandbox: unexpected arguments %q\n", fs.Args())
		return 2
	}
	var payList []PayMethod
	if *methods != "" {
		var err error
		if payList, err = parsePayMethods(*methods); err != nil {
			fmt.Fprintf(stderr, "sandbox: -pay-methods: %v\n", err)
			return 2
		}
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "sandbox: %v\n", err)
		return 1
	}
	base := *publicURL
	if base == "" {
		base = "http://" + ln.Addr().String()
	}
	clock := time.Now
	if *skew != 0 {
		d := *skew
		clock = func() time.Time { return time.Now().Add(d) }
	}
	s, err := New(Config{
		Clock:  clock,
		Prefix: *prefix, PublicURL: base, DisableQuirks: *noQuirks, Logger: logger,
		Latency: *latency, FailureRate: *failRate, TimeoutRate: *timeRate,
		DropNotifies: *drop, DuplicateNotifies: *dup, NotifyStep: *step, NotifyGiveUp: *giveUp,
		LatePayDelay: *lateDelay, NotifyDelay: *ntfDelay, PasswordDelay: *pwDelay,
	})
	if err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "sandbox: %v\n", err)
		return 2
	}
	defer s.Close()
	if *journal {
		s.EnableJournal(0)
	}
	if len(stores) == 0 {
		stores = append(stores, GenerateStore())
	}
	for _, st := range stores {
		st.PayList = payList
		if err := s.AddStore(st); err != nil {
			ln.Close()
			fmt.Fprintf(stderr, "sandbox: %v\n", err)
			return 2
		}
	}
	for _, b := range binds {
		if err := s.BindAppID(b[0], b[1], b[2]); err != nil {
			ln.Close()
			fmt.Fprintf(stderr, "sandbox: -bind: %v\n", err)
			return 2
		}
	}

	fmt.Fprintf(stdout, "Sandbox gateway listening on %s\n", base)
	fmt.Fprintf(stdout, "Protocol base URL: %s%s\n", strings.TrimRight(base, "/"), s.Prefix())
	for _, st := range stores {
		pass := st.ShopPass
		if pass == "" {
			pass = DefaultShopPass
		}
		// These are sandbox credentials, printed on purpose so that any
		// client can be pointed at the sandbox; nothing real uses them.
		fmt.Fprintf(stdout, "Store open_id=%s open_key=%s shop_pass=%s\n", st.OpenID, st.OpenKey, pass)
	}

	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	if *addrFile != "" {
		// Written once everything is set up: a reader that sees the address
		// finds the stores registered.
		if err := os.WriteFile(*addrFile, []byte(ln.Addr().String()), 0o644); err != nil {
			ln.Close()
			fmt.Fprintf(stderr, "sandbox: -addr-file: %v\n", err)
			return 1
		}
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		fmt.Fprintf(stderr, "sandbox: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	// Closing the sandbox first ends the requests held open by -timeout-rate
	// and the notify deliveries, so that Shutdown is not kept waiting.
	s.Close()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		srv.Close()
	}
	<-done
	return 0
}

// GenerateStore makes a store with random credentials (open_id 32 hex
// digits, open_key 32 letters and digits, shop_pass 123456).
func GenerateStore() Store {
	var b [64]byte
	_, _ = rand.Read(b[:])
	id := make([]byte, 32)
	key := make([]byte, 32)
	for i := range 32 {
		id[i] = lowhex[b[i]&0x0f]
		key[i] = alnum[int(b[32+i])%len(alnum)]
	}
	return Store{OpenID: string(id), OpenKey: string(key), ShopPass: DefaultShopPass}
}

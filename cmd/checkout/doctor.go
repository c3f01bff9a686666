package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/internal/hostclass"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
)

// Bounds of doctor's checks.
const (
	// doctorTimeout bounds each network check (one gateway call, one HTTP
	// request, one Redis command).
	doctorTimeout = 10 * time.Second
	// clockWindow is the gateway's: it refuses a request whose timestamp
	// is further than this from its clock (errcode 9), and the notify
	// intake refuses a notify signed further ahead than this.
	clockWindow = 600 * time.Second
	// clockWarn is the offset doctor points out before it breaks anything:
	// clocks kept by NTP agree to well under a second.
	clockWarn = 60 * time.Second
)

// The statuses of a check, as doctor prints them. Only fail makes the exit
// code 1; fixed is a problem doctor -fix repaired and checked again.
const (
	statusOK    = "ok"
	statusWarn  = "warn"
	statusFail  = "FAIL"
	statusSkip  = "skip"
	statusFixed = "fixed"
)

// checkResult is one line of doctor's report.
type checkResult struct {
	Status  string
	Check   string // what kind: config, public, redis, clock, gateway, pmt_tag, appid, webhook
	Subject string // what it is about: a store (merchant/store), a merchant, a URL
	Msg     string
	Fix     string // how to fix it, when there is something to fix
}

func (r checkResult) String() string {
	s := fmt.Sprintf("%-5s %-8s %s: %s", r.Status, r.Check, r.Subject, r.Msg)
	if r.Fix != "" {
		s += "; fix: " + r.Fix
	}
	return s
}

// resolver resolves webhook hosts; net.DefaultResolver in the binary.
type resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// doctorOptions are doctor's flags and what its tests replace.
type doctorOptions struct {
	// Fix applies the fixes doctor can make itself (mpconfig/add).
	Fix bool
	// PublicCheck requests each store's notify URL through the public URL.
	PublicCheck bool
	// Now is our clock, default time.Now.
	Now func() time.Time
	// Resolver resolves webhook hosts, default net.DefaultResolver.
	Resolver resolver
	// Timeout bounds each network check, default doctorTimeout.
	Timeout time.Duration
}

// doctor is `checkout doctor [-fix] [-public-check] [service flags]`: it
// reads the service's configuration (environment, the flags that mirror
// it, the merchants file; demo mode without CHECKOUT_CONFIG) and checks
// what the first payer would otherwise find out. It changes nothing unless
// -fix is given. Exit 0: no problem; 1: a check failed; 2: bad flags.
func doctor(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fix := fs.Bool("fix", false, "apply the fixes doctor can make: bind unbound WeChat appids with mpconfig/add")
	public := fs.Bool("public-check", false, "also request each store's /notify/… URL through the public URL (one unsigned GET per store, which the service answers 400 and logs)")
	lookup := settingFlags(fs, getenv)
	if refuseSecretFlags(args, stderr) {
		return exitUsage
	}
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage:\n  checkout doctor [-fix] [-public-check] [service flags]\n\n"+
			"Checks the service's configuration against the gateway, Redis, the public URL and the\n"+
			"webhook URLs, one line per check (ok, warn, FAIL, skip, fixed). Changes nothing unless\n"+
			"-fix is given. Exit 0: no problem; 1: a check failed; 2: bad arguments.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "checkout doctor: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	return runDoctor(ctx, lookup, doctorOptions{Fix: *fix, PublicCheck: *public}, stdout)
}

// doctorRun holds one run's configuration and clients.
type doctorRun struct {
	opts     doctorOptions
	settings *config.Settings
	gw       *gateway.Client
	out      io.Writer
	fails    int
	warns    int
	fixed    int
	passed   int
}

// runDoctor runs every check, printing each line as it is known, then a
// summary, and returns the exit code.
func runDoctor(ctx context.Context, getenv func(string) string, o doctorOptions, out io.Writer) int {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.Timeout <= 0 {
		o.Timeout = doctorTimeout
	}
	d := &doctorRun{opts: o, out: out}
	// One try per call: doctor reports what it sees, and an unreachable
	// gateway should say so at once, not after the service's retries.
	d.gw = gateway.NewClient(gateway.WithClock(o.Now), gateway.WithRetries(0, 0, 0),
		gateway.WithHTTPClient(&http.Client{Timeout: o.Timeout}))

	settings, err := config.FromEnv(getenv)
	if err != nil {
		d.report(checkResult{statusFail, "config", "environment", err.Error(), "see README.md, Configuration"})
		return d.summary()
	}
	d.settings = settings
	var merchants []*checkout.Merchant
	var accounts *payments.Accounts
	if settings.Demo() {
		demo, stop, err := doctorDemo()
		if err != nil {
			d.report(checkResult{statusFail, "config", "demo", err.Error(), ""})
			return d.summary()
		}
		defer stop()
		merchants, accounts = demo.Directory.Merchants(), demo.Accounts
		d.report(checkResult{statusOK, "config", "demo mode", "no CHECKOUT_CONFIG: checking a demo set-up made in this process, with its own sandbox gateway (as `checkout` makes at start)", ""})
	} else {
		m, err := config.LoadMerchants(settings.ConfigPath, config.Options{Getenv: getenv, AllowPrivateWebhooks: settings.AllowPrivateWebhooks})
		if err != nil {
			d.report(checkResult{statusFail, "config", settings.ConfigPath, err.Error(), "correct the merchants file (examples/merchants.yaml)"})
			return d.summary()
		}
		merchants, accounts = m.Merchants, m.Accounts
		d.report(checkResult{statusOK, "config", settings.ConfigPath, fmt.Sprintf("%d merchants, %d stores", len(merchants), countStores(merchants)), ""})
	}

	d.report(d.checkPublicURL())
	for _, r := range d.checkPublicReach(ctx, merchants, accounts) {
		d.report(r)
	}
	d.report(d.checkRedis(ctx))
	for i, m := range merchants {
		for j, st := range m.Stores {
			gs, ok := accounts.Of(m.ID, st.ID)
			label := m.ID + "/" + st.ID
			if !ok {
				d.report(checkResult{statusFail, "gateway", label, "no gateway account", fmt.Sprintf("add merchants[%d].stores[%d].gateway", i, j)})
				continue
			}
			for _, r := range d.checkStore(ctx, fmt.Sprintf("merchants[%d].stores[%d]", i, j), label, st, gs) {
				d.report(r)
			}
		}
	}
	for i, m := range merchants {
		if m.WebhookURL != "" {
			d.report(d.checkWebhook(ctx, fmt.Sprintf("merchants[%d].webhook.url", i), m))
		}
	}
	return d.summary()
}

func countStores(ms []*checkout.Merchant) int {
	n := 0
	for _, m := range ms {
		n += len(m.Stores)
	}
	return n
}

// report prints one line and counts it.
func (d *doctorRun) report(r checkResult) {
	switch r.Status {
	case statusFail:
		d.fails++
	case statusWarn:
		d.warns++
	case statusFixed:
		d.fixed++
	case statusOK:
		d.passed++
	}
	fmt.Fprintln(d.out, r)
}

// summary prints the last line and returns the exit code.
func (d *doctorRun) summary() int {
	fmt.Fprintf(d.out, "doctor: %d failed, %d warnings, %d fixed, %d ok\n", d.fails, d.warns, d.fixed, d.passed)
	if d.fails > 0 {
		return exitFailed
	}
	return exitOK
}

// doctorDemo builds the demo set-up `checkout` makes without
// CHECKOUT_CONFIG, with its sandbox served on a loopback port of this
// process, so that the demo's gateway account answers.
func doctorDemo() (*demoSetup, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("listen for the demo's sandbox: %w", err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	demo, err := newDemo("http://"+ln.Addr().String(), quiet)
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/sandbox/", http.StripPrefix("/sandbox", demo.Sandbox))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout}
	go func() { _ = srv.Serve(ln) }()
	return demo, func() { _ = srv.Close(); demo.Close() }, nil
}

// checkPublicURL checks that payers and the gateway can use the public URL:
// https, on a public name.
func (d *doctorRun) checkPublicURL() checkResult {
	s := d.settings
	r := checkResult{Check: "public", Subject: s.PublicURL}
	derived := ""
	if !s.PublicURLSet {
		derived = " (CHECKOUT_PUBLIC_URL not set: derived from CHECKOUT_ADDR)"
	}
	u, err := url.Parse(s.PublicURL)
	if err != nil {
		r.Status, r.Msg, r.Fix = statusFail, "not a URL"+derived, "set CHECKOUT_PUBLIC_URL=https://pay.example.com"
		return r
	}
	if u.Scheme == "https" {
		r.Status, r.Msg = statusOK, "https"+derived
		return r
	}
	class := hostclass.Of(u.Hostname())
	if s.Demo() || class.Internal() {
		r.Status = statusWarn
		r.Msg = fmt.Sprintf("plain http on a %s host%s: fine on this machine; payers' wallets and the gateway's notifies need https on a public name", class, derived)
		if s.Demo() {
			r.Msg = "demo mode, " + r.Msg
		}
		r.Fix = "set CHECKOUT_PUBLIC_URL=https://… before real payers"
		return r
	}
	r.Status, r.Msg, r.Fix = statusFail, "plain http"+derived+": wallets refuse to pay from it and notifies travel unencrypted", "serve it over https and set CHECKOUT_PUBLIC_URL=https://…"
	return r
}

// checkPublicReach requests each store's notify URL through the public URL
// with no query: the service answers 400 "bad signature" for a store it
// knows, which proves the gateway's notifies reach it.
func (d *doctorRun) checkPublicReach(ctx context.Context, merchants []*checkout.Merchant, accounts *payments.Accounts) []checkResult {
	if !d.opts.PublicCheck {
		return []checkResult{{statusSkip, "public", d.settings.PublicURL + payments.NotifyPath + "…", "reachability not checked (-public-check requests each store's notify URL through it)", ""}}
	}
	if d.settings.Demo() {
		return []checkResult{{statusSkip, "public", d.settings.PublicURL + payments.NotifyPath + "…", "demo mode: the demo's stores live in the serving process, not here", ""}}
	}
	client := &http.Client{
		Timeout:       d.opts.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	var out []checkResult
	for _, m := range merchants {
		for _, st := range m.Stores {
			gs, ok := accounts.Of(m.ID, st.ID)
			if !ok {
				continue
			}
			u := payments.NotifyURL(d.settings.PublicURL, gs.OpenID)
			r := checkResult{Check: "public", Subject: m.ID + "/" + st.ID}
			status, body, err := get(ctx, client, u)
			switch {
			case err != nil:
				r.Status, r.Msg, r.Fix = statusFail, fmt.Sprintf("GET %s: %v", u, err), "make the public URL reach this service (DNS, TLS, proxy)"
			case status == http.StatusBadRequest && body == "bad signature":
				r.Status, r.Msg = statusOK, "GET "+u+" reaches the service (an unsigned notify is refused with 400, as it should)"
			case status == http.StatusNotFound && body == "unknown order":
				r.Status, r.Msg, r.Fix = statusFail, "GET "+u+" reaches a checkout service that does not know this store", "point the public URL at the service that runs this configuration"
			default:
				r.Status, r.Msg, r.Fix = statusFail, fmt.Sprintf("GET %s answers HTTP %d %.60q, not the checkout service", u, status, body), "route "+payments.NotifyPath+"… on the public URL to this service"
			}
			out = append(out, r)
		}
	}
	return out
}

// get fetches u and returns the status and the start of the body.
func get(ctx context.Context, client *http.Client, u string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("User-Agent", "checkout-doctor")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

// checkRedis pings the configured Redis and reads its topology: a replica
// is read-only, and the service writes.
func (d *doctorRun) checkRedis(ctx context.Context) checkResult {
	r := checkResult{Check: "redis"}
	s := d.settings
	if s.Redis == nil {
		r.Subject = "REDIS_URL not set"
		if s.Demo() {
			r.Status, r.Msg = statusOK, "demo mode uses an in-process Redis"
			return r
		}
		r.Status, r.Msg, r.Fix = statusWarn, "the service would use an in-process Redis: data lost on exit, one replica only", "set REDIS_URL"
		return r
	}
	r.Subject = s.Redis.Describe() // never the URL: it may hold a password
	rdb := doctorRedis(s.Redis, d.opts.Timeout)
	defer rdb.Close()
	cctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	if err := rdb.Ping(cctx).Err(); err != nil {
		r.Status, r.Msg, r.Fix = statusFail, fmt.Sprintf("PING: %v", err), "check REDIS_URL (address, password, TLS) and that Redis runs"
		return r
	}
	info := map[string]string{}
	for _, section := range []string{"server", "replication"} {
		text, err := rdb.Info(cctx, section).Result()
		if err != nil {
			continue
		}
		for _, line := range strings.Split(text, "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
				info[k] = v
			}
		}
	}
	if len(info) == 0 {
		r.Status, r.Msg = statusOK, "PING answered; INFO did not (topology unknown)"
		return r
	}
	mode := info["redis_mode"]
	if mode == "" {
		mode = "standalone"
	}
	r.Msg = fmt.Sprintf("PING answered; Redis %s, %s, role %s, %s replicas", orUnknown(info["redis_version"]), mode, orUnknown(info["role"]), orUnknown(info["connected_slaves"]))
	switch {
	case s.Redis.Cluster != nil && mode != "cluster":
		r.Status, r.Fix = statusFail, "REDIS_MODE=cluster but the server is not a Cluster node: set REDIS_MODE to single"
	case s.Redis.Cluster != nil:
		if st, err := rdb.ClusterInfo(cctx).Result(); err != nil || !strings.Contains(st, "cluster_state:ok") {
			r.Status, r.Fix = statusFail, "the Cluster is not in cluster_state:ok: check CLUSTER INFO on its nodes"
		} else {
			r.Status = statusOK
		}
	case info["role"] == "slave" || info["role"] == "replica":
		r.Status, r.Fix = statusFail, "REDIS_URL points at a read-only replica: point it at the primary"
	case mode == "cluster":
		r.Status, r.Fix = statusWarn, "a Cluster node through a single-node URL: keys of other slots answer MOVED"
	default:
		r.Status = statusOK
	}
	return r
}

// doctorRedis is the topology's client with doctor's bounds: each dial and
// command within timeout, one try, so that doctor reports what it sees at
// once.
func doctorRedis(t *config.RedisTopology, timeout time.Duration) redis.UniversalClient {
	c := *t
	switch {
	case c.Cluster != nil:
		o := *c.Cluster
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.MaxRetries, o.DialerRetries = timeout, timeout, timeout, -1, 1
		c.Cluster = &o
	case c.Failover != nil:
		o := *c.Failover
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.MaxRetries, o.DialerRetries = timeout, timeout, timeout, -1, 1
		c.Failover = &o
	default:
		o := *c.Single
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.MaxRetries, o.DialerRetries = timeout, timeout, timeout, -1, 1
		c.Single = &o
	}
	return c.NewClient()
}

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// checkStore checks one store at the gateway: the clocks, the credentials
// (paylist), the pay methods the store's wallets need, and the WeChat
// appids' bindings. A check that needs an earlier one to pass is skipped
// when it did not.
func (d *doctorRun) checkStore(ctx context.Context, path, label string, st *checkout.Store, gs *gateway.Store) []checkResult {
	var out []checkResult
	// Each call is bounded by the HTTP client's timeout; the store's whole
	// set of calls (at most clock, paylist and three mpconfig) by this.
	cctx, cancel := context.WithTimeout(ctx, 5*d.opts.Timeout)
	defer cancel()

	reading, err := d.gw.Clock(cctx, gs)
	if err != nil {
		return append(out,
			checkResult{statusFail, "clock", label, fmt.Sprintf("gateway at %s unreachable: %v", gs.BaseURL, err), "check " + path + ".gateway.base_url and the network path to it"},
			checkResult{statusSkip, "gateway", label, "gateway unreachable", ""})
	}
	out = append(out, clockResult(label, reading))

	methods, err := d.gw.PayList(cctx, gs, gateway.PayListTypes(2, 3, 4))
	if err != nil {
		return append(out, credentialsResult(path, label, gs, err))
	}
	tags := make([]string, 0, len(methods))
	for _, m := range methods {
		tags = append(tags, string(m.Tag))
	}
	out = append(out, checkResult{statusOK, "gateway", label, "open_id " + gs.OpenID + " and its open_key accepted; paylist: " + strings.Join(tags, ", "), ""})

	wechatTag := ""
	if st.WeChat.Enabled {
		var r checkResult
		wechatTag, r = tagResult(path+".wechat", label, "WeChat", gateway.WalletWeChat, scenarioOf(st.WeChat.Mode, gateway.WalletWeChat), st.WeChat.PmtTag, methods, tags)
		out = append(out, r)
	}
	if st.Alipay.Enabled {
		_, r := tagResult(path+".alipay", label, "Alipay", gateway.WalletAlipay, scenarioOf(st.Alipay.Mode, gateway.WalletAlipay), st.Alipay.PmtTag, methods, tags)
		out = append(out, r)
	}
	if st.WeChat.Enabled {
		out = append(out, d.checkAppIDs(cctx, path, label, st, gs, wechatTag)...)
	}
	return out
}

// clockResult judges the gateway's clock against ours.
func clockResult(label string, r *gateway.ClockReading) checkResult {
	off := r.Offset()
	abs := off
	if abs < 0 {
		abs = -abs
	}
	where := "ahead of"
	if off < 0 {
		where = "behind"
	}
	switch {
	case abs > clockWindow:
		return checkResult{statusFail, "clock", label,
			fmt.Sprintf("the gateway's clock (%s) is %s %s ours: outside its ±%d s window, it refuses every call (errcode 9)", r.Source, abs, where, int(clockWindow.Seconds())),
			"synchronise this machine's clock (NTP: timedatectl set-ntp true)"}
	case abs > clockWarn:
		return checkResult{statusWarn, "clock", label,
			fmt.Sprintf("the gateway's clock (%s) is %s %s ours; the gateway refuses calls beyond ±%d s", r.Source, abs, where, int(clockWindow.Seconds())),
			"synchronise this machine's clock (NTP)"}
	}
	return checkResult{statusOK, "clock", label, fmt.Sprintf("the gateway's clock (%s) agrees with ours (offset %s, window ±%d s)", r.Source, off, int(clockWindow.Seconds())), ""}
}

// credentialsResult explains a failed paylist.
func credentialsResult(path, label string, gs *gateway.Store, err error) checkResult {
	r := checkResult{Status: statusFail, Check: "gateway", Subject: label}
	switch {
	case errors.Is(err, gateway.ErrTimestamp):
		r.Status, r.Msg = statusSkip, "the gateway refused our timestamp (errcode 9): credentials not checked; see clock"
	case errors.Is(err, gateway.ErrStoreNotFound):
		r.Msg = fmt.Sprintf("the gateway at %s has no store with open_id %s (errcode 3002)", gs.BaseURL, gs.OpenID)
		r.Fix = "copy the store's open_id from the gateway's merchant console into " + path + ".gateway.open_id (and check base_url)"
	case errors.Is(err, gateway.ErrGatewayBadSign), errors.Is(err, gateway.ErrBadSign), errors.Is(err, gateway.ErrWrongKey),
		errors.Is(err, gateway.ErrBadPadding), errors.Is(err, gateway.ErrOutNoEmpty):
		r.Msg = fmt.Sprintf("open_id %s is known but its open_key is refused (%v)", gs.OpenID, err)
		r.Fix = "copy the store's open_key again from the gateway's merchant console into " + path + ".gateway.open_key"
	default:
		r.Msg = fmt.Sprintf("paylist failed: %v", err)
		r.Fix = "check " + path + ".gateway (base_url, open_id, open_key)"
	}
	return r
}

// scenarioOf is the gateway scenario a wallet's in-app payments use.
func scenarioOf(mode checkout.WalletMode, w gateway.Wallet) gateway.Scenario {
	switch {
	case mode == checkout.ModeRedirect:
		return gateway.ScenarioJump
	case w == gateway.WalletAlipay:
		return gateway.ScenarioAlipayJSAPI
	}
	return gateway.ScenarioWeChatJSAPI
}

// tagResult checks that a wallet's pay method is in the paylist: the
// configured pmt_tag, or one the service would pick. It returns the tag.
func tagResult(path, label, name string, w gateway.Wallet, s gateway.Scenario, override string, methods []gateway.PayMethod, tags []string) (string, checkResult) {
	r := checkResult{Check: "pmt_tag", Subject: label}
	if override != "" {
		if i := slices.Index(tags, override); i >= 0 {
			if mw, ok := gateway.WalletOf(methods[i]); ok && mw != w {
				r.Status = statusFail
				r.Msg = fmt.Sprintf("%s pmt_tag %s is in the paylist, but it belongs to the %s wallet (%s)", name, override, mw, methods[i].Name)
				r.Fix = fmt.Sprintf("set %s.pmt_tag to the store's %s tag, or remove it to take it from paylist", path, name)
				return "", r
			}
			r.Status, r.Msg = statusOK, fmt.Sprintf("%s pmt_tag %s is in the paylist", name, override)
			return override, r
		}
		r.Status = statusFail
		r.Msg = fmt.Sprintf("%s pmt_tag %q is not in the store's paylist (%s): payers would get wallet_unavailable (errcode 8007)", name, override, strings.Join(tags, ", "))
		r.Fix = fmt.Sprintf("set %s.pmt_tag to the store's %s tag from that list, or remove it to take it from paylist", path, name)
		return "", r
	}
	tag, err := gateway.PickTag(methods, w, s, "")
	if err != nil {
		r.Status = statusFail
		r.Msg = fmt.Sprintf("the paylist (%s) has no %s method for %s: payers would get wallet_unavailable", strings.Join(tags, ", "), name, s)
		r.Fix = fmt.Sprintf("ask the gateway's operator to open %s for this store, or set %s.enabled: false", name, path)
		return "", r
	}
	r.Status, r.Msg = statusOK, fmt.Sprintf("%s pays with %s from the paylist", name, tag)
	return tag, r
}

// checkAppIDs checks that the store's WeChat appids that native payments
// send as sub_appid are bound to its WeChat pay method (mpconfig/query);
// with -fix it binds the missing ones (mpconfig/add) and asks again.
func (d *doctorRun) checkAppIDs(ctx context.Context, path, label string, st *checkout.Store, gs *gateway.Store, tag string) []checkResult {
	type app struct{ what, id string }
	var apps []app
	if st.WeChat.AppID != "" && st.WeChat.Mode == checkout.ModeNative {
		apps = append(apps, app{"official account", st.WeChat.AppID})
	}
	if st.WeChat.MiniProgramAppID != "" {
		apps = append(apps, app{"mini-program", st.WeChat.MiniProgramAppID})
	}
	if len(apps) == 0 {
		return []checkResult{{statusSkip, "appid", label, "no appid sent as sub_appid (redirect mode, no mini-program)", ""}}
	}
	if tag == "" {
		return []checkResult{{statusSkip, "appid", label, "no WeChat pay method to check bindings for (see pmt_tag)", ""}}
	}
	bound, err := d.bound(ctx, gs, tag)
	if err != nil {
		return []checkResult{{statusFail, "appid", label, fmt.Sprintf("mpconfig/query %s: %v", tag, err), "ask the gateway's operator whether mpconfig is enabled for this store"}}
	}
	var out []checkResult
	for _, a := range apps {
		r := checkResult{Check: "appid", Subject: label}
		if bound[a.id] {
			r.Status, r.Msg = statusOK, fmt.Sprintf("%s %s is bound to %s", a.what, a.id, tag)
			out = append(out, r)
			continue
		}
		call := fmt.Sprintf(`mpconfig/add {"pmt_tag":%q,"sub_appid":%q} for open_id %s`, tag, a.id, gs.OpenID)
		if !d.opts.Fix {
			r.Status = statusFail
			r.Msg = fmt.Sprintf("%s %s is not bound to %s: native payments would fail with errcode 8011", a.what, a.id, tag)
			r.Fix = call + " (checkout doctor -fix does it)"
			out = append(out, r)
			continue
		}
		if err := d.gw.MPConfigAdd(ctx, gs, gateway.MPConfig{PmtTag: gateway.Text(tag), SubAppID: gateway.Text(a.id)}); err != nil {
			r.Status, r.Msg, r.Fix = statusFail, fmt.Sprintf("%s %s is not bound to %s, and %s failed: %v", a.what, a.id, tag, call, err), "bind it in the gateway's merchant console"
			out = append(out, r)
			continue
		}
		again, err := d.bound(ctx, gs, tag)
		if err != nil || !again[a.id] {
			r.Status, r.Msg, r.Fix = statusFail, fmt.Sprintf("%s %s: %s answered ok but mpconfig/query does not list it", a.what, a.id, call), "bind it in the gateway's merchant console"
			out = append(out, r)
			continue
		}
		r.Status, r.Msg = statusFixed, fmt.Sprintf("%s %s bound to %s (%s; mpconfig/query lists it now)", a.what, a.id, tag, call)
		out = append(out, r)
	}
	return out
}

// bound returns the appids bound to a pay method.
func (d *doctorRun) bound(ctx context.Context, gs *gateway.Store, tag string) (map[string]bool, error) {
	list, err := d.gw.MPConfigQuery(ctx, gs, tag)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, b := range list {
		if string(b.PmtTag) == "" || string(b.PmtTag) == tag {
			out[string(b.SubAppID)] = true
		}
	}
	return out, nil
}

// checkWebhook checks that a merchant's webhook URL resolves only to
// addresses the delivery guard lets through, and that it answers a GET
// (which changes nothing) through the service's own guarded client.
func (d *doctorRun) checkWebhook(ctx context.Context, path string, m *checkout.Merchant) checkResult {
	r := checkResult{Check: "webhook", Subject: m.ID}
	u, err := url.Parse(m.WebhookURL)
	if err != nil {
		r.Status, r.Msg, r.Fix = statusFail, "not a URL", "correct "+path
		return r
	}
	allow := d.settings.AllowPrivateWebhooks
	cctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil {
		addrs = []netip.Addr{ip}
	} else if addrs, err = d.opts.Resolver.LookupNetIP(cctx, "ip", u.Hostname()); err != nil || len(addrs) == 0 {
		r.Status, r.Msg, r.Fix = statusFail, fmt.Sprintf("%s: host %s does not resolve: %v", m.WebhookURL, u.Hostname(), err), "correct the host name in "+path
		return r
	}
	var internal []string
	names := make([]string, 0, len(addrs))
	for _, a := range addrs {
		class := hostclass.OfAddr(a)
		names = append(names, fmt.Sprintf("%s (%s)", a.Unmap(), class))
		if class.Internal() {
			internal = append(internal, a.Unmap().String())
		}
	}
	resolved := m.WebhookURL + " resolves to " + strings.Join(names, ", ")
	if len(internal) > 0 && !allow {
		r.Status = statusFail
		r.Msg = resolved + ": deliveries to it are refused"
		r.Fix = "give " + path + " a public address (CHECKOUT_ALLOW_PRIVATE_WEBHOOKS=true is for local development only)"
		return r
	}
	status, _, err := get(cctx, webhook.GuardedClient(d.opts.Timeout, allow), m.WebhookURL)
	switch {
	case err != nil:
		r.Status, r.Msg, r.Fix = statusFail, fmt.Sprintf("%s; GET: %v", resolved, err), "make "+path+" reachable from this machine"
	case status >= 500:
		r.Status, r.Msg, r.Fix = statusFail, fmt.Sprintf("%s; it answers HTTP %d to a GET", resolved, status), "the endpoint must answer signed POSTs with 2xx"
	case status >= 300 && status < 400:
		r.Status, r.Msg, r.Fix = statusFail, fmt.Sprintf("%s; it redirects (HTTP %d), and deliveries never follow redirects", resolved, status), "set "+path+" to the final URL"
	case len(internal) > 0:
		r.Status, r.Msg = statusWarn, fmt.Sprintf("%s, allowed by CHECKOUT_ALLOW_PRIVATE_WEBHOOKS; it answers HTTP %d to a GET", resolved, status)
		r.Fix = "a public address before production"
	default:
		r.Status, r.Msg = statusOK, fmt.Sprintf("%s; it answers HTTP %d to a GET", resolved, status)
	}
	return r
}

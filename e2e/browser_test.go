package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"
)

const chromiumPath = "/usr/bin/chromium"

// The User-Agents the wallets' in-app browsers send, as the service sees
// them in production.
const (
	uaWeChat = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) " +
		"Mobile/15E148 MicroMessenger/8.0.50(0x1800323c) NetType/WIFI Language/zh_CN"
	uaWeChatMiniProgram = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) " +
		"Mobile/15E148 MicroMessenger/8.0.50(0x1800323c) NetType/WIFI Language/zh_CN miniProgram/wxe2e00000000000mp"
	uaAlipay = "Mozilla/5.0 (Linux; U; Android 13; zh-CN; V2196A Build/TP1A.220624.014) AppleWebKit/537.36 (KHTML, like Gecko) " +
		"Version/4.0 Chrome/69.0.3497.100 UWS/3.22.2.59 Mobile Safari/537.36 NebulaSDK/1.8.100112 Nebula " +
		"AlipayDefined(nt:WIFI,ws:393|0|2.75) AliApp(AP/10.5.26.8000) AlipayClient/10.5.26.8000 Language/zh-Hans"
	uaPhoneBrowser = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"
	uaDesktop      = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)

// device is where a page is opened.
type device struct {
	ua     string
	width  int64
	height int64
	mobile bool
	lang   string // Accept-Language
}

var (
	wechatPhone = device{ua: uaWeChat, width: 390, height: 844, mobile: true, lang: "zh-CN,zh;q=0.9"}
	alipayPhone = device{ua: uaAlipay, width: 390, height: 844, mobile: true, lang: "zh-CN,zh;q=0.9"}
	miniProgram = device{ua: uaWeChatMiniProgram, width: 390, height: 844, mobile: true, lang: "zh-CN,zh;q=0.9"}
	phone       = device{ua: uaPhoneBrowser, width: 360, height: 640, mobile: true, lang: "zh-CN,zh;q=0.9"}
	desktop     = device{ua: uaDesktop, width: 1280, height: 800, lang: "zh-CN,zh;q=0.9"}
)

// The browser is started once per test binary and shared by every test;
// each test gets its own browser context (cookies, storage), so payers
// never share a session.
var (
	browserOnce   sync.Once
	browserCtx    context.Context
	browserErr    error
	browserCancel = func() {}
)

func TestMain(m *testing.M) {
	// Quiet: no gin debug banner and route list in the output.
	gin.SetMode(gin.TestMode)
	// The browser tests wait (on Chromium, on the pages' timers) far more
	// than they compute: run up to four at a time, even on two cores,
	// unless -parallel says otherwise.
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", strconv.Itoa(max(4, goruntime.GOMAXPROCS(0))))
	}
	code := m.Run()
	browserCancel()
	os.Exit(code)
}

func startBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("browser tests skipped: %s is absent (apt-get install -y chromium fonts-noto-cjk)", chromiumPath)
	}
	browserOnce.Do(func() {
		dir, err := os.MkdirTemp("", "e2e-chromium-")
		if err != nil {
			browserErr = err
			return
		}
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(chromiumPath),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.UserDataDir(dir),
			// Chromium's own temporary folders (org.chromium.Chromium.*)
			// go in dir too, so they are removed with it.
			chromedp.Env("TMPDIR=" + dir),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-default-apps", true),
			chromedp.Flag("disable-extensions", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.Flag("hide-scrollbars", true),
			chromedp.Flag("mute-audio", true),
		}
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, cancelBrowser := chromedp.NewContext(actx)
		// The first Run starts the browser.
		if err := chromedp.Do(bctx); err != nil {
			browserErr = fmt.Errorf("starting %s: %w", chromiumPath, err)
		}
		browserCtx = bctx
		browserCancel = func() {
			cancelBrowser()
			cancelAlloc()
			_ = os.RemoveAll(dir)
		}
	})
	if browserErr != nil {
		t.Fatal(browserErr)
	}
	return browserCtx
}

// tab is one page in its own browser context, as one payer's phone.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string // the stack's URL: every request must stay there
	shot int

	mu       sync.Mutex
	problems []string // JS exceptions, console errors, CSP reports
	requests []string
	allowErr []*regexp.Regexp
	// hosts are other hosts (host:port) the test serves pages from, such
	// as a merchant's site on another origin (allowHost).
	hosts map[string]bool
}

// newTab opens a tab as dev, with scripts injected into every document
// before the page's own (the way the wallets inject their bridges).
func newTab(t *testing.T, s *stack, dev device, scripts ...string) *tab {
	t.Helper()
	bctx := startBrowser(t)
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	tb := &tab{t: t, base: s.url}
	err := chromedp.Listen(ctx, tb.record)
	if err == nil {
		err = tb.setUp(ctx, dev, scripts)
	}
	if err != nil {
		cancel()
		t.Fatalf("opening a tab: %v", err)
	}
	// Every action of a test shares one deadline.
	tctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	tb.ctx = tctx
	t.Cleanup(func() {
		tb.check()
		cancelT()
		cancel()
	})
	return tb
}

// setUp turns on the event domains, the device emulation and the scripts.
func (tb *tab) setUp(ctx context.Context, dev device, scripts []string) error {
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		return err
	}
	if _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); err != nil {
		return err
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		return err
	}
	if _, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: dev.ua, AcceptLanguage: dev.lang}); err != nil {
		return err
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(dev.width, dev.height, func(p *emulation.SetDeviceMetricsOverrideParams, touch *emulation.SetTouchEmulationEnabledParams) {
		p.Mobile = dev.mobile
		p.DeviceScaleFactor = 1
		touch.Enabled = dev.mobile
	})); err != nil {
		return err
	}
	for _, src := range scripts {
		if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: src}); err != nil {
			return err
		}
	}
	return nil
}

// record keeps what the checks need; it runs in the tab's read loop, so it
// only appends under the lock.
func (tb *tab) record(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg = d.Exception.Description
		}
		tb.problems = append(tb.problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
			}
			tb.problems = append(tb.problems, "console.error: "+strings.Join(parts, " "))
		}
	case *cdplog.EventEntryAdded:
		if e.Entry != nil && e.Entry.Level == cdplog.EntryLevelError {
			tb.problems = append(tb.problems, fmt.Sprintf("log %s: %s (%s)", e.Entry.Source, e.Entry.Text, e.Entry.URL))
		}
	case *network.EventRequestWillBeSent:
		if e.Request != nil {
			tb.requests = append(tb.requests, e.Request.URL)
		}
	}
}

// allow ignores page problems matching re (a test that provokes an error
// status, which Chromium logs).
func (tb *tab) allow(re string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.allowErr = append(tb.allowErr, regexp.MustCompile(re))
}

// allowHost accepts requests to host (host:port): a test's own page on
// another origin, such as a merchant's site.
func (tb *tab) allowHost(host string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.hosts == nil {
		tb.hosts = map[string]bool{}
	}
	tb.hosts[host] = true
}

// check fails the test on any script error, console error or CSP report,
// and on any request that left the stack (no third-party requests).
func (tb *tab) check() {
	tb.mu.Lock()
	defer tb.mu.Unlock()
next:
	for _, p := range tb.problems {
		// Browsers ask for /favicon.ico by themselves on pages without an
		// icon (the sandbox's, the test merchant's); not a page's doing.
		if strings.Contains(p, "/favicon.ico") {
			continue
		}
		for _, re := range tb.allowErr {
			if re.MatchString(p) {
				continue next
			}
		}
		tb.t.Errorf("page problem: %s", p)
	}
	for _, r := range tb.requests {
		// alipays: is the Alipay app's deep link, handed to the phone, not
		// fetched.
		if strings.HasPrefix(r, "data:") || strings.HasPrefix(r, "about:") || strings.HasPrefix(r, "alipays:") || strings.HasPrefix(r, tb.base) {
			continue
		}
		u, err := url.Parse(r)
		if err == nil && (u.Hostname() == "127.0.0.1" || tb.hosts[u.Host]) {
			continue
		}
		tb.t.Errorf("request outside the service: %s", r)
	}
}

// fail stops the test with what the page shows.
func (tb *tab) fail(what string, err error) {
	tb.t.Helper()
	tb.screenshot("failed-" + slug(what))
	ctx, cancel := context.WithTimeout(context.WithoutCancel(tb.ctx), 3*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	tb.t.Fatalf("%s: %v\nat %s\npage text:\n%s", what, err, loc, body)
}

// run runs steps, failing the test with what the page shows on error.
func (tb *tab) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.fail(what, err)
	}
}

// get runs one action that returns a value.
func get[T any](tb *tab, what string, a chromedp.Action[T]) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, a)
	if err != nil {
		tb.fail(what, err)
	}
	return v
}

// eval evaluates a JS expression (promises awaited) into a T.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	return get(tb, "evaluate "+expr, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// exec evaluates a JS statement for its effect.
func (tb *tab) exec(js string) {
	tb.t.Helper()
	_ = eval[bool](tb, "(function(){"+js+";return true})()")
}

// open navigates and waits for the element sel.
func (tb *tab) open(u, sel string) {
	tb.t.Helper()
	tb.run("open "+u, chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// visible waits until sel is visible.
func (tb *tab) visible(sel string) {
	tb.t.Helper()
	tb.run("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// click clicks sel once it is visible and enabled.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.run("click "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.WaitEnabled(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// text returns the visible text of sel, spaces collapsed.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return strings.Join(strings.Fields(get(tb, "read "+sel, chromedp.Text(chromedp.CSS(sel)))), " ")
}

// value reads an input's value.
func (tb *tab) value(sel string) string {
	tb.t.Helper()
	return get(tb, "value of "+sel, chromedp.Value(chromedp.CSS(sel)))
}

// location returns the page's URL.
func (tb *tab) location() string {
	tb.t.Helper()
	return get(tb, "location", chromedp.Location())
}

// isVisible reports whether sel exists and is displayed, without waiting.
func (tb *tab) isVisible(sel string) bool {
	tb.t.Helper()
	q, _ := json.Marshal(sel)
	return eval[bool](tb, fmt.Sprintf(`(function(){var e=document.querySelector(%s);return !!e && !!(e.offsetWidth||e.offsetHeight||e.getClientRects().length)})()`, q))
}

// waitFor evaluates the JS condition every 50 ms until it is true. Unlike
// chromedp.Poll it survives navigations: the condition may be met on the
// page the current one leads to.
func (tb *tab) waitFor(what, cond string) {
	tb.t.Helper()
	var last error
	for {
		ok, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		if err == nil && ok {
			return
		}
		if err != nil {
			last = err
		}
		select {
		case <-tb.ctx.Done():
			if last == nil {
				last = tb.ctx.Err()
			}
			tb.fail(what, last)
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// screenshot saves the viewport as <artifacts>/<test>/<n>-<state>.png
// when ARTIFACTS_DIR is set; without it only a failure's picture is
// taken (into a temporary folder the log names), so a green run stays fast
// and leaves nothing behind.
func (tb *tab) screenshot(state string) string {
	if os.Getenv("ARTIFACTS_DIR") == "" && !strings.HasPrefix(state, "failed-") {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(tb.ctx), 10*time.Second)
	defer cancel()
	// Let fonts and transitions settle so the picture shows the state.
	_ = chromedp.Do(ctx, chromedp.Sleep(150*time.Millisecond))
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Logf("screenshot %s: %v", state, err)
		return ""
	}
	tb.shot++
	dir := filepath.Join(artifacts(), slug(tb.t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Logf("screenshot %s: %v", state, err)
		return ""
	}
	p := filepath.Join(dir, fmt.Sprintf("%02d-%s.png", tb.shot, slug(state)))
	if err := os.WriteFile(p, png, 0o644); err != nil {
		tb.t.Logf("screenshot %s: %v", state, err)
		return ""
	}
	tb.t.Logf("screenshot: %s", p)
	return p
}

var artifacts = sync.OnceValue(func() string {
	if d := os.Getenv("ARTIFACTS_DIR"); d != "" {
		return d
	}
	d, err := os.MkdirTemp("", "e2e-artifacts-")
	if err != nil {
		return os.TempDir()
	}
	return d
})

func slug(s string) string {
	return strings.Trim(regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(s, "_"), "_")
}

// wechatBridge is a WeixinJSBridge stand-in: like WeChat's, it appears
// after the page's scripts ran and announces itself with
// WeixinJSBridgeReady; getBrandWCPayRequest hands the six parameters to the
// sandbox's payer action, which checks paySign and pays (or, for "cancel",
// does nothing), and calls back with the wallet's err_msg. actions are
// what the payer does at each successive payment sheet; the count of sheets
// shown is kept in sessionStorage["e2e_wx_sheets"].
func wechatBridge(actions ...string) string {
	a, _ := json.Marshal(actions)
	return `(function () {
  try { if (!window.sessionStorage) return; } catch (e) { return; }
  var actions = ` + string(a) + `;
  function next() {
    var n = +(sessionStorage.getItem("e2e_wx_sheets") || 0);
    sessionStorage.setItem("e2e_wx_sheets", n + 1);
    return actions[Math.min(n, actions.length - 1)];
  }
  function install() {
    window.WeixinJSBridge = {
      invoke: function (name, params, cb) {
        if (name !== "getBrandWCPayRequest") { cb({ err_msg: name + ":fail" }); return; }
        var body = {};
        for (var k in params) body[k] = params[k];
        body.action = next();
        fetch("/sandbox/payer/wechat-jsapi", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
          .then(function (r) { return r.json(); })
          .then(function (j) { setTimeout(function () { cb({ err_msg: j.err_msg || "get_brand_wcpay_request:fail" }); }, 150); },
                function () { cb({ err_msg: "get_brand_wcpay_request:fail" }); });
      },
      on: function () {},
      call: function () {}
    };
    var e = document.createEvent("Event");
    e.initEvent("WeixinJSBridgeReady", true, true);
    document.dispatchEvent(e);
  }
  document.addEventListener("DOMContentLoaded", function () { setTimeout(install, 80); });
})();`
}

// alipayBridge is the AlipayJSBridge stand-in: tradePay hands the trade_no
// to the sandbox's payer action and calls back with its resultCode
// (9000 paid, 6001 cancelled). actions as for wechatBridge; the count is in
// sessionStorage["e2e_ali_sheets"].
func alipayBridge(actions ...string) string {
	a, _ := json.Marshal(actions)
	return `(function () {
  try { if (!window.sessionStorage) return; } catch (e) { return; }
  var actions = ` + string(a) + `;
  function next() {
    var n = +(sessionStorage.getItem("e2e_ali_sheets") || 0);
    sessionStorage.setItem("e2e_ali_sheets", n + 1);
    return actions[Math.min(n, actions.length - 1)];
  }
  function install() {
    window.AlipayJSBridge = {
      call: function (name, opts, cb) {
        if (name !== "tradePay") { cb({ error: 1 }); return; }
        fetch("/sandbox/payer/alipay-trade", { method: "POST", headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ tradeNO: opts.tradeNO, action: next() }) })
          .then(function (r) { return r.json(); })
          .then(function (j) { setTimeout(function () { cb({ resultCode: j.resultCode || "4000" }); }, 150); },
                function () { cb({ resultCode: "4000" }); });
      }
    };
    var e = document.createEvent("Event");
    e.initEvent("AlipayJSBridgeReady", true, true);
    document.dispatchEvent(e);
  }
  document.addEventListener("DOMContentLoaded", function () { setTimeout(install, 80); });
})();`
}

// miniProgramEnv is what a mini-program's web-view provides: the
// environment flag and wx.miniProgram (from the JS-SDK the merchant's
// mini-program page loads); navigateTo is recorded in
// sessionStorage["e2e_mp_nav"].
const miniProgramEnv = `(function () {
  try { if (!window.sessionStorage) return; } catch (e) { return; }
  window.__wxjs_environment = "miniprogram";
  window.wx = { miniProgram: { navigateTo: function (o) { sessionStorage.setItem("e2e_mp_nav", o.url); } } };
})();`

// miniProgramBridge is a mini-program web-view as WeChat gives it to a page
// that loads no JS-SDK: no window.wx, only WeixinJSBridge (announced with
// WeixinJSBridgeReady, with __wxjs_environment set), whose
// invokeMiniProgramAPI is what the SDK's wx.miniProgram.navigateTo calls.
// The call is recorded in sessionStorage["e2e_mp_invoke"], any other
// invoke's name in sessionStorage["e2e_mp_other"].
const miniProgramBridge = `(function () {
  try { if (!window.sessionStorage) return; } catch (e) { return; }
  function install() {
    window.__wxjs_environment = "miniprogram";
    window.WeixinJSBridge = {
      invoke: function (name, args, cb) {
        if (name === "invokeMiniProgramAPI") {
          sessionStorage.setItem("e2e_mp_invoke", JSON.stringify(args));
          if (cb) cb({ err_msg: "invokeMiniProgramAPI:ok" });
          return;
        }
        // WeChat refuses payments inside a web-view.
        sessionStorage.setItem("e2e_mp_other", name);
        if (cb) cb({ err_msg: name + ":fail" });
      },
      on: function () {},
      call: function () {}
    };
    var e = document.createEvent("Event");
    e.initEvent("WeixinJSBridgeReady", true, true);
    document.dispatchEvent(e);
  }
  document.addEventListener("DOMContentLoaded", function () { setTimeout(install, 80); });
})();`

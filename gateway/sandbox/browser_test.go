package sandbox

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/wallet-checkout/checkout/gateway"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts headless Chromium, mobile-sized, and records every URL the
// page requests.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("headless Chromium test skipped: %s is absent (apt-get install -y chromium fonts-noto-cjk)", chromiumPath)
	}
	// Not t.TempDir(): a path named after the test makes the socket's
	// path longer than a Unix socket's limit, and Chromium stops.
	tmp, err := os.MkdirTemp("", "chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(tmp) })
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.WindowSize(390, 844),
		chromedp.UserAgent("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47"),
		// Chromium's singleton socket folder (org.chromium.Chromium.*) goes
		// to TMPDIR and stays when the browser is stopped: into a folder of
		// the test's own, removed when the test ends.
		chromedp.Env("TMPDIR="+tmp),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	// The first call on ctx starts the browser, so ctx itself carries no
	// timeout (it would stop the browser); the test's actions get one.
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	var mu sync.Mutex
	var urls []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			urls = append(urls, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("network tracking: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(1))); err != nil {
		t.Fatalf("mobile viewport: %v", err)
	}
	tctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancelTimeout)
	return tctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), urls...)
	}
}

// artifactsDir is where screenshots go: ARTIFACTS_DIR when set, else a
// folder of the test's own, removed when it ends, so a run leaves nothing
// in the temporary directory.
func artifactsDir(t *testing.T) string {
	if d := os.Getenv("ARTIFACTS_DIR"); d != "" {
		return d
	}
	return t.TempDir()
}

func TestBrowserHostedPayPage(t *testing.T) {
	e := newEnv(t, Config{})
	ctx, requested := browser(t)
	landed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!DOCTYPE html><p id="landed">merchant result page</p>`))
	}))
	defer landed.Close()

	tests := []struct {
		name       string
		button     string
		wantStatus gateway.Status // in the jump query
		orderAfter gateway.Status
		screenshot bool
	}{
		{"pay", `[data-testid="sandbox-pay"]`, gateway.StatusPaid, gateway.StatusPaid, true},
		{"cancel", `[data-testid="sandbox-cancel"]`, gateway.StatusCanceled, gateway.StatusAwaiting, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			outNo := "BR" + itoa(int64(i))
			d := e.in(t).mustCall("payorder", payload(outNo, "Weixin", 8800, "jump_url", landed.URL+"/result/back", "ord_name", "沙箱测试 · 年卡"))
			payURL := str(d, "jsapi_pay_url")
			if err := chromedp.Do(ctx,
				chromedp.Navigate(payURL),
				chromedp.WaitVisible(chromedp.CSS(tc.button)),
			); err != nil {
				t.Fatalf("opening %s: %v", payURL, err)
			}
			text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"确认支付 / Pay", "取消 / Cancel", "88.00", "沙箱测试 · 年卡"} {
				if !strings.Contains(text, want) {
					t.Errorf("pay page lacks %q: %s", want, text)
				}
			}
			if tc.screenshot {
				png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(artifactsDir(t), "sandbox-pay-page.png")
				if err := os.WriteFile(path, png, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("pay page screenshot: %s", path)
			}
			if err := chromedp.Do(ctx,
				chromedp.Click(chromedp.CSS(tc.button)),
				chromedp.WaitVisible(chromedp.ID("landed")),
			); err != nil {
				t.Fatalf("pressing %s: %v", tc.name, err)
			}
			loc, err := chromedp.Run(ctx, chromedp.Location())
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(loc)
			if err != nil || !strings.HasPrefix(loc, landed.URL+"/result/back?") {
				t.Fatalf("landed on %q", loc)
			}
			cb, err := gateway.VerifyCallback(testKey, u.Query())
			if err != nil {
				t.Fatalf("jump query does not verify: %v", err)
			}
			if cb.OrdNo != str(d, "ord_no") || cb.OutNo != outNo || cb.Status != tc.wantStatus || len(cb.RandStr) != 128 {
				t.Fatalf("jump callback %+v", cb)
			}
			if o, _ := e.s.Order(testOpenID, outNo); o.Status != tc.orderAfter {
				t.Fatalf("order status %d after %s, want %d", o.Status, tc.name, tc.orderAfter)
			}
		})
	}
	for _, u := range requested() {
		if !strings.HasPrefix(u, e.ts.URL) && !strings.HasPrefix(u, landed.URL) {
			t.Errorf("the page requested a third party: %s", u)
		}
	}
}

func TestBrowserConsoleMounted(t *testing.T) {
	s, err := New(Config{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddStore(Store{OpenID: testOpenID, OpenKey: testOpenKey}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/sandbox/", http.StripPrefix("/sandbox", s.Handler()))
	ts := httptest.NewServer(mux)
	defer ts.Close()
	ctx, _ := browser(t)
	e := &env{t: t, s: s, ts: ts, base: ts.URL + "/sandbox/mct1"}
	e.mustCall("payorder", payload("BC1", "Alipay", 100))
	if err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/sandbox/"),
		chromedp.Click(chromedp.CSS(`[data-testid="sandbox-console-pay"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sandbox-console-empty"]`)),
	); err != nil {
		t.Fatalf("paying from the console: %v", err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || loc != ts.URL+"/sandbox/" {
		t.Fatalf("console came back at %q: %v", loc, err)
	}
	if o, _ := s.Order(testOpenID, "BC1"); o.Status != gateway.StatusPaid {
		t.Fatalf("status %d", o.Status)
	}
}

// TestBrowserBridgeStandInFetchesCrossOrigin plays what the checkout's
// browser tests do: a WeixinJSBridge stand-in, in a page of another origin,
// fetches the sandbox's payer endpoint with the six parameters.
func TestBrowserBridgeStandInFetchesCrossOrigin(t *testing.T) {
	e := newEnv(t, Config{})
	if err := e.s.BindAppID(testOpenID, "Weixin", testAppID); err != nil {
		t.Fatal(err)
	}
	raw, err := e.call("payorder", payload("BS1", "Weixin", 100, "JSAPI", "1", "sub_appid", testAppID, "sub_openid", "oBS1"))
	if err != nil {
		t.Fatal(err)
	}
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!DOCTYPE html><pre id="out"></pre><script>
const d = ` + string(raw) + `;
const p = {};
for (const k of ["appId","timeStamp","nonceStr","package","signType","paySign"]) p[k] = String(d[k]).trim();
window.WeixinJSBridge = {invoke(name, params, cb) {
  fetch("` + e.ts.URL + PathPayerWeChatJSAPI + `", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(params)})
    .then(r => r.json()).then(cb, err => cb({err_msg: "get_brand_wcpay_request:fail " + err}));
}};
WeixinJSBridge.invoke("getBrandWCPayRequest", p, res => {
  const o = document.getElementById("out"); o.textContent = res.err_msg; o.className = "done";
});
</script>`))
	}))
	defer merchant.Close()
	ctx, _ := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(merchant.URL), chromedp.WaitVisible(chromedp.CSS("#out.done"))); err != nil {
		t.Fatal(err)
	}
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("out")))
	if err != nil || msg != "get_brand_wcpay_request:ok" {
		t.Fatalf("bridge answered %q: %v", msg, err)
	}
	if o, _ := e.s.Order(testOpenID, "BS1"); o.Status != gateway.StatusPaid {
		t.Fatalf("status %d", o.Status)
	}
}

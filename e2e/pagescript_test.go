package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/a-h/templ"

	"github.com/wallet-checkout/checkout/web/static"
	"github.com/wallet-checkout/checkout/web/templates"
)

// scriptServer serves the pages with scripted answers, to drive the page
// script through what the real service rarely does on cue: a bridge that
// fails, Alipay's "processing" codes, a stream that never connects, a
// status that changes after it was final. Same CSP as the service.
type scriptServer struct {
	t   *testing.T
	srv *httptest.Server

	mu          sync.Mutex
	statuses    []string // answers of /status in order; the last one repeats
	statusCalls int
	inflight    int
	maxInflight int
	checkCalls  int
	pay         func(w http.ResponseWriter, body map[string]string)
	sse         bool // /events streams statuses instead of failing
	// ssePaid, when set, holds the stream's "paid" until it is closed, so
	// a test sees the "pending" view first however slow the machine.
	ssePaid chan struct{}
	// pollHint, when set, is the poll_ms of the polling hint /events
	// answers (the service's streams are capped).
	pollHint    int
	eventsCalls int
	// statusDelay holds each /status answer; longer than the page's poll
	// period, so a page that does not wait for its last request overlaps.
	statusDelay time.Duration
	// checkStatus, when set, is what /check answers, after checkDelay.
	checkStatus string
	checkDelay  time.Duration
}

const scriptID = "co_script"

func newScriptServer(t *testing.T) *scriptServer {
	t.Helper()
	ss := &scriptServer{t: t, statusDelay: 400 * time.Millisecond, checkStatus: "pending"}
	mux := http.NewServeMux()
	mux.Handle("/static/", http.StripPrefix("/static/", static.Handler()))
	page := func(c templ.Component) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			nonce := "n0nce"
			h := w.Header()
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self' 'nonce-"+nonce+"'; style-src 'self' 'nonce-"+nonce+
				"'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'")
			_ = c.Render(templ.WithNonce(r.Context(), nonce), w)
		}
	}
	base := "/c/" + scriptID
	view := func(action string) templates.CheckoutView {
		return templates.CheckoutView{
			Page: templates.NewPage(templates.LangZhHans, "n0nce"), ID: scriptID, MerchantName: "脚本商户", Description: "测试",
			Amount: templates.FormatFen(100), AmountFen: 100, ExpiresAt: time.Now().Add(10 * time.Minute), Status: "open",
			Action: action, PayURL: base + "/pay", CSRFToken: "tok", StatusURL: base + "/status", EventsURL: base + "/events",
			ResultURL: base + "/result", CheckURL: base + "/check", Wallets: []string{"wechat", "alipay"},
		}
	}
	mux.Handle("GET "+base+"/wechat", page(templates.CheckoutPage(view(templates.ActionWeChatJSAPI))))
	mux.Handle("GET "+base+"/alipay", page(templates.CheckoutPage(view(templates.ActionAlipayJSAPI))))
	mux.Handle("GET "+base+"/result", page(templates.ResultPage(templates.ResultView{
		Page: templates.NewPage(templates.LangZhHans, "n0nce"), ID: scriptID, MerchantName: "脚本商户",
		Amount: templates.FormatFen(100), AmountFen: 100, Status: "pending", SuccessURL: "/done",
		CheckoutURL: base + "/wechat", StatusURL: base + "/status", EventsURL: base + "/events", CheckURL: base + "/check",
		CSRFToken: "tok", CheckAfter: 300 * time.Millisecond,
	})))
	mux.HandleFunc("GET "+base+"/status", func(w http.ResponseWriter, r *http.Request) {
		ss.mu.Lock()
		ss.inflight++
		ss.maxInflight = max(ss.maxInflight, ss.inflight)
		i := min(ss.statusCalls, len(ss.statuses)-1)
		ss.statusCalls++
		st := ss.statuses[i]
		ss.mu.Unlock()
		time.Sleep(ss.statusDelay)
		ss.mu.Lock()
		ss.inflight--
		ss.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"status": st, "late": false})
	})
	mux.HandleFunc("POST "+base+"/check", func(w http.ResponseWriter, r *http.Request) {
		ss.mu.Lock()
		ss.checkCalls++
		st, delay := ss.checkStatus, ss.checkDelay
		ss.mu.Unlock()
		if r.Header.Get("X-CSRF-Token") != "tok" {
			writeJSON(w, http.StatusForbidden, map[string]any{"error": map[string]string{"code": "csrf"}})
			return
		}
		time.Sleep(delay)
		writeJSON(w, http.StatusOK, map[string]any{"status": st})
	})
	mux.HandleFunc("GET "+base+"/events", func(w http.ResponseWriter, r *http.Request) {
		ss.mu.Lock()
		sse, hint, release := ss.sse, ss.pollHint, ss.ssePaid
		ss.eventsCalls++
		ss.mu.Unlock()
		if hint > 0 {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "retry: %d\n\nevent: poll\ndata: {\"poll_ms\":%d,\"status_url\":%q}\n\n", hint, hint, base+"/status")
			return
		}
		if !sse {
			http.Error(w, "no stream here", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		fl := w.(http.Flusher)
		fmt.Fprint(w, "retry: 60000\n\ndata: {\"status\":\"pending\"}\n\n")
		fl.Flush()
		if release != nil {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		} else {
			time.Sleep(300 * time.Millisecond)
		}
		fmt.Fprint(w, "event: status\ndata: {\"status\":\"paid\",\"late\":false}\n\n")
		fl.Flush()
		time.Sleep(300 * time.Millisecond)
		// A status after the final one must change nothing.
		fmt.Fprint(w, "data: {\"status\":\"expired\"}\n\n")
		fl.Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("POST "+base+"/pay", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-CSRF-Token") != "tok" {
			writeJSON(w, http.StatusForbidden, map[string]any{"error": map[string]string{"code": "csrf", "message": "bad token"}})
			return
		}
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		ss.mu.Lock()
		pay := ss.pay
		ss.mu.Unlock()
		pay(w, body)
	})
	mux.HandleFunc("GET /done", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!DOCTYPE html><link rel="icon" href="data:,"><p data-testid="done">done</p>`)
	})
	ss.srv = httptest.NewServer(mux)
	t.Cleanup(ss.srv.Close)
	return ss
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (ss *scriptServer) stats() (calls, maxInflight, checks int) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.statusCalls, ss.maxInflight, ss.checkCalls
}

// TestScriptPollingLatch: with the event stream down, the result page polls
// one request at a time (each answer takes longer than the poll period),
// asks for a check, turns paid on the first final status, and then stops:
// the check's late "expired" never shows.
func TestScriptPollingLatch(t *testing.T) {
	t.Parallel()
	ss := newScriptServer(t)
	ss.statuses = []string{"paid", "expired"}
	ss.statusDelay = 2300 * time.Millisecond
	ss.checkStatus, ss.checkDelay = "expired", 3*time.Second
	tb := newTab(t, &stack{url: ss.srv.URL}, wechatPhone)
	tb.allow(`status of 503`)
	tb.allow(`EventSource`)
	tb.open(ss.srv.URL+"/c/"+scriptID+"/result", "[data-testid=result-pending]")
	tb.visible("[data-testid=result-paid]")
	calls, _, _ := ss.stats()
	time.Sleep(2500 * time.Millisecond)
	if v := eval[string](tb, `document.getElementById("app").dataset.view`); v != "paid" {
		t.Errorf("view %q after the final status, want paid (latched)", v)
	}
	after, maxIn, checks := ss.stats()
	if maxIn != 1 {
		t.Errorf("%d status requests in flight at once, want 1", maxIn)
	}
	if after != calls {
		t.Errorf("the page kept polling after paid: %d → %d requests", calls, after)
	}
	if checks == 0 {
		t.Error("the page never asked for a check while pending")
	}
	tb.screenshot("latched-paid")
}

// TestScriptStream: statuses arrive on the event stream (named and unnamed
// events); the first final one latches.
func TestScriptStream(t *testing.T) {
	t.Parallel()
	ss := newScriptServer(t)
	ss.sse = true
	ss.ssePaid = make(chan struct{})
	ss.statuses = []string{"pending"}
	tb := newTab(t, &stack{url: ss.srv.URL}, wechatPhone)
	// The stream holds "paid" until the pending view has been seen: a
	// slow machine must not pass the pending view before the wait for it.
	tb.open(ss.srv.URL+"/c/"+scriptID+"/result", "[data-testid=result-pending]")
	close(ss.ssePaid)
	tb.visible("[data-testid=result-paid]")
	time.Sleep(time.Second)
	if v := eval[string](tb, `document.getElementById("app").dataset.view`); v != "paid" {
		t.Errorf("view %q after a later event, want paid (latched)", v)
	}
}

// TestScriptPollHint: when the service's streams are capped, /events
// answers the polling hint; the page closes the stream for good (no
// reconnect, though the hint's retry is short) and polls /status at the
// hint's interval, not its own 2 s, until the final status.
func TestScriptPollHint(t *testing.T) {
	t.Parallel()
	ss := newScriptServer(t)
	ss.statuses = []string{"pending"}
	ss.statusDelay = 0
	ss.checkStatus = "pending"
	ss.pollHint = 600
	tb := newTab(t, &stack{url: ss.srv.URL}, wechatPhone)
	tb.open(ss.srv.URL+"/c/"+scriptID+"/result", "[data-testid=result-pending]")
	// At 2 s a period, ten polls would take twenty seconds.
	start := time.Now()
	deadline := time.Now().Add(14 * time.Second)
	for {
		calls, _, _ := ss.stats()
		if calls >= 10 {
			t.Logf("ten polls in %v", time.Since(start).Round(100*time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d status polls; the page does not poll at the hint's interval", calls)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ss.mu.Lock()
	ss.statuses = []string{"paid"}
	ss.statusCalls = 0
	events := ss.eventsCalls
	ss.mu.Unlock()
	if events != 1 {
		t.Errorf("the page opened the event stream %d times, want once", events)
	}
	tb.visible("[data-testid=result-paid]")
}

// TestScriptBridgeOutcomes drives the pay button through every answer of
// the two bridges and of the pay endpoint.
func TestScriptBridgeOutcomes(t *testing.T) {
	t.Parallel()
	wechatPay := func(w http.ResponseWriter, body map[string]string) {
		writeJSON(w, http.StatusOK, map[string]any{"kind": "wechat_jsapi", "result_url": "/c/" + scriptID + "/result",
			"wechat": map[string]string{"appId": "wx1", "timeStamp": "1", "nonceStr": "n", "package": "prepay_id=p", "signType": "MD5", "paySign": "S"}})
	}
	alipayPay := func(w http.ResponseWriter, body map[string]string) {
		writeJSON(w, http.StatusOK, map[string]any{"kind": "alipay_jsapi", "trade_no": "2026T1", "result_url": "/c/" + scriptID + "/result"})
	}
	// A bridge that answers with a fixed result and records what it got.
	wxBridge := func(errMsg string) string {
		return `window.addEventListener("DOMContentLoaded", function () {
  window.WeixinJSBridge = { invoke: function (n, p, cb) { window.__got = JSON.stringify(p); setTimeout(function () { cb({ err_msg: "` + errMsg + `" }); }, 50); } };
});`
	}
	aliBridge := func(code string) string {
		return `window.addEventListener("DOMContentLoaded", function () {
  window.AlipayJSBridge = { call: function (n, o, cb) { window.__got = JSON.stringify(o); setTimeout(function () { cb({ resultCode: "` + code + `" }); }, 50); } };
});`
	}
	tests := []struct {
		name    string
		page    string
		pay     func(http.ResponseWriter, map[string]string)
		bridge  string
		toPage  string // the page the payer ends on: "result" or "" (stays)
		message string // part of the message shown when staying
	}{
		{"wechat ok", "wechat", wechatPay, wxBridge("get_brand_wcpay_request:ok"), "result", ""},
		// The bridge shows up after the click (the test adds it then, with
		// window.__addBridge: a timer raced a loaded machine's click): the
		// page waits for WeixinJSBridgeReady instead of failing.
		{"wechat late bridge", "wechat", wechatPay, `window.__addBridge = function () {
  window.WeixinJSBridge = { invoke: function (n, p, cb) { cb({ err_msg: "get_brand_wcpay_request:ok" }); } };
  var e = document.createEvent("Event"); e.initEvent("WeixinJSBridgeReady", true, true); document.dispatchEvent(e);
};`, "result", ""},
		{"alipay late bridge", "alipay", alipayPay, `window.__addBridge = function () {
  window.AlipayJSBridge = { call: function (n, o, cb) { cb({ resultCode: "9000" }); } };
  var e = document.createEvent("Event"); e.initEvent("AlipayJSBridgeReady", true, true); document.dispatchEvent(e);
};`, "result", ""},
		{"wechat cancel", "wechat", wechatPay, wxBridge("get_brand_wcpay_request:cancel"), "", "取消"},
		{"wechat fail", "wechat", wechatPay, wxBridge("get_brand_wcpay_request:fail"), "", "未成功"},
		{"alipay 9000", "alipay", alipayPay, aliBridge("9000"), "result", ""},
		{"alipay 8000 processing", "alipay", alipayPay, aliBridge("8000"), "result", ""},
		{"alipay 6004 unknown", "alipay", alipayPay, aliBridge("6004"), "result", ""},
		{"alipay 6001 cancel", "alipay", alipayPay, aliBridge("6001"), "", "取消"},
		{"alipay 4000 failed", "alipay", alipayPay, aliBridge("4000"), "", "未成功"},
		{"pay endpoint refuses", "wechat", func(w http.ResponseWriter, _ map[string]string) {
			writeJSON(w, http.StatusConflict, map[string]any{"error": map[string]string{"code": "checkout_expired", "message": "订单已过期"}})
		}, wxBridge("get_brand_wcpay_request:ok"), "", "订单已过期"},
		{"pay endpoint garbage", "wechat", func(w http.ResponseWriter, _ map[string]string) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"kind":"teleport"}`))
		}, wxBridge("get_brand_wcpay_request:ok"), "", "暂时无法"},
	}
	ss := newScriptServer(t)
	ss.statuses = []string{"pending"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ss.mu.Lock()
			ss.pay = tt.pay
			ss.mu.Unlock()
			tb := newTab(t, &stack{url: ss.srv.URL}, wechatPhone, tt.bridge)
			tb.allow(`status of 409`)
			tb.allow(`status of 503`)
			tb.open(ss.srv.URL+"/c/"+scriptID+"/"+tt.page, "[data-testid=pay-button]")
			tb.click("[data-testid=pay-button]")
			if strings.Contains(tt.name, "late") {
				if eval[bool](tb, `!!(window.WeixinJSBridge || window.AlipayJSBridge)`) {
					t.Error("the bridge was already there at the click")
				}
				eval[bool](tb, `window.__addBridge(), true`)
			}
			if tt.toPage == "result" {
				tb.waitFor("the result page", `location.pathname.endsWith("/result")`)
				return
			}
			tb.waitFor("the message", `document.querySelector("[data-testid=message]").textContent.indexOf(`+jsString(tt.message)+`) >= 0`)
			tb.waitFor("the button again", `!document.querySelector("[data-testid=pay-button]").disabled`)
			if strings.HasSuffix(tb.location(), "/result") {
				t.Error("left the page")
			}
			if tt.name == "wechat cancel" || tt.name == "wechat fail" {
				got := eval[string](tb, `window.__got || ""`)
				for _, k := range []string{`"appId":"wx1"`, `"package":"prepay_id=p"`, `"paySign":"S"`} {
					if !strings.Contains(got, k) {
						t.Errorf("bridge got %s, missing %s", got, k)
					}
				}
				tb.screenshot(tt.name)
			}
		})
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

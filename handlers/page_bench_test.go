package handlers_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// Benchmarks of the payer endpoints through the whole router against real
// Redis: what one page view, one status poll and one QR image cost.
//
//	go test ./handlers -run '^$' -bench 'Page|PayStatus|PayQR' -benchmem

func benchGet(b *testing.B, e *pgEnv, path, ua string, cookies ...*http.Cookie) {
	b.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	req.Header.Set("User-Agent", ua)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	cl := e.srv.Client()
	rt := &roundTrips{}
	e.rdb.AddHook(rt)
	b.ReportAllocs()
	for b.Loop() {
		res, err := cl.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		// Read to the end, so that the connection is kept: a benchmark of
		// a new connection per request measures the dial.
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("%s: %d", path, res.StatusCode)
		}
	}
	b.ReportMetric(float64(rt.n.Load())/float64(b.N), "redis_rt/op")
}

// discardWriter is a ResponseWriter that keeps only the headers: what the
// server side of a request costs, without a connection.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkCheckoutPageHandler is the server's own share of a page view:
// the router and every middleware, the Redis read and the page, without
// net/http's connection or a client. Its allocations are the page's.
func BenchmarkCheckoutPageHandler(b *testing.B) {
	e := newPgEnv(b)
	ck := e.newCheckout("native", 1234)
	req := httptest.NewRequest("GET", "/c/"+ck.ID, nil)
	req.Header.Set("User-Agent", uaDesktop)
	req.RemoteAddr = "192.0.2.7:1234"
	b.ReportAllocs()
	for b.Loop() {
		w := &discardWriter{h: http.Header{}}
		e.app.Handler.ServeHTTP(w, req)
	}
}

func BenchmarkCheckoutPageDesktop(b *testing.B) {
	e := newPgEnv(b)
	ck := e.newCheckout("native", 1234)
	benchGet(b, e, "/c/"+ck.ID, uaDesktop)
}

// BenchmarkCheckoutPageWeChatSession is a returning payer's view: in
// WeChat, with the session (and its openid) the first visit's OAuth made.
func BenchmarkCheckoutPageWeChatSession(b *testing.B) {
	e := newPgEnv(b)
	ck := e.newCheckout("native", 1234)
	br := e.browser(uaWeChatIOS, "bench")
	if r, action, _ := br.openPage(ck.ID); r.status != 200 || action != "wechat_jsapi" {
		b.Fatalf("page after OAuth: %d %q", r.status, action)
	}
	u, _ := url.Parse(e.srv.URL)
	benchGet(b, e, "/c/"+ck.ID, uaWeChatIOS, br.c.Jar.Cookies(u)...)
}

// BenchmarkResultPage is the result page of a checkout not yet paid.
func BenchmarkResultPage(b *testing.B) {
	e := newPgEnv(b)
	ck := e.newCheckout("native", 1234)
	benchGet(b, e, "/c/"+ck.ID+"/result", uaDesktop)
}

func BenchmarkPayStatus(b *testing.B) {
	e := newPgEnv(b)
	ck := e.newCheckout("native", 1234)
	benchGet(b, e, "/c/"+ck.ID+"/status", uaDesktop)
}

func BenchmarkPayQRCode(b *testing.B) {
	e := newPgEnv(b)
	ck := e.newCheckout("native", 1234)
	br := e.browser(uaDesktop, "bench")
	_, _, csrf := br.openPage(ck.ID)
	if r := br.pay(ck.ID, csrf, map[string]string{"wallet": "wechat", "scenario": "qr"}); r.status != 200 {
		b.Fatalf("pay: %d %s", r.status, r.body)
	}
	benchGet(b, e, "/c/"+ck.ID+"/qr/1.svg", uaDesktop)
}

// BenchmarkPayReuse is a reload's or a double click's "Pay": lock, read,
// hand out the stored parameters; no gateway call.
func BenchmarkPayReuse(b *testing.B) {
	e := newPgEnv(b)
	ck := e.newCheckout("native", 1234)
	br := e.browser(uaDesktop, "bench")
	_, _, csrf := br.openPage(ck.ID)
	b.ReportAllocs()
	for b.Loop() {
		if r := br.pay(ck.ID, csrf, map[string]string{"wallet": "alipay", "scenario": "qr"}); r.status != 200 {
			b.Fatalf("pay: %d %s", r.status, r.body)
		}
	}
	if n := len(e.gw.orders()); n != 1 {
		b.Fatalf("%d payorders", n)
	}
}

// BenchmarkCheckoutPageParallel is the page under load: 64 requests in
// flight, as the load harness sends them (for CPU profiles under load).
func BenchmarkCheckoutPageParallel(b *testing.B) {
	e := newPgEnv(b)
	ck := e.newCheckout("native", 1234)
	tr := &http.Transport{MaxIdleConnsPerHost: 128}
	b.Cleanup(tr.CloseIdleConnections)
	cl := &http.Client{Transport: tr}
	rt := &roundTrips{}
	e.rdb.AddHook(rt)
	b.SetParallelism(32) // × GOMAXPROCS (2 here): 64 in flight
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", e.srv.URL+"/c/"+ck.ID, nil)
			req.Header.Set("User-Agent", uaDesktop)
			res, err := cl.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(rt.n.Load())/float64(b.N), "redis_rt/op")
}

package sandbox

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/gateway"
)

func benchServer(b *testing.B) *Server {
	b.Helper()
	clock := NewManualClock(t0)
	s, err := New(Config{Clock: clock.Now, Timers: clock, Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	if err := s.AddStore(Store{OpenID: testOpenID, OpenKey: testOpenKey}); err != nil {
		b.Fatal(err)
	}
	return s
}

func serve(b *testing.B, h http.Handler, endpoint, form string) {
	req := httptest.NewRequest(http.MethodPost, "/mct1/"+endpoint, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.HasPrefix(rec.Body.String(), `{"errcode":0`) {
		b.Fatalf("%s: %s", endpoint, rec.Body.String())
	}
}

// BenchmarkPayOrder measures the server's side of a C-scans-B payorder:
// form parsing, sign check, decryption, validation, the order and the
// signed, encrypted answer. The requests are sealed before the timer runs.
func BenchmarkPayOrder(b *testing.B) {
	s := benchServer(b)
	h := s.Handler()
	forms := make([]string, b.N)
	for i := range forms {
		p := `{"out_no":"B` + itoa(int64(i)) + `","pmt_tag":"Weixin","original_amount":100,"trade_amount":100,"ord_name":"bench"}`
		forms[i] = gateway.SealRequest(testKey, testOpenID, t0.Unix(), []byte(p)).Encode()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		serve(b, h, "payorder", forms[i])
	}
}

// BenchmarkPayStatus measures paystatus of a paid order, in parallel.
func BenchmarkPayStatus(b *testing.B) {
	s := benchServer(b)
	h := s.Handler()
	serve(b, h, "payorder", gateway.SealRequest(testKey, testOpenID, t0.Unix(), []byte(`{"out_no":"S1","pmt_tag":"Weixin","original_amount":100,"trade_amount":100,"auth_code":"134567890123456789"}`)).Encode())
	form := gateway.SealRequest(testKey, testOpenID, t0.Unix(), []byte(`{"out_no":"S1"}`)).Encode()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			serve(b, h, "paystatus", form)
		}
	})
}

// BenchmarkEncodeOrderQuirks measures the PHP-style writer on a full order.
func BenchmarkEncodeOrderQuirks(b *testing.B) {
	s := benchServer(b)
	serve(b, s.Handler(), "payorder", gateway.SealRequest(testKey, testOpenID, t0.Unix(), []byte(`{"out_no":"E1","pmt_tag":"Weixin","original_amount":100,"trade_amount":100,"ord_name":"咖啡/coffee"}`)).Encode())
	o := s.orders[s.Orders(testOpenID)[0].OrdNo]
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = s.orderObject(o, true).encode(true)
	}
}

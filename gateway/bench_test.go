package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"
)

// Benchmarks of the hot paths. Run:
//
//	go test -run '^$' -bench . -benchmem ./gateway

func typicalPayOrder() *PayOrderRequest {
	return &PayOrderRequest{
		OutNo: "co7Hq2mXk9PzL4bN8tR1vWc3A1", PmtTag: "Weixin", OrdName: "星巴克 大杯拿铁 ×2",
		OriginalAmount: 6400, DiscountAmount: 400, TradeAmount: 6000,
		NotifyURL: "https://pay.example.com/notify/st_demo",
		JSAPI:     true, SubAppID: "wxde66bf91cac57773", SubOpenID: "oRBXQs6pH6F9R5Yw4dkJ8y9aXPqA",
	}
}

// typicalAnswer is a payorder answer for the native WeChat JSAPI scenario,
// as the server writes it.
func typicalAnswer(b *testing.B, key Key) []byte {
	plain, err := os.ReadFile("testdata/responses/payorder_wechat_jsapi.json")
	if err != nil {
		b.Fatal(err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	data := Encrypt(key, plain)
	sign := Sign(key, []Field{{"errcode", "0"}, {"msg", "ok"}, {"timestamp", ts}, {"data", data}})
	return []byte(`{"errcode":0,"msg":"ok","timestamp":` + ts + `,"data":"` + data + `","sign":"` + sign + `"}`)
}

func BenchmarkSign(b *testing.B) {
	key := MustParseKey(docKey)
	fields := []Field{{"open_id", docOpenID}, {"timestamp", "1497957842"}, {"data", docData}}
	b.ReportAllocs()
	for b.Loop() {
		Sign(key, fields)
	}
}

func BenchmarkSealPayOrder(b *testing.B) {
	key := MustParseKey(docKey)
	r := typicalPayOrder()
	b.ReportAllocs()
	for b.Loop() {
		f := SealRequest(key, docOpenID, 1497957842, r.encode())
		_ = f.Encode()
	}
}

func BenchmarkOpenPayOrderAnswer(b *testing.B) {
	key := MustParseKey(docKey)
	body := typicalAnswer(b, key)
	b.ReportAllocs()
	for b.Loop() {
		plain, err := OpenResponse(key, EndpointPayOrder, body)
		if err != nil {
			b.Fatal(err)
		}
		var out PayOrderResult
		if err := decodeJSON(plain, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPayOrderCrypto is the target: encrypt+sign of a typical
// payorder and decrypt+verify+decode of its answer, without the network.
func BenchmarkPayOrderCrypto(b *testing.B) {
	key := MustParseKey(docKey)
	r := typicalPayOrder()
	body := typicalAnswer(b, key)
	b.ReportAllocs()
	for b.Loop() {
		f := SealRequest(key, docOpenID, 1497957842, r.encode())
		_ = f.Encode()
		plain, err := OpenResponse(key, EndpointPayOrder, body)
		if err != nil {
			b.Fatal(err)
		}
		var out PayOrderResult
		if err := decodeJSON(plain, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPayStatusRoundTrip is a whole paystatus call against an
// in-process server over loopback HTTP.
func BenchmarkPayStatusRoundTrip(b *testing.B) {
	key := MustParseKey(docKey)
	plain, err := os.ReadFile("testdata/responses/paystatus.json")
	if err != nil {
		b.Fatal(err)
	}
	f := &fakeGateway{t: &testing.T{}, key: key, openID: testOpenID}
	srv := newBenchServer(f, plain)
	defer srv.Close()
	st, err := NewStore(srv.URL+"/mct1", testOpenID, docKey, "")
	if err != nil {
		b.Fatal(err)
	}
	c := NewClient()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.PayStatus(ctx, st, ByOutNo("12345")); err != nil {
			b.Fatal(err)
		}
	}
}

func newBenchServer(f *fakeGateway, plain []byte) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		if _, err := OpenRequest(f.key, r.PostForm); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Write(f.envelope(CodeOK, "ok", plain))
	}))
}

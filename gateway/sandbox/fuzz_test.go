package sandbox

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/wallet-checkout/checkout/gateway"
)

var updateSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite testdata/fuzz seed corpora")

var fuzzEndpoints = []string{"paylist", "order", "order/view", "payorder", "paystatus", "paycancel", "payrefund", "mpconfig/add", "mpconfig/query"}

// fuzzServer is shared by the fuzz iterations: a fixed clock (so sealed
// seeds stay valid) and the test store.
var fuzzServer = sync.OnceValue(func() *Server {
	clock := NewManualClock(t0)
	s, err := New(Config{Clock: clock.Now, Timers: clock, Logger: discardLogger()})
	if err != nil {
		panic(err)
	}
	if err := s.AddStore(Store{OpenID: testOpenID, OpenKey: testOpenKey}); err != nil {
		panic(err)
	}
	if err := s.BindAppID(testOpenID, "Weixin", testAppID); err != nil {
		panic(err)
	}
	return s
})

// FuzzProtocolRequest throws arbitrary bodies at the request parser and the
// endpoints: the server must never panic, must always answer HTTP 200 with
// an errcode, and whatever it answers with errcode 0 must verify.
func FuzzProtocolRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, endpoint uint8, contentType string, body []byte) {
		s := fuzzServer()
		name := fuzzEndpoints[int(endpoint)%len(fuzzEndpoints)]
		req := httptest.NewRequest(http.MethodPost, "/mct1/"+name, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("HTTP %d", rec.Code)
		}
		env, err := gateway.ParseEnvelope(rec.Body.Bytes())
		if err != nil {
			t.Fatalf("answer %q: %v", rec.Body.Bytes(), err)
		}
		if env.Code == gateway.CodeOK {
			if _, err := gateway.OpenResponse(testKey, name, rec.Body.Bytes()); err != nil {
				t.Fatalf("success answer does not verify: %v", err)
			}
		} else if env.HasData || env.Sign != "" {
			t.Fatalf("error answer carries data or sign: %s", rec.Body.Bytes())
		}
	})
}

// FuzzPHPString checks that the PHP-style writer always produces JSON that
// decodes back to its input.
func FuzzPHPString(f *testing.F) {
	for _, s := range []string{"", "ok", "成功", "a/b", "😀", "\x00\x1f\"\\", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, quirks := range []bool{true, false} {
			out := appendString(nil, s, quirks)
			var back string
			if err := json.Unmarshal(out, &back); err != nil {
				t.Fatalf("quirks=%v %q → %s: %v", quirks, s, out, err)
			}
			if utf8.ValidString(s) && back != s {
				t.Fatalf("quirks=%v %q came back as %q", quirks, s, back)
			}
			if quirks && bytes.ContainsFunc(out, func(r rune) bool { return r >= utf8.RuneSelf }) {
				t.Fatalf("quirks output not ASCII: %s", out)
			}
		}
	})
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzProtocolRequest with
// -update-fuzz-seeds: valid sealed requests for every endpoint (on the fixed
// clock t0), a multipart one, and broken ones.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*updateSeeds {
		t.Skip("run with -update-fuzz-seeds to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzProtocolRequest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	form := "application/x-www-form-urlencoded"
	seal := func(p string) []byte {
		return []byte(gateway.SealRequest(testKey, testOpenID, t0.Unix(), []byte(p)).Encode())
	}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	sf := gateway.SealRequest(testKey, testOpenID, t0.Unix(), []byte(`{"pmt_type":"2,3,4"}`))
	for _, kv := range [][2]string{{"open_id", sf.OpenID}, {"timestamp", sf.Timestamp}, {"data", sf.Data}, {"sign", sf.Sign}} {
		_ = mw.WriteField(kv[0], kv[1])
	}
	mw.Close()
	seeds := []struct {
		ep   uint8
		ct   string
		body []byte
	}{
		{0, form, seal(`{"pmt_type":"2,3,4"}`)},
		{1, form, seal(`{"page":"2","pagesize":100,"status":1,"sdate":"2026-11-01","edate":"2026-11-30 23:59:59"}`)},
		{2, form, seal(`{"out_no":"X1"}`)},
		{3, form, seal(`{"out_no":"F1","pmt_tag":"Weixin","original_amount":100,"trade_amount":"100","ord_name":"\u6d4b\u8bd5"}`)},
		{3, form, seal(`{"out_no":"F2","pmt_tag":"Weixin","original_amount":100,"trade_amount":100,"auth_code":"134567890123456789"}`)},
		{3, form, seal(`{"out_no":"F3","pmt_tag":"Weixin","original_amount":100,"trade_amount":100,"JSAPI":"1","sub_appid":"` + testAppID + `","sub_openid":"o1"}`)},
		{3, form, seal(`{"out_no":"F4","pmt_tag":"Alipay","original_amount":100,"trade_amount":100,"JSAPI":1,"buyer_id":"2088"}`)},
		{3, form, seal(`{"out_no":"F5","pmt_tag":"Alipay","original_amount":1e2,"trade_amount":100.0,"jump_url":"https://m.example/j"}`)},
		{4, form, seal(`{"ord_no":"9000"}`)},
		{5, form, seal(`{"out_no":"F2"}`)},
		{6, form, seal(`{"out_no":"F2","refund_out_no":"FR1","refund_amount":1,"shop_pass":"7c4a8d09ca3762af61e59520943dc26494f8941b"}`)},
		{7, form, seal(`{"pmt_tag":"Weixin","sub_appid":"wx1"}`)},
		{8, form, seal(`[]`)},
		{3, form, seal(`{"out_no":["a"],"trade_amount":{"x":1}}`)},
		{3, form, seal(`not json`)},
		{0, mw.FormDataContentType(), mp.Bytes()},
		{0, "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"open_id\"\r\n\r\n" + testOpenID + "\r\n--x--")},
		{0, "application/json", []byte(`{"open_id":"` + testOpenID + `"}`)},
		{0, form, []byte("open_id=" + testOpenID + "&timestamp=" + strconv.FormatInt(t0.Unix(), 10) + "&data=ZZ&sign=00")},
		{0, form, []byte("open_id=%zz&&&=")},
		{0, "", nil},
	}
	for i, sd := range seeds {
		content := fmt.Sprintf("go test fuzz v1\nbyte(%q)\nstring(%q)\n[]byte(%q)\n", rune(sd.ep), sd.ct, sd.body)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%02d", i)), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

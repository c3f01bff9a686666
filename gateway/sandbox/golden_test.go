package sandbox

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden")

// lockedReader makes a seeded source safe for the sandbox's goroutines.
type lockedReader struct {
	mu sync.Mutex
	r  *rand.ChaCha8
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

func seeded() *lockedReader {
	return &lockedReader{r: rand.NewChaCha8([32]byte{'s', 'a', 'n', 'd', 'b', 'o', 'x'})}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file\n got: %s\nwant: %s", name, got, want)
	}
}

// TestGoldenWire pins the wire format, byte for byte, on a fixed clock and a
// seeded random source: the PHP-style data of each scenario, whole
// envelopes, and a notify query.
func TestGoldenWire(t *testing.T) {
	for _, quirks := range []bool{true, false} {
		mode := map[bool]string{true: "quirks", false: "plain"}[quirks]
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, Config{DisableQuirks: !quirks, Random: seeded(), PublicURL: "http://127.0.0.1:8080/sandbox"})
			if err := e.s.BindAppID(testOpenID, "Weixin", testAppID); err != nil {
				t.Fatal(err)
			}
			rcv := newReceiver(t, e.clock.Now, func(int) string { return "notify_success" })
			data := func(endpoint string, p any) []byte {
				t.Helper()
				d, err := e.call(endpoint, p)
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			qr := data("payorder", payload("G1", "Weixin", 100))
			golden(t, mode+"/payorder_qr.json", qr)
			golden(t, mode+"/payorder_wechat_jsapi.json", data("payorder", payload("G2", "Weixin", 100, "JSAPI", "1", "sub_appid", testAppID, "sub_openid", "oG2")))
			golden(t, mode+"/payorder_jump.json", data("payorder", payload("G3", "Alipay", 100, "jump_url", "https://merchant.example/back")))
			golden(t, mode+"/payorder_barcode.json", data("payorder", payload("G4", "Alipay", 100, "auth_code", "284567890123456789", "notify_url", rcv.url())))
			e.clock.Advance(0)
			golden(t, mode+"/notify_query.txt", []byte(rcv.all()[0].query.Encode()))
			golden(t, mode+"/paystatus_paid.json", data("paystatus", map[string]string{"out_no": "G4"}))
			golden(t, mode+"/paylist.json", data("paylist", map[string]string{"pmt_type": "2,3,4"}))
			golden(t, mode+"/order_page.json", data("order", map[string]any{"pagesize": 2}))
			golden(t, mode+"/payrefund.json", data("payrefund", map[string]any{"out_no": "G4", "refund_out_no": "GR1", "refund_amount": 40, "shop_pass": "7c4a8d09ca3762af61e59520943dc26494f8941b"}))
			data("payorder", payload("G5", "Weixin", 100, "auth_code", "134567890123459002"))
			golden(t, mode+"/paycancel_envelope.json", e.rawCall("paycancel", map[string]string{"out_no": "G5"}))
			golden(t, mode+"/error_8045_envelope.json", e.rawCall("payorder", payload("G1", "Weixin", 100)))
		})
	}
}

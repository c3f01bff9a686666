package gateway

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestDecodersAgree: the fast flat decoder and encoding/json must read every
// fixture identically, in plain and PHP-escaped form.
func TestDecodersAgree(t *testing.T) {
	for _, name := range []string{"order_view", "payorder_qr", "payorder_barcode", "payorder_wechat_jsapi",
		"payorder_alipay_jsapi", "payorder_miniprogram", "paystatus", "payrefund"} {
		raw, err := os.ReadFile(filepath.Join("testdata", "responses", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range [][]byte{raw, []byte(phpEscape(string(raw)))} {
			for _, mk := range []func() any{func() any { return new(PayOrderResult) }, func() any { return new(Order) }, func() any { return new(RefundResult) }} {
				fast, slow := mk(), mk()
				if err := decodeJSON(in, fast); err != nil {
					t.Fatalf("%s fast: %v", name, err)
				}
				if err := json.Unmarshal(in, slow); err != nil {
					t.Fatalf("%s slow: %v", name, err)
				}
				if !reflect.DeepEqual(fast, slow) {
					t.Errorf("%s %T:\nfast %+v\nslow %+v", name, fast, fast, slow)
				}
			}
		}
	}
}

func TestUnquote(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"abc"`, "abc"}, {`"\u6210\u529f"`, "成功"}, {`"a\/b"`, "a/b"}, {`"\ud83d\ude00"`, "😀"},
		{`"\ud83d"`, "\ufffd"}, {`"tab\tq\"b\\"`, "tab\tq\"b\\"}, {`"\u00a5"`, "¥"},
	}
	for _, tt := range tests {
		got, err := unquote(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("unquote(%s) = %q, %v", tt.in, got, err)
		}
		var std string
		if err := json.Unmarshal([]byte(tt.in), &std); err != nil || std != got {
			t.Errorf("encoding/json reads %s as %q", tt.in, std)
		}
	}
	for _, bad := range []string{`"\x"`, `"\u12"`, `abc`, `"`, `"\`} {
		if _, err := unquote(bad); err == nil {
			t.Errorf("unquote(%s) accepted", bad)
		}
	}
}

func FuzzScanObject(f *testing.F) {
	f.Add(`{"a":"b","c":1,"d":null,"e":{"f":[1,2]}}`)
	f.Add(`{"a":"\u6210","b":"\/"}`)
	f.Add(`{}`)
	f.Add(`{"a":}`)
	f.Fuzz(func(t *testing.T, s string) {
		var fast, slow PayOrderResult
		fastErr := decodeFlat(s, &fast)
		if json.Unmarshal([]byte(s), &slow) != nil {
			return
		}
		// Whatever encoding/json reads, the fast decoder reads the same.
		if fastErr != nil || !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %+v (%v), slow %+v", s, fast, fastErr, slow)
		}
	})
}

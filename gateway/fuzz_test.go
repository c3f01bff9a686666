package gateway

import (
	"encoding/json"
	"net/url"
	"testing"
)

// The fuzz targets feed the decoders whatever the network could send. They
// must never panic, and what they accept must be consistent. Seeds live in
// testdata/fuzz/<FuzzName>/.

func FuzzDecrypt(f *testing.F) {
	f.Add(docData)
	f.Add("")
	f.Add("0")
	f.Add("zz")
	key := MustParseKey(docKey)
	f.Fuzz(func(t *testing.T, data string) {
		plain, err := Decrypt(key, data)
		if err != nil {
			return
		}
		// Whatever decrypts must encrypt back to the same bytes.
		if again, err := Decrypt(key, Encrypt(key, plain)); err != nil || string(again) != string(plain) {
			t.Fatalf("round trip: %q %v", again, err)
		}
	})
}

func FuzzOpenResponse(f *testing.F) {
	key := MustParseKey(docKey)
	data := Encrypt(key, []byte(`{"ord_no":"1","status":"1"}`))
	sign := Sign(key, []Field{{"errcode", "0"}, {"msg", "ok"}, {"data", data}})
	f.Add([]byte(`{"errcode":0,"msg":"ok","data":"` + data + `","sign":"` + sign + `"}`))
	f.Add([]byte(`{"errcode":"8002","msg":"\u8ba2\u5355\u4e0d\u5b58\u5728"}`))
	f.Add([]byte(`{"errcode":0,"msg":null,"data":"","sign":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		plain, err := OpenResponse(key, "paystatus", body)
		if err != nil || plain == nil {
			return
		}
		if !json.Valid(plain) {
			t.Fatalf("accepted invalid JSON %q", plain)
		}
		var o Order
		_ = json.Unmarshal(plain, &o)
		var p PayOrderResult
		_ = json.Unmarshal(plain, &p)
		var pg OrderPage
		_ = json.Unmarshal(plain, &pg)
	})
}

func FuzzVerifyCallback(f *testing.F) {
	key := MustParseKey(docKey)
	f.Add("ord_no=1&out_no=A&status=1&timestamp=1&rand_str=r&sign=" + CallbackQuery(key, Callback{OrdNo: "1", OutNo: "A", Status: 1, RandStr: "r"}).Get("sign"))
	f.Add("status=1&status=4&sign=")
	f.Add("%zz")
	f.Add("ord_no=&timestamp=x")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		c, err := VerifyCallback(key, q)
		if err != nil {
			return
		}
		// Anything accepted must carry the fields it claims.
		if c.OrdNo != q.Get("ord_no") || c.OutNo != q.Get("out_no") {
			t.Fatalf("accepted %q as %+v", raw, c)
		}
	})
}

func FuzzLooseTypes(f *testing.F) {
	for _, s := range []string{`"12"`, `12`, `null`, `"2017-06-29 11:03:11"`, `{"a":1}`, `"\u00a5"`, `1e400`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var n Int
		_ = n.UnmarshalJSON(b)
		var s Text
		_ = s.UnmarshalJSON(b)
		var tm Time
		_ = tm.UnmarshalJSON(b)
		var st Status
		_ = st.UnmarshalJSON(b)
	})
}

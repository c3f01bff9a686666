package sandbox

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/gateway"
)

// envelopeOf decodes an answer's outer JSON.
func envelopeOf(t *testing.T, body []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("answer is not JSON: %s", body)
	}
	return m
}

func TestEnvelopeErrors(t *testing.T) {
	e := newEnv(t, Config{})
	now := e.s.now().Unix()
	good := gateway.SealRequest(testKey, testOpenID, now, []byte(`{"pmt_type":"2,3,4"}`))
	form := func(mut func(v url.Values)) string {
		v := url.Values{"open_id": {good.OpenID}, "timestamp": {good.Timestamp}, "data": {good.Data}, "sign": {good.Sign}}
		mut(v)
		return v.Encode()
	}
	wrongKeyData := gateway.Encrypt(gateway.MustParseKey(otherKey), []byte(`{"pmt_type":"2"}`))
	resign := func(v url.Values) {
		v.Set("sign", gateway.Sign(testKey, []gateway.Field{{Name: "data", Value: v.Get("data")}, {Name: "open_id", Value: v.Get("open_id")}, {Name: "timestamp", Value: v.Get("timestamp")}}))
	}
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		code        gateway.Code
		msg         string
	}{
		{"GET", http.MethodGet, "", "", gateway.CodeOpenIDMissing, "token不能为空"},
		{"JSON body", http.MethodPost, "application/json", `{"open_id":"` + testOpenID + `","timestamp":"1","data":"00","sign":"x"}`, gateway.CodeOpenIDMissing, ""},
		{"no open_id", http.MethodPost, "application/x-www-form-urlencoded", form(func(v url.Values) { v.Del("open_id") }), gateway.CodeOpenIDMissing, ""},
		{"unknown store", http.MethodPost, "application/x-www-form-urlencoded", form(func(v url.Values) { v.Set("open_id", otherOpenID) }), gateway.CodeStoreNotFound, "门店不存在"},
		{"timestamp 601 s late", http.MethodPost, "application/x-www-form-urlencoded", form(func(v url.Values) { v.Set("timestamp", itoa(now-601)); resign(v) }), gateway.CodeTimestamp, "timestamp error"},
		{"timestamp 601 s early", http.MethodPost, "application/x-www-form-urlencoded", form(func(v url.Values) { v.Set("timestamp", itoa(now+601)); resign(v) }), gateway.CodeTimestamp, ""},
		{"timestamp garbage", http.MethodPost, "application/x-www-form-urlencoded", form(func(v url.Values) { v.Set("timestamp", "soon") }), gateway.CodeTimestamp, ""},
		{"no timestamp", http.MethodPost, "application/x-www-form-urlencoded", form(func(v url.Values) { v.Del("timestamp") }), gateway.CodeTimestamp, ""},
		{"forged sign", http.MethodPost, "application/x-www-form-urlencoded", form(func(v url.Values) { v.Set("sign", strings.Repeat("0", 32)) }), gateway.CodeBadSign, "验证签名错误"},
		// Doc 5.1 on errcode 5: the sha1 and md5 results must be lowercase,
		// so the real server refuses an uppercase sign that is otherwise right.
		{"uppercase sign", http.MethodPost, "application/x-www-form-urlencoded", form(func(v url.Values) { v.Set("sign", strings.ToUpper(v.Get("sign"))) }), gateway.CodeBadSign, "验证签名错误"},
		{"no sign", http.MethodPost, "application/x-www-form-urlencoded", form(func(v url.Values) { v.Del("sign") }), gateway.CodeBadSign, ""},
		{"tampered data", http.MethodPost, "application/x-www-form-urlencoded", form(func(v url.Values) { v.Set("data", "00"+v.Get("data")[2:]) }), gateway.CodeBadSign, ""},
		{"extra field signed wrong", http.MethodPost, "application/x-www-form-urlencoded", form(func(v url.Values) { v.Set("lang", "en") }), gateway.CodeBadSign, ""},
		{"data not hex", http.MethodPost, "application/x-www-form-urlencoded", form(func(v url.Values) { v.Set("data", "ZZ"); resign(v) }), gateway.CodeOutNoEmpty, "data加密有问题"},
		{"data odd length", http.MethodPost, "application/x-www-form-urlencoded", form(func(v url.Values) { v.Set("data", "ABC"); resign(v) }), gateway.CodeOutNoEmpty, "data加密有问题"},
		{"data under another key", http.MethodPost, "application/x-www-form-urlencoded", form(func(v url.Values) { v.Set("data", wrongKeyData); resign(v) }), gateway.CodeOutNoEmpty, "data加密有问题"},
		{"data not JSON", http.MethodPost, "application/x-www-form-urlencoded", form(func(v url.Values) { v.Set("data", gateway.Encrypt(testKey, []byte("pmt_type=2"))); resign(v) }), gateway.CodeOutNoEmpty, "data加密有问题"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, e.base+"/paylist", strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("HTTP %d, want 200 with an errcode", resp.StatusCode)
			}
			m := envelopeOf(t, buf.Bytes())
			if _, ok := m["data"]; ok {
				t.Errorf("error answer carries data: %s", buf.Bytes())
			}
			if _, ok := m["sign"]; ok {
				t.Errorf("error answer carries sign: %s", buf.Bytes())
			}
			_, err = gateway.OpenResponse(testKey, "paylist", buf.Bytes())
			ae, ok := err.(*gateway.APIError)
			if !ok || ae.Code != tc.code {
				t.Fatalf("got %v, want errcode %d", err, tc.code)
			}
			if tc.msg != "" && ae.Msg != tc.msg {
				t.Errorf("msg %q, want %q", ae.Msg, tc.msg)
			}
		})
	}

	t.Run("timestamp 600 s off is accepted", func(t *testing.T) {
		for _, ts := range []int64{now - 600, now + 600} {
			body := e.rawCallAs(testOpenID, testKey, ts, "paylist", `{"pmt_type":"2"}`)
			if _, err := gateway.OpenResponse(testKey, "paylist", body); err != nil {
				t.Fatalf("timestamp %d: %v", ts, err)
			}
		}
	})
	t.Run("unknown endpoint is 404", func(t *testing.T) {
		resp, err := http.Post(e.base+"/payorders", "application/x-www-form-urlencoded", strings.NewReader(good.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("HTTP %d, want 404", resp.StatusCode)
		}
	})
	t.Run("oversized body", func(t *testing.T) {
		body := e.post("paylist", "application/x-www-form-urlencoded", "open_id="+testOpenID+"&data="+strings.Repeat("A", 2<<20))
		if _, err := gateway.OpenResponse(testKey, "paylist", body); !isCode(err, gateway.CodeOpenIDMissing) {
			t.Fatalf("got %v, want errcode 8", err)
		}
	})
}

func isCode(err error, c gateway.Code) bool {
	ae, ok := err.(*gateway.APIError)
	return ok && ae.Code == c
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestMultipartFormAccepted(t *testing.T) {
	e := newEnv(t, Config{})
	f := gateway.SealRequest(testKey, testOpenID, e.s.now().Unix(), []byte(`{"pmt_type":"2,3,4"}`))
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, kv := range [][2]string{{"open_id", f.OpenID}, {"timestamp", f.Timestamp}, {"data", f.Data}, {"sign", f.Sign}} {
		if err := mw.WriteField(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	mw.Close()
	body := e.post("paylist", mw.FormDataContentType(), buf.String())
	data, err := gateway.OpenResponse(testKey, "paylist", body)
	if err != nil {
		t.Fatalf("multipart paylist: %v (%s)", err, body)
	}
	var list []map[string]any
	if err := json.Unmarshal(data, &list); err != nil || len(list) != 2 {
		t.Fatalf("paylist %s: %v", data, err)
	}
}

func TestPayList(t *testing.T) {
	e := newEnv(t, Config{})
	tests := []struct {
		types string
		want  []string
	}{
		{"2,3,4", []string{"Weixin", "Alipay"}},
		{"4", []string{"Weixin", "Alipay"}},
		{"0", []string{"Cash", "Diy"}},
		{"", []string{"Weixin", "Alipay", "Cash", "Diy"}},
		{"7", nil},
	}
	for _, tc := range tests {
		data, err := e.call("paylist", map[string]string{"pmt_type": tc.types})
		if err != nil {
			t.Fatal(err)
		}
		var list []map[string]any
		if err := json.Unmarshal(data, &list); err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		var tags []string
		for _, m := range list {
			tags = append(tags, str(m, "pmt_tag"))
			for _, k := range []string{"pmt_name", "pmt_type", "pmt_icon", "pmt_currency", "pmt_split_refund", "ticket_name"} {
				if str(m, k) == "" {
					t.Errorf("paylist entry lacks %s: %v", k, m)
				}
			}
		}
		if strings.Join(tags, ",") != strings.Join(tc.want, ",") {
			t.Errorf("types %q: tags %v, want %v", tc.types, tags, tc.want)
		}
	}
	// PHP clients send an empty request as [].
	if _, err := e.call("paylist", "[]"); err != nil {
		t.Fatalf("paylist with []: %v", err)
	}
}

func TestQuirksMode(t *testing.T) {
	for _, quirks := range []bool{true, false} {
		name := "quirks"
		if !quirks {
			name = "plain"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, Config{DisableQuirks: !quirks})
			if err := e.s.BindAppID(testOpenID, "Weixin", testAppID); err != nil {
				t.Fatal(err)
			}
			body := e.rawCall("payorder", payload("Q1", "Weixin", 100))
			data, err := gateway.OpenResponse(testKey, "payorder", body)
			if err != nil {
				t.Fatal(err)
			}
			has := func(s string) bool { return bytes.Contains(data, []byte(s)) }
			if quirks {
				for _, want := range []string{`"trade_amount":"100"`, `"status":"2"`, `\u5fae\u4fe1\u652f\u4ed8`, `weixin:\/\/wxpay\/bizpayurl?pr=`, `"currency_sign":"\u00a5"`, `"trade_account":null`, `"trade_pay_time":null`} {
					if !has(want) {
						t.Errorf("quirks payorder lacks %s: %s", want, data)
					}
				}
			} else {
				for _, want := range []string{`"trade_amount":100`, `"status":2`, `微信支付`, `weixin://wxpay/bizpayurl?pr=`, `"currency_sign":"¥"`} {
					if !has(want) {
						t.Errorf("plain payorder lacks %s: %s", want, data)
					}
				}
			}
			// The data decodes as ordinary JSON either way.
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil || str(m, "pmt_name") != "微信支付" {
				t.Fatalf("decoded %v: %v", m, err)
			}

			// JSAPI: bare numbers and stray spaces.
			data, err = e.call("payorder", payload("Q2", "Weixin", 100, "JSAPI", "1", "sub_appid", testAppID, "sub_openid", "oUser1"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			spaced := strings.HasPrefix(m["appId"].(string), " ") && strings.HasPrefix(m["paySign"].(string), " ") &&
				strings.HasPrefix(m["signType"].(string), " ") && strings.HasPrefix(m["package"].(string), " ") && strings.HasPrefix(m["nonceStr"].(string), " ")
			if spaced != quirks {
				t.Errorf("stray spaces %v in quirks=%v: %s", spaced, quirks, data)
			}
			if _, isNum := m["trade_amount"].(float64); !isNum {
				t.Errorf("JSAPI trade_amount not a number: %s", data)
			}

			// paycancel's Chinese msg in the envelope, and ord_stautus.
			e.mustCall("payorder", payload("Q3", "Weixin", 100, "auth_code", "134567890123459002"))
			body = e.rawCall("paycancel", map[string]string{"out_no": "Q3"})
			if quirks != bytes.Contains(body, []byte(`"msg":"\u8ba2\u5355\u53d6\u6d88\u6210\u529f"`)) {
				t.Errorf("paycancel envelope: %s", body)
			}
			data, err = gateway.OpenResponse(testKey, "paycancel", body)
			if err != nil {
				t.Fatalf("paycancel answer does not verify: %v", err)
			}
			key := "ord_status"
			if quirks {
				key = "ord_stautus"
			}
			if !bytes.Contains(data, []byte(`"`+key+`":4`)) {
				t.Errorf("paycancel data %s lacks %s", data, key)
			}
		})
	}
}

func TestAppendStringPHP(t *testing.T) {
	tests := []struct{ in, quirks, plain string }{
		{"ok", `"ok"`, `"ok"`},
		{"成功", `"\u6210\u529f"`, `"成功"`},
		{"a/b", `"a\/b"`, `"a/b"`},
		{"¥", `"\u00a5"`, `"¥"`},
		{"😀", `"\ud83d\ude00"`, `"😀"`},
		{"q\"\\\n\t\x01", `"q\"\\\n\t\u0001"`, `"q\"\\\n\t\u0001"`},
		{"\xff", `"\ufffd"`, "\"\ufffd\""},
	}
	for _, tc := range tests {
		if got := string(appendString(nil, tc.in, true)); got != tc.quirks {
			t.Errorf("quirks %q: %s, want %s", tc.in, got, tc.quirks)
		}
		if got := string(appendString(nil, tc.in, false)); got != tc.plain {
			t.Errorf("plain %q: %s, want %s", tc.in, got, tc.plain)
		}
		var back string
		if err := json.Unmarshal([]byte(tc.quirks), &back); err != nil {
			t.Errorf("%s does not decode: %v", tc.quirks, err)
		}
	}
}

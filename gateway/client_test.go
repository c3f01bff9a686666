package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGoldenResponses serves every response example of the document,
// encrypted and signed, and checks what the client decodes against a golden
// file. The fixtures are the document's examples made valid JSON (its
// payorder examples have stray quotes and commas) with their quirks kept.
func TestGoldenResponses(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		fixture string
		call    func(c *Client, st *Store) (any, error)
	}{
		{"paylist", func(c *Client, st *Store) (any, error) { return c.PayList(ctx, st, PayListTypes(2, 3, 4)) }},
		{"order", func(c *Client, st *Store) (any, error) { return c.Orders(ctx, st, &OrderQuery{Page: 1, PageSize: 10}) }},
		{"order_view", func(c *Client, st *Store) (any, error) { return c.OrderView(ctx, st, ByOutNo("12345")) }},
		{"payorder_qr", func(c *Client, st *Store) (any, error) { return c.PayOrder(ctx, st, qrOrder()) }},
		{"payorder_barcode", func(c *Client, st *Store) (any, error) {
			r := qrOrder()
			r.AuthCode = "134567890123456789"
			return c.PayOrder(ctx, st, r)
		}},
		{"payorder_wechat_jsapi", func(c *Client, st *Store) (any, error) {
			r := qrOrder()
			r.JSAPI, r.SubAppID, r.SubOpenID = true, "wxde66bf91cac57773", "oRBXQs6pH6F9R5Yw4dkJ8y9aXPqA"
			return c.PayOrder(ctx, st, r)
		}},
		{"payorder_alipay_jsapi", func(c *Client, st *Store) (any, error) {
			r := qrOrder()
			r.PmtTag, r.JSAPI, r.BuyerID = "Alipay", true, "2088202642306951"
			return c.PayOrder(ctx, st, r)
		}},
		{"payorder_miniprogram", func(c *Client, st *Store) (any, error) {
			r := qrOrder()
			r.JSAPI, r.SubAppID, r.SubOpenID = true, "wxminiapp000000001", "oMini000000000000000000000"
			return c.PayOrder(ctx, st, r)
		}},
		{"paystatus", func(c *Client, st *Store) (any, error) { return c.PayStatus(ctx, st, ByOutNo("12345")) }},
		{"paycancel", func(c *Client, st *Store) (any, error) { return c.PayCancel(ctx, st, ByOrdNo("123456")) }},
		{"payrefund", func(c *Client, st *Store) (any, error) {
			return c.PayRefund(ctx, st, &RefundRequest{OrdNo: "9149870539009977236294766", RefundOutNo: "R1", RefundAmount: 1})
		}},
		{"mpconfig_query", func(c *Client, st *Store) (any, error) { return c.MPConfigQuery(ctx, st, "Weixin") }},
	}
	for _, php := range []bool{false, true} {
		for _, tt := range tests {
			name := tt.fixture
			if php {
				name += "/php"
			}
			t.Run(name, func(t *testing.T) {
				plain, err := os.ReadFile(filepath.Join("testdata", "responses", tt.fixture+".json"))
				if err != nil {
					t.Fatal(err)
				}
				f, st := newFakeGateway(t)
				f.php = php
				f.answer = func(string, []byte) (Code, string, []byte) { return CodeOK, "成功", plain }
				got, err := tt.call(NewClient(), st)
				if err != nil {
					t.Fatalf("call: %v", err)
				}
				checkGolden(t, filepath.Join("testdata", "golden", tt.fixture+".json"), got)
			})
		}
	}
}

func qrOrder() *PayOrderRequest {
	return &PayOrderRequest{OutNo: "1214987050997427", PmtTag: "Weixin", OrdName: "测试商品", OriginalAmount: 1, TradeAmount: 1}
}

func checkGolden(t *testing.T, path string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update once to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs:\n got: %s\nwant: %s", path, got, want)
	}
}

// TestRequestGolden pins the exact request JSON each call sends: field
// names, numbers as numbers, and empty fields left out.
func TestRequestGolden(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"payorder qr", qrOrder().encode(),
			`{"out_no":"1214987050997427","pmt_tag":"Weixin","ord_name":"测试商品","original_amount":1,"trade_amount":1}`},
		{"payorder jsapi", (&PayOrderRequest{OutNo: "A1", PmtTag: "Weixin", OriginalAmount: 120, DiscountAmount: 20, TradeAmount: 100,
			NotifyURL: "https://pay.example.com/notify/s1", JSAPI: true, SubAppID: "wx1", SubOpenID: "o1"}).encode(),
			`{"out_no":"A1","pmt_tag":"Weixin","original_amount":120,"discount_amount":20,"trade_amount":100,"notify_url":"https://pay.example.com/notify/s1","JSAPI":1,"sub_appid":"wx1","sub_openid":"o1"}`},
		{"payorder escapes", (&PayOrderRequest{OutNo: "A2", PmtTag: "Diy", PmtName: "券", OrdName: "a\"b\\c\td", OriginalAmount: 1, TradeAmount: 1}).encode(),
			`{"out_no":"A2","pmt_tag":"Diy","pmt_name":"券","ord_name":"a\"b\\c\td","original_amount":1,"trade_amount":1}`},
		{"refund", (&RefundRequest{OutNo: "A1", RefundOutNo: "R1", RefundAmount: 50}).encode(PasswordSHA1("123456")),
			`{"out_no":"A1","refund_out_no":"R1","refund_amount":50,"shop_pass":"7c4a8d09ca3762af61e59520943dc26494f8941b"}`},
		{"ref", ByOrdNo("9149870509258853878433528").encode(), `{"ord_no":"9149870509258853878433528"}`},
		{"order query", (&OrderQuery{Page: 2, PageSize: 100, OrdType: OrderRefund, Status: StatusPaid,
			Since: time.Date(2017, 6, 20, 9, 5, 50, 0, time.UTC)}).encode(),
			`{"page":2,"pagesize":100,"ord_type":2,"status":1,"sdate":"2017-06-20 17:05:50"}`},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, tt.got, tt.want)
		}
		if !json.Valid(tt.got) {
			t.Errorf("%s: invalid JSON", tt.name)
		}
	}
}

// TestAPIErrors checks that every code of document 5.1 comes back as an
// error that errors.Is recognises and that carries the gateway's msg.
func TestAPIErrors(t *testing.T) {
	sentinels := map[Code]error{
		CodeBadSign: ErrGatewayBadSign, CodeOpenIDMissing: ErrOpenIDMissing, CodeTimestamp: ErrTimestamp,
		CodeStoreNotFound: ErrStoreNotFound, CodeOrderNoEmpty: ErrOrderNoEmpty, CodeOrderNotFound: ErrOrderNotFound,
		CodeOrderNameEmpty: ErrOrderNameEmpty, CodePayMethodEmpty: ErrPayMethodEmpty, CodeOrderExists: ErrOrderExists,
		CodeAmountWrong: ErrAmountWrong, CodePayMethodDisabled: ErrPayMethodDisabled, CodeCreateFailed: ErrCreateFailed,
		CodeTradeNoEmpty: ErrTradeNoEmpty, CodeCardNoEmpty: ErrCardNoEmpty, CodePaymentFailed: ErrPaymentFailed,
		CodeNotCancellable: ErrNotCancellable, CodeCancelFailed: ErrCancelFailed, CodeOriginalOrderEmpty: ErrOriginalOrderEmpty,
		CodeRefundAmountEmpty: ErrRefundAmountEmpty, CodeShopPassEmpty: ErrShopPassEmpty, CodeShopPassWrong: ErrShopPassWrong,
		CodeOriginalNotFound: ErrOriginalNotFound, CodeNotRefundable: ErrNotRefundable, CodeRefundExists: ErrRefundExists,
		CodeRefundExceedsLeft: ErrRefundExceedsLeft, CodeRefundExceedsPaid: ErrRefundExceedsPaid, CodeRefundFailed: ErrRefundFailed,
		CodeRefundExceedsTakings: ErrRefundExceedsTakings, CodeOutNoEmpty: ErrOutNoEmpty, CodeOutNoExists: ErrOutNoExists,
		CodeRejected: ErrRejected,
	}
	if len(sentinels) != len(codeText)-1 {
		t.Errorf("%d sentinels for %d codes", len(sentinels), len(codeText)-1)
	}
	for code, sentinel := range sentinels {
		t.Run(code.Message(), func(t *testing.T) {
			f, st := newFakeGateway(t)
			f.php = true
			msg := code.Message()
			if code == CodePaymentFailed {
				msg = "支付失败，sub_mch_id与sub_appid不匹配"
			}
			f.answer = func(string, []byte) (Code, string, []byte) { return code, msg, nil }
			_, err := NewClient().PayStatus(context.Background(), st, ByOutNo("A1"))
			if !errors.Is(err, sentinel) {
				t.Fatalf("err = %v, want errors.Is %v", err, sentinel)
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Msg != msg || apiErr.Endpoint != EndpointPayStatus {
				t.Fatalf("APIError = %+v", apiErr)
			}
			if !strings.Contains(err.Error(), msg) {
				t.Errorf("Error() %q lacks msg %q", err, msg)
			}
			for other, s := range sentinels {
				if other != code && errors.Is(err, s) {
					t.Errorf("also matches %d", other)
				}
			}
		})
	}
}

// TestResponseVerification covers the answers a client must refuse and the
// ones it must accept although they look odd.
func TestResponseVerification(t *testing.T) {
	key := MustParseKey(docKey)
	other := MustParseKey("vCfnB1SvPQqUDa7q0AFpqdiGOCICGT92")
	plain := []byte(`{"ord_no":"1","status":"1","trade_amount":"100"}`)
	data := Encrypt(key, plain)
	sign := func(k Key, fields ...Field) string { return Sign(k, fields) }
	base := []Field{{"errcode", "0"}, {"msg", "ok"}, {"timestamp", "1461642890"}, {"data", data}}
	tests := []struct {
		name string
		body string
		want error // nil: accepted
	}{
		{"good", `{"errcode":0,"msg":"ok","timestamp":1461642890,"data":"` + data + `","sign":"` + sign(key, base...) + `"}`, nil},
		{"errcode as string", `{"errcode":"0","msg":"ok","timestamp":"1461642890","data":"` + data + `","sign":"` + sign(key, base...) + `"}`, nil},
		{"sign upper case", `{"errcode":0,"msg":"ok","timestamp":1461642890,"data":"` + data + `","sign":"` + strings.ToUpper(sign(key, base...)) + `"}`, nil},
		{"msg escaped", `{"errcode":0,"msg":"\u6210\u529f","timestamp":1461642890,"data":"` + data + `","sign":"` +
			sign(key, Field{"errcode", "0"}, Field{"msg", "成功"}, Field{"timestamp", "1461642890"}, Field{"data", data}) + `"}`, nil},
		{"extra member signed", `{"errcode":0,"msg":"ok","timestamp":1461642890,"data":"` + data + `","lang":"zh","sign":"` +
			sign(key, append(base, Field{"lang", "zh"})...) + `"}`, nil},
		{"extra member unsigned", `{"errcode":0,"msg":"ok","timestamp":1461642890,"data":"` + data + `","lang":"zh","sign":"` + sign(key, base...) + `"}`, ErrBadSign},
		{"msg tampered", `{"errcode":0,"msg":"OK","timestamp":1461642890,"data":"` + data + `","sign":"` + sign(key, base...) + `"}`, ErrBadSign},
		{"signed with other key", `{"errcode":0,"msg":"ok","timestamp":1461642890,"data":"` + data + `","sign":"` + sign(other, base...) + `"}`, ErrBadSign},
		{"sign missing", `{"errcode":0,"msg":"ok","timestamp":1461642890,"data":"` + data + `"}`, ErrMissingSign},
		{"sign short", `{"errcode":0,"msg":"ok","timestamp":1461642890,"data":"` + data + `","sign":"abc"}`, ErrBadSign},
		{"not json", `<html>502</html>`, ErrMalformed},
		{"no errcode", `{"msg":"ok"}`, ErrMalformed},
		{"nested member", `{"errcode":0,"msg":{"a":1},"data":"` + data + `"}`, ErrMalformed},
		{"error without data", `{"errcode":8002,"msg":"订单不存在"}`, ErrOrderNotFound},
		{"error as string", `{"errcode":"8045","msg":"out_no已经存在"}`, ErrOutNoExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := OpenResponse(key, "paystatus", []byte(tt.body))
			if tt.want == nil {
				if err != nil || string(got) != string(plain) {
					t.Fatalf("OpenResponse = %s, %v", got, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDecryptedGarbageIsWrongKey(t *testing.T) {
	key := MustParseKey(docKey)
	data := Encrypt(key, []byte("not json at all"))
	fields := []Field{{"errcode", "0"}, {"msg", "ok"}, {"data", data}}
	body := `{"errcode":0,"msg":"ok","data":"` + data + `","sign":"` + Sign(key, fields) + `"}`
	if _, err := OpenResponse(key, "paystatus", []byte(body)); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("err = %v", err)
	}
}

// TestRetries: read-only calls retry on 5xx; money-moving calls never do and
// report an uncertain outcome instead.
func TestRetries(t *testing.T) {
	ctx := context.Background()
	fast := WithRetries(2, time.Millisecond, 5*time.Millisecond)
	t.Run("paystatus retries 5xx then succeeds", func(t *testing.T) {
		f, st := newFakeGateway(t)
		f.raw = func(w http.ResponseWriter, endpoint string, data []byte) {
			if f.calls.Load() < 3 {
				http.Error(w, "busy", http.StatusBadGateway)
				return
			}
			w.Write(f.envelope(CodeOK, "ok", []byte(`{"ord_no":"1","status":1}`)))
		}
		o, err := NewClient(fast).PayStatus(ctx, st, ByOutNo("A1"))
		if err != nil || o.Status != StatusPaid || f.calls.Load() != 3 {
			t.Fatalf("order %+v err %v calls %d", o, err, f.calls.Load())
		}
	})
	t.Run("paystatus gives up", func(t *testing.T) {
		f, st := newFakeGateway(t)
		f.raw = func(w http.ResponseWriter, _ string, _ []byte) { http.Error(w, "down", http.StatusServiceUnavailable) }
		_, err := NewClient(fast).PayStatus(ctx, st, ByOutNo("A1"))
		if err == nil || f.calls.Load() != 3 {
			t.Fatalf("err %v calls %d", err, f.calls.Load())
		}
	})
	t.Run("API error is not retried", func(t *testing.T) {
		f, st := newFakeGateway(t)
		f.answer = func(string, []byte) (Code, string, []byte) { return CodeOrderNotFound, "订单不存在", nil }
		_, err := NewClient(fast).PayStatus(ctx, st, ByOutNo("A1"))
		if !errors.Is(err, ErrOrderNotFound) || f.calls.Load() != 1 {
			t.Fatalf("err %v calls %d", err, f.calls.Load())
		}
	})
	for _, tt := range []struct {
		name string
		call func(c *Client, st *Store) error
	}{
		{"payorder", func(c *Client, st *Store) error { _, err := c.PayOrder(ctx, st, qrOrder()); return err }},
		{"payrefund", func(c *Client, st *Store) error {
			_, err := c.PayRefund(ctx, st, &RefundRequest{OutNo: "A1", RefundOutNo: "R1", RefundAmount: 1})
			return err
		}},
		{"paycancel", func(c *Client, st *Store) error { _, err := c.PayCancel(ctx, st, ByOutNo("A1")); return err }},
	} {
		t.Run(tt.name+" 5xx is uncertain", func(t *testing.T) {
			f, st := newFakeGateway(t)
			f.raw = func(w http.ResponseWriter, _ string, _ []byte) { http.Error(w, "oops", http.StatusInternalServerError) }
			err := tt.call(NewClient(fast), st)
			if !errors.Is(err, ErrOutcomeUnknown) || f.calls.Load() != 1 {
				t.Fatalf("err %v calls %d", err, f.calls.Load())
			}
		})
		t.Run(tt.name+" timeout is uncertain", func(t *testing.T) {
			f, st := newFakeGateway(t)
			release := make(chan struct{})
			defer close(release)
			f.raw = func(w http.ResponseWriter, _ string, _ []byte) { <-release }
			c := NewClient(fast, WithHTTPClient(&http.Client{Timeout: 50 * time.Millisecond}))
			err := tt.call(c, st)
			var u *UnknownOutcomeError
			if !errors.Is(err, ErrOutcomeUnknown) || !errors.As(err, &u) || u.OutNo == "" || f.calls.Load() != 1 {
				t.Fatalf("err %v calls %d", err, f.calls.Load())
			}
		})
		t.Run(tt.name+" forged answer is uncertain", func(t *testing.T) {
			f, st := newFakeGateway(t)
			f.raw = func(w http.ResponseWriter, _ string, _ []byte) {
				w.Write([]byte(`{"errcode":0,"msg":"ok","data":"` + docData + `","sign":"00000000000000000000000000000000"}`))
			}
			err := tt.call(NewClient(fast), st)
			if !errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, ErrBadSign) {
				t.Fatalf("err %v", err)
			}
		})
	}
	t.Run("payorder refused connection is not uncertain", func(t *testing.T) {
		_, st := newFakeGateway(t)
		st.BaseURL = "http://127.0.0.1:1/mct1"
		_, err := NewClient(fast).PayOrder(ctx, st, qrOrder())
		if err == nil || errors.Is(err, ErrOutcomeUnknown) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("resolve asks paystatus by out_no", func(t *testing.T) {
		f, st := newFakeGateway(t)
		f.answer = func(endpoint string, data []byte) (Code, string, []byte) {
			if endpoint != EndpointPayStatus || string(data) != `{"out_no":"A1"}` {
				t.Errorf("resolve sent %s %s", endpoint, data)
			}
			return CodeOrderNotFound, "订单不存在", nil
		}
		if _, err := NewClient(fast).Resolve(ctx, st, "A1"); !errors.Is(err, ErrOrderNotFound) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestBodyLimit(t *testing.T) {
	f, st := newFakeGateway(t)
	f.raw = func(w http.ResponseWriter, _ string, _ []byte) {
		w.Write([]byte(`{"errcode":0,"msg":"` + strings.Repeat("x", 4096) + `"}`))
	}
	_, err := NewClient(WithMaxBodyBytes(1024)).PayStatus(context.Background(), st, ByOutNo("A1"))
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("err %v", err)
	}
}

func TestValidationStopsBeforeSending(t *testing.T) {
	f, st := newFakeGateway(t)
	f.answer = func(string, []byte) (Code, string, []byte) { return CodeOK, "ok", []byte(`{}`) }
	c := NewClient()
	ctx := context.Background()
	if _, err := c.PayOrder(ctx, st, &PayOrderRequest{OutNo: "bad-no"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("payorder: %v", err)
	}
	if _, err := c.PayStatus(ctx, st, OrderRef{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("paystatus: %v", err)
	}
	if _, err := c.PayRefund(ctx, st, &RefundRequest{OutNo: "A", RefundOutNo: "R", RefundAmount: 0}); !errors.Is(err, ErrInvalid) {
		t.Errorf("payrefund: %v", err)
	}
	if f.calls.Load() != 0 {
		t.Errorf("%d requests sent", f.calls.Load())
	}
}

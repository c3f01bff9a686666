package gateway

import (
	"errors"
	"strings"
	"testing"
)

func TestPayOrderValidation(t *testing.T) {
	ok := func() *PayOrderRequest {
		return &PayOrderRequest{OutNo: "A1", PmtTag: "Weixin", OriginalAmount: 100, TradeAmount: 100}
	}
	tests := []struct {
		name  string
		mod   func(r *PayOrderRequest)
		field string // "" = valid
		scen  Scenario
	}{
		{"qr", func(r *PayOrderRequest) {}, "", ScenarioQR},
		{"barcode", func(r *PayOrderRequest) { r.AuthCode = "134567890123456789" }, "", ScenarioBarcode},
		{"jump", func(r *PayOrderRequest) { r.JumpURL = "https://pay.example.com/c/co_1/return" }, "", ScenarioJump},
		{"wechat jsapi", func(r *PayOrderRequest) { r.JSAPI, r.SubAppID, r.SubOpenID = true, "wx1", "o1" }, "", ScenarioWeChatJSAPI},
		{"alipay jsapi", func(r *PayOrderRequest) { r.JSAPI, r.BuyerID = true, "2088" }, "", ScenarioAlipayJSAPI},
		{"discounts add up", func(r *PayOrderRequest) { r.OriginalAmount, r.DiscountAmount, r.IgnoreAmount = 130, 20, 10 }, "", ScenarioQR},
		{"out_no empty", func(r *PayOrderRequest) { r.OutNo = "" }, "out_no", 0},
		{"out_no dash", func(r *PayOrderRequest) { r.OutNo = "A-1" }, "out_no", 0},
		{"out_no unicode", func(r *PayOrderRequest) { r.OutNo = "订单1" }, "out_no", 0},
		{"out_no 65", func(r *PayOrderRequest) { r.OutNo = strings.Repeat("a", 65) }, "out_no", 0},
		{"out_no 64", func(r *PayOrderRequest) { r.OutNo = strings.Repeat("a", 64) }, "", ScenarioQR},
		{"pmt_tag empty", func(r *PayOrderRequest) { r.PmtTag = "" }, "pmt_tag", 0},
		{"diy without name", func(r *PayOrderRequest) { r.PmtTag = "Diy" }, "pmt_name", 0},
		{"diy with name", func(r *PayOrderRequest) { r.PmtTag, r.PmtName = "Diy", "券" }, "", ScenarioQR},
		{"negative discount", func(r *PayOrderRequest) { r.DiscountAmount = -1; r.OriginalAmount = 99 }, "discount_amount", 0},
		{"negative original", func(r *PayOrderRequest) { r.OriginalAmount = -1 }, "original_amount", 0},
		{"negative ignore", func(r *PayOrderRequest) { r.IgnoreAmount = -1; r.OriginalAmount = 99 }, "ignore_amount", 0},
		{"zero trade", func(r *PayOrderRequest) { r.TradeAmount, r.OriginalAmount = 0, 0 }, "trade_amount", 0},
		{"sum mismatch", func(r *PayOrderRequest) { r.DiscountAmount = 1 }, "trade_amount", 0},
		{"ord_name too long", func(r *PayOrderRequest) { r.OrdName = strings.Repeat("商", 101) }, "ord_name", 0},
		{"ord_name bad utf8", func(r *PayOrderRequest) { r.OrdName = "\xff" }, "ord_name", 0},
		{"ord_name control", func(r *PayOrderRequest) { r.OrdName = "a\x00b" }, "ord_name", 0},
		{"notify_url relative", func(r *PayOrderRequest) { r.NotifyURL = "/notify" }, "notify_url", 0},
		{"notify_url query", func(r *PayOrderRequest) { r.NotifyURL = "https://a.example/n?x=1" }, "notify_url", 0},
		{"jump_url javascript", func(r *PayOrderRequest) { r.JumpURL = "javascript:alert(1)" }, "jump_url", 0},
		{"barcode and jump", func(r *PayOrderRequest) { r.AuthCode, r.JumpURL = "1", "https://a.example/r" }, "auth_code", 0},
		{"jsapi and jump", func(r *PayOrderRequest) {
			r.JSAPI, r.SubAppID, r.SubOpenID, r.JumpURL = true, "wx", "o", "https://a.example/r"
		}, "jump_url", 0},
		{"jsapi alone", func(r *PayOrderRequest) { r.JSAPI = true }, "JSAPI", 0},
		{"jsapi appid only", func(r *PayOrderRequest) { r.JSAPI, r.SubAppID = true, "wx" }, "sub_openid", 0},
		{"jsapi both wallets", func(r *PayOrderRequest) { r.JSAPI, r.SubAppID, r.SubOpenID, r.BuyerID = true, "wx", "o", "2088" }, "buyer_id", 0},
		{"openid without jsapi", func(r *PayOrderRequest) { r.SubAppID, r.SubOpenID = "wx", "o" }, "JSAPI", 0},
		{"buyer without jsapi", func(r *PayOrderRequest) { r.BuyerID = "2088" }, "JSAPI", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok()
			tt.mod(r)
			err := r.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				if r.Scenario() != tt.scen {
					t.Errorf("scenario %v, want %v", r.Scenario(), tt.scen)
				}
				return
			}
			var v *ValidationError
			if !errors.As(err, &v) || v.Field != tt.field || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want field %s", err, tt.field)
			}
		})
	}
}

func TestRefundAndRefValidation(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		field string
	}{
		{"ref none", OrderRef{}.validate(), "ord_no/out_no"},
		{"ref both", OrderRef{OrdNo: "1", OutNo: "A"}.validate(), "ord_no/out_no"},
		{"ref bad out_no", ByOutNo("a b").validate(), "out_no"},
		{"refund no original", (&RefundRequest{RefundOutNo: "R", RefundAmount: 1}).Validate(), "ord_no/out_no"},
		{"refund no refund_out_no", (&RefundRequest{OutNo: "A", RefundAmount: 1}).Validate(), "refund_out_no"},
		{"refund zero", (&RefundRequest{OutNo: "A", RefundOutNo: "R"}).Validate(), "refund_amount"},
		{"refund negative", (&RefundRequest{OutNo: "A", RefundOutNo: "R", RefundAmount: -5}).Validate(), "refund_amount"},
		{"query pagesize", (&OrderQuery{PageSize: 101}).Validate(), "pagesize"},
		{"query ord_type", (&OrderQuery{OrdType: 3}).Validate(), "ord_type"},
	}
	for _, tt := range tests {
		var v *ValidationError
		if !errors.As(tt.err, &v) || v.Field != tt.field {
			t.Errorf("%s: err = %v, want field %s", tt.name, tt.err, tt.field)
		}
	}
	if err := (&RefundRequest{OrdNo: "9149", RefundOutNo: "R1", RefundAmount: 1}).Validate(); err != nil {
		t.Errorf("valid refund: %v", err)
	}
}

func TestScenarioCancellable(t *testing.T) {
	for s, want := range map[Scenario]bool{ScenarioBarcode: true, ScenarioQR: false, ScenarioJump: false, ScenarioWeChatJSAPI: false, ScenarioAlipayJSAPI: false} {
		if s.Cancellable() != want {
			t.Errorf("%v.Cancellable() = %v", s, !want)
		}
	}
}

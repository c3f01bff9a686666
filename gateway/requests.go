package gateway

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Scenario is how a payorder is paid; the request's fields decide it.
type Scenario int

// The payment scenarios of document 4.4.
const (
	ScenarioQR          Scenario = iota + 1 // C scans B: trade_qrcode
	ScenarioBarcode                         // B scans C: auth_code
	ScenarioJump                            // official account / service window: jump_url → jsapi_pay_url
	ScenarioWeChatJSAPI                     // JSAPI=1, sub_appid, sub_openid (also mini-programs)
	ScenarioAlipayJSAPI                     // JSAPI=1, buyer_id
)

func (s Scenario) String() string {
	switch s {
	case ScenarioQR:
		return "qr"
	case ScenarioBarcode:
		return "barcode"
	case ScenarioJump:
		return "jump"
	case ScenarioWeChatJSAPI:
		return "wechat_jsapi"
	case ScenarioAlipayJSAPI:
		return "alipay_jsapi"
	}
	return "unknown"
}

// Cancellable reports whether paycancel can close an order of this scenario
// upstream. Only barcode orders can (doc 5.1, 8013); the others can still be
// paid after the merchant gave up on them.
func (s Scenario) Cancellable() bool { return s == ScenarioBarcode }

// PayOrderRequest creates an order (payorder). Amounts are in fen. The
// scenario follows from the fields: nothing extra is C-scans-B, AuthCode is
// B-scans-C, JumpURL is the redirect flow, JSAPI with SubAppID and SubOpenID
// is native WeChat (official account or mini-program), JSAPI with BuyerID is
// native Alipay.
type PayOrderRequest struct {
	OutNo          string
	PmtTag         string
	PmtName        string // required when PmtTag is "Diy"
	OrdName        string
	OriginalAmount int64
	DiscountAmount int64
	IgnoreAmount   int64
	TradeAmount    int64
	TradeAccount   string
	TradeNo        string
	Remark         string
	Tag            string
	NotifyURL      string

	AuthCode  string
	JumpURL   string
	JSAPI     bool
	SubAppID  string
	SubOpenID string
	BuyerID   string
}

// Scenario returns the scenario the fields select (valid only after Validate).
func (r *PayOrderRequest) Scenario() Scenario {
	switch {
	case r.AuthCode != "":
		return ScenarioBarcode
	case r.JSAPI && r.BuyerID != "":
		return ScenarioAlipayJSAPI
	case r.JSAPI:
		return ScenarioWeChatJSAPI
	case r.JumpURL != "":
		return ScenarioJump
	}
	return ScenarioQR
}

// Validate checks the request as the gateway would, before anything is sent.
func (r *PayOrderRequest) Validate() error {
	if err := validOutNo("out_no", r.OutNo); err != nil {
		return err
	}
	if r.PmtTag == "" {
		return &ValidationError{"pmt_tag", "required (take it from paylist)"}
	}
	if err := validText("pmt_tag", r.PmtTag, 20); err != nil {
		return err
	}
	if r.PmtTag == "Diy" && r.PmtName == "" {
		return &ValidationError{"pmt_name", "required when pmt_tag is Diy"}
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"pmt_name", r.PmtName, 20}, {"ord_name", r.OrdName, 100}, {"trade_account", r.TradeAccount, 100},
		{"trade_no", r.TradeNo, 128}, {"remark", r.Remark, 200}, {"tag", r.Tag, 50},
		{"auth_code", r.AuthCode, 50}, {"sub_appid", r.SubAppID, 128}, {"sub_openid", r.SubOpenID, 128},
		{"buyer_id", r.BuyerID, 50},
	} {
		if err := validText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if err := validAmounts(r.OriginalAmount, r.DiscountAmount, r.IgnoreAmount, r.TradeAmount); err != nil {
		return err
	}
	for _, u := range []struct{ name, v string }{{"notify_url", r.NotifyURL}, {"jump_url", r.JumpURL}} {
		if err := validURL(u.name, u.v); err != nil {
			return err
		}
	}
	return r.validScenario()
}

func validAmounts(original, discount, ignore, trade int64) error {
	switch {
	case original < 0:
		return &ValidationError{"original_amount", "negative"}
	case discount < 0:
		return &ValidationError{"discount_amount", "negative"}
	case ignore < 0:
		return &ValidationError{"ignore_amount", "negative"}
	case trade <= 0:
		return &ValidationError{"trade_amount", "must be positive"}
	case original-discount-ignore != trade:
		return &ValidationError{"trade_amount", "must equal original_amount - discount_amount - ignore_amount"}
	}
	return nil
}

// validURL accepts an absolute http(s) URL of at most 200 characters. A query
// string is refused: the gateway signs every field it sends back, so our own
// parameters would end up in the signed set of the callback.
func validURL(field, s string) error {
	if s == "" {
		return nil
	}
	if len(s) > 200 {
		return &ValidationError{field, "longer than 200 characters"}
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &ValidationError{field, "must be an absolute http(s) URL"}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return &ValidationError{field, "must carry no query or fragment (route by path)"}
	}
	return nil
}

func (r *PayOrderRequest) validScenario() error {
	wechatNative := r.SubAppID != "" || r.SubOpenID != ""
	switch {
	case r.AuthCode != "" && (r.JumpURL != "" || r.JSAPI || wechatNative || r.BuyerID != ""):
		return &ValidationError{"auth_code", "a barcode payment takes no jump_url, JSAPI, sub_appid, sub_openid or buyer_id"}
	case r.JSAPI && r.JumpURL != "":
		return &ValidationError{"jump_url", "give either jump_url or JSAPI, not both"}
	case r.JSAPI && wechatNative && r.BuyerID != "":
		return &ValidationError{"buyer_id", "give either sub_appid/sub_openid (WeChat) or buyer_id (Alipay)"}
	case r.JSAPI && !wechatNative && r.BuyerID == "":
		return &ValidationError{"JSAPI", "needs sub_appid and sub_openid (WeChat) or buyer_id (Alipay)"}
	case r.JSAPI && wechatNative && (r.SubAppID == "" || r.SubOpenID == ""):
		return &ValidationError{"sub_openid", "sub_appid and sub_openid go together"}
	case !r.JSAPI && (wechatNative || r.BuyerID != ""):
		return &ValidationError{"JSAPI", "sub_appid, sub_openid and buyer_id need JSAPI=1"}
	}
	return nil
}

func (r *PayOrderRequest) encode() []byte {
	o := newObject(512)
	o.str("out_no", r.OutNo)
	o.str("pmt_tag", r.PmtTag)
	o.str("pmt_name", r.PmtName)
	o.str("ord_name", r.OrdName)
	o.num("original_amount", r.OriginalAmount)
	o.numNZ("discount_amount", r.DiscountAmount)
	o.numNZ("ignore_amount", r.IgnoreAmount)
	o.num("trade_amount", r.TradeAmount)
	o.str("trade_account", r.TradeAccount)
	o.str("trade_no", r.TradeNo)
	o.str("remark", r.Remark)
	o.str("tag", r.Tag)
	o.str("notify_url", r.NotifyURL)
	o.str("auth_code", r.AuthCode)
	o.str("jump_url", r.JumpURL)
	if r.JSAPI {
		o.num("JSAPI", 1)
	}
	o.str("sub_appid", r.SubAppID)
	o.str("sub_openid", r.SubOpenID)
	o.str("buyer_id", r.BuyerID)
	return o.bytes()
}

// RefundRequest creates a refund order against a paid order (payrefund).
// Exactly one of OrdNo and OutNo names the original order.
type RefundRequest struct {
	OrdNo        string
	OutNo        string
	RefundOutNo  string
	RefundAmount int64
	RefundName   string
	Remark       string
}

// Validate checks the request before anything is sent.
func (r *RefundRequest) Validate() error {
	if err := (OrderRef{OrdNo: r.OrdNo, OutNo: r.OutNo}).validate(); err != nil {
		return err
	}
	if err := validOutNo("refund_out_no", r.RefundOutNo); err != nil {
		return err
	}
	if r.RefundAmount <= 0 {
		return &ValidationError{"refund_amount", "must be positive"}
	}
	if err := validText("refund_ord_name", r.RefundName, 50); err != nil {
		return err
	}
	return validText("remark", r.Remark, 100)
}

func (r *RefundRequest) encode(shopPassSHA1 string) []byte {
	o := newObject(256)
	o.str("out_no", r.OutNo)
	o.str("ord_no", r.OrdNo)
	o.str("refund_out_no", r.RefundOutNo)
	o.str("refund_ord_name", r.RefundName)
	o.num("refund_amount", r.RefundAmount)
	o.str("remark", r.Remark)
	o.str("shop_pass", shopPassSHA1)
	return o.bytes()
}

// OrderQuery filters the order listing. Zero values mean "any"; with no
// dates the gateway returns the last 90 days.
type OrderQuery struct {
	Page     int // from 1
	PageSize int // at most 100
	OutNo    string
	TradeNo  string
	OrdNo    string
	PmtTag   string
	OrdType  OrderType
	Status   Status
	Since    time.Time // sdate
	Until    time.Time // edate
}

// Validate checks the query before anything is sent.
func (q *OrderQuery) Validate() error {
	switch {
	case q.Page < 0:
		return &ValidationError{"page", "negative"}
	case q.PageSize < 0 || q.PageSize > 100:
		return &ValidationError{"pagesize", "must be between 1 and 100"}
	case q.OrdType != 0 && q.OrdType != OrderPayment && q.OrdType != OrderRefund:
		return &ValidationError{"ord_type", "must be 1 (payment) or 2 (refund)"}
	case !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since):
		return &ValidationError{"edate", "before sdate"}
	}
	if q.OutNo != "" {
		if err := validOutNo("out_no", q.OutNo); err != nil {
			return err
		}
	}
	for _, f := range []struct{ name, v string }{{"trade_no", q.TradeNo}, {"ord_no", q.OrdNo}, {"pmt_tag", q.PmtTag}} {
		if err := validText(f.name, f.v, 64); err != nil {
			return err
		}
	}
	return nil
}

func (q *OrderQuery) encode() []byte {
	o := newObject(256)
	o.numNZ("page", int64(q.Page))
	o.numNZ("pagesize", int64(q.PageSize))
	o.str("out_no", q.OutNo)
	o.str("trade_no", q.TradeNo)
	o.str("ord_no", q.OrdNo)
	o.str("pmt_tag", q.PmtTag)
	o.numNZ("ord_type", int64(q.OrdType))
	o.numNZ("status", int64(q.Status))
	if !q.Since.IsZero() {
		o.str("sdate", FormatTime(q.Since))
	}
	if !q.Until.IsZero() {
		o.str("edate", FormatTime(q.Until))
	}
	return o.bytes()
}

// PayListTypes builds paylist's pmt_type from scenario type numbers
// ("2" C-scans-B, "3" B-scans-C, "4" jsapi).
func PayListTypes(types ...int) string {
	s := make([]string, len(types))
	for i, t := range types {
		s[i] = strconv.Itoa(t)
	}
	return strings.Join(s, ",")
}

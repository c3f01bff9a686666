package gateway

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// PayMethod is one entry of paylist: a pay method open to the store.
type PayMethod struct {
	Name         Text `json:"pmt_name"`
	InternalName Text `json:"pmt_internal_name"`
	// Types lists the scenarios as the gateway writes them, e.g. "2,3,4"
	// (0 cash, 1 card, 2 C-scans-B, 3 B-scans-C, 4 jsapi).
	Types       Text `json:"pmt_type"`
	Icon        Text `json:"pmt_icon"`
	TicketIcon  Text `json:"pmt_ticket_icon"`
	Tag         Text `json:"pmt_tag"`
	Currency    Text `json:"pmt_currency"`
	SplitRefund Int  `json:"pmt_split_refund"`
	TicketName  Text `json:"ticket_name"`
}

// Supports reports whether the method lists scenario type t ("2", "3", "4").
func (m PayMethod) Supports(t string) bool {
	for _, s := range strings.Split(string(m.Types), ",") {
		if strings.TrimSpace(s) == t {
			return true
		}
	}
	return false
}

// Order is an order as order, order/view and paystatus describe it: a payment
// (OrdType 1) or a refund (OrdType 2).
type Order struct {
	PmtTag              Text      `json:"pmt_tag"`
	PmtName             Text      `json:"pmt_name"`
	OrdNo               Text      `json:"ord_no"`
	OutNo               Text      `json:"out_no"`
	OrdType             OrderType `json:"ord_type"`
	OrdMctID            Int       `json:"ord_mct_id"`
	OrdShopID           Int       `json:"ord_shop_id"`
	OrdName             Text      `json:"ord_name"`
	AddTime             Time      `json:"add_time"`
	TradeTime           Time      `json:"trade_time"`
	TradePayTime        Time      `json:"trade_pay_time"`
	TradeAccount        Text      `json:"trade_account"`
	TradeNo             Text      `json:"trade_no"`
	TradeQRCode         Text      `json:"trade_qrcode"`
	TradeAmount         Int       `json:"trade_amount"`
	OriginalAmount      Int       `json:"original_amount"`
	DiscountAmount      Int       `json:"discount_amount"`
	IgnoreAmount        Int       `json:"ignore_amount"`
	TradeDiscountAmount Int       `json:"trade_discout_amount"` // sic
	Status              Status    `json:"status"`
	Remark              Text      `json:"remark"`
	// TradeResult is the acquirer's raw answer, kept opaque.
	TradeResult   Text `json:"trade_result"`
	OriginalOrdNo Text `json:"original_ord_no"`
	Currency      Text `json:"currency"`
	CurrencySign  Text `json:"currency_sign"`
	DiyPmtName    Text `json:"diy_pmt_name"`
	ShopNo        Text `json:"shop_no"`
	ShopName      Text `json:"shop_name"`
	TmlNo         Text `json:"tml_no"`
	QrcID         Text `json:"qrc_id"`
}

// PayOrderResult is payorder's answer. Which fields are set depends on the
// scenario: TradeQRCode for C-scans-B, JSAPIPayURL for jump_url, the JS
// parameters for native WeChat JSAPI and mini-programs, TradeNo for native
// Alipay JSAPI.
type PayOrderResult struct {
	Order
	OrdCurrency Text `json:"ord_currency"`
	JSAPIPayURL Text `json:"jsapi_pay_url"`
	// WeChatPay holds appId, timeStamp, nonceStr, package, signType and
	// paySign, trimmed.
	WeChatPay
}

// WeChatPay is what WeixinJSBridge.invoke('getBrandWCPayRequest', …) and
// wx.requestPayment take. The JSON names are the bridge's own.
type WeChatPay struct {
	AppID     Text `json:"appId"`
	TimeStamp Text `json:"timeStamp"`
	NonceStr  Text `json:"nonceStr"`
	Package   Text `json:"package"`
	SignType  Text `json:"signType"`
	PaySign   Text `json:"paySign"`
}

// Complete reports whether every bridge parameter is present.
func (w WeChatPay) Complete() bool {
	return w.AppID != "" && w.TimeStamp != "" && w.NonceStr != "" && w.Package != "" && w.SignType != "" && w.PaySign != ""
}

// CancelResult is paycancel's answer.
type CancelResult struct {
	OrdNo  Text   `json:"ord_no"`
	Status Status `json:"ord_status"` // 4 when cancelled
}

// UnmarshalJSON accepts the table's ord_status and the example's ord_stautus.
func (c *CancelResult) UnmarshalJSON(b []byte) error {
	var w struct {
		OrdNo     Text   `json:"ord_no"`
		OrdStatus Status `json:"ord_status"`
		Stautus   Status `json:"ord_stautus"`
		Status    Status `json:"status"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	c.OrdNo = w.OrdNo
	switch {
	case w.OrdStatus != 0:
		c.Status = w.OrdStatus
	case w.Stautus != 0:
		c.Status = w.Stautus
	default:
		c.Status = w.Status
	}
	return nil
}

// RefundResult is payrefund's answer: a new refund order.
type RefundResult struct {
	OrdNo               Text   `json:"ord_no"`
	OrdShopID           Int    `json:"ord_shop_id"`
	OrdMctID            Int    `json:"ord_mct_id"`
	TradeAmount         Int    `json:"trade_amount"`
	OriginalOrdNo       Text   `json:"original_ord_no"`
	Status              Status `json:"status"` // 1 success, anything else not
	TradeDiscountAmount Int    `json:"trade_discout_amount"`
	TradeTime           Time   `json:"trade_time"`
	OrdCurrency         Text   `json:"ord_currency"`
	CurrencySign        Text   `json:"currency_sign"`
}

// OrderPage is one page of the order listing.
type OrderPage struct {
	TotalNum  int64   `json:"totalnum"`
	TotalPage int64   `json:"totalpage"`
	PageSize  int64   `json:"pagesize"`
	Page      int64   `json:"page"`
	List      []Order `json:"list"`
}

// UnmarshalJSON accepts the example's "pages" and the table's "page".
func (p *OrderPage) UnmarshalJSON(b []byte) error {
	type pages struct {
		TotalNum  Int `json:"totalnum"`
		TotalPage Int `json:"totalpage"`
		PageSize  Int `json:"pagesize"`
		Page      Int `json:"page"`
	}
	var w struct {
		Pages *pages  `json:"pages"`
		Page  *pages  `json:"page"`
		List  []Order `json:"list"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	pg := w.Pages
	if pg == nil {
		pg = w.Page
	}
	if pg != nil {
		p.TotalNum, p.TotalPage, p.PageSize, p.Page = int64(pg.TotalNum), int64(pg.TotalPage), int64(pg.PageSize), int64(pg.Page)
	}
	p.List = w.List
	return nil
}

// MPConfig binds a WeChat official-account or mini-program appid to the
// store, which native JSAPI payments require.
type MPConfig struct {
	PmtTag         Text `json:"pmt_tag"`
	SubAppID       Text `json:"sub_appid"`
	SubscribeAppID Text `json:"subscribe_appid"`
}

// mpConfigList accepts a bare array or an object holding "list".
type mpConfigList []MPConfig

func (l *mpConfigList) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '[' {
		return json.Unmarshal(b, (*[]MPConfig)(l))
	}
	var w struct {
		List []MPConfig `json:"list"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*l = w.List
	return nil
}

// OrderRef names one order by the gateway's ord_no or by our out_no; exactly
// one must be set.
type OrderRef struct {
	OrdNo string
	OutNo string
}

// ByOutNo names an order by our out_no.
func ByOutNo(outNo string) OrderRef { return OrderRef{OutNo: outNo} }

// ByOrdNo names an order by the gateway's ord_no.
func ByOrdNo(ordNo string) OrderRef { return OrderRef{OrdNo: ordNo} }

func (r OrderRef) validate() error {
	switch {
	case r.OrdNo == "" && r.OutNo == "":
		return &ValidationError{"ord_no/out_no", "one of them is required"}
	case r.OrdNo != "" && r.OutNo != "":
		return &ValidationError{"ord_no/out_no", "give only one of them"}
	case r.OutNo != "":
		return validOutNo("out_no", r.OutNo)
	}
	return validText("ord_no", r.OrdNo, 64)
}

func (r OrderRef) String() string {
	if r.OutNo != "" {
		return "out_no " + r.OutNo
	}
	return "ord_no " + r.OrdNo
}

func (r OrderRef) encode() []byte {
	o := newObject(96)
	o.str("ord_no", r.OrdNo)
	o.str("out_no", r.OutNo)
	return o.bytes()
}

// validOutNo enforces the document's rule: letters and digits only, at most
// 64 characters.
func validOutNo(field, s string) error {
	if s == "" {
		return &ValidationError{field, "required"}
	}
	if len(s) > 64 {
		return &ValidationError{field, "longer than 64 characters"}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return &ValidationError{field, "only letters and digits are allowed"}
		}
	}
	return nil
}

// validText refuses invalid UTF-8, control characters and over-long values
// (max counts characters, as the document's lengths do).
func validText(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return &ValidationError{field, "not valid UTF-8"}
	}
	if utf8.RuneCountInString(s) > max {
		return &ValidationError{field, "too long"}
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return &ValidationError{field, "contains control characters"}
		}
	}
	return nil
}

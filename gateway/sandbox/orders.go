package sandbox

import (
	"strconv"
	"strings"
	"time"

	"github.com/wallet-checkout/checkout/gateway"
)

// store is a store's state. Every field is guarded by Server.mu.
type store struct {
	openID   string
	key      gateway.Key
	passSHA1 string
	name     string
	payList  []PayMethod
	appIDs   map[string][]mpBinding // by pmt_tag
	orders   []*order               // in creation order
	byOutNo  map[string]*order      // out_no of payments and refunds share one namespace
	byOrdNo  map[string]*order
	shopSeq  int64
}

type mpBinding struct {
	pmtTag, subAppID, subscribeAppID string
}

func (st *store) method(tag string) *PayMethod {
	for i := range st.payList {
		if st.payList[i].Tag == tag {
			return &st.payList[i]
		}
	}
	return nil
}

func (st *store) bind(b mpBinding) {
	list := st.appIDs[b.pmtTag]
	for i, x := range list {
		if x.subAppID == b.subAppID {
			list[i] = b
			return
		}
	}
	st.appIDs[b.pmtTag] = append(list, b)
}

func (st *store) bound(tag, appID string) bool {
	for _, b := range st.appIDs[tag] {
		if b.subAppID == appID {
			return true
		}
	}
	return false
}

// Scenario names how an order is paid.
type Scenario string

// The scenarios of document 4.4, plus offline methods (Cash, Diy).
const (
	ScenarioQR          Scenario = "qr"           // C scans B: trade_qrcode
	ScenarioBarcode     Scenario = "barcode"      // B scans C: auth_code
	ScenarioJump        Scenario = "jump"         // jump_url → jsapi_pay_url
	ScenarioWeChatJSAPI Scenario = "wechat_jsapi" // JSAPI=1, sub_appid, sub_openid
	ScenarioAlipayJSAPI Scenario = "alipay_jsapi" // JSAPI=1, buyer_id
	ScenarioOffline     Scenario = "offline"      // Cash, Diy: paid at once
	ScenarioRefund      Scenario = "refund"       // a refund order
)

type family int

const (
	familyAlipay family = iota
	familyWeChat
	familyOffline
)

// familyOf tells the acquirer from the tag. Deployments spell tags
// differently (WeixinBERL, AlipayCS…), so only the prefix counts; tags of
// unknown acquirers behave like Alipay.
func familyOf(tag string) family {
	switch {
	case tag == "Cash" || tag == "Diy":
		return familyOffline
	case strings.HasPrefix(tag, "Weixin") || strings.HasPrefix(tag, "WeChat") || strings.HasPrefix(tag, "Wx"):
		return familyWeChat
	}
	return familyAlipay
}

// magic is what an order's amount or auth_code makes go wrong.
type magic int

const (
	magicNone          magic = iota
	magicPayFails            // amount ..11: payorder fails with 8011
	magicNotifyDelay         // amount ..21: first notify NotifyDelay late
	magicNotifyTriple        // amount ..22: each notify attempt sent 3 times concurrently
	magicNotifyNever         // amount ..23: no notify at all
	magicAmountDiffers       // amount ..24: paid amount (and paystatus) differ by 1 fen
	magicLatePayer           // amount ..25: the payer pays LatePayDelay after payorder
	magicRefundFails         // amount ..40: refunds fail with 8040
)

// Magic amounts, by the last two digits of trade_amount in fen.
const (
	MagicAmountPayFails      = 11
	MagicAmountNotifyDelayed = 21
	MagicAmountNotifyTriple  = 22
	MagicAmountNotifyNever   = 23
	MagicAmountDiffers       = 24
	MagicAmountLatePayer     = 25
	MagicAmountRefundFails   = 40
)

func magicOf(amount int64) magic {
	switch amount % 100 {
	case MagicAmountPayFails:
		return magicPayFails
	case MagicAmountNotifyDelayed:
		return magicNotifyDelay
	case MagicAmountNotifyTriple:
		return magicNotifyTriple
	case MagicAmountNotifyNever:
		return magicNotifyNever
	case MagicAmountDiffers:
		return magicAmountDiffers
	case MagicAmountLatePayer:
		return magicLatePayer
	case MagicAmountRefundFails:
		return magicRefundFails
	}
	return magicNone
}

// Magic auth_codes (B scans C), by their last four digits. Any other code of
// 10 to 30 digits pays at once.
const (
	// MagicAuthCodePassword: status 9 (the payer types a password), paid
	// after Config.PasswordDelay.
	MagicAuthCodePassword = "9001"
	// MagicAuthCodePasswordForever: status 9 until the merchant cancels it.
	MagicAuthCodePasswordForever = "9002"
	// MagicAuthCodeNoFunds: payorder fails with 8011, the acquirer saying
	// the balance is too low.
	MagicAuthCodeNoFunds = "8011"
	// MagicAuthCodeExpired: payorder fails with 8011, the code has expired.
	MagicAuthCodeExpired = "8012"
)

// order is a payment or a refund. Every field is guarded by Server.mu.
type order struct {
	st       *store
	ordNo    string
	outNo    string
	ordType  gateway.OrderType
	scenario Scenario
	pmtTag   string
	pmtName  string
	diyName  string
	ordName  string
	remark   string
	tag      string

	original, discount, ignore, trade int64
	paid                              int64 // what the acquirer took; differs from trade for magic ..24
	refunded                          int64 // sum of refunds, payments only

	status       gateway.Status
	tradeNo      string
	tradeQRCode  string
	tradeAccount string
	prepayID     string
	nonce        string
	jsTimeStamp  string
	paySign      string
	subAppID     string
	subOpenID    string
	buyerID      string
	notifyURL    string
	jumpURL      string
	origOrdNo    string

	addTime time.Time
	payTime time.Time
	mctID   int64
	shopID  int64
	magic   magic
	// notifies records the delivery attempts of async notifies.
	notifies []NotifyAttempt
}

// NotifyAttempt is one attempt to deliver an async notify.
type NotifyAttempt struct {
	At        time.Time
	Status    gateway.Status // the status notified: 1 paid, 4 cancelled
	Copies    int            // how many identical requests were sent at once
	Delivered bool           // a copy was answered notify_success
}

// OrderSnapshot is a read-only copy of an order, for tests.
type OrderSnapshot struct {
	OpenID         string
	OrdNo          string
	OutNo          string
	OrdType        gateway.OrderType
	Scenario       Scenario
	PmtTag         string
	Status         gateway.Status
	TradeAmount    int64 // what was ordered
	PaidAmount     int64 // what the payer paid (0 until paid)
	Refunded       int64 // sum of refunds against a payment
	OriginalOrdNo  string
	TradeNo        string
	TradeQRCode    string
	PrepayID       string
	SubAppID       string
	NotifyURL      string
	JumpURL        string
	AddTime        time.Time
	PayTime        time.Time
	ShopSerial     int64 // ord_shop_id
	MerchantSerial int64 // ord_mct_id
	Notifies       []NotifyAttempt
}

// Order returns a copy of an order of a store, found by ord_no or out_no.
func (s *Server) Order(openID, ordNo string) (OrderSnapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.stores[openID]
	if !ok {
		return OrderSnapshot{}, false
	}
	o := st.find(ordNo, "")
	if o == nil {
		o = st.find("", ordNo)
	}
	if o == nil {
		return OrderSnapshot{}, false
	}
	return o.snapshot(), true
}

// Orders returns copies of a store's orders, oldest first.
func (s *Server) Orders(openID string) []OrderSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.stores[openID]
	if !ok {
		return nil
	}
	out := make([]OrderSnapshot, len(st.orders))
	for i, o := range st.orders {
		out[i] = o.snapshot()
	}
	return out
}

func (o *order) snapshot() OrderSnapshot {
	return OrderSnapshot{
		OpenID: o.st.openID, OrdNo: o.ordNo, OutNo: o.outNo, OrdType: o.ordType, Scenario: o.scenario,
		PmtTag: o.pmtTag, Status: o.status, TradeAmount: o.trade, PaidAmount: o.paid, Refunded: o.refunded,
		OriginalOrdNo: o.origOrdNo, TradeNo: o.tradeNo, TradeQRCode: o.tradeQRCode, PrepayID: o.prepayID,
		SubAppID: o.subAppID, NotifyURL: o.notifyURL, JumpURL: o.jumpURL, AddTime: o.addTime, PayTime: o.payTime,
		ShopSerial: o.shopID, MerchantSerial: o.mctID, Notifies: append([]NotifyAttempt(nil), o.notifies...),
	}
}

// find looks an order up by ord_no, else by out_no.
func (st *store) find(ordNo, outNo string) *order {
	if ordNo != "" {
		return st.byOrdNo[ordNo]
	}
	if outNo != "" {
		return st.byOutNo[outNo]
	}
	return nil
}

// newOrdNo makes an order number in the document's shape: 9, the Unix time,
// 14 random digits (25 digits, e.g. 9149853698138671785993018). Call with
// s.mu held.
func (s *Server) newOrdNo(now time.Time) string {
	for {
		n := "9" + strconv.FormatInt(now.Unix(), 10) + s.randString(14, digits)
		if _, taken := s.orders[n]; !taken {
			return n
		}
	}
}

// register adds a new order to its store and the indexes. Call with s.mu held.
func (s *Server) register(o *order) {
	st := o.st
	st.shopSeq++
	s.mctSeq++
	o.shopID, o.mctID = st.shopSeq, s.mctSeq
	st.orders = append(st.orders, o)
	st.byOutNo[o.outNo] = o
	st.byOrdNo[o.ordNo] = o
	s.orders[o.ordNo] = o
	if o.tradeQRCode != "" {
		s.byQR[o.tradeQRCode] = o
	}
	if o.scenario == ScenarioAlipayJSAPI {
		s.byTradeNo[o.tradeNo] = o
	}
	if o.prepayID != "" {
		s.byPrepay[o.prepayID] = o
	}
}

// transition is a change of an order's status that may need a notify.
type transition struct {
	o      *order
	status gateway.Status
}

// markPaid pays an awaiting order. Call with s.mu held; notify the result
// after unlocking.
func (s *Server) markPaid(o *order) (transition, bool) {
	if o.status != gateway.StatusAwaiting && o.status != gateway.StatusPassword {
		return transition{}, false
	}
	now := s.now()
	o.status = gateway.StatusPaid
	o.payTime = now
	o.paid = o.trade
	if o.magic == magicAmountDiffers {
		o.paid = o.trade - 1
	}
	switch familyOf(o.pmtTag) {
	case familyWeChat:
		// The prepay id gives way to WeChat's transaction id once paid.
		o.tradeNo = "42000" + s.randString(5, digits) + chinaDate(now) + s.randString(10, digits)
		if o.subOpenID != "" {
			o.tradeAccount = o.subOpenID
		} else {
			o.tradeAccount = "CFT"
		}
	case familyAlipay:
		if o.tradeNo == "" {
			o.tradeNo = alipayTradeNo(s, now)
		}
		o.tradeAccount = "san***@sandbox.example"
	}
	return transition{o, gateway.StatusPaid}, true
}

// markCancelled cancels an unpaid order. Call with s.mu held.
func (s *Server) markCancelled(o *order) transition {
	o.status = gateway.StatusCanceled
	return transition{o, gateway.StatusCanceled}
}

func alipayTradeNo(s *Server, now time.Time) string {
	return chinaDate(now) + "22001" + s.randString(15, digits)
}

// chinaDate is yyyyMMdd in China time.
func chinaDate(t time.Time) string { return t.In(gateway.ChinaTime()).Format("20060102") }

// chinaStamp is yyyyMMddHHmmss in China time.
func chinaStamp(t time.Time) string { return t.In(gateway.ChinaTime()).Format("20060102150405") }

// reportedAmount is the trade_amount the answers show: what was paid once
// paid (magic ..24 makes them differ), what was ordered before.
func (o *order) reportedAmount() int64 {
	if o.status == gateway.StatusPaid && o.ordType == gateway.OrderPayment {
		return o.paid
	}
	return o.trade
}

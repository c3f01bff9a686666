package sandbox

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wallet-checkout/checkout/gateway"
)

// currency of every sandbox store.
const (
	currency     = "CNY"
	currencySign = "¥"
)

// payList answers paylist: the store's methods whose scenario types meet
// the requested ones ("2,3,4"), or all of them when none are asked for.
func (s *Server) payList(c *call) (result, *apiError) {
	want := splitTypes(c.text("pmt_type"))
	var list []*object
	for _, m := range c.st.payList {
		if len(want) > 0 && !slices.ContainsFunc(splitTypes(m.Types), func(t string) bool { return slices.Contains(want, t) }) {
			continue
		}
		name := m.Name
		if name == "" {
			name = m.Tag
		}
		list = append(list, newObject().
			str("pmt_name", name).
			str("pmt_internal_name", m.Tag).
			str("pmt_type", m.Types).
			str("pmt_icon", "/Public/images/"+m.Tag+".jpg").
			str("pmt_ticket_icon", "/Public/images/ticket/"+m.Tag+".png").
			str("pmt_tag", m.Tag).
			str("pmt_currency", currency).
			int("pmt_split_refund", 1).
			str("ticket_name", name+"签购单"))
	}
	return result{"ok", encodeArray(list, s.cfg.Quirks)}, nil
}

func splitTypes(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func supports(m *PayMethod, t string) bool { return slices.Contains(splitTypes(m.Types), t) }

// validOutNo is the document's rule: letters and digits, at most 64.
func validOutNo(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// validText refuses invalid UTF-8, control characters and values longer
// than max characters.
func validText(s string, max int) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func validCallbackURL(s string) bool {
	if s == "" {
		return true
	}
	if len(s) > 200 {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func createFailed(reason string) *apiError {
	return failMsg(gateway.CodeCreateFailed, gateway.CodeCreateFailed.Message()+","+reason)
}

func paymentFailed(reason string) *apiError {
	return failMsg(gateway.CodePaymentFailed, "支付失败，"+reason)
}

// payOrder answers payorder, every scenario.
func (s *Server) payOrder(c *call) (res result, aerr *apiError) {
	defer s.journalRecord("payorder", c, &res, &aerr)
	st := c.st
	outNo := c.text("out_no")
	if outNo == "" {
		return result{}, fail(gateway.CodeOutNoEmpty)
	}
	if !validOutNo(outNo) {
		return result{}, createFailed("out_no只允许使用数字、字母，且不超过64位")
	}
	tag := c.text("pmt_tag")
	if tag == "" {
		return result{}, fail(gateway.CodePayMethodEmpty)
	}
	m := st.method(tag)
	if m == nil {
		return result{}, fail(gateway.CodePayMethodDisabled)
	}
	diyName := c.text("pmt_name")
	if tag == "Diy" && diyName == "" {
		return result{}, failMsg(gateway.CodePayMethodEmpty, "付款方式不能为空，pmt_tag为Diy时pmt_name不能为空")
	}
	for _, f := range []struct {
		name string
		max  int
	}{{"pmt_name", 20}, {"ord_name", 100}, {"remark", 200}, {"tag", 50}, {"trade_account", 100}, {"trade_no", 128},
		{"auth_code", 50}, {"sub_appid", 128}, {"sub_openid", 128}, {"buyer_id", 50}} {
		if !validText(c.text(f.name), f.max) {
			return result{}, createFailed(f.name + "格式错误")
		}
	}
	original, hasOriginal, ok1 := c.amount("original_amount")
	discount, _, ok2 := c.amount("discount_amount")
	ignore, _, ok3 := c.amount("ignore_amount")
	trade, hasTrade, ok4 := c.amount("trade_amount")
	if !ok1 || !ok2 || !ok3 || !ok4 || !hasOriginal || !hasTrade || trade <= 0 || discount < 0 || ignore < 0 ||
		original-discount-ignore != trade {
		return result{}, fail(gateway.CodeAmountWrong)
	}
	notifyURL, jumpURL := c.text("notify_url"), c.text("jump_url")
	if !validCallbackURL(notifyURL) {
		return result{}, createFailed("notify_url格式错误")
	}
	if !validCallbackURL(jumpURL) {
		return result{}, createFailed("jump_url格式错误")
	}
	authCode, jsapi := c.text("auth_code"), c.text("JSAPI") == "1"
	subAppID, subOpenID, buyerID := c.text("sub_appid"), c.text("sub_openid"), c.text("buyer_id")
	fam := familyOf(tag)

	var sc Scenario
	switch {
	case fam == familyOffline:
		sc = ScenarioOffline
	case authCode != "":
		sc = ScenarioBarcode
	case jsapi && buyerID != "":
		sc = ScenarioAlipayJSAPI
	case jsapi:
		sc = ScenarioWeChatJSAPI
	case jumpURL != "":
		sc = ScenarioJump
	default:
		sc = ScenarioQR
	}
	need := map[Scenario]string{ScenarioQR: "2", ScenarioBarcode: "3", ScenarioJump: "4", ScenarioWeChatJSAPI: "4", ScenarioAlipayJSAPI: "4"}[sc]
	if need != "" && !supports(m, need) {
		return result{}, fail(gateway.CodePayMethodDisabled)
	}
	switch sc {
	case ScenarioAlipayJSAPI:
		if fam != familyAlipay {
			return result{}, paymentFailed("buyer_id仅适用于支付宝服务窗支付")
		}
	case ScenarioWeChatJSAPI:
		if fam != familyWeChat {
			return result{}, paymentFailed("sub_appid仅适用于微信公众号或小程序支付")
		}
		if subAppID == "" || subOpenID == "" {
			return result{}, paymentFailed("JSAPI支付缺少sub_appid或sub_openid")
		}
	}
	mg := magicOf(trade)
	if mg == magicPayFails {
		return result{}, paymentFailed("交易存在风险，已被支付通道拦截(RISK_CONTROL)")
	}
	startStatus := gateway.StatusAwaiting
	if sc == ScenarioBarcode {
		if !isDigits(authCode) || len(authCode) < 10 || len(authCode) > 30 {
			return result{}, paymentFailed("AUTH_CODE_INVALID:付款码无效（条码格式不对），请重新扫码")
		}
		switch authCode[len(authCode)-4:] {
		case MagicAuthCodeNoFunds:
			return result{}, paymentFailed("NOTENOUGH:用户余额不足，请用户更换付款卡或充值后再试")
		case MagicAuthCodeExpired:
			return result{}, paymentFailed("AUTHCODEEXPIRE:二维码已过期，请用户在手机上刷新后再试")
		case MagicAuthCodePassword, MagicAuthCodePasswordForever:
			startStatus = gateway.StatusPassword
		}
		if mg == magicLatePayer {
			startStatus = gateway.StatusPassword
		}
	}

	s.mu.Lock()
	if sc == ScenarioWeChatJSAPI && !st.bound(tag, subAppID) {
		s.mu.Unlock()
		return result{}, paymentFailed("sub_mch_id与sub_appid不匹配")
	}
	if prev := st.byOutNo[outNo]; prev != nil {
		s.mu.Unlock()
		if prev.ordType == gateway.OrderRefund {
			return result{}, fail(gateway.CodeOrderExists)
		}
		return result{}, fail(gateway.CodeOutNoExists)
	}
	now := s.now()
	o := &order{
		st: st, ordNo: s.newOrdNo(now), outNo: outNo, ordType: gateway.OrderPayment, scenario: sc,
		pmtTag: tag, pmtName: m.Name, diyName: diyName, ordName: c.text("ord_name"), remark: c.text("remark"),
		tag: c.text("tag"), original: original, discount: discount, ignore: ignore, trade: trade,
		status: startStatus, subAppID: subAppID, subOpenID: subOpenID, buyerID: buyerID,
		notifyURL: notifyURL, jumpURL: jumpURL, addTime: now, magic: mg, nonce: s.randString(16, alnum),
	}
	if o.pmtName == "" {
		o.pmtName = tag
	}
	switch sc {
	case ScenarioQR:
		if fam == familyWeChat {
			o.prepayID = s.newPrepayID(now)
			o.tradeNo = o.prepayID
			o.tradeQRCode = s.uniqueQR(func() string { return "weixin://wxpay/bizpayurl?pr=" + s.randString(7, alnum) })
		} else {
			o.tradeQRCode = s.uniqueQR(func() string { return "https://qr.alipay.com/bax0" + s.randString(20, lowalnum) })
		}
	case ScenarioJump:
		if fam == familyWeChat {
			o.prepayID = s.newPrepayID(now)
			o.tradeNo = o.prepayID
		} else {
			o.tradeNo = alipayTradeNo(s, now)
		}
	case ScenarioWeChatJSAPI:
		o.prepayID = s.newPrepayID(now)
		o.tradeNo = o.prepayID
		o.nonce = s.randString(32, alnum)
		o.jsTimeStamp = strconv.FormatInt(now.Unix(), 10)
		o.paySign = wechatPaySign(s.cfg.WeChatPayKey, WeChatPayParams{
			AppID: subAppID, TimeStamp: o.jsTimeStamp, NonceStr: o.nonce, Package: "prepay_id=" + o.prepayID, SignType: "MD5",
		})
	case ScenarioAlipayJSAPI:
		o.tradeNo = s.uniqueAlipayTradeNo(now)
	}
	s.register(o)
	var trs []transition
	if (sc == ScenarioBarcode && startStatus == gateway.StatusAwaiting) || sc == ScenarioOffline {
		if tr, ok := s.markPaid(o); ok {
			trs = append(trs, tr)
		}
	}
	data := s.payOrderObject(o, c.base).encode(s.cfg.Quirks)
	// Once published, the order may be paid by a payer at any moment, so
	// its status is read for the log before unlocking.
	status := o.status
	s.mu.Unlock()

	s.log.Info("Sandbox order created", append(orderAttrs(o), "scenario", string(sc), "trade_amount", trade, "status", int(status))...)
	switch {
	case mg == magicLatePayer:
		s.after(s.cfg.LatePayDelay, func() { s.payLater(o) })
	case sc == ScenarioBarcode && strings.HasSuffix(authCode, MagicAuthCodePassword):
		s.after(s.cfg.PasswordDelay, func() { s.payLater(o) })
	}
	s.notifyAll(trs)
	return result{"ok", data}, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// newPrepayID makes a WeChat prepay id: wx, the China time, 20 hex digits.
func (s *Server) newPrepayID(now time.Time) string {
	for {
		id := "wx" + chinaStamp(now) + s.randString(20, lowhex)
		if _, taken := s.byPrepay[id]; !taken {
			return id
		}
	}
}

func (s *Server) uniqueQR(gen func() string) string {
	for {
		q := gen()
		if _, taken := s.byQR[q]; !taken {
			return q
		}
	}
}

func (s *Server) uniqueAlipayTradeNo(now time.Time) string {
	for {
		n := alipayTradeNo(s, now)
		if _, taken := s.byTradeNo[n]; !taken {
			return n
		}
	}
}

// payLater completes an order whose payer acts by themselves after a delay.
func (s *Server) payLater(o *order) {
	s.mu.Lock()
	tr, ok := s.markPaid(o)
	s.mu.Unlock()
	if ok {
		s.log.Info("Sandbox order paid after a delay", orderAttrs(o)...)
		s.notifyAll([]transition{tr})
	}
}

// WeChatPayParams are the six parameters of WeixinJSBridge's
// getBrandWCPayRequest and of wx.requestPayment.
type WeChatPayParams struct {
	AppID     string `json:"appId"`
	TimeStamp string `json:"timeStamp"`
	NonceStr  string `json:"nonceStr"`
	Package   string `json:"package"`
	SignType  string `json:"signType"`
	PaySign   string `json:"paySign"`
}

// wechatPaySign is WeChat Pay v2's MD5 signature: the parameters sorted by
// name as k=v joined with &, then &key=KEY, MD5, uppercase hex.
func wechatPaySign(key string, p WeChatPayParams) string {
	s := "appId=" + p.AppID + "&nonceStr=" + p.NonceStr + "&package=" + p.Package +
		"&signType=" + p.SignType + "&timeStamp=" + p.TimeStamp + "&key=" + key
	sum := md5.Sum([]byte(s))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// WeChatPaySign computes paySign the way the sandbox does, for tests that
// build their own bridge parameters.
func (s *Server) WeChatPaySign(p WeChatPayParams) string { return wechatPaySign(s.cfg.WeChatPayKey, p) }

func optTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return gateway.FormatTime(t)
}

// payOrderObject is payorder's data. Call with s.mu held. The document's
// examples write trade_amount and status bare for the JSAPI scenarios and as
// strings for the others; quirks mode copies that.
func (s *Server) payOrderObject(o *order, base string) *object {
	jsLike := o.scenario == ScenarioJump || o.scenario == ScenarioWeChatJSAPI || o.scenario == ScenarioAlipayJSAPI
	d := newObject().
		str("ord_no", o.ordNo).
		int("ord_mct_id", o.mctID).
		int("ord_shop_id", o.shopID).
		str("ord_currency", currency).
		str("currency_sign", currencySign).
		str("pmt_tag", o.pmtTag).
		str("pmt_name", o.pmtName).
		strOrNull("trade_no", o.tradeNo)
	if jsLike {
		d.num("trade_amount", o.reportedAmount())
	} else {
		d.int("trade_amount", o.reportedAmount())
	}
	d.strOrNull("trade_qrcode", o.tradeQRCode).
		strOrNull("trade_account", o.tradeAccount).
		str("trade_result", s.tradeResult(o)).
		strOrNull("trade_pay_time", optTime(o.payTime)).
		int("trade_discout_amount", 0)
	if jsLike {
		d.num("status", int64(o.status))
	} else {
		d.int("status", int64(o.status))
	}
	d.str("out_no", o.outNo)
	if o.diyName != "" {
		d.str("diy_pmt_name", o.diyName)
	}
	switch o.scenario {
	case ScenarioJump:
		d.str("jsapi_pay_url", base+"/pay/"+o.ordNo)
	case ScenarioWeChatJSAPI:
		d.spaced("appId", o.subAppID).
			str("timeStamp", o.jsTimeStamp).
			spaced("nonceStr", o.nonce).
			spaced("signType", "MD5").
			spaced("package", "prepay_id="+o.prepayID).
			spaced("paySign", o.paySign)
	}
	return d
}

// orderObject is an order as order, order/view and paystatus show it. Call
// with s.mu held. paystatus writes status bare, as its example does.
func (s *Server) orderObject(o *order, bareStatus bool) *object {
	d := newObject().
		str("pmt_tag", o.pmtTag).
		str("pmt_name", o.pmtName).
		int("ord_mct_id", o.mctID).
		int("ord_shop_id", o.shopID).
		str("ord_no", o.ordNo).
		str("out_no", o.outNo).
		int("ord_type", int64(o.ordType)).
		str("ord_name", o.ordName).
		str("add_time", gateway.FormatTime(o.addTime)).
		strOrNull("trade_account", o.tradeAccount).
		int("trade_amount", o.reportedAmount()).
		str("trade_time", gateway.FormatTime(o.addTime)).
		strOrNull("trade_no", o.tradeNo).
		strOrNull("trade_qrcode", o.tradeQRCode).
		strOrNull("trade_pay_time", optTime(o.payTime)).
		str("remark", o.remark)
	if bareStatus {
		d.num("status", int64(o.status))
	} else {
		d.int("status", int64(o.status))
	}
	return d.
		int("original_amount", o.original).
		int("discount_amount", o.discount).
		int("ignore_amount", o.ignore).
		int("trade_discout_amount", 0).
		strOrNull("original_ord_no", o.origOrdNo).
		str("trade_result", s.tradeResult(o)).
		str("currency", currency).
		str("currency_sign", currencySign).
		strOrNull("diy_pmt_name", o.diyName).
		str("shop_name", o.st.name).
		str("tml_no", "1").
		null("qrc_id")
}

// tradeResult is the acquirer's raw answer, a JSON text inside a string.
func (s *Server) tradeResult(o *order) string {
	if o.scenario == ScenarioOffline {
		return ""
	}
	q := s.cfg.Quirks
	if familyOf(o.pmtTag) == familyWeChat {
		tt := map[Scenario]string{ScenarioQR: "NATIVE", ScenarioBarcode: "MICROPAY", ScenarioJump: "JSAPI", ScenarioWeChatJSAPI: "JSAPI", ScenarioRefund: "REFUND"}[o.scenario]
		r := newObject().str("return_code", "SUCCESS").str("return_msg", "OK").
			str("appid", "wxsandbox0000000001").str("mch_id", "1900000109").str("sub_mch_id", "1900000110").
			str("nonce_str", o.nonce).str("result_code", "SUCCESS").str("trade_type", tt)
		if o.prepayID != "" {
			r.str("prepay_id", o.prepayID)
		}
		if o.scenario == ScenarioQR {
			r.str("code_url", o.tradeQRCode)
		}
		if o.subAppID != "" {
			r.str("sub_appid", o.subAppID)
		}
		if o.status == gateway.StatusPaid {
			r.str("transaction_id", o.tradeNo).str("total_fee", strconv.FormatInt(o.paid, 10)).
				str("fee_type", currency).str("time_end", chinaStamp(o.payTime)).str("bank_type", "CFT")
		}
		return string(r.encode(q))
	}
	inner := newObject().str("code", "10000").str("msg", "Success").str("out_trade_no", o.ordNo)
	if o.tradeNo != "" {
		inner.str("trade_no", o.tradeNo)
	}
	if o.status == gateway.StatusPaid {
		inner.str("trade_status", "TRADE_SUCCESS").str("total_amount", fenToYuan(o.paid)).
			str("gmt_payment", gateway.FormatTime(o.payTime)).str("buyer_logon_id", o.tradeAccount)
	}
	name := "alipay_trade_precreate_response"
	switch o.scenario {
	case ScenarioBarcode:
		name = "alipay_trade_pay_response"
	case ScenarioAlipayJSAPI, ScenarioJump:
		name = "alipay_trade_create_response"
	case ScenarioRefund:
		name = "alipay_trade_refund_response"
	}
	return string(newObject().obj(name, inner).str("sign", "SANDBOX"+o.nonce).encode(q))
}

func fenToYuan(n int64) string {
	return strconv.FormatInt(n/100, 10) + "." + strconv.FormatInt(100+n%100, 10)[1:]
}

// lookup finds the order a request names by ord_no or out_no.
func (c *call) lookup() (*order, *apiError) {
	ordNo, outNo := c.text("ord_no"), c.text("out_no")
	if ordNo == "" && outNo == "" {
		return nil, fail(gateway.CodeOrderNoEmpty)
	}
	o := c.st.find(ordNo, outNo)
	if o == nil {
		return nil, fail(gateway.CodeOrderNotFound)
	}
	return o, nil
}

// orderView answers order/view.
func (s *Server) orderView(c *call) (result, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, e := c.lookup()
	if e != nil {
		return result{}, e
	}
	return result{"ok", s.orderObject(o, false).encode(s.cfg.Quirks)}, nil
}

// payStatus answers paystatus.
func (s *Server) payStatus(c *call) (result, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, e := c.lookup()
	if e != nil {
		return result{}, e
	}
	return result{"ok", s.orderObject(o, true).encode(s.cfg.Quirks)}, nil
}

// payCancel answers paycancel: only unpaid barcode orders can be cancelled.
func (s *Server) payCancel(c *call) (result, *apiError) {
	s.mu.Lock()
	o, e := c.lookup()
	if e != nil {
		s.mu.Unlock()
		return result{}, e
	}
	if o.status == gateway.StatusPaid || o.status == gateway.StatusCanceled {
		s.mu.Unlock()
		return result{}, fail(gateway.CodeNotCancellable)
	}
	if o.scenario != ScenarioBarcode {
		s.mu.Unlock()
		return result{}, failMsg(gateway.CodeCancelFailed, "订单取消失败,错误原因：订单的支付场景不支持该请求")
	}
	tr := s.markCancelled(o)
	ordNo := o.ordNo
	s.mu.Unlock()
	s.log.Info("Sandbox order cancelled", orderAttrs(o)...)
	s.notifyAll([]transition{tr})
	statusKey := "ord_status"
	if s.cfg.Quirks {
		statusKey = "ord_stautus" // sic, as the document's example
	}
	return result{"订单取消成功", newObject().str("ord_no", ordNo).num(statusKey, int64(gateway.StatusCanceled)).encode(s.cfg.Quirks)}, nil
}

// payRefund answers payrefund: a new refund order against a paid payment,
// checked and recorded under one lock so that concurrent refunds can never
// exceed what was paid.
func (s *Server) payRefund(c *call) (res result, aerr *apiError) {
	defer s.journalRecord("payrefund", c, &res, &aerr)
	st := c.st
	ordNo, outNo := c.text("ord_no"), c.text("out_no")
	if ordNo == "" && outNo == "" {
		return result{}, fail(gateway.CodeOriginalOrderEmpty)
	}
	refundOutNo := c.text("refund_out_no")
	if refundOutNo == "" {
		return result{}, failMsg(gateway.CodeOutNoEmpty, "refund_out_no不能为空")
	}
	if !validOutNo(refundOutNo) {
		return result{}, failMsg(gateway.CodeRefundFailed, "退款失败，refund_out_no只允许使用数字、字母，且不超过64位")
	}
	amount, present, valid := c.amount("refund_amount")
	if !valid || amount < 0 {
		return result{}, fail(gateway.CodeAmountWrong)
	}
	if !present || amount == 0 {
		return result{}, fail(gateway.CodeRefundAmountEmpty)
	}
	name, remark := c.text("refund_ord_name"), c.text("remark")
	if !validText(name, 50) || !validText(remark, 100) {
		return result{}, failMsg(gateway.CodeRefundFailed, "退款失败，refund_ord_name或remark格式错误")
	}
	pass := c.text("shop_pass")
	if pass == "" {
		return result{}, fail(gateway.CodeShopPassEmpty)
	}
	// Hashes travel lowercase (doc 1); the real server compares the text,
	// so an uppercase sha1 is a wrong password there too.
	if subtle.ConstantTimeCompare([]byte(pass), []byte(st.passSHA1)) != 1 {
		return result{}, fail(gateway.CodeShopPassWrong)
	}

	s.mu.Lock()
	orig := st.find(ordNo, outNo)
	if orig == nil {
		s.mu.Unlock()
		return result{}, fail(gateway.CodeOriginalNotFound)
	}
	if st.byOutNo[refundOutNo] != nil {
		s.mu.Unlock()
		return result{}, fail(gateway.CodeRefundExists)
	}
	if orig.ordType != gateway.OrderPayment || orig.status != gateway.StatusPaid {
		s.mu.Unlock()
		return result{}, fail(gateway.CodeNotRefundable)
	}
	if orig.refunded+amount > orig.paid {
		s.mu.Unlock()
		if orig.refunded > 0 {
			return result{}, fail(gateway.CodeRefundExceedsLeft)
		}
		return result{}, fail(gateway.CodeRefundExceedsPaid)
	}
	if orig.magic == magicRefundFails {
		s.mu.Unlock()
		return result{}, fail(gateway.CodeRefundExceedsTakings)
	}
	now := s.now()
	r := &order{
		st: st, ordNo: s.newOrdNo(now), outNo: refundOutNo, ordType: gateway.OrderRefund, scenario: ScenarioRefund,
		pmtTag: orig.pmtTag, pmtName: orig.pmtName, diyName: orig.diyName, ordName: name, remark: remark,
		original: amount, trade: amount, paid: amount, status: gateway.StatusPaid, origOrdNo: orig.ordNo,
		tradeAccount: orig.tradeAccount, addTime: now, payTime: now, nonce: s.randString(16, alnum),
	}
	switch familyOf(orig.pmtTag) {
	case familyWeChat:
		r.tradeNo = "50300" + s.randString(5, digits) + chinaDate(now) + s.randString(10, digits)
	case familyAlipay:
		r.tradeNo = orig.tradeNo
	}
	orig.refunded += amount
	s.register(r)
	data := newObject().
		str("ord_no", r.ordNo).
		int("ord_shop_id", r.shopID).
		int("ord_mct_id", r.mctID).
		int("trade_amount", amount).
		int("trade_discout_amount", 0).
		str("ord_currency", currency).
		str("currency_sign", currencySign).
		str("trade_time", gateway.FormatTime(now)).
		str("original_ord_no", orig.ordNo).
		int("status", int64(gateway.StatusPaid)).
		encode(s.cfg.Quirks)
	s.mu.Unlock()
	s.log.Info("Sandbox refund created", append(orderAttrs(r), "original_ord_no", orig.ordNo, "refund_amount", amount)...)
	return result{"订单退款成功", data}, nil
}

// orderList answers order: every filter, a date range defaulting to the
// last 90 days, newest first, pages of at most 100. Payments and refunds
// (ord_type 2) are listed alike, by add_time in China time, to the second:
// the gateway stores its datetimes to the second, so an order added at
// 23:59:59.7 belongs to a day whose edate is 23:59:59.
func (s *Server) orderList(c *call) (result, *apiError) {
	page, _, ok1 := c.amount("page")
	size, _, ok2 := c.amount("pagesize")
	if !ok1 || page < 1 {
		page = 1
	}
	if !ok2 || size < 1 {
		size = 10
	}
	size = min(size, 100)
	ordType, _, _ := c.amount("ord_type")
	status, _, _ := c.amount("status")
	outNo, tradeNo, ordNo, tag := c.text("out_no"), c.text("trade_no"), c.text("ord_no"), c.text("pmt_tag")
	now := s.now()
	since, hasSince := parseDate(c.text("sdate"), false)
	until, hasUntil := parseDate(c.text("edate"), true)
	switch {
	case !hasSince && !hasUntil:
		since, until = now.AddDate(0, 0, -90), now
	case !hasSince:
		since = until.AddDate(0, 0, -90)
	case !hasUntil:
		until = now
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*order
	for i := len(c.st.orders) - 1; i >= 0; i-- {
		o := c.st.orders[i]
		switch {
		case outNo != "" && o.outNo != outNo,
			tradeNo != "" && o.tradeNo != tradeNo,
			ordNo != "" && o.ordNo != ordNo,
			tag != "" && o.pmtTag != tag,
			ordType != 0 && int64(o.ordType) != ordType,
			status != 0 && int64(o.status) != status,
			o.addTime.Truncate(time.Second).Before(since), o.addTime.Truncate(time.Second).After(until):
			continue
		}
		match = append(match, o)
	}
	total := int64(len(match))
	pages := (total + size - 1) / size
	list := []*object{}
	if from := (page - 1) * size; from < total {
		for _, o := range match[from:min(from+size, total)] {
			list = append(list, s.orderObject(o, false))
		}
	}
	// The document spells the paging object both ways: "pages" in its
	// example (what the PHP server sends, hence quirks mode), "page" in its
	// table. Clients must read both.
	pagingKey := "page"
	if s.cfg.Quirks {
		pagingKey = "pages"
	}
	d := newObject().
		obj(pagingKey, newObject().int("totalnum", total).num("totalpage", pages).num("pagesize", size).num("page", page)).
		list("list", list)
	return result{"ok", d.encode(s.cfg.Quirks)}, nil
}

// parseDate reads sdate/edate: "2006-01-02 15:04:05", or a bare date
// "2006-01-02" or "20060102" (the table gives the field 8 characters, and
// PHP's strtotime reads both), in China time; a bare date as edate means the
// end of that day. Anything else counts as absent, as strtotime failing would.
func parseDate(s string, end bool) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04:05", s, gateway.ChinaTime()); err == nil {
		return t, true
	}
	for _, layout := range []string{"2006-01-02", "20060102"} {
		if t, err := time.ParseInLocation(layout, s, gateway.ChinaTime()); err == nil {
			if end {
				// Days in China are always 24 h long (no summer time).
				t = t.Add(24*time.Hour - time.Second)
			}
			return t, true
		}
	}
	return time.Time{}, false
}

// mpConfigAdd answers mpconfig/add: binds an appid to a WeChat method.
func (s *Server) mpConfigAdd(c *call) (result, *apiError) {
	tag, appID, subscribe := c.text("pmt_tag"), c.text("sub_appid"), c.text("subscribe_appid")
	if tag == "" {
		return result{}, fail(gateway.CodePayMethodEmpty)
	}
	if c.st.method(tag) == nil || familyOf(tag) != familyWeChat {
		return result{}, fail(gateway.CodePayMethodDisabled)
	}
	if appID == "" || !validText(appID, 128) || !validText(subscribe, 128) {
		return result{}, failMsg(gateway.CodeRejected, "sub_appid不能为空或格式错误")
	}
	s.mu.Lock()
	c.st.bind(mpBinding{pmtTag: tag, subAppID: appID, subscribeAppID: subscribe})
	s.mu.Unlock()
	d := newObject().str("pmt_tag", tag).str("sub_appid", appID).strOrNull("subscribe_appid", subscribe)
	return result{"ok", d.encode(s.cfg.Quirks)}, nil
}

// mpConfigQuery answers mpconfig/query: the appids bound to the store.
func (s *Server) mpConfigQuery(c *call) (result, *apiError) {
	tag := c.text("pmt_tag")
	s.mu.Lock()
	var list []*object
	for _, m := range c.st.payList {
		if tag != "" && m.Tag != tag {
			continue
		}
		for _, b := range c.st.appIDs[m.Tag] {
			list = append(list, newObject().str("pmt_tag", b.pmtTag).str("sub_appid", b.subAppID).strOrNull("subscribe_appid", b.subscribeAppID))
		}
	}
	s.mu.Unlock()
	return result{"ok", encodeArray(list, s.cfg.Quirks)}, nil
}

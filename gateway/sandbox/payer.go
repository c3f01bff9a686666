package sandbox

import (
	"context"
	"fmt"
	"strings"

	"github.com/wallet-checkout/checkout/gateway"
)

// The payer's side. Each action pays an awaiting order (status 2 or 9), or
// for a late-payer order (magic amount ..25) is accepted and leaves the
// payment to land at its time. A payer who cancels changes nothing: JSAPI,
// jump_url and QR orders stay payable, as with the real wallets.

// PayQRCode is "scan and pay" of a C-scans-B trade_qrcode.
func (s *Server) PayQRCode(ctx context.Context, qrcode string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	o := s.byQR[strings.TrimSpace(qrcode)]
	s.mu.Unlock()
	if o == nil {
		return fmt.Errorf("sandbox scan %q: %w", qrcode, ErrUnknownOrder)
	}
	return s.payerPays(o)
}

// PayWeChatJSAPI is what WeixinJSBridge's getBrandWCPayRequest (or
// wx.requestPayment) does with the six parameters payorder returned: it
// checks paySign (values are trimmed, as a bridge needs them) and pays, or,
// with ok false, the payer closes the window and nothing changes.
func (s *Server) PayWeChatJSAPI(ctx context.Context, p WeChatPayParams, ok bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p = WeChatPayParams{
		AppID: strings.TrimSpace(p.AppID), TimeStamp: strings.TrimSpace(p.TimeStamp), NonceStr: strings.TrimSpace(p.NonceStr),
		Package: strings.TrimSpace(p.Package), SignType: strings.TrimSpace(p.SignType), PaySign: strings.TrimSpace(p.PaySign),
	}
	prepay, found := strings.CutPrefix(p.Package, "prepay_id=")
	if !found || prepay == "" || p.AppID == "" || p.TimeStamp == "" || p.NonceStr == "" || p.SignType != "MD5" {
		return fmt.Errorf("sandbox wechat jsapi: %w", ErrBadPayParams)
	}
	if want := wechatPaySign(s.cfg.WeChatPayKey, p); !strings.EqualFold(want, p.PaySign) {
		return fmt.Errorf("sandbox wechat jsapi %s: %w", prepay, ErrBadPaySign)
	}
	s.mu.Lock()
	o := s.byPrepay[prepay]
	wrong := o != nil && (o.scenario != ScenarioWeChatJSAPI || o.subAppID != p.AppID || o.nonce != p.NonceStr || o.jsTimeStamp != p.TimeStamp)
	s.mu.Unlock()
	switch {
	case o == nil:
		return fmt.Errorf("sandbox wechat jsapi %s: %w", prepay, ErrUnknownOrder)
	case wrong:
		return fmt.Errorf("sandbox wechat jsapi %s: %w", prepay, ErrWrongScenario)
	case !ok:
		return nil
	}
	return s.payerPays(o)
}

// PayAlipayTrade is what AlipayJSBridge's tradePay does with the trade_no of
// a native Alipay JSAPI order; ok false is the payer cancelling.
func (s *Server) PayAlipayTrade(ctx context.Context, tradeNo string, ok bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	o := s.byTradeNo[strings.TrimSpace(tradeNo)]
	s.mu.Unlock()
	switch {
	case o == nil:
		return fmt.Errorf("sandbox alipay tradePay %q: %w", tradeNo, ErrUnknownOrder)
	case !ok:
		return nil
	}
	return s.payerPays(o)
}

// PayOrderNo pays any awaiting order by its ord_no, whatever its scenario:
// a shortcut for tests and the demo console.
func (s *Server) PayOrderNo(ctx context.Context, ordNo string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	o := s.orders[ordNo]
	s.mu.Unlock()
	if o == nil {
		return fmt.Errorf("sandbox pay %s: %w", ordNo, ErrUnknownOrder)
	}
	return s.payerPays(o)
}

// payerPays completes an order on the payer's action.
func (s *Server) payerPays(o *order) error {
	s.mu.Lock()
	if o.status != gateway.StatusAwaiting && o.status != gateway.StatusPassword {
		st := o.status
		s.mu.Unlock()
		return fmt.Errorf("sandbox pay %s (status %d): %w", o.ordNo, st, ErrNotPayable)
	}
	if o.magic == magicLatePayer {
		s.mu.Unlock()
		s.log.Info("Sandbox late payer: payment lands later", orderAttrs(o)...)
		return nil
	}
	tr, ok := s.markPaid(o)
	s.mu.Unlock()
	if ok {
		s.log.Info("Sandbox order paid by the payer", orderAttrs(o)...)
		s.notifyAll([]transition{tr})
	}
	return nil
}

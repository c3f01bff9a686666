package checkout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// WeChatPay is what WeixinJSBridge.invoke('getBrandWCPayRequest', …) and
// wx.requestPayment take, as the gateway handed it out for an attempt. The
// JSON names are the bridge's own.
type WeChatPay struct {
	AppID     string `json:"appId"`
	TimeStamp string `json:"timeStamp"`
	NonceStr  string `json:"nonceStr"`
	Package   string `json:"package"`
	SignType  string `json:"signType"`
	PaySign   string `json:"paySign"`
}

// PayParams is what the gateway answered to an attempt's payorder, kept so
// that a payer who clicks again, reloads or switches back gets the same order
// instead of a new one while it can still be paid, and so that the QR code of
// a desktop attempt can be drawn on demand.
type PayParams struct {
	// Payer names who the order was made for ("" for QR and jump orders,
	// which anyone may pay): the WeChat sub_openid or the Alipay buyer_id.
	Payer string `json:"payer,omitempty"`
	// Kind is the PayAction kind the parameters serve.
	Kind        string    `json:"kind"`
	WeChat      WeChatPay `json:"wechat,omitzero"`
	TradeNO     string    `json:"trade_no,omitempty"`
	RedirectURL string    `json:"redirect_url,omitempty"`
	QRCode      string    `json:"qr_code,omitempty"`
	// ValidUntil ends the reuse: prepay ids live two hours, QR codes as long
	// as the checkout.
	ValidUntil time.Time `json:"valid_until"`
}

func (r *Repo) keyPay(id string) string { return r.prefix + "co:{" + id + "}:pay" }

// SavePayParams stores the pay parameters of attempt seq. The key lives as
// long as the checkout's record can (expiry plus retention), so it never
// outlives the checkout it belongs to.
func (r *Repo) SavePayParams(ctx context.Context, id string, seq int, p PayParams, checkoutExpiry time.Time) error {
	if !ValidID(id) || seq <= 0 {
		return fmt.Errorf("save pay params %s/%d: %w", id, seq, ErrInvalid)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("save pay params %s/%d: %w", id, seq, err)
	}
	k := r.keyPay(id)
	_, err = r.rdb.TxPipelined(ctx, func(pl redis.Pipeliner) error {
		pl.HSet(ctx, k, strconv.Itoa(seq), b)
		pl.PExpireAt(ctx, k, checkoutExpiry.Add(r.retention))
		return nil
	})
	if err != nil {
		return fmt.Errorf("save pay params %s/%d: %w", id, seq, err)
	}
	return nil
}

// PayParamsOf reads the stored pay parameters of attempt seq. ErrNotFound
// when none were stored (the payorder failed or is unresolved).
func (r *Repo) PayParamsOf(ctx context.Context, id string, seq int) (*PayParams, error) {
	if !ValidID(id) || seq <= 0 {
		return nil, fmt.Errorf("pay params %s/%d: %w", id, seq, ErrNotFound)
	}
	b, err := r.rdb.HGet(ctx, r.keyPay(id), strconv.Itoa(seq)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("pay params %s/%d: %w", id, seq, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pay params %s/%d: %w", id, seq, err)
	}
	var p PayParams
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("pay params %s/%d: %w: %v", id, seq, errCorrupt, err)
	}
	return &p, nil
}

// Complete reports whether every bridge parameter is present.
func (w WeChatPay) Complete() bool {
	return w.AppID != "" && w.TimeStamp != "" && w.NonceStr != "" && w.Package != "" && w.SignType != "" && w.PaySign != ""
}

package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
)

// The kinds of PayAction: what the page (or mini-program) does next.
const (
	KindWeChatJSAPI = "wechat_jsapi" // WeixinJSBridge / wx.requestPayment with PayAction.WeChat
	KindAlipayJSAPI = "alipay_jsapi" // AlipayJSBridge tradePay with PayAction.TradeNO
	KindRedirect    = "redirect"     // send the browser to PayAction.RedirectURL
	KindQR          = "qr"           // show PayAction.QRCode for the payer's phone to scan
)

// How long pay parameters may be handed out again. WeChat's prepay_id lives
// two hours, and the gateway's cashier URL and Alipay's trade_no no longer;
// a QR code stays payable as long as the checkout.
const (
	jsapiValidity = 2 * time.Hour
	// reuseMargin keeps a payer from starting on parameters about to die.
	reuseMargin = time.Minute
)

// Defaults of Payments.
const (
	DefaultPayListTTL = 5 * time.Minute
	// DefaultLockWait is how long a second click waits for the first one's
	// payorder (the gateway client gives up after 15 s).
	DefaultLockWait = 20 * time.Second
	// lockTTL outlives any payorder, so the lock is never lost mid-call.
	lockTTL = 30 * time.Second
)

// Errors of Start; check them with errors.Is. The checkout's own states come
// back as ErrNotAllowed (finished, expired, wallet not allowed) and
// ErrNotFound.
var (
	// ErrWalletDisabled means the store does not take this wallet or
	// scenario (not enabled, or no pay method at the gateway).
	ErrWalletDisabled = errors.New("wallet not available for this store")
	// ErrPayerRequired means the scenario needs the payer's identity and the
	// request carries none.
	ErrPayerRequired = errors.New("payer identity required")
	// ErrPaymentDeclined means the gateway refused the order (8011 and the
	// like); PayError.Reason says why.
	ErrPaymentDeclined = errors.New("payment declined")
	// ErrPaymentUnknown means the gateway may or may not have created the
	// order: the attempt is marked unknown and the reconciler settles it.
	// The payer should wait and check, not pay again at once.
	ErrPaymentUnknown = errors.New("payment outcome unknown")
	// ErrCheckoutBusy means another request kept the checkout's lock too long.
	ErrCheckoutBusy = errors.New("checkout busy")
)

// PayError is a Start failure tied to one attempt.
type PayError struct {
	Seq   int
	OutNo string
	// Reason is the gateway's (acquirer's) message, for the payer.
	Reason string
	Err    error
}

func (e *PayError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("attempt %s: %v: %s", e.OutNo, e.Err, e.Reason)
	}
	return fmt.Sprintf("attempt %s: %v", e.OutNo, e.Err)
}

// Unwrap returns the cause (ErrPaymentDeclined, ErrPaymentUnknown, …).
func (e *PayError) Unwrap() error { return e.Err }

// StartRequest asks for a way to pay a checkout. It carries no amount: the
// amount always comes from the stored checkout.
type StartRequest struct {
	CheckoutID string
	Wallet     checkout.Method
	// Scenario is ScenarioQR, ScenarioJSAPI, ScenarioJump or
	// ScenarioMiniProgram.
	Scenario checkout.Scenario
	// SubAppID and SubOpenID name a WeChat payer (JSAPI, mini-program).
	SubAppID  string
	SubOpenID string
	// BuyerID names an Alipay payer (JSAPI).
	BuyerID string
	// JumpURL is where the gateway's cashier returns (jump scenario).
	JumpURL string
}

// WeChatPay is the six parameters of WeixinJSBridge's getBrandWCPayRequest
// and wx.requestPayment, as the gateway hands them out.
type WeChatPay = checkout.WeChatPay

// PayAction is what the payer's page does next.
type PayAction struct {
	Kind string
	// WeChat holds the six bridge parameters, trimmed (KindWeChatJSAPI).
	WeChat      WeChatPay
	TradeNO     string
	RedirectURL string
	QRCode      string
	AttemptSeq  int
	OutNo       string
	// Reused is true when an earlier attempt's parameters were handed out
	// again instead of a new order.
	Reused bool
}

// starter starts payments: the rules between a payer's "Pay" and the
// gateway's payorder. It is safe for concurrent use.
type starter struct {
	repo     *checkout.Repo
	dir      *checkout.Directory
	accounts *Accounts
	gw       Gateway
	log      *slog.Logger
	now      func() time.Time

	payListTTL time.Duration
	lockWait   time.Duration
	// publicURL starts payorder's notify_url (NotifyURL).
	publicURL string
	// watch is told of every order before it is sent to the gateway
	// (required: an order nobody watches may be paid unnoticed).
	watch func(ctx context.Context, outNo string) error

	mu       sync.Mutex
	payLists map[string]payListEntry
}

type payListEntry struct {
	methods []gateway.PayMethod
	at      time.Time
}

// newStarter fills in the defaults of p and readies its paylist cache.
// p.watch is called with the out_no of every payorder before it is sent:
// the reconciler watches every order that may come to exist at the
// gateway. When it fails, the order is not sent. Watching first, rather
// than after the answer, means no crash or Redis error between the two can
// leave an order that nobody ever asks the gateway about (one that is paid
// without a notify would stay unnoticed).
func newStarter(p *starter) *starter {
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.payListTTL <= 0 {
		p.payListTTL = DefaultPayListTTL
	}
	if p.lockWait <= 0 {
		p.lockWait = DefaultLockWait
	}
	p.payLists = map[string]payListEntry{}
	return p
}

// Start gives the payer a way to pay: the parameters of a still-valid pending
// attempt of the same wallet, scenario and payer, or a new attempt and
// gateway order. Concurrent calls for one checkout are serialised by its lock,
// so a double click never creates two orders.
//
// Errors: ErrNotFound, ErrNotAllowed (finished, expired, wallet not allowed
// by the checkout), ErrWalletDisabled, ErrPayerRequired, ErrInvalid,
// ErrCheckoutBusy, and *PayError wrapping ErrPaymentDeclined or ErrPaymentUnknown.
func (p *starter) Start(ctx context.Context, req StartRequest) (*PayAction, error) {
	if !checkout.ValidID(req.CheckoutID) {
		return nil, fmt.Errorf("start payment %.40q: %w", req.CheckoutID, checkout.ErrNotFound)
	}
	if err := req.check(); err != nil {
		return nil, fmt.Errorf("start payment %s: %w", req.CheckoutID, err)
	}
	// The store is read again under the lock, below.
	c, _, err := p.load(ctx, req)
	if err != nil {
		return nil, err
	}
	// Handing out stored parameters creates nothing, so it needs no lock:
	// reloads and double clicks stay cheap.
	if a, err := p.reusable(ctx, c, req); err != nil || a != nil {
		return a, err
	}
	unlock, err := p.lock(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	// c is read again below and is nil if that read fails: the deferred
	// unlock must not depend on it.
	id := c.ID
	defer func() {
		// The lock must go even when the payer has gone away.
		if err := unlock(context.WithoutCancel(ctx)); err != nil {
			p.log.Warn("Unlock failed", slog.String("checkout_id", id), slog.Any("error", err))
		}
	}()
	// Read again under the lock: the first click may have just paid or
	// created the attempt we can reuse.
	c, st, err := p.load(ctx, req)
	if err != nil {
		return nil, err
	}
	if a, err := p.reusable(ctx, c, req); err != nil {
		return nil, err
	} else if a != nil {
		return a, nil
	}
	return p.order(ctx, c, st, req)
}

// check validates the request's shape.
func (req *StartRequest) check() error {
	if !req.Wallet.Valid() {
		return fmt.Errorf("%w: wallet %.20q", checkout.ErrInvalid, req.Wallet)
	}
	switch req.Scenario {
	case checkout.ScenarioQR:
	case checkout.ScenarioJump:
		if req.JumpURL == "" {
			return fmt.Errorf("%w: jump_url required", checkout.ErrInvalid)
		}
	case checkout.ScenarioJSAPI:
		if req.Wallet == checkout.MethodWeChat && (req.SubAppID == "" || req.SubOpenID == "") ||
			req.Wallet == checkout.MethodAlipay && req.BuyerID == "" {
			return ErrPayerRequired
		}
	case checkout.ScenarioMiniProgram:
		if req.Wallet != checkout.MethodWeChat {
			return fmt.Errorf("%w: mini-programs pay with WeChat", checkout.ErrInvalid)
		}
		if req.SubAppID == "" || req.SubOpenID == "" {
			return ErrPayerRequired
		}
	default:
		return fmt.Errorf("%w: scenario %.20q", checkout.ErrInvalid, req.Scenario)
	}
	return nil
}

// payer is who an order is bound to: nobody for QR and jump orders.
func (req *StartRequest) payer() string {
	switch req.Scenario {
	case checkout.ScenarioJSAPI, checkout.ScenarioMiniProgram:
		if req.Wallet == checkout.MethodAlipay {
			return req.BuyerID
		}
		return req.SubAppID + "/" + req.SubOpenID
	}
	return ""
}

// load reads the checkout and its store and applies the refusals that need
// no lock.
func (p *starter) load(ctx context.Context, req StartRequest) (*checkout.Checkout, *store, error) {
	c, err := p.repo.Get(ctx, req.CheckoutID)
	if err != nil {
		return nil, nil, fmt.Errorf("start payment %s: %w", req.CheckoutID, err)
	}
	switch {
	case !c.Status.Active():
		return nil, nil, fmt.Errorf("start payment %s: %w: checkout is %s", c.ID, checkout.ErrNotAllowed, c.Status)
	case !p.now().Before(c.ExpiresAt):
		return nil, nil, fmt.Errorf("start payment %s: %w: past its expiry", c.ID, checkout.ErrNotAllowed)
	case !c.Allows(req.Wallet):
		return nil, nil, fmt.Errorf("start payment %s: %w: wallet %s not allowed", c.ID, checkout.ErrNotAllowed, req.Wallet)
	}
	st, ok := p.accounts.store(p.dir, c.MerchantID, c.StoreID)
	if !ok {
		return nil, nil, fmt.Errorf("start payment %s: store %s/%s: %w", c.ID, c.MerchantID, c.StoreID, ErrWalletDisabled)
	}
	if req.Wallet == checkout.MethodWeChat && !st.WeChat.Enabled || req.Wallet == checkout.MethodAlipay && !st.Alipay.Enabled {
		return nil, nil, fmt.Errorf("start payment %s: %w: %s", c.ID, ErrWalletDisabled, req.Wallet)
	}
	return c, st, nil
}

// lock takes the checkout's lock, waiting for a concurrent holder.
func (p *starter) lock(ctx context.Context, id string) (func(context.Context) error, error) {
	deadline := time.Now().Add(p.lockWait)
	// Short steps: the holder usually finishes in one payorder round trip,
	// and a waiting click then only reads the stored answer.
	wait := 5 * time.Millisecond
	for {
		unlock, err := p.repo.Lock(ctx, id, lockTTL)
		if err == nil {
			return unlock, nil
		}
		if !errors.Is(err, checkout.ErrLocked) {
			return nil, fmt.Errorf("start payment %s: %w", id, err)
		}
		if time.Now().Add(wait).After(deadline) {
			return nil, fmt.Errorf("start payment %s: %w", id, ErrCheckoutBusy)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("start payment %s: %w", id, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, 50*time.Millisecond)
	}
}

// reusable finds the newest pending attempt of the same wallet, scenario and
// payer whose parameters can still be paid.
func (p *starter) reusable(ctx context.Context, c *checkout.Checkout, req StartRequest) (*PayAction, error) {
	if c.Attempts == 0 {
		return nil, nil
	}
	atts, err := p.repo.Attempts(ctx, c.ID)
	if err != nil {
		return nil, fmt.Errorf("start payment %s: %w", c.ID, err)
	}
	now := p.now()
	for i := len(atts) - 1; i >= 0; i-- {
		a := atts[i]
		if a.Status != checkout.AttemptPending || a.Method != req.Wallet || a.Scenario != req.Scenario || a.Amount != c.Amounts.Trade {
			continue
		}
		pp, err := p.repo.PayParamsOf(ctx, c.ID, a.Seq)
		if errors.Is(err, checkout.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("start payment %s: %w", c.ID, err)
		}
		if pp.Payer != req.payer() || !now.Add(reuseMargin).Before(pp.ValidUntil) {
			continue
		}
		if !a.ReturnedUnpaid.IsZero() {
			// The payer left this order at the cashier and is back on it:
			// it may be paid any moment, and the payer's page must wait
			// for it again rather than offer another try.
			if _, err := p.repo.ClearReturnedUnpaid(ctx, c.ID, a.Seq); err != nil {
				return nil, fmt.Errorf("start payment %s: %w", c.ID, err)
			}
		}
		return &PayAction{
			Kind: pp.Kind, WeChat: pp.WeChat, TradeNO: pp.TradeNO, RedirectURL: pp.RedirectURL,
			QRCode: pp.QRCode, AttemptSeq: a.Seq, OutNo: a.OutNo, Reused: true,
		}, nil
	}
	return nil, nil
}

// order creates a new attempt and its gateway order. Called under the lock.
func (p *starter) order(ctx context.Context, c *checkout.Checkout, st *store, req StartRequest) (*PayAction, error) {
	gs := gatewayScenario(req.Wallet, req.Scenario)
	override := st.WeChat.PmtTag
	if req.Wallet == checkout.MethodAlipay {
		override = st.Alipay.PmtTag
	}
	tag := override
	if tag == "" {
		methods, err := p.payList(ctx, st)
		if err != nil {
			return nil, fmt.Errorf("start payment %s: paylist: %w", c.ID, err)
		}
		if tag, err = gateway.PickTag(methods, gateway.Wallet(req.Wallet), gs, ""); err != nil {
			return nil, fmt.Errorf("start payment %s: %w: %w", c.ID, ErrWalletDisabled, err)
		}
	}
	a, _, err := p.repo.AddAttempt(ctx, c.ID, req.Wallet, req.Scenario)
	if err != nil {
		return nil, fmt.Errorf("start payment %s: %w", c.ID, err)
	}
	po := &gateway.PayOrderRequest{
		OutNo:  a.OutNo,
		PmtTag: tag,
		// The amounts are the stored checkout's, never the request's.
		OriginalAmount: c.Amounts.Original,
		DiscountAmount: c.Amounts.Discount,
		IgnoreAmount:   c.Amounts.Ignore,
		TradeAmount:    c.Amounts.Trade,
		OrdName:        ordName(c.Description),
		Remark:         c.ID,
		NotifyURL:      NotifyURL(p.publicURL, st.Gateway.OpenID),
	}
	switch gs {
	case gateway.ScenarioJump:
		po.JumpURL = req.JumpURL
	case gateway.ScenarioWeChatJSAPI:
		po.JSAPI, po.SubAppID, po.SubOpenID = true, req.SubAppID, req.SubOpenID
	case gateway.ScenarioAlipayJSAPI:
		po.JSAPI, po.BuyerID = true, req.BuyerID
	}
	log := p.log.With(slog.String("checkout_id", c.ID), slog.String("out_no", a.OutNo),
		slog.String("wallet", string(req.Wallet)), slog.String("scenario", string(req.Scenario)))

	// Watched and noted before sending, so that the reconcilers know of the
	// order even if this process dies the instant it is sent.
	if err := p.beforeSend(ctx, c, a); err != nil {
		if _, uerr := p.repo.UpdateAttempt(context.WithoutCancel(ctx), c.ID, a.Seq, checkout.AttemptFailed, ""); uerr != nil {
			log.Warn("Marking an unsent attempt failed failed", slog.Any("error", uerr))
		}
		return nil, fmt.Errorf("start payment %s: %w", c.ID, err)
	}
	res, err := p.gw.PayOrder(ctx, st.Gateway, po)
	if err != nil {
		return nil, p.failed(ctx, c, a, err, log)
	}
	if res.OrdNo != "" {
		if _, err := p.repo.UpdateAttempt(ctx, c.ID, a.Seq, "", string(res.OrdNo)); err != nil {
			// The order exists; the notify and reconciler still find it by out_no.
			log.Warn("Recording ord_no failed", slog.Any("error", err))
		}
	}
	act, err := action(gs, res)
	if err != nil {
		log.Error("Payorder answer lacks the pay parameters", slog.Any("error", err))
		if _, uerr := p.repo.UpdateAttempt(ctx, c.ID, a.Seq, checkout.AttemptUnknown, ""); uerr != nil {
			log.Warn("Marking attempt unknown failed", slog.Any("error", uerr))
		}
		return nil, &PayError{Seq: a.Seq, OutNo: a.OutNo, Err: ErrPaymentUnknown}
	}
	act.AttemptSeq, act.OutNo = a.Seq, a.OutNo
	until := p.now().Add(jsapiValidity)
	if gs == gateway.ScenarioQR || until.After(c.ExpiresAt) {
		until = c.ExpiresAt
	}
	pp := checkout.PayParams{
		Payer: req.payer(), Kind: act.Kind, WeChat: act.WeChat, TradeNO: act.TradeNO,
		RedirectURL: act.RedirectURL, QRCode: act.QRCode, ValidUntil: until,
	}
	if err := p.repo.SavePayParams(ctx, c.ID, a.Seq, pp, c.ExpiresAt); err != nil {
		// The payer can still pay with what we hand out now; only reuse is lost.
		log.Warn("Storing pay parameters failed", slog.Any("error", err))
	}
	log.Info("Payment started", slog.String("ord_no", string(res.OrdNo)), slog.String("pmt_tag", tag))
	return act, nil
}

// failed records a payorder failure on the attempt and builds the error.
func (p *starter) failed(ctx context.Context, c *checkout.Checkout, a *checkout.Attempt, err error, log *slog.Logger) error {
	// Recording must happen even if the payer has gone away.
	bg := context.WithoutCancel(ctx)
	var apiErr *gateway.APIError
	switch {
	case errors.As(err, &apiErr), errors.Is(err, gateway.ErrInvalid):
		// The gateway answered (or we never sent): no order exists.
		reason := ""
		if apiErr != nil {
			reason = apiErr.Msg
		}
		if _, uerr := p.repo.UpdateAttempt(bg, c.ID, a.Seq, checkout.AttemptFailed, ""); uerr != nil {
			log.Warn("Marking attempt failed failed", slog.Any("error", uerr))
		}
		log.Warn("Payorder refused", slog.Any("error", err))
		if errors.Is(err, gateway.ErrPayMethodDisabled) || errors.Is(err, gateway.ErrPayMethodEmpty) {
			return &PayError{Seq: a.Seq, OutNo: a.OutNo, Reason: reason, Err: fmt.Errorf("%w: %w", ErrWalletDisabled, err)}
		}
		return &PayError{Seq: a.Seq, OutNo: a.OutNo, Reason: reason, Err: fmt.Errorf("%w: %w", ErrPaymentDeclined, err)}
	default:
		// Timeout, broken connection, 5xx, unverifiable answer: the order may
		// exist. Never order again blindly; the reconciler asks by out_no.
		// Watched since before it was sent: the reconciler settles it.
		if _, uerr := p.repo.UpdateAttempt(bg, c.ID, a.Seq, checkout.AttemptUnknown, ""); uerr != nil {
			log.Warn("Marking attempt unknown failed", slog.Any("error", uerr))
		}
		log.Warn("Payorder outcome unknown", slog.Any("error", err))
		return &PayError{Seq: a.Seq, OutNo: a.OutNo, Err: fmt.Errorf("%w: %w", ErrPaymentUnknown, err)}
	}
}

// beforeSend puts attempt a under watch and in the sent index; an error
// means it must not be sent.
func (p *starter) beforeSend(ctx context.Context, c *checkout.Checkout, a *checkout.Attempt) error {
	if err := p.watch(ctx, a.OutNo); err != nil {
		return fmt.Errorf("watch %s: %w", a.OutNo, err)
	}
	return p.repo.RecordSent(ctx, c.MerchantID, c.StoreID, a.OutNo, p.now())
}

// payList returns the store's pay methods, cached for payListTTL.
func (p *starter) payList(ctx context.Context, st *store) ([]gateway.PayMethod, error) {
	key := st.Gateway.BaseURL + "\x00" + st.Gateway.OpenID
	now := p.now()
	p.mu.Lock()
	e, ok := p.payLists[key]
	p.mu.Unlock()
	if ok && now.Sub(e.at) < p.payListTTL {
		return e.methods, nil
	}
	methods, err := p.gw.PayList(ctx, st.Gateway, gateway.PayListTypes(2, 3, 4))
	if err != nil {
		if ok {
			// A stale list beats no payment while the gateway hiccups.
			return e.methods, nil
		}
		return nil, err
	}
	p.mu.Lock()
	p.payLists[key] = payListEntry{methods: methods, at: now}
	p.mu.Unlock()
	return methods, nil
}

// gatewayScenario maps a wallet and our scenario to the gateway's.
func gatewayScenario(w checkout.Method, s checkout.Scenario) gateway.Scenario {
	switch s {
	case checkout.ScenarioQR:
		return gateway.ScenarioQR
	case checkout.ScenarioJump:
		return gateway.ScenarioJump
	case checkout.ScenarioMiniProgram:
		return gateway.ScenarioWeChatJSAPI
	}
	if w == checkout.MethodAlipay {
		return gateway.ScenarioAlipayJSAPI
	}
	return gateway.ScenarioWeChatJSAPI
}

// action turns payorder's answer into what the page does, checking that the
// parameters the scenario needs are there.
func action(s gateway.Scenario, res *gateway.PayOrderResult) (*PayAction, error) {
	switch s {
	case gateway.ScenarioQR:
		if res.TradeQRCode == "" {
			return nil, errors.New("no trade_qrcode")
		}
		return &PayAction{Kind: KindQR, QRCode: string(res.TradeQRCode)}, nil
	case gateway.ScenarioJump:
		if !strings.HasPrefix(string(res.JSAPIPayURL), "https://") && !strings.HasPrefix(string(res.JSAPIPayURL), "http://") {
			return nil, errors.New("no usable jsapi_pay_url")
		}
		return &PayAction{Kind: KindRedirect, RedirectURL: string(res.JSAPIPayURL)}, nil
	case gateway.ScenarioAlipayJSAPI:
		if res.TradeNo == "" {
			return nil, errors.New("no trade_no")
		}
		return &PayAction{Kind: KindAlipayJSAPI, TradeNO: string(res.TradeNo)}, nil
	default:
		// gateway.Text already trimmed the stray spaces the bridge rejects.
		if !res.WeChatPay.Complete() {
			return nil, errors.New("incomplete WeChat pay parameters")
		}
		w := res.WeChatPay
		return &PayAction{Kind: KindWeChatJSAPI, WeChat: WeChatPay{
			AppID: string(w.AppID), TimeStamp: string(w.TimeStamp), NonceStr: string(w.NonceStr),
			Package: string(w.Package), SignType: string(w.SignType), PaySign: string(w.PaySign),
		}}, nil
	}
}

// ordName is the order name the payer sees in the wallet: the description,
// cut to the gateway's 100 characters.
func ordName(desc string) string {
	desc = strings.TrimSpace(desc)
	if desc == "" {
		return "订单"
	}
	if utf8.RuneCountInString(desc) <= 100 {
		return desc
	}
	r := []rune(desc)
	return string(r[:100])
}

// Start gives the payer a way to pay: the parameters of a still-valid pending
// attempt of the same wallet, scenario and payer, or a new attempt and
// gateway order. Concurrent calls for one checkout are serialised by its lock,
// so a double click never creates two orders.
//
// Errors: ErrNotFound, ErrNotAllowed (finished, expired, wallet not allowed
// by the checkout), ErrWalletDisabled, ErrPayerRequired, ErrInvalid,
// ErrCheckoutBusy, and *PayError wrapping ErrPaymentDeclined or ErrPaymentUnknown.
func (s *Service) Start(ctx context.Context, req StartRequest) (*PayAction, error) {
	return s.starter.Start(ctx, req)
}

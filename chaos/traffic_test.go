package chaos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wallet-checkout/checkout/gateway/sandbox"
)

// amount draws an amount in fen whose last two digits are not one of the
// sandbox's magic ones (docs/sandbox.md), or end in magic when it is set.
func amount(rng *rand.Rand, magic int) int64 {
	yuan := int64(1 + rng.IntN(300))
	if magic > 0 {
		return yuan*100 + int64(magic)
	}
	for {
		fen := int64(rng.IntN(100))
		switch fen {
		case sandbox.MagicAmountPayFails, sandbox.MagicAmountNotifyDelayed, sandbox.MagicAmountNotifyTriple,
			sandbox.MagicAmountNotifyNever, sandbox.MagicAmountDiffers, sandbox.MagicAmountLatePayer,
			sandbox.MagicAmountRefundFails:
			continue
		}
		return yuan*100 + fen
	}
}

func pick[T any](rng *rand.Rand, xs ...T) T { return xs[rng.IntN(len(xs))] }

// journeys a worker picks from, with weights.
var journeys = []struct {
	name   string
	weight int
	run    func(d *driver, rng *rand.Rand) error
}{
	{"qr", 6, (*driver).journeyQR},
	{"jump", 4, (*driver).journeyJump},
	{"jsapi-wechat", 2, (*driver).journeyWeChatJSAPI},
	{"jsapi-alipay", 2, (*driver).journeyAlipayJSAPI},
	{"mini-program", 2, (*driver).journeyMiniProgram},
	{"double", 3, (*driver).journeyDouble},
	{"magic-notify", 3, (*driver).journeyMagicNotify},
	{"magic-other", 2, (*driver).journeyMagicOther},
	{"cancel", 3, (*driver).journeyCancel},
}

func (d *driver) pickJourney(rng *rand.Rand) (string, func(*driver, *rand.Rand) error) {
	total := 0
	for _, j := range journeys {
		total += j.weight
	}
	n := rng.IntN(total)
	for _, j := range journeys {
		if n < j.weight {
			return j.name, j.run
		}
		n -= j.weight
	}
	panic("unreachable")
}

// policyOf is a checkout's late policy: the store's, or at random the
// other one (the API lets a checkout override it).
func policyOf(rng *rand.Rand, store string) string {
	if rng.IntN(3) == 0 {
		return pick(rng, "accept", "refund")
	}
	if store == storeRedir {
		return "refund"
	}
	return "accept"
}

// afterPaid waits for the checkout to be paid and then, often, refunds it:
// in full or in parts, with Idempotency-Key replays right away and later.
func (d *driver) afterPaid(rng *rand.Rand, p *planned) error {
	if rng.IntN(10) < 4 {
		return nil
	}
	v, ok := d.waitFor(p.ID, 60*time.Second, func(v *checkoutView) bool { return paidStatus(v.Status) || d.stop.Load() })
	if !ok || !paidStatus(v.Status) {
		return nil
	}
	key := func(i int) string { return fmt.Sprintf("chaos-refund-%s-%d", p.ID[3:], i) }
	replay := func(k string, amt int64) {
		if rng.IntN(2) == 0 {
			d.refund(p, k, amt)
		}
	}
	switch rng.IntN(4) {
	case 0: // in full, then replayed
		d.refund(p, key(1), p.Amount)
		d.refund(p, key(1), p.Amount)
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Millisecond)
		replay(key(1), p.Amount)
	case 1: // in parts, one after the other, the last one taking the rest
		left := p.Amount
		for i := 1; left > 0 && i <= 3; i++ {
			amt := left
			if i < 3 && left > 2 {
				amt = 1 + rng.Int64N(left-1)
			}
			d.refund(p, key(i), amt)
			replay(key(i), amt)
			left -= amt
		}
		replay(key(1), p.Amount) // never refunds twice, whatever the amount says
	case 2: // in parts at once
		var wg sync.WaitGroup
		for i := 1; i <= 3; i++ {
			amt := 1 + rng.Int64N(max(1, p.Amount/2))
			wg.Go(func() { d.refund(p, key(i), amt); d.refund(p, key(i), amt) })
		}
		wg.Wait()
	case 3: // one part, and one asking for more than is left
		half := max(1, p.Amount/2)
		d.refund(p, key(1), half)
		d.refund(p, key(2), p.Amount)
		replay(key(1), half)
	}
	return nil
}

// journeyQR: a desktop payer scans the WeChat or Alipay QR code.
func (d *driver) journeyQR(rng *rand.Rand) error {
	store := pick(rng, storeNative, storeRedir)
	p, err := d.create(rng, createReq{store: store, journey: "qr", latePolicy: policyOf(rng, store), amount: amount(rng, 0), expiresIn: 1800})
	if err != nil {
		return err
	}
	b := d.browser(uaDesktop, "desk-"+p.ID[3:9])
	pa, err := b.startPay(p.ID, pick(rng, "wechat", "alipay"), "qr")
	if err != nil || pa.Kind != "qr" {
		return err
	}
	if err := d.scanQR(p, seqOf(pa.QRImageURL)); err != nil {
		return err
	}
	return d.afterPaid(rng, p)
}

// journeyJump: a payer in a wallet's browser on a redirect-mode store pays
// (or cancels, then maybe pays) on the gateway's hosted page.
func (d *driver) journeyJump(rng *rand.Rand) error {
	wallet, ua := "wechat", uaWeChat
	if rng.IntN(2) == 0 {
		wallet, ua = "alipay", uaAlipay
	}
	mode := rng.IntN(4) // 0,1 pay; 2 cancel then pay; 3 cancel only (left to expire)
	expires := 1800
	if mode == 3 {
		expires = 60
	}
	p, err := d.create(rng, createReq{store: storeRedir, journey: "jump", latePolicy: policyOf(rng, storeRedir), amount: amount(rng, 0), expiresIn: expires})
	if err != nil {
		return err
	}
	b := d.browser(ua, "jump-"+p.ID[3:9])
	pa, err := b.startPay(p.ID, wallet, "jump")
	if err != nil || pa.Kind != "redirect" {
		return err
	}
	submit := func(action string) error {
		if _, err := b.do("GET", pa.RedirectURL, nil, nil); err != nil {
			return err
		}
		// The pay page posts to itself and 303s to our jump_url, then to the
		// result page; a restart may cut that return short, which is
		// harmless: the jump never makes anything paid.
		a, err := b.do("POST", pa.RedirectURL, []byte("action="+action), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		if err == nil && a.code >= 400 && a.code != http.StatusBadGateway && a.code != http.StatusServiceUnavailable {
			return fmt.Errorf("sandbox pay page %s: HTTP %d", action, a.code)
		}
		if action == "pay" {
			d.led.payActions.Add(1)
		}
		return nil
	}
	switch mode {
	case 2:
		if err := submit("cancel"); err != nil {
			return err
		}
		time.Sleep(time.Duration(rng.IntN(2000)) * time.Millisecond)
		fallthrough
	case 0, 1:
		if err := submit("pay"); err != nil {
			return err
		}
		return d.afterPaid(rng, p)
	}
	return submit("cancel")
}

// journeyWeChatJSAPI: a payer inside WeChat on a native store: silent OAuth
// through the wallet emulator, then WeixinJSBridge's pay.
func (d *driver) journeyWeChatJSAPI(rng *rand.Rand) error {
	p, err := d.create(rng, createReq{store: storeNative, journey: "jsapi-wechat", latePolicy: policyOf(rng, storeNative), amount: amount(rng, 0), expiresIn: 1800})
	if err != nil {
		return err
	}
	b := d.browser(uaWeChat, "wx-"+p.ID[3:9])
	pa, err := b.startPay(p.ID, "wechat", "jsapi")
	if err != nil || pa.WeChat == nil {
		return err
	}
	if err := d.payerAction("/payer/wechat-jsapi", pa.WeChat); err != nil {
		return err
	}
	return d.afterPaid(rng, p)
}

// journeyAlipayJSAPI: a payer inside Alipay on a native store: auth_base
// through the emulator, then AlipayJSBridge's tradePay.
func (d *driver) journeyAlipayJSAPI(rng *rand.Rand) error {
	p, err := d.create(rng, createReq{store: storeNative, journey: "jsapi-alipay", latePolicy: policyOf(rng, storeNative), amount: amount(rng, 0), expiresIn: 1800})
	if err != nil {
		return err
	}
	b := d.browser(uaAlipay, "ali-"+p.ID[3:9])
	pa, err := b.startPay(p.ID, "alipay", "jsapi")
	if err != nil || pa.TradeNO == "" {
		return err
	}
	if err := d.payerAction("/payer/alipay-trade", map[string]string{"tradeNO": pa.TradeNO}); err != nil {
		return err
	}
	return d.afterPaid(rng, p)
}

// journeyMiniProgram: a mini-program asks for wx.requestPayment's
// parameters with the client secret and a wx.login code, then pays.
func (d *driver) journeyMiniProgram(rng *rand.Rand) error {
	p, err := d.create(rng, createReq{store: storeNative, journey: "mini-program", latePolicy: policyOf(rng, storeNative), amount: amount(rng, 0), expiresIn: 1800})
	if err != nil {
		return err
	}
	v, err := d.get(p.ID)
	if err != nil {
		return err
	}
	var params map[string]string
	deadline := time.Now().Add(60 * time.Second)
	for params == nil {
		code := d.w.sim.MintMiniProgramCode(mpAppID, "mini-"+p.ID[3:9])
		a, err := d.call("POST", "/v1/checkouts/"+p.ID+"/wechat-mini-program-payments", map[string]string{"client_secret": v.ClientSecret, "code": code}, nil)
		switch {
		case err == nil && a.code == http.StatusOK:
			if err := json.Unmarshal(a.body, &params); err != nil {
				return fmt.Errorf("mini-program payment: %s", a.body)
			}
			d.led.payStarts.Add(1)
		case err == nil && !down(a, nil) && !bytes.Contains(a.body, []byte("busy")):
			return fmt.Errorf("mini-program payment: HTTP %d %s", a.code, a.body)
		case time.Now().After(deadline):
			return fmt.Errorf("mini-program payment: the service never answered")
		default:
			time.Sleep(300 * time.Millisecond)
		}
	}
	if err := d.payerAction("/payer/wechat-jsapi", params); err != nil {
		return err
	}
	return d.afterPaid(rng, p)
}

// journeyDouble: one desktop payer shows both QR codes and two phones pay
// them: two paid attempts of one checkout, the second refunded by itself.
func (d *driver) journeyDouble(rng *rand.Rand) error {
	store := pick(rng, storeNative, storeRedir)
	p, err := d.create(rng, createReq{store: store, journey: "double", latePolicy: policyOf(rng, store), amount: amount(rng, 0), expiresIn: 1800})
	if err != nil {
		return err
	}
	b := d.browser(uaDesktop, "dbl-"+p.ID[3:9])
	var seqs []int
	for _, wallet := range []string{"wechat", "alipay"} {
		pa, err := b.startPay(p.ID, wallet, "qr")
		if err != nil {
			return err
		}
		if pa.Kind == "qr" {
			seqs = append(seqs, seqOf(pa.QRImageURL))
		}
	}
	var wg sync.WaitGroup
	var errs [2]error
	for i, seq := range seqs {
		wg.Go(func() { errs[i] = d.scanQR(p, seq) })
	}
	wg.Wait()
	if errs[0] != nil {
		return errs[0]
	}
	if errs[1] != nil {
		return errs[1]
	}
	return d.afterPaid(rng, p)
}

// journeyMagicNotify: a QR payment whose notify comes late (..21), three
// times at once (..22) or never (..23, only the reconciler finds it).
func (d *driver) journeyMagicNotify(rng *rand.Rand) error {
	store := pick(rng, storeNative, storeRedir)
	magic := pick(rng, sandbox.MagicAmountNotifyDelayed, sandbox.MagicAmountNotifyTriple, sandbox.MagicAmountNotifyNever)
	p, err := d.create(rng, createReq{store: store, journey: fmt.Sprintf("magic-%d", magic), latePolicy: policyOf(rng, store), amount: amount(rng, magic), expiresIn: 1800})
	if err != nil {
		return err
	}
	pa, err := d.browser(uaDesktop, "m-"+p.ID[3:9]).startPay(p.ID, pick(rng, "wechat", "alipay"), "qr")
	if err != nil || pa.Kind != "qr" {
		return err
	}
	if err := d.scanQR(p, seqOf(pa.QRImageURL)); err != nil {
		return err
	}
	return d.afterPaid(rng, p)
}

// journeyMagicOther: a declined payorder (..11), a paid amount that
// differs (..24: never paid, an alert), refunds that fail (..40).
func (d *driver) journeyMagicOther(rng *rand.Rand) error {
	store := pick(rng, storeNative, storeRedir)
	magic := pick(rng, sandbox.MagicAmountPayFails, sandbox.MagicAmountDiffers, sandbox.MagicAmountRefundFails)
	p, err := d.create(rng, createReq{store: store, journey: fmt.Sprintf("magic-%d", magic), latePolicy: policyOf(rng, store), amount: amount(rng, magic), expiresIn: 1800})
	if err != nil {
		return err
	}
	pa, err := d.browser(uaDesktop, "m-"+p.ID[3:9]).startPay(p.ID, pick(rng, "wechat", "alipay"), "qr")
	if err != nil || pa.Kind != "qr" {
		return err
	}
	if err := d.scanQR(p, seqOf(pa.QRImageURL)); err != nil {
		return err
	}
	if magic == sandbox.MagicAmountRefundFails {
		return d.afterPaid(rng, p)
	}
	return nil
}

// journeyCancel: the merchant cancels, before any payment or with a QR
// code out; sometimes the payer pays that code anyway (late after cancel).
func (d *driver) journeyCancel(rng *rand.Rand) error {
	store := pick(rng, storeNative, storeRedir)
	p, err := d.create(rng, createReq{store: store, journey: "cancel", latePolicy: policyOf(rng, store), amount: amount(rng, 0), expiresIn: 1800})
	if err != nil {
		return err
	}
	seq := 0
	if rng.IntN(3) > 0 {
		pa, err := d.browser(uaDesktop, "c-"+p.ID[3:9]).startPay(p.ID, pick(rng, "wechat", "alipay"), "qr")
		if err != nil {
			return err
		}
		if pa.Kind == "qr" {
			seq = seqOf(pa.QRImageURL)
		}
	}
	if err := d.merchantCancel(p); err != nil {
		return err
	}
	if seq > 0 && rng.IntN(2) == 0 {
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		return d.scanQR(p, seq)
	}
	return nil
}

// merchantCancel is the merchant's cancel, retried through restarts.
func (d *driver) merchantCancel(p *planned) error {
	a, err := d.persist("POST", "/v1/checkouts/"+p.ID+"/cancel", nil, nil)
	if err != nil {
		return err
	}
	d.led.cancels.Add(1)
	if a.code == http.StatusOK && bytes.Contains(a.body, []byte(`"status":"cancelled"`)) {
		d.led.mu.Lock()
		p.Cancelled = true
		d.led.mu.Unlock()
		return nil
	}
	if a.code != http.StatusConflict {
		return fmt.Errorf("cancel %s: HTTP %d %s", p.ID, a.code, a.body)
	}
	return nil
}

// journeyLate pays a QR code after its checkout expired (or was cancelled)
// under the given late policy; with magic ..25 the sandbox's late payer
// does it by itself. It takes over a minute: the shortest expiry is 60 s.
func (d *driver) journeyLate(rng *rand.Rand, policy, how string) error {
	store := storeNative
	if policy == "refund" {
		store = storeRedir
	}
	magic := 0
	if how == "late-payer" {
		magic = sandbox.MagicAmountLatePayer
	}
	p, err := d.create(rng, createReq{store: store, journey: "late-" + how + "-" + policy, latePolicy: policy, amount: amount(rng, magic), expiresIn: 60})
	if err != nil {
		return err
	}
	pa, err := d.browser(uaDesktop, "late-"+p.ID[3:9]).startPay(p.ID, pick(rng, "wechat", "alipay"), "qr")
	if err != nil || pa.Kind != "qr" {
		return err
	}
	seq := seqOf(pa.QRImageURL)
	switch how {
	case "late-payer":
		// Accepted now, paid by the sandbox after -late-pay-delay.
		return d.scanQR(p, seq)
	case "cancel":
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Millisecond)
		if err := d.merchantCancel(p); err != nil {
			return err
		}
	default:
		if _, ok := d.waitFor(p.ID, 3*time.Minute, func(v *checkoutView) bool { return v.Status == "expired" }); !ok {
			return fmt.Errorf("late %s: never expired", p.ID)
		}
	}
	return d.scanQR(p, seq)
}

// run drives traffic until stop, from workers seeded from the run's seed.
// The late journeys start at once and start again while they can still
// finish (expiry plus the late payer's delay) before lateUntil.
func (d *driver) run(workers int, lateUntil time.Time) (wait func()) {
	var wg sync.WaitGroup
	var errs atomic.Int64
	report := func(name string, err error) {
		if err != nil && !d.stop.Load() && !strings.Contains(err.Error(), "context canceled") {
			if errs.Add(1) <= 50 {
				d.led.note("journey %s: %v", name, err)
			}
		}
	}
	i := 0
	for _, policy := range []string{"accept", "refund"} {
		for _, how := range []string{"expire", "cancel", "late-payer"} {
			rng := rand.New(rand.NewPCG(d.w.opt.seed, uint64(1000+i)))
			i++
			wg.Go(func() {
				for first := true; first || (!d.stop.Load() && time.Now().Add(d.w.opt.lateDelay+20*time.Second).Before(lateUntil)); first = false {
					report("late-"+how+"-"+policy, d.journeyLate(rng, policy, how))
				}
			})
		}
	}
	for i := range workers {
		rng := rand.New(rand.NewPCG(d.w.opt.seed, uint64(i)))
		wg.Go(func() {
			for !d.stop.Load() && d.ctx.Err() == nil {
				name, j := d.pickJourney(rng)
				report(name, j(d, rng))
			}
		})
	}
	return wg.Wait
}

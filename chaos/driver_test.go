package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
)

// User agents of the payers' browsers.
const (
	uaDesktop = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaWeChat  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800322c) NetType/WIFI Language/zh_CN"
	uaAlipay  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Ariver/1.1.0 AliApp(AP/10.6.10.6000) Nebula WK AlipayClient/10.6.10.6000 Language/zh-Hans Region/CN"
)

var reCSRF = regexp.MustCompile(`data-csrf="([^"]*)"`)

// checkoutView is the part of the merchant API's checkout the suite reads.
type checkoutView struct {
	ID             string       `json:"id"`
	ClientSecret   string       `json:"client_secret"`
	Status         string       `json:"status"`
	Late           bool         `json:"late"`
	Store          string       `json:"store"`
	Amount         int64        `json:"amount"`
	RefundedAmount int64        `json:"refunded_amount"`
	LatePolicy     string       `json:"late_policy"`
	ExpiresAt      time.Time    `json:"expires_at"`
	Refunds        []refundView `json:"refunds"`
}

type refundView struct {
	ID      string `json:"id"`
	Amount  int64  `json:"amount"`
	Reason  string `json:"reason"`
	Kind    string `json:"kind"`
	Status  string `json:"status"`
	Attempt int    `json:"attempt"`
	Failure string `json:"failure"`
}

func paidStatus(s string) bool {
	return s == "paid" || s == "partially_refunded" || s == "refunded"
}

// answer is one HTTP answer of the service.
type answer struct {
	code   int
	header http.Header
	body   []byte
}

// ledger is what the driver did, for the checks: every checkout, every
// Idempotency-Key's first answer and every replay's.
type ledger struct {
	mu        sync.Mutex
	checkouts map[string]*planned
	order     []string
	// creates and refunds by Idempotency-Key: the first answer, then every
	// replay's, in order.
	creates map[string][]keyedAnswer
	refunds map[string][]keyedAnswer
	// counters for the report
	payActions, payStarts, cancels, refundAsks, replays atomic.Int64
	// problems the driver saw directly (5xx from the service other than
	// while it was down, panics of the flow...)
	notes []string
}

// planned is one checkout and what the driver did to it.
type planned struct {
	ID         string
	Store      string
	Amount     int64
	LatePolicy string
	Journey    string
	// Cancelled is set once a merchant cancel answered 200 with cancelled.
	Cancelled bool
	// RefundKeys lists the refund Idempotency-Keys used on it.
	RefundKeys []string
	// Asked holds every refund Idempotency-Key sent for it, answered or
	// not: the merchant refunds it may have are at most that many.
	Asked map[string]bool
}

type keyedAnswer struct {
	// Asked is the amount the request asked for (refunds): a replay with
	// another body must be refused, not answered.
	Asked    int64
	Code     int
	ID       string // checkout or refund id
	Amount   int64
	Status   string
	ErrCode  string
	Replayed bool
	At       time.Time
}

func newLedger() *ledger {
	return &ledger{checkouts: map[string]*planned{}, creates: map[string][]keyedAnswer{}, refunds: map[string][]keyedAnswer{}}
}

func (l *ledger) add(p *planned) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.checkouts[p.ID]; !ok {
		l.checkouts[p.ID] = p
		l.order = append(l.order, p.ID)
	}
}

func (l *ledger) note(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.notes = append(l.notes, fmt.Sprintf(format, args...))
}

// driver runs the traffic.
type driver struct {
	w     *world
	led   *ledger
	api   *http.Client
	plain *http.Client // sandbox payer actions
	stop  atomic.Bool
	seq   atomic.Int64
	// watch, when set, is told of every checkout created (the replicas
	// drive opens a payer's event stream on each).
	watch  func(*planned)
	ctx    context.Context
	cancel context.CancelFunc
}

func newDriver(w *world) *driver {
	ctx, cancel := context.WithCancel(context.Background())
	tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	d := &driver{w: w, led: newLedger(), ctx: ctx, cancel: cancel,
		api:   &http.Client{Timeout: 45 * time.Second, Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		plain: &http.Client{Timeout: 30 * time.Second, Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
	w.t.Cleanup(func() { cancel(); tr.CloseIdleConnections() })
	return d
}

// down reports whether an answer says the service (or its Redis) was not
// there to answer: a restart or a Redis outage. Such requests are retried.
func down(a answer, err error) bool {
	if err != nil {
		return true
	}
	return a.code == http.StatusBadGateway || a.code == http.StatusServiceUnavailable || a.code == http.StatusGatewayTimeout ||
		a.code == http.StatusInternalServerError
}

// call makes one merchant API request.
func (d *driver) call(method, path string, body any, hdr map[string]string) (answer, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(d.ctx, method, d.w.front.url()+path, rd)
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+d.w.apiKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := d.api.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{code: resp.StatusCode, header: resp.Header, body: b}, err
}

// persist repeats a request while the service is down, for up to a minute.
func (d *driver) persist(method, path string, body any, hdr map[string]string) (answer, error) {
	deadline := time.Now().Add(60 * time.Second)
	wait := 100 * time.Millisecond
	for {
		a, err := d.call(method, path, body, hdr)
		busy := a.code == http.StatusConflict && bytes.Contains(a.body, []byte("idempotency_in_progress"))
		if (!down(a, err) && !busy) || time.Now().After(deadline) || d.ctx.Err() != nil {
			if err == nil && down(a, nil) {
				err = fmt.Errorf("%s %s: HTTP %d: %s", method, path, a.code, a.body)
			}
			return a, err
		}
		time.Sleep(wait)
		wait = min(wait*2, time.Second)
	}
}

// get reads a checkout (with its refunds).
func (d *driver) get(id string) (*checkoutView, error) {
	a, err := d.persist("GET", "/v1/checkouts/"+id, nil, nil)
	if err != nil {
		return nil, err
	}
	if a.code != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d: %s", id, a.code, a.body)
	}
	var v checkoutView
	if err := json.Unmarshal(a.body, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// waitFor polls a checkout until cond holds, up to within.
func (d *driver) waitFor(id string, within time.Duration, cond func(*checkoutView) bool) (*checkoutView, bool) {
	deadline := time.Now().Add(within)
	for {
		v, err := d.get(id)
		if err == nil && cond(v) {
			return v, true
		}
		if time.Now().After(deadline) || d.ctx.Err() != nil {
			return v, false
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// createReq is a checkout to create.
type createReq struct {
	store, journey, latePolicy string
	amount                     int64
	expiresIn                  int
	wallets                    []string
}

// create makes a checkout under an Idempotency-Key, retrying through
// restarts with the same key, and sometimes replays the key once more.
func (d *driver) create(rng *rand.Rand, r createReq) (*planned, error) {
	key := fmt.Sprintf("chaos-create-%d-%d", d.w.opt.seed, d.seq.Add(1))
	body := map[string]any{
		"amount": r.amount, "description": "混沌测试 " + r.journey, "reference": key,
		"late_policy": r.latePolicy, "store": r.store, "expires_in": r.expiresIn,
		"success_url": d.w.front.url() + "/ok/{CHECKOUT_ID}", "metadata": map[string]string{"journey": r.journey},
	}
	if len(r.wallets) > 0 {
		body["wallets"] = r.wallets
	}
	hdr := map[string]string{"Idempotency-Key": key}
	a, err := d.persist("POST", "/v1/checkouts", body, hdr)
	if err != nil {
		return nil, err
	}
	d.recordCreate(key, a)
	if a.code != http.StatusCreated {
		return nil, fmt.Errorf("create: HTTP %d: %s", a.code, a.body)
	}
	var v checkoutView
	if err := json.Unmarshal(a.body, &v); err != nil {
		return nil, err
	}
	p := &planned{ID: v.ID, Store: r.store, Amount: r.amount, LatePolicy: r.latePolicy, Journey: r.journey}
	d.led.add(p)
	if d.watch != nil {
		d.watch(p)
	}
	if rng.IntN(4) == 0 {
		if a, err := d.persist("POST", "/v1/checkouts", body, hdr); err == nil {
			d.recordCreate(key, a)
		}
	}
	return p, nil
}

func (d *driver) recordCreate(key string, a answer) {
	ka := keyedAnswer{Code: a.code, Replayed: a.header.Get("Idempotent-Replayed") == "true", At: time.Now()}
	var v struct {
		ID    string `json:"id"`
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(a.body, &v)
	ka.ID, ka.ErrCode = v.ID, v.Error.Code
	d.led.mu.Lock()
	d.led.creates[key] = append(d.led.creates[key], ka)
	d.led.mu.Unlock()
}

// refund asks for a refund under key (retrying through restarts with it)
// and records the answer.
func (d *driver) refund(p *planned, key string, amount int64) keyedAnswer {
	d.led.refundAsks.Add(1)
	d.led.mu.Lock()
	if p.Asked == nil {
		p.Asked = map[string]bool{}
	}
	p.Asked[key] = true
	d.led.mu.Unlock()
	body := map[string]any{"amount": amount, "reason": "chaos " + key[len(key)-min(len(key), 12):]}
	a, err := d.persist("POST", "/v1/checkouts/"+p.ID+"/refunds", body, map[string]string{"Idempotency-Key": key})
	ka := keyedAnswer{At: time.Now(), Code: a.code, Asked: amount}
	if err != nil && a.code == 0 {
		return ka
	}
	var v struct {
		refundView
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(a.body, &v)
	ka.ID, ka.Amount, ka.Status, ka.ErrCode = v.ID, v.Amount, v.Status, v.Error.Code
	d.led.mu.Lock()
	if len(d.led.refunds[key]) == 0 {
		p.RefundKeys = append(p.RefundKeys, key)
	} else {
		d.led.replays.Add(1)
	}
	d.led.refunds[key] = append(d.led.refunds[key], ka)
	d.led.mu.Unlock()
	return ka
}

// browser is one payer's browser: cookies, a user agent.
type browser struct {
	d  *driver
	ua string
	c  *http.Client
}

func (d *driver) browser(ua, payer string) *browser {
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(d.w.simSrv.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: "walletsim_payer", Value: payer, Path: "/"}})
	return &browser{d: d, ua: ua, c: &http.Client{Jar: jar, Timeout: 45 * time.Second, Transport: d.api.Transport}}
}

func (b *browser) do(method, target string, body []byte, hdr map[string]string) (answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(b.d.ctx, method, target, rd)
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("User-Agent", b.ua)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return answer{code: resp.StatusCode, header: resp.Header, body: raw}, err
}

// payAnswer is the page's pay answer.
type payAnswer struct {
	Kind   string `json:"kind"`
	WeChat *struct {
		AppID     string `json:"appId"`
		TimeStamp string `json:"timeStamp"`
		NonceStr  string `json:"nonceStr"`
		Package   string `json:"package"`
		SignType  string `json:"signType"`
		PaySign   string `json:"paySign"`
	} `json:"wechat"`
	TradeNO     string `json:"trade_no"`
	RedirectURL string `json:"redirect_url"`
	QRImageURL  string `json:"qr_image_url"`
	Error       *struct {
		Code string `json:"code"`
	} `json:"error"`
}

// startPay opens the hosted page (through OAuth in a wallet) and presses
// Pay with wallet and scenario, retrying through restarts. A declined or
// refused start (not payable any more) returns the answer with no error.
func (b *browser) startPay(id, wallet, scenario string) (*payAnswer, error) {
	deadline := time.Now().Add(60 * time.Second)
	front := b.d.w.front.url()
	for {
		page, err := b.do("GET", front+"/c/"+id, nil, nil)
		var csrf string
		if err == nil && page.code == http.StatusOK {
			if m := reCSRF.FindSubmatch(page.body); m != nil {
				csrf = string(m[1])
			}
		}
		if csrf != "" {
			body, _ := json.Marshal(map[string]string{"wallet": wallet, "scenario": scenario})
			a, err := b.do("POST", front+"/c/"+id+"/pay", body, map[string]string{
				"Content-Type": "application/json", "X-CSRF-Token": csrf, "Origin": front, "Sec-Fetch-Site": "same-origin",
			})
			if err == nil && !down(a, nil) && a.code != http.StatusConflict {
				var pa payAnswer
				if err := json.Unmarshal(a.body, &pa); err != nil {
					return nil, fmt.Errorf("pay %s: HTTP %d %s", id, a.code, a.body)
				}
				b.d.led.payStarts.Add(1)
				return &pa, nil
			}
			if err == nil && a.code == http.StatusConflict && !bytes.Contains(a.body, []byte(`"busy"`)) {
				var pa payAnswer
				_ = json.Unmarshal(a.body, &pa)
				return &pa, nil // not payable (paid, expired, cancelled)
			}
		} else if err == nil && page.code == http.StatusOK {
			return &payAnswer{}, nil // the page offers no pay button: not payable any more
		}
		if time.Now().After(deadline) || b.d.ctx.Err() != nil {
			return nil, fmt.Errorf("pay %s %s/%s: the service never answered (last: %v)", id, wallet, scenario, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// payerAction posts to one of the sandbox's payer endpoints.
func (d *driver) payerAction(path string, body any) error {
	raw, _ := json.Marshal(body)
	resp, err := d.plain.Post(d.w.sandboxURL(path), "application/json", bytes.NewReader(raw))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d: %s", path, resp.StatusCode, b)
	}
	d.led.payActions.Add(1)
	return nil
}

// scanQR pays the QR code of attempt seq of checkout id, as a phone that
// scans it would: the code is read from the gateway (the test holds the
// store's credentials), then the sandbox's scan-and-pay action.
func (d *driver) scanQR(p *planned, seq int) error {
	ctx, cancel := context.WithTimeout(d.ctx, 15*time.Second)
	defer cancel()
	o, err := d.w.gwClient.PayStatus(ctx, d.w.gwStores[p.Store], gateway.ByOutNo(checkout.OutNo(p.ID, seq)))
	if err != nil {
		return fmt.Errorf("read the QR code of %s/%d: %w", p.ID, seq, err)
	}
	return d.payerAction("/payer/qrcode", map[string]string{"qrcode": string(o.TradeQRCode)})
}

// seqOf reads the attempt number from a QR image URL (/c/ID/qr/N.svg).
func seqOf(qrURL string) int {
	s := qrURL[strings.LastIndex(qrURL, "/")+1:]
	n, _ := strconv.Atoi(strings.TrimSuffix(s, ".svg"))
	return n
}

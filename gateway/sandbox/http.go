package sandbox

import (
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/wallet-checkout/checkout/gateway"
)

// Paths of the payer's side, relative to Handler().
const (
	PathPayPage          = "/pay/"               // + ord_no: the hosted pay page of a jump_url order
	PathPayerQRCode      = "/payer/qrcode"       // POST {"qrcode": trade_qrcode}
	PathPayerWeChatJSAPI = "/payer/wechat-jsapi" // POST the six bridge parameters (+ "action")
	PathPayerAlipayTrade = "/payer/alipay-trade" // POST {"tradeNO": trade_no} (+ "action")
	maxPayerBody         = 64 << 10
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(s.cfg.Prefix+"/", s.serveProtocol)
	mux.HandleFunc("GET "+PathPayPage+"{ord_no}", s.showPayPage)
	// Browsers post the pay page from its own origin; cross-origin form
	// posts (another site driving the sandbox) are refused.
	mux.Handle("POST "+PathPayPage+"{ord_no}", http.NewCrossOriginProtection().Handler(http.HandlerFunc(s.submitPayPage)))
	mux.HandleFunc(PathPayerQRCode, s.payerEndpoint(s.payerQRCode))
	mux.HandleFunc(PathPayerWeChatJSAPI, s.payerEndpoint(s.payerWeChat))
	mux.HandleFunc(PathPayerAlipayTrade, s.payerEndpoint(s.payerAlipay))
	mux.HandleFunc("GET "+PathConsole+"{$}", s.showConsole)
	mux.Handle("POST /console/pay/{ord_no}", http.NewCrossOriginProtection().Handler(http.HandlerFunc(s.consolePay)))
	mux.HandleFunc("GET "+PathJournal, s.serveJournal)
	return mux
}

// payerEndpoint wraps a JSON payer action: CORS from any origin (the bridge
// stand-ins run in the merchant's page), POST only, a capped body, JSON or
// form input.
func (s *Server) payerEndpoint(fn func(r *http.Request, in map[string]string) (int, any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Content-Type")
		h.Set("Access-Control-Max-Age", "600")
		h.Set("Cache-Control", "no-store")
		switch r.Method {
		case http.MethodOptions:
			w.WriteHeader(http.StatusNoContent)
			return
		case http.MethodPost:
		default:
			h.Set("Allow", "POST, OPTIONS")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use POST"})
			return
		}
		in, err := readPayerInput(w, r)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		code, out := fn(r, in)
		writeJSON(w, code, out)
	}
}

var errPayerInput = errors.New("body must be a JSON object of strings or a form")

func readPayerInput(w http.ResponseWriter, r *http.Request) (map[string]string, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxPayerBody)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	in := map[string]string{}
	if mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data" {
		if err := r.ParseMultipartForm(maxPayerBody); err != nil && !errors.Is(err, http.ErrNotMultipart) {
			return nil, errPayerInput
		}
		for k, v := range r.PostForm {
			if len(v) > 0 {
				in[k] = v[0]
			}
		}
		return in, nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, errPayerInput
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, errPayerInput
	}
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			in[k] = v
		case float64, bool:
			b, _ := json.Marshal(v)
			in[k] = string(b)
		}
	}
	return in, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// payerStatus maps a payer action's error to an HTTP status.
func payerStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrUnknownOrder):
		return http.StatusNotFound
	case errors.Is(err, ErrNotPayable):
		return http.StatusConflict
	case errors.Is(err, ErrBadPaySign):
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

// cancelled reads the action of a payer request: "ok" (default) or "cancel".
func cancelled(in map[string]string) bool {
	a := strings.ToLower(in["action"])
	return a == "cancel" || a == "fail"
}

func (s *Server) payerQRCode(r *http.Request, in map[string]string) (int, any) {
	err := s.PayQRCode(r.Context(), in["qrcode"])
	if err != nil {
		return payerStatus(err), map[string]any{"ok": false, "error": err.Error()}
	}
	return http.StatusOK, map[string]any{"ok": true}
}

// payerWeChat answers like WeixinJSBridge's callback: err_msg
// get_brand_wcpay_request:ok, :cancel or :fail.
func (s *Server) payerWeChat(r *http.Request, in map[string]string) (int, any) {
	p := WeChatPayParams{AppID: in["appId"], TimeStamp: in["timeStamp"], NonceStr: in["nonceStr"],
		Package: in["package"], SignType: in["signType"], PaySign: in["paySign"]}
	ok := !cancelled(in)
	if err := s.PayWeChatJSAPI(r.Context(), p, ok); err != nil {
		return payerStatus(err), map[string]string{"err_msg": "get_brand_wcpay_request:fail", "error": err.Error()}
	}
	if !ok {
		return http.StatusOK, map[string]string{"err_msg": "get_brand_wcpay_request:cancel"}
	}
	return http.StatusOK, map[string]string{"err_msg": "get_brand_wcpay_request:ok"}
}

// payerAlipay answers like AlipayJSBridge's tradePay: resultCode 9000
// (paid), 6001 (cancelled) or 4000 (failed).
func (s *Server) payerAlipay(r *http.Request, in map[string]string) (int, any) {
	tradeNo := in["tradeNO"]
	if tradeNo == "" {
		tradeNo = in["trade_no"]
	}
	ok := !cancelled(in)
	if err := s.PayAlipayTrade(r.Context(), tradeNo, ok); err != nil {
		return payerStatus(err), map[string]string{"resultCode": "4000", "error": err.Error()}
	}
	if !ok {
		return http.StatusOK, map[string]string{"resultCode": "6001"}
	}
	return http.StatusOK, map[string]string{"resultCode": "9000"}
}

// payPage is what the hosted pay page shows.
type payPage struct {
	OrdNo    string
	Shop     string
	OrdName  string
	Amount   string
	Method   string
	WeChat   bool
	Status   gateway.Status
	Awaiting bool
}

func (s *Server) jumpOrder(r *http.Request) *order {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[r.PathValue("ord_no")]
	if o == nil || o.scenario != ScenarioJump {
		return nil
	}
	return o
}

func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

func (s *Server) showPayPage(w http.ResponseWriter, r *http.Request) {
	o := s.jumpOrder(r)
	pageHeaders(w)
	if o == nil {
		w.WriteHeader(http.StatusNotFound)
		_ = payTemplate.Execute(w, nil)
		return
	}
	s.mu.Lock()
	p := payPage{
		OrdNo: o.ordNo, Shop: o.st.name, OrdName: o.ordName, Amount: fenToYuan(o.trade), Method: o.pmtName,
		WeChat: familyOf(o.pmtTag) == familyWeChat, Status: o.status,
		Awaiting: o.status == gateway.StatusAwaiting || o.status == gateway.StatusPassword,
	}
	s.mu.Unlock()
	if err := payTemplate.Execute(w, p); err != nil {
		s.log.Warn("Sandbox pay page not rendered", "ord_no", p.OrdNo, "error", err)
	}
}

// submitPayPage pays or cancels, then sends the browser to jump_url with the
// signed six-field query. Cancelling leaves the order payable, as closing
// the real pay window does; the query then says status 4.
func (s *Server) submitPayPage(w http.ResponseWriter, r *http.Request) {
	o := s.jumpOrder(r)
	if o == nil {
		pageHeaders(w)
		w.WriteHeader(http.StatusNotFound)
		_ = payTemplate.Execute(w, nil)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxPayerBody)
	status := gateway.StatusCanceled
	switch r.PostFormValue("action") {
	case "pay":
		if err := s.payerPays(o); err != nil && !errors.Is(err, ErrNotPayable) {
			http.Error(w, err.Error(), payerStatus(err))
			return
		}
		status = gateway.StatusPaid
	case "back":
		s.mu.Lock()
		if o.status == gateway.StatusPaid {
			status = gateway.StatusPaid
		}
		s.mu.Unlock()
	case "cancel":
	default:
		http.Error(w, "action must be pay, cancel or back", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	key, jump, ordNo, outNo := o.st.key, o.jumpURL, o.ordNo, o.outNo
	s.mu.Unlock()
	q := gateway.CallbackQuery(key, gateway.Callback{
		OrdNo: ordNo, OutNo: outNo, Status: status, Timestamp: s.now(), RandStr: s.randString(128, alnum),
	})
	sep := "?"
	if strings.Contains(jump, "?") {
		sep = "&"
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, jump+sep+q.Encode(), http.StatusSeeOther)
}

var payTemplate = template.Must(template.New("pay").Parse(`<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<title>{{if .}}沙箱支付 · Sandbox payment{{else}}订单不存在 · Order not found{{end}}</title>
<style>
*{box-sizing:border-box}
body{margin:0;font-family:-apple-system,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;background:#ededed;color:#111;min-height:100vh;display:flex;flex-direction:column}
.bar{background:{{if and . .WeChat}}#07c160{{else}}#1677ff{{end}};color:#fff;padding:14px 16px;font-size:17px;text-align:center}
.bar small{display:block;font-size:12px;opacity:.85;margin-top:2px}
.card{background:#fff;margin:16px;border-radius:12px;padding:24px 20px;text-align:center}
.shop{font-size:15px;color:#555}
.amount{font-size:40px;font-weight:600;margin:12px 0 4px}
.amount span{font-size:24px;margin-right:2px}
.name{color:#666;font-size:14px;word-break:break-all}
dl{margin:20px 0 0;text-align:left;font-size:14px;border-top:1px solid #eee;padding-top:12px;display:grid;grid-template-columns:auto 1fr;gap:8px 12px;align-items:baseline}
dt{color:#888;white-space:nowrap}
dd{margin:0;text-align:right;word-break:break-all}
dd.no{font-size:13px;font-variant-numeric:tabular-nums}
.actions{margin:8px 16px;display:flex;flex-direction:column;gap:12px}
button{font:inherit;font-size:17px;border:0;border-radius:8px;padding:14px;width:100%}
.pay{background:{{if and . .WeChat}}#07c160{{else}}#1677ff{{end}};color:#fff}
.cancel{background:#fff;color:#333}
.note{font-size:12px;color:#888;text-align:center;margin:16px}
.state{font-size:18px;margin-top:16px}
</style>
</head>
<body>
{{if .}}
<div class="bar">沙箱收银台<small>Sandbox checkout · {{.Method}}</small></div>
<main class="card">
<div class="shop">{{.Shop}}</div>
<div class="amount" data-testid="sandbox-amount"><span>¥</span>{{.Amount}}</div>
<div class="name">{{.OrdName}}</div>
<dl>
<dt>支付方式 Method</dt><dd>{{.Method}}</dd>
<dt>订单号 Order</dt><dd class="no">{{.OrdNo}}</dd>
</dl>
{{if not .Awaiting}}<div class="state" data-testid="sandbox-state">{{if eq .Status 1}}订单已支付 · Already paid{{else}}订单已取消 · Cancelled{{end}}</div>{{end}}
</main>
<form class="actions" method="post">
{{if .Awaiting}}
<button class="pay" type="submit" name="action" value="pay" data-testid="sandbox-pay">确认支付 / Pay</button>
<button class="cancel" type="submit" name="action" value="cancel" data-testid="sandbox-cancel">取消 / Cancel</button>
{{else}}
<button class="pay" type="submit" name="action" value="back" data-testid="sandbox-back">返回商户 / Back to merchant</button>
{{end}}
</form>
<p class="note">这是模拟支付，不会产生真实扣款。<br>Simulated payment: no real money moves.</p>
{{else}}
<div class="bar">沙箱收银台<small>Sandbox checkout</small></div>
<main class="card"><div class="state">订单不存在<br>Order not found</div></main>
{{end}}
</body>
</html>
`))

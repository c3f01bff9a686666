package sandbox

import (
	"errors"
	"html/template"
	"net/http"
	"sort"

	"github.com/wallet-checkout/checkout/gateway"
)

// The console is a developer's page at the sandbox's root: the orders that
// await payment, each with a button that pays it the way its payer would.
// It is what a demo user on a desktop uses instead of scanning a weixin://
// QR code with a phone.

// consoleLimit caps the orders the console lists.
const consoleLimit = 50

// PathConsole is the console's path, relative to Handler().
const PathConsole = "/"

type consoleRow struct {
	OrdNo, OutNo, Store, Method, Amount, OrdName, QRCode string
	Scenario                                             Scenario
	Status                                               gateway.Status
}

func (s *Server) showConsole(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rows := make([]consoleRow, 0, consoleLimit)
	all := make([]*order, 0, len(s.orders))
	for _, o := range s.orders {
		if o.ordType == gateway.OrderPayment && (o.status == gateway.StatusAwaiting || o.status == gateway.StatusPassword) {
			all = append(all, o)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].addTime.Equal(all[j].addTime) {
			return all[i].mctID > all[j].mctID
		}
		return all[i].addTime.After(all[j].addTime)
	})
	for _, o := range all[:min(len(all), consoleLimit)] {
		rows = append(rows, consoleRow{
			OrdNo: o.ordNo, OutNo: o.outNo, Store: o.st.name, Method: o.pmtName, Amount: fenToYuan(o.trade),
			OrdName: o.ordName, QRCode: o.tradeQRCode, Scenario: o.scenario, Status: o.status,
		})
	}
	s.mu.Unlock()
	pageHeaders(w)
	if err := consoleTemplate.Execute(w, rows); err != nil {
		s.log.Warn("Sandbox console not rendered", "error", err)
	}
}

func (s *Server) consolePay(w http.ResponseWriter, r *http.Request) {
	err := s.PayOrderNo(r.Context(), r.PathValue("ord_no"))
	if err != nil && !errors.Is(err, ErrNotPayable) {
		http.Error(w, err.Error(), payerStatus(err))
		return
	}
	// Back to the console. The Location stays relative (http.Redirect would
	// make it absolute from the path as seen after any StripPrefix), so that
	// the browser resolves it wherever the handler is mounted.
	w.Header().Set("Location", "../../")
	w.WriteHeader(http.StatusSeeOther)
}

var consoleTemplate = template.Must(template.New("console").Parse(`<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>沙箱网关 · Sandbox gateway</title>
<style>
body{margin:0;font-family:-apple-system,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;background:#f5f5f5;color:#111}
h1{font-size:18px;margin:0;padding:14px 16px;background:#333;color:#fff}
p{margin:12px 16px;color:#666;font-size:14px}
table{border-collapse:collapse;margin:0 16px 16px;background:#fff;font-size:14px}
th,td{padding:8px 10px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
td.no{font-variant-numeric:tabular-nums;font-size:12px;word-break:break-all}
button{font:inherit;border:0;border-radius:6px;padding:6px 12px;background:#07c160;color:#fff}
</style>
</head>
<body>
<h1>沙箱网关 · Sandbox gateway</h1>
<p>待支付订单（最新 50 笔）。“模拟付款”像付款人一样完成支付，随后发送异步通知。<br>Orders awaiting payment (latest 50). "Pay" completes one as its payer would; the notify follows.</p>
{{if .}}
<table>
<tr><th>订单号 Order</th><th>商户单号 out_no</th><th>门店 Store</th><th>方式 Method</th><th>场景 Scenario</th><th>金额 Amount</th><th>状态 Status</th><th></th></tr>
{{range .}}
<tr>
<td class="no">{{.OrdNo}}</td><td>{{.OutNo}}</td><td>{{.Store}}</td><td>{{.Method}}</td><td>{{.Scenario}}</td><td>¥{{.Amount}}</td><td>{{.Status}}</td>
<td><form method="post" action="console/pay/{{.OrdNo}}"><button type="submit" data-testid="sandbox-console-pay">模拟付款 / Pay</button></form></td>
</tr>
{{end}}
</table>
{{else}}
<p data-testid="sandbox-console-empty">没有待支付的订单。No order awaits payment.</p>
{{end}}
</body>
</html>
`))

package handlers_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// exportCSV downloads the export of [from, to] and parses it.
func (e *consoleEnv) exportCSV(b *http.Client, query string) (*http.Response, [][]string) {
	e.t.Helper()
	resp, err := b.Get(e.srv.URL + "/console/export.csv?" + query)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp, nil
	}
	if !bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		e.t.Fatalf("no UTF-8 BOM: %q", data[:min(len(data), 20)])
	}
	r := csv.NewReader(bytes.NewReader(data[3:]))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		e.t.Fatalf("the CSV does not parse: %v\n%s", err, data)
	}
	return resp, recs
}

// TestConsoleExport: the day's payments and refunds, one row each, in
// yuan and fen; cells a spreadsheet would run are escaped; another day's
// and another merchant's money is not there; bad ranges are a 400.
func TestConsoleExport(t *testing.T) {
	e := newConsoleEnv(t)
	e.now.Store(time.Date(2026, 12, 1, 15, 59, 0, 0, time.UTC).UnixNano()) // 23:59 the day before, UTC+8
	e.pay(e.mkCheckout("shop", "yesterday", 500))
	e.now.Store(time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC).UnixNano()) // 00:00 UTC+8
	a := e.pay(e.mkCheckout("shop", "=HYPERLINK(\"http://evil.example\")", 1234))
	e.pay(e.mkCheckout("shop", "+1-2", 5))
	e.pay(e.mkCheckout("shop", "@SUM(A1)", 100000))
	e.pay(e.mkCheckout("shop", "-3", 1))
	e.pay(e.mkCheckout("other", "foreign", 999))
	e.mkCheckout("shop", "unpaid", 700)
	e.advance(time.Hour)
	e.emitRefund(webhook.TypeRefundSucceeded, a, 234)

	b := e.loginViewer() // reading is a viewer's right
	resp, recs := e.exportCSV(b, "from=2026-12-02&to=2026-12-02")
	if ct := resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" || !strings.Contains(resp.Header.Get("Content-Disposition"), `filename="payments-2026-12-02-2026-12-02.csv"`) {
		t.Errorf("headers: %s %s", ct, resp.Header.Get("Content-Disposition"))
	}
	if len(recs) != 6 || recs[0][0] != "type" {
		t.Fatalf("%d rows:\n%v", len(recs), recs)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	var paid, refunded int64
	refs := map[string]bool{}
	for _, r := range recs[1:] {
		fen, err := strconv.ParseInt(r[col["amount_fen"]], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if want := strconv.FormatInt(fen/100, 10) + "." + strconv.FormatInt(fen%100/10, 10) + strconv.FormatInt(fen%10, 10); r[col["amount_yuan"]] != want {
			t.Errorf("yuan %q for %d fen", r[col["amount_yuan"]], fen)
		}
		switch r[col["type"]] {
		case "payment":
			paid += fen
			refs[r[col["reference"]]] = true
			if r[col["wallet"]] != "wechat" || r[col["ord_no"]] == "" {
				t.Errorf("payment row without its order: %v", r)
			}
		case "refund":
			refunded += fen
		}
	}
	if paid != 1234+5+100000+1 || refunded != 234 {
		t.Errorf("totals: paid %d refunded %d", paid, refunded)
	}
	for _, want := range []string{`'=HYPERLINK("http://evil.example")`, "'+1-2", "'@SUM(A1)", "'-3"} {
		if !refs[want] {
			t.Errorf("reference %q not escaped as %q: %v", want[1:], want, refs)
		}
	}
	// Two days hold yesterday's too; a bad range is a 400.
	if _, recs := e.exportCSV(b, "from=2026-12-01&to=2026-12-02"); len(recs) != 7 {
		t.Errorf("two days: %d rows", len(recs))
	}
	for _, q := range []string{"from=2026-12-03&to=2026-12-01", "from=2026-02-30&to=2026-03-01", "from=x", "from=2026-01-01&to=2026-12-02", "from=2026-12-01&to=2026-12-02%00"} {
		if resp, _ := e.exportCSV(b, q); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, resp.StatusCode)
		}
	}
	if a := e.do(b, "GET", "/console/export?from=2026-12-02&to=2026-12-02", nil); a.status != 200 || !strings.Contains(a.body, `value="2026-12-02"`) {
		t.Errorf("form: %d", a.status)
	}
	if a := e.do(e.browser(), "GET", "/console/export.csv", nil); a.status != http.StatusSeeOther {
		t.Errorf("signed out: %d", a.status)
	}
}

// listedGateway lists, for every day, the orders in it: a gateway whose
// order list holds exactly what the test paid. Its other calls reach the
// real client, where nothing listens.
type listedGateway struct {
	app.Gateway
	mu     sync.Mutex
	orders []gateway.Order
}

func (g *listedGateway) Orders(_ context.Context, _ *gateway.Store, q *gateway.OrderQuery) (*gateway.OrderPage, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []gateway.Order
	for _, o := range g.orders {
		if !o.AddTime.Before(q.Since) && o.AddTime.Before(q.Since.Add(24*time.Hour)) {
			out = append(out, o)
		}
	}
	return &gateway.OrderPage{TotalPage: 1, Page: 1, List: out}, nil
}

func (g *listedGateway) OrderView(context.Context, *gateway.Store, gateway.OrderRef) (*gateway.Order, error) {
	return nil, gateway.ErrOrderNotFound
}

// TestConsoleExportMatchesReconciliation: for a day the reconciliation
// compared with the gateway's order list and found in agreement, the
// export's payments add up to the reconciliation's totals, count and
// amount (payments around the day's edges included).
func TestConsoleExportMatchesReconciliation(t *testing.T) {
	gw := &listedGateway{Gateway: gateway.NewClient(gateway.WithRetries(0, 0, 0))}
	e := newOpsEnvWith(t, "", gw)
	ctx := t.Context()
	day := time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC) // 2026-12-02 00:00 UTC+8
	for i, at := range []time.Duration{-time.Minute, 0, time.Hour, 12 * time.Hour, 24*time.Hour - time.Second, 24 * time.Hour} {
		e.now.Store(day.Add(at).UnixNano())
		co := e.pay(e.mkCheckout("shop", "order-"+strconv.Itoa(i), int64(100*i+7)))
		atts, err := e.app.Repo.Attempts(ctx, co.ID)
		if err != nil {
			t.Fatal(err)
		}
		a := atts[0]
		gw.mu.Lock()
		gw.orders = append(gw.orders, gateway.Order{OutNo: gateway.Text(a.OutNo), OrdNo: gateway.Text(a.OrdNo), OrdType: gateway.OrderPayment,
			TradeAmount: gateway.Int(a.Amount), Status: gateway.StatusPaid, AddTime: gateway.Time{Time: a.CreatedAt.In(gateway.ChinaTime())},
			TradePayTime: gateway.Time{Time: co.PaidAt.In(gateway.ChinaTime())}})
		gw.mu.Unlock()
	}
	e.now.Store(day.Add(30 * time.Hour).UnixNano())
	run, err := e.app.Reconciliation.Reconcile(ctx, "shop", "main", "2026-12-02")
	if err != nil {
		t.Fatal(err)
	}
	if run.Counts.Open != 0 || run.Gateway.Payments != 4 {
		t.Fatalf("the reconciliation disagrees: %+v", run)
	}
	_, recs := e.exportCSV(e.loginViewer(), "from=2026-12-02&to=2026-12-02")
	var n int
	var fen int64
	for _, r := range recs[1:] {
		if r[0] != "payment" {
			continue
		}
		v, _ := strconv.ParseInt(r[14], 10, 64)
		n++
		fen += v
	}
	if n != run.Gateway.Payments || fen != run.Gateway.PaymentAmount {
		t.Errorf("export: %d payments, %d fen; the reconciliation: %d, %d fen", n, fen, run.Gateway.Payments, run.Gateway.PaymentAmount)
	}
}

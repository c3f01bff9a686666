package sandbox

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/gateway"
)

// TestJournal checks that payorder and payrefund requests are recorded with
// their contents and outcome, the shop password redacted, and that the
// journal is only served once enabled.
func TestJournal(t *testing.T) {
	e := newEnv(t, Config{})
	get := func() (int, Journal) {
		t.Helper()
		resp, err := http.Get(e.ts.URL + PathJournal)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var j Journal
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, j
	}
	if code, _ := get(); code != http.StatusNotFound {
		t.Fatalf("journal off: HTTP %d, want 404", code)
	}
	e.s.EnableJournal(0)

	po := e.mustCall("payorder", payload("J1", "Weixin", 1000))
	if err := e.s.PayOrderNo(context.Background(), str(po, "ord_no")); err != nil {
		t.Fatal(err)
	}
	pass := gateway.PasswordSHA1(DefaultShopPass)
	e.mustCall("payrefund", map[string]any{"out_no": "J1", "refund_out_no": "J1R1", "refund_amount": 400, "shop_pass": pass})
	e.wantCode("payrefund", map[string]any{"out_no": "J1", "refund_out_no": "J1R2", "refund_amount": 700, "shop_pass": pass}, gateway.CodeRefundExceedsLeft, "")
	e.mustCall("paystatus", map[string]any{"out_no": "J1"}) // not journaled

	code, j := get()
	if code != http.StatusOK || len(j.Requests) != 3 {
		t.Fatalf("HTTP %d, %d requests journaled, want 3: %+v", code, len(j.Requests), j.Requests)
	}
	order, r1, r2 := j.Requests[0], j.Requests[1], j.Requests[2]
	if order.Endpoint != "payorder" || order.Errcode != 0 || order.OrdNo != str(po, "ord_no") ||
		string(order.Request["out_no"]) != `"J1"` || string(order.Request["trade_amount"]) != "1000" || len(order.Answer) == 0 {
		t.Errorf("payorder entry %+v", order)
	}
	if r1.Endpoint != "payrefund" || r1.Errcode != 0 || r1.OrdNo == "" || string(r1.Request["refund_out_no"]) != `"J1R1"` {
		t.Errorf("refund entry %+v", r1)
	}
	if r2.Errcode != int(gateway.CodeRefundExceedsLeft) || r2.OrdNo != "" || len(r2.Answer) != 0 {
		t.Errorf("refused refund entry %+v", r2)
	}
	for _, r := range j.Requests[1:] {
		if p := string(r.Request["shop_pass"]); !strings.Contains(p, "redacted") || strings.Contains(p, pass) {
			t.Errorf("shop_pass journaled as %s", p)
		}
	}
	if order.Seq != 1 || r2.Seq != 3 {
		t.Errorf("seqs %d %d", order.Seq, r2.Seq)
	}
	var refunds int
	for _, o := range j.Orders {
		if o.OriginalOrdNo == order.OrdNo && o.Status == gateway.StatusPaid && o.TradeAmount == 400 {
			refunds++
		}
	}
	if len(j.Orders) != 2 || refunds != 1 {
		t.Errorf("orders dumped: %+v", j.Orders)
	}
}

package sandbox

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/gateway"
)

// china is a wall-clock time in UTC+8.
func china(y int, m time.Month, d, h, min, sec, ns int) time.Time {
	return time.Date(y, m, d, h, min, sec, ns, gateway.ChinaTime())
}

// listAll pages through order with the typed client, pagesize per page,
// and returns the out_nos and the pages' numbers as the answers gave them.
func listAll(t *testing.T, e *env, q gateway.OrderQuery) ([]gateway.Order, []int64) {
	t.Helper()
	gw, st := e.typedClient(gateway.WithRetries(0, 0, 0))
	var all []gateway.Order
	var pages []int64
	for page := 1; ; page++ {
		q.Page = page
		p, err := gw.Orders(context.Background(), st, &q)
		if err != nil {
			t.Fatalf("order page %d: %v", page, err)
		}
		all = append(all, p.List...)
		pages = append(pages, p.Page)
		if int64(page) >= p.TotalPage {
			return all, pages
		}
	}
}

func outNos(os []gateway.Order) []string {
	var out []string
	for _, o := range os {
		out = append(out, string(o.OutNo))
	}
	return out
}

// TestOrderListChinaDay: order lists a day of UTC+8 by add_time to the
// second, refunds (ord_type 2) included, its datetimes in UTC+8, and pages
// the same with the example's "pages" (quirks) and the table's "page".
func TestOrderListChinaDay(t *testing.T) {
	for _, quirks := range []bool{true, false} {
		name := map[bool]string{true: "quirks pages", false: "plain page"}[quirks]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, Config{DisableQuirks: !quirks})
			pass := gateway.PasswordSHA1("123456")
			at := func(ts time.Time) {
				e.clock.Advance(ts.Sub(e.clock.Now()))
			}
			at(china(2026, 11, 25, 23, 59, 58, 0))
			e.mustCall("payorder", payload("BEFORE", "Alipay", 100))
			at(china(2026, 11, 26, 0, 0, 0, 0))
			e.mustCall("payorder", payload("FIRST", "Alipay", 200, "auth_code", "284567890123456789"))
			for i := range 4 {
				e.mustCall("payorder", payload("MID"+itoa(int64(i)), "Weixin", 300+int64(i)))
				e.clock.Advance(time.Hour)
			}
			at(china(2026, 11, 26, 23, 59, 59, 700_000_000))
			e.mustCall("payorder", payload("LAST", "Weixin", 500))
			at(china(2026, 11, 27, 0, 0, 0, 200_000_000))
			e.mustCall("payrefund", map[string]any{"out_no": "FIRST", "refund_out_no": "REFUND1", "refund_amount": 50, "shop_pass": pass})

			day := gateway.OrderQuery{PageSize: 2,
				Since: china(2026, 11, 26, 0, 0, 0, 0), Until: china(2026, 11, 26, 23, 59, 59, 0)}
			got, pages := listAll(t, e, day)
			want := []string{"LAST", "MID3", "MID2", "MID1", "MID0", "FIRST"}
			if !equal(outNos(got), want) {
				t.Errorf("26 Nov: %v, want %v", outNos(got), want)
			}
			if !equal64(pages, []int64{1, 2, 3}) {
				t.Errorf("pages %v", pages)
			}
			first := got[len(got)-1]
			if first.AddTime.Time.In(gateway.ChinaTime()).Format(time.DateTime) != "2026-11-26 00:00:00" ||
				!first.TradePayTime.Equal(first.AddTime.Time) || first.Status != gateway.StatusPaid {
				t.Errorf("FIRST: add %v pay %v status %d", first.AddTime, first.TradePayTime, first.Status)
			}

			// The refund belongs to the day it was made, as ord_type 2.
			next, _ := listAll(t, e, gateway.OrderQuery{PageSize: 100,
				Since: china(2026, 11, 27, 0, 0, 0, 0), Until: china(2026, 11, 27, 23, 59, 59, 0)})
			if len(next) != 1 || next[0].OutNo != "REFUND1" || next[0].OrdType != gateway.OrderRefund ||
				next[0].TradeAmount != 50 || next[0].Status != gateway.StatusPaid {
				t.Errorf("27 Nov: %+v", next)
			}
			refunds, _ := listAll(t, e, gateway.OrderQuery{OrdType: gateway.OrderRefund})
			if len(refunds) != 1 {
				t.Errorf("ord_type 2: %v", outNos(refunds))
			}

			// Bare dates, in both spellings, cover the whole day.
			for _, d := range []string{"2026-11-26", "20261126"} {
				raw := e.mustCall("order", map[string]any{"sdate": d, "edate": d, "pagesize": 100})
				key := "pages"
				if !quirks {
					key = "page"
				}
				pg, ok := raw[key].(map[string]any)
				if !ok {
					t.Fatalf("%s: no %q object in %v", d, key, raw)
				}
				if str(pg, "totalnum") != "6" {
					t.Errorf("%s: totalnum %s", d, str(pg, "totalnum"))
				}
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equal64(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseDate(t *testing.T) {
	cases := []struct {
		in   string
		end  bool
		want time.Time
		ok   bool
	}{
		{"2026-12-01 17:05:50", false, china(2026, 12, 1, 17, 5, 50, 0), true},
		{"2026-12-01", false, china(2026, 12, 1, 0, 0, 0, 0), true},
		{"2026-12-01", true, china(2026, 12, 1, 23, 59, 59, 0), true},
		{"20261201", true, china(2026, 12, 1, 23, 59, 59, 0), true},
		{"", false, time.Time{}, false},
		{"yesterday", false, time.Time{}, false},
		{"2026-13-01", false, time.Time{}, false},
	}
	for _, c := range cases {
		got, ok := parseDate(c.in, c.end)
		if ok != c.ok || !got.Equal(c.want) {
			t.Errorf("parseDate(%q, %v) = %v %v, want %v %v", c.in, c.end, got, ok, c.want, c.ok)
		}
	}
}

// TestFaults: the fault injection methods change what every endpoint says.
func TestFaults(t *testing.T) {
	e := newEnv(t, Config{})
	gw, st := e.typedClient(gateway.WithRetries(0, 0, 0))
	ctx := context.Background()
	e.mustCall("payorder", payload("PAID1", "Alipay", 1000, "auth_code", "284567890123456789"))
	e.mustCall("payrefund", map[string]any{"out_no": "PAID1", "refund_out_no": "R1", "refund_amount": 300,
		"shop_pass": gateway.PasswordSHA1("123456")})

	if err := e.s.SetOrderAmount(testOpenID, "PAID1", 999); err != nil {
		t.Fatal(err)
	}
	if o, err := gw.PayStatus(ctx, st, gateway.ByOutNo("PAID1")); err != nil || o.TradeAmount != 999 {
		t.Errorf("after SetOrderAmount: %v %v", o, err)
	}
	if err := e.s.SetOrderStatus(testOpenID, "PAID1", gateway.StatusCanceled); err != nil {
		t.Fatal(err)
	}
	if o, err := gw.PayStatus(ctx, st, gateway.ByOutNo("PAID1")); err != nil || o.Status != gateway.StatusCanceled {
		t.Errorf("after SetOrderStatus: %v %v", o, err)
	}
	if err := e.s.DropOrder(testOpenID, "R1"); err != nil {
		t.Fatal(err)
	}
	if _, err := gw.PayStatus(ctx, st, gateway.ByOutNo("R1")); !errors.Is(err, gateway.ErrOrderNotFound) {
		t.Errorf("dropped refund: %v", err)
	}
	if o, _ := e.s.Order(testOpenID, "PAID1"); o.Refunded != 0 {
		t.Errorf("dropped refund still counts: %d", o.Refunded)
	}

	added, err := e.s.AddOrder(testOpenID, FaultOrder{OutNo: "POS77", Amount: 1234, AddTime: t0.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := e.s.AddOrder(testOpenID, FaultOrder{OutNo: "POSR1", Refund: true, OriginalOutNo: "POS77", Amount: 34})
	if err != nil {
		t.Fatal(err)
	}
	all, _ := listAll(t, e, gateway.OrderQuery{PageSize: 100})
	if !equal(outNos(all), []string{"POSR1", "POS77", "PAID1"}) {
		t.Errorf("list: %v", outNos(all))
	}
	if ref.OriginalOrdNo != added.OrdNo || ref.OrdType != gateway.OrderRefund || added.Status != gateway.StatusPaid {
		t.Errorf("added %+v / %+v", added, ref)
	}
	if _, err := e.s.AddOrder(testOpenID, FaultOrder{OutNo: "POS77", Amount: 1}); err == nil {
		t.Error("AddOrder reused an out_no")
	}
	if err := e.s.DropOrder("nostore", "PAID1"); !errors.Is(err, ErrUnknownStore) {
		t.Errorf("unknown store: %v", err)
	}
	if err := e.s.SetOrderAmount(testOpenID, "NOPE", 1); !errors.Is(err, ErrUnknownOrder) {
		t.Errorf("unknown order: %v", err)
	}
}

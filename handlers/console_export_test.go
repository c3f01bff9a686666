package handlers_test

import (
	"bytes"
	"encoding/csv"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

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

package handlers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/notify/webhook"
)

// payEvent pays checkout id and stores its checkout.paid event, as the
// payment's confirmation does.
func (e *consoleEnv) payEvent(id string) {
	e.t.Helper()
	co := e.pay(id)
	ev, err := webhook.NewEvent(webhook.TypePaid, co, "http://console.test", e.clock())
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.app.Webhooks.Emit(e.t.Context(), ev); err != nil {
		e.t.Fatal(err)
	}
}

// sse is an open counter stream.
type sse struct {
	resp *http.Response
	sc   *bufio.Scanner
}

func (e *consoleEnv) openCounter(b *http.Client, lastID string) *sse {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.t.Context())
	e.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/console/counter/events", nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := b.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		e.t.Fatalf("counter stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	s := &sse{resp: resp, sc: bufio.NewScanner(resp.Body)}
	// The stream is open once its retry line came: what is stored from
	// now on is sent.
	for s.sc.Scan() {
		if strings.HasPrefix(s.sc.Text(), "retry:") {
			return s
		}
	}
	e.t.Fatal("no retry line")
	return nil
}

// next reads the next "paid" event: its id and payment.
func (s *sse) next(t *testing.T) (string, map[string]any) {
	t.Helper()
	var id, event string
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id = line[4:]
		case strings.HasPrefix(line, "event: "):
			event = line[7:]
		case strings.HasPrefix(line, "data: ") && event == "paid":
			var p map[string]any
			if err := json.Unmarshal([]byte(line[6:]), &p); err != nil {
				t.Fatal(err)
			}
			return id, p
		}
	}
	t.Fatalf("stream ended: %v", s.sc.Err())
	return "", nil
}

// TestConsoleCounter: the counter stream sends each of the merchant's
// payments with its wallet and its Chinese announcement, not another
// merchant's nor other events; a reconnection with Last-Event-ID gets
// what was paid while it was away.
func TestConsoleCounter(t *testing.T) {
	e := newConsoleEnv(t)
	b := e.loginViewer()
	page := e.do(b, "GET", "/console/counter", nil)
	if page.status != 200 || !strings.Contains(page.body, `data-stream="/console/counter/events"`) || !strings.Contains(page.body, "/counter.js") ||
		strings.Contains(page.body, "onclick") || strings.Contains(page.body, "<script>") {
		t.Fatalf("counter page: %d\n%s", page.status, page.body)
	}
	s := e.openCounter(b, "")
	e.payEvent(e.mkCheckout("other", "foreign", 999))
	own := e.mkCheckout("shop", "table-7", 1500)
	e.emitRefund(webhook.TypeRefundSucceeded, e.pay(e.mkCheckout("shop", "refunded", 100)), 100) // not a payment event
	e.payEvent(own)
	id, p := s.next(t)
	if p["checkout_id"] != own || p["speech"] != "微信收款 15 元" || p["amount"] != "¥15.00" || p["wallet"] != "wechat" || p["reference"] != "table-7" {
		t.Fatalf("payment %s: %v", id, p)
	}
	s.resp.Body.Close()

	// Away: two payments; back with the last id, both arrive.
	a, c := e.mkCheckout("shop", "a", 1250), e.mkCheckout("shop", "b", 1)
	e.payEvent(a)
	e.payEvent(c)
	s = e.openCounter(b, id)
	_, p1 := s.next(t)
	_, p2 := s.next(t)
	if p1["checkout_id"] != a || p1["speech"] != "微信收款 12.5 元" || p2["checkout_id"] != c || p2["speech"] != "微信收款 0.01 元" {
		t.Errorf("after reconnecting: %v %v", p1, p2)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/console/counter/events", nil)
	req.Header.Set("Last-Event-ID", "evt_not-an-event")
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad Last-Event-ID: %d", resp.StatusCode)
	}
	if a := e.do(e.browser(), "GET", "/console/counter/events", nil); a.status != http.StatusSeeOther {
		t.Errorf("signed out: %d", a.status)
	}
}

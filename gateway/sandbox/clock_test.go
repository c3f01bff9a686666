package sandbox

import (
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/gateway"
)

func TestManualClock(t *testing.T) {
	c := NewManualClock(t0)
	var got []string
	at := func(name string) func() {
		return func() { got = append(got, name+"@"+c.Now().Sub(t0).String()) }
	}
	c.AfterFunc(3*time.Second, at("c"))
	c.AfterFunc(time.Second, at("a"))
	c.AfterFunc(time.Second, at("b")) // same deadline: in the order set
	stop := c.AfterFunc(2*time.Second, at("never"))
	c.AfterFunc(0, func() {
		at("zero")()
		// A timer set by a timer runs in the same Advance if it falls due.
		c.AfterFunc(1500*time.Millisecond, at("nested"))
	})
	if !stop() || stop() {
		t.Fatal("stop should succeed once")
	}
	if next, ok := c.NextAt(); !ok || !next.Equal(t0) {
		t.Fatalf("NextAt %v %v", next, ok)
	}
	c.Advance(2 * time.Second)
	want := []string{"zero@0s", "a@1s", "b@1s", "nested@1.5s"}
	if len(got) != len(want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ran %v, want %v", got, want)
		}
	}
	if !c.Now().Equal(t0.Add(2*time.Second)) || c.Pending() != 1 {
		t.Fatalf("now %v, pending %d", c.Now(), c.Pending())
	}
	c.Advance(time.Second)
	if got[len(got)-1] != "c@3s" || c.Pending() != 0 {
		t.Fatalf("ran %v", got)
	}
}

func TestConcurrentPayerActionsOneTransition(t *testing.T) {
	e := newEnv(t, Config{})
	rcv := newReceiver(t, e.clock.Now, func(int) string { return "notify_success" })
	d := e.mustCall("payorder", payload("RACE1", "Weixin", 100, "notify_url", rcv.url()))
	const n = 30
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- e.s.PayQRCode(bg, str(d, "trade_qrcode"))
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrNotPayable):
			t.Fatal(err)
		}
	}
	e.clock.Advance(time.Hour)
	if ok != 1 || len(rcv.all()) != 1 {
		t.Fatalf("%d payments succeeded, %d notifies; want 1 and 1", ok, len(rcv.all()))
	}
}

func TestConcurrentPayAndCancel(t *testing.T) {
	e := newEnv(t, Config{})
	rcv := newReceiver(t, e.clock.Now, func(int) string { return "notify_success" })
	for i := range 20 {
		outNo := "PC" + itoa(int64(i))
		d := e.mustCall("payorder", payload(outNo, "Alipay", 100, "auth_code", "284567890123459002", "notify_url", rcv.url()))
		var wg sync.WaitGroup
		var payErr, cancelErr error
		wg.Add(2)
		go func() { defer wg.Done(); payErr = e.s.PayOrderNo(bg, str(d, "ord_no")) }()
		go func() { defer wg.Done(); _, cancelErr = e.call("paycancel", map[string]string{"out_no": outNo}) }()
		wg.Wait()
		o, _ := e.s.Order(testOpenID, outNo)
		switch o.Status {
		case gateway.StatusPaid:
			if payErr != nil || !isCode(cancelErr, gateway.CodeNotCancellable) {
				t.Fatalf("%s paid: pay %v, cancel %v", outNo, payErr, cancelErr)
			}
		case gateway.StatusCanceled:
			if !errors.Is(payErr, ErrNotPayable) || cancelErr != nil {
				t.Fatalf("%s cancelled: pay %v, cancel %v", outNo, payErr, cancelErr)
			}
		default:
			t.Fatalf("%s status %d", outNo, o.Status)
		}
	}
	e.clock.Advance(time.Hour)
	if n := len(rcv.all()); n != 20 {
		t.Fatalf("%d notifies for 20 orders", n)
	}
}

// TestPayerActsWhilePayOrderAnswers pays each order the moment it exists,
// while payorder is still writing its answer and log line: under -race this
// finds any read of the order outside the lock once it is published.
func TestPayerActsWhilePayOrderAnswers(t *testing.T) {
	e := newEnv(t, Config{Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	const n = 40
	done := make(chan struct{})
	var payer sync.WaitGroup
	payer.Add(1)
	paid := 0
	go func() {
		defer payer.Done()
		for {
			for _, o := range e.s.Orders(testOpenID) {
				if o.Status == gateway.StatusAwaiting && e.s.PayOrderNo(bg, o.OrdNo) == nil {
					paid++
				}
			}
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	for i := range n {
		e.mustCall("payorder", payload("LIVE"+itoa(int64(i)), "Weixin", 100))
	}
	close(done)
	payer.Wait()
	for _, o := range e.s.Orders(testOpenID) {
		if o.Status == gateway.StatusAwaiting && e.s.PayOrderNo(bg, o.OrdNo) == nil {
			paid++
		}
	}
	if paid != n {
		t.Fatalf("%d of %d orders paid", paid, n)
	}
}

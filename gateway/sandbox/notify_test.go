package sandbox

import (
	"regexp"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/gateway"
)

var randStrShape = regexp.MustCompile(`^[A-Za-z0-9]{128}$`)

// checkNotify verifies a received notify and returns it.
func checkNotify(t *testing.T, r received, status gateway.Status) gateway.Callback {
	t.Helper()
	cb, err := gateway.VerifyCallback(testKey, r.query)
	if err != nil {
		t.Fatalf("notify %v does not verify: %v", r.query, err)
	}
	if cb.Status != status || !randStrShape.MatchString(cb.RandStr) || !cb.Timestamp.Equal(r.at.Truncate(time.Second)) {
		t.Fatalf("notify %+v at %v, want status %d", cb, r.at, status)
	}
	if len(r.query) != 6 {
		t.Fatalf("notify has %d fields, want the six of doc 4.8: %v", len(r.query), r.query)
	}
	return cb
}

func TestNotifyScheduleUntilGiveUp(t *testing.T) {
	e := newEnv(t, Config{})
	rcv := newReceiver(t, e.clock.Now, func(int) string { return "error" })
	d := e.mustCall("payorder", payload("N1", "Weixin", 100, "auth_code", "134567890123456789", "notify_url", rcv.url()))
	e.clock.Advance(5 * time.Hour)

	// Attempts at 0, 30, 90, 180, 300… s: the n-th retry n·30 s after the
	// previous attempt, none once 3 h have passed since the first.
	var want []time.Duration
	for n, at := 0, time.Duration(0); at <= 3*time.Hour; n++ {
		want = append(want, at)
		at += time.Duration(n+1) * 30 * time.Second
	}
	got := rcv.all()
	if len(got) != len(want) || len(want) != 27 {
		t.Fatalf("%d deliveries, want %d (27)", len(got), len(want))
	}
	for i, r := range got {
		if at := r.at.Sub(t0); at != want[i] {
			t.Fatalf("delivery %d at +%v, want +%v", i+1, at, want[i])
		}
		cb := checkNotify(t, r, gateway.StatusPaid)
		if cb.OrdNo != str(d, "ord_no") || cb.OutNo != "N1" {
			t.Fatalf("notify names %s/%s", cb.OrdNo, cb.OutNo)
		}
	}
	if last := want[len(want)-1]; last != 10530*time.Second {
		t.Fatalf("last attempt at %v", last)
	}
	if e.clock.Pending() != 0 {
		t.Fatalf("%d timers left after giving up", e.clock.Pending())
	}
	o, _ := e.s.Order(testOpenID, "N1")
	if len(o.Notifies) != 27 || o.Notifies[26].Delivered {
		t.Fatalf("attempt log: %+v", o.Notifies)
	}
}

func TestNotifyStopsOnSuccess(t *testing.T) {
	e := newEnv(t, Config{NotifyStep: time.Second, NotifyGiveUp: time.Minute})
	rcv := newReceiver(t, e.clock.Now, func(n int) string {
		if n == 3 {
			return " notify_success\n"
		}
		return "notify_fail"
	})
	d := e.mustCall("payorder", payload("N2", "Alipay", 100, "notify_url", rcv.url()))
	e.clock.Advance(time.Hour)
	if len(rcv.all()) != 0 {
		t.Fatal("notified before anything happened")
	}
	start := e.clock.Now()
	if err := e.s.PayQRCode(bg, str(d, "trade_qrcode")); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(0)
	if n := len(rcv.all()); n != 1 {
		t.Fatalf("%d deliveries right after payment", n)
	}
	e.clock.Advance(time.Hour)
	got := rcv.all()
	if len(got) != 3 {
		t.Fatalf("%d deliveries, want 3", len(got))
	}
	for i, off := range []time.Duration{0, time.Second, 3 * time.Second} {
		if got[i].at.Sub(start) != off {
			t.Fatalf("delivery %d at +%v, want +%v", i+1, got[i].at.Sub(start), off)
		}
		checkNotify(t, got[i], gateway.StatusPaid)
	}
	if o, _ := e.s.Order(testOpenID, "N2"); len(o.Notifies) != 3 || !o.Notifies[2].Delivered {
		t.Fatalf("attempt log: %+v", o.Notifies)
	}
}

func TestNotifyKnobsAndMagic(t *testing.T) {
	ok := func(int) string { return "notify_success" }
	tests := []struct {
		name   string
		cfg    Config
		amount int64
		code   string // auth_code; "" is a QR order paid by scanning
		cancel bool
		// deliveries expected right away and after the delay
		now, later int
		delay      time.Duration
		status     gateway.Status
	}{
		{"plain", Config{}, 100, "", false, 1, 1, time.Hour, gateway.StatusPaid},
		{"duplicates knob", Config{DuplicateNotifies: 2}, 100, "", false, 3, 3, time.Hour, gateway.StatusPaid},
		{"triple magic", Config{}, 122, "", false, 3, 3, time.Hour, gateway.StatusPaid},
		{"delayed magic", Config{NotifyDelay: 7 * time.Minute}, 121, "", false, 0, 1, 7 * time.Minute, gateway.StatusPaid},
		{"never magic", Config{}, 123, "", false, 0, 0, 5 * time.Hour, gateway.StatusPaid},
		{"drop knob", Config{DropNotifies: true}, 100, "", false, 0, 0, 5 * time.Hour, gateway.StatusPaid},
		{"cancel notifies 4", Config{}, 100, "134567890123459002", true, 1, 1, time.Hour, gateway.StatusCanceled},
		{"password then paid", Config{PasswordDelay: 20 * time.Second}, 100, "134567890123459001", false, 0, 1, 20 * time.Second, gateway.StatusPaid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.cfg)
			rcv := newReceiver(t, e.clock.Now, ok)
			p := payload("K1", "Weixin", tc.amount, "notify_url", rcv.url())
			if tc.code != "" {
				p["auth_code"] = tc.code
			}
			d := e.in(t).mustCall("payorder", p)
			switch {
			case tc.cancel:
				e.in(t).mustCall("paycancel", map[string]string{"out_no": "K1"})
			case tc.code == "":
				if err := e.s.PayQRCode(bg, str(d, "trade_qrcode")); err != nil {
					t.Fatal(err)
				}
			}
			e.clock.Advance(0)
			if n := len(rcv.all()); n != tc.now {
				t.Fatalf("%d deliveries at once, want %d", n, tc.now)
			}
			e.clock.Advance(tc.delay - time.Second)
			if n := len(rcv.all()); n != tc.now {
				t.Fatalf("%d deliveries before the delay, want %d", n, tc.now)
			}
			e.clock.Advance(time.Second)
			got := rcv.all()
			if len(got) != tc.later {
				t.Fatalf("%d deliveries after %v, want %d", len(got), tc.delay, tc.later)
			}
			for _, r := range got {
				checkNotify(t, r, tc.status)
			}
			if e.clock.Pending() != 0 {
				t.Fatalf("%d timers pending after delivery", e.clock.Pending())
			}
		})
	}
}

func TestNotifyRealClockCompressed(t *testing.T) {
	s, err := New(Config{NotifyStep: 20 * time.Millisecond, NotifyGiveUp: time.Second, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddStore(Store{OpenID: testOpenID, OpenKey: testOpenKey}); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, s: s}
	ts := newHTTPServer(t, s)
	e.base = ts + s.Prefix()
	arrived := make(chan time.Time, 10)
	rcv := newReceiver(t, time.Now, func(n int) string {
		arrived <- time.Now()
		if n == 2 {
			return "notify_success"
		}
		return "busy"
	})
	start := time.Now()
	e.mustCall("payorder", payload("RC1", "Weixin", 100, "auth_code", "134567890123456789", "notify_url", rcv.url()))
	for i := range 2 {
		select {
		case <-arrived:
		case <-time.After(5 * time.Second):
			t.Fatalf("delivery %d never came", i+1)
		}
	}
	if el := time.Since(start); el < 20*time.Millisecond {
		t.Fatalf("retry came after %v, before the 20 ms step", el)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(rcv.all()); n != 2 {
		t.Fatalf("%d deliveries, want 2", n)
	}
}

func TestCloseStopsPendingWork(t *testing.T) {
	e := newEnv(t, Config{})
	rcv := newReceiver(t, e.clock.Now, func(int) string { return "no" })
	e.mustCall("payorder", payload("CL1", "Weixin", 100, "auth_code", "134567890123456789", "notify_url", rcv.url()))
	e.mustCall("payorder", payload("CL2", "Weixin", 1025))
	e.clock.Advance(0)
	if e.clock.Pending() != 2 {
		t.Fatalf("%d timers pending, want a retry and a late payment", e.clock.Pending())
	}
	e.s.Close()
	if e.clock.Pending() != 0 {
		t.Fatalf("%d timers survive Close", e.clock.Pending())
	}
	e.clock.Advance(time.Hour)
	if n := len(rcv.all()); n != 1 {
		t.Fatalf("%d deliveries after Close, want the 1 before", n)
	}
	if o, _ := e.s.Order(testOpenID, "CL2"); o.Status != gateway.StatusAwaiting {
		t.Fatalf("late payment landed after Close")
	}
}

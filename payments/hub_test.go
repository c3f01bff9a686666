package payments_test

import (
	"context"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/notify"
)

func startHub(t testing.TB, e *env) *notify.Hub {
	t.Helper()
	h := e.app.Hub
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-h.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("hub never subscribed")
	}
	return h
}

func recv(t testing.TB, ch <-chan notify.Update) notify.Update {
	t.Helper()
	select {
	case u := <-ch:
		return u
	case <-time.After(5 * time.Second):
		t.Fatal("no update")
	}
	return notify.Update{}
}

// TestHubFanOut: a transition reaches every waiter of its checkout and no
// other; unsubscribed waiters cost nothing.
func TestHubFanOut(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	h := startHub(t, e)
	c := e.newCheckout(1000, 30*time.Minute)
	other := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	var chans []<-chan notify.Update
	var stops []func()
	for range 3 {
		ch, stop := h.Subscribe(c.ID)
		chans, stops = append(chans, ch), append(stops, stop)
	}
	och, ostop := h.Subscribe(other.ID)
	defer ostop()
	if h.Waiters() != 4 {
		t.Fatalf("%d waiters", h.Waiters())
	}
	e.pay(a)
	if _, err := e.svc.Confirm(context.Background(), a.OutNo); err != nil {
		t.Fatal(err)
	}
	for _, ch := range chans {
		if u := recv(t, ch); u.CheckoutID != c.ID || u.Status != checkout.StatusPaid {
			t.Fatalf("update %+v", u)
		}
	}
	select {
	case u := <-och:
		t.Fatalf("other checkout's waiter got %+v", u)
	case <-time.After(100 * time.Millisecond):
	}
	for _, stop := range stops {
		stop()
		stop()
	}
	if h.Waiters() != 1 {
		t.Fatalf("%d waiters after unsubscribing", h.Waiters())
	}
}

// TestHubSlowWaiter: a waiter that does not read keeps only the newest
// update, and fan-out never blocks on it.
func TestHubSlowWaiter(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	h := startHub(t, e)
	id := mustID(t)
	slow, stop := h.Subscribe(id)
	defer stop()
	probe, pstop := h.Subscribe(id)
	defer pstop()
	ctx := context.Background()
	for _, st := range []string{"pending", "paid", "partially_refunded"} {
		if err := e.rdb.Publish(ctx, e.svc.Channel(), id+" "+st+" 0").Err(); err != nil {
			t.Fatal(err)
		}
		if u := recv(t, probe); string(u.Status) != st {
			t.Fatalf("probe got %+v", u)
		}
	}
	if u := recv(t, slow); u.Status != checkout.StatusPartiallyRefunded {
		t.Fatalf("slow waiter got %+v, want the newest", u)
	}
	select {
	case u := <-slow:
		t.Fatalf("slow waiter got a stale %+v", u)
	default:
	}
	// Garbage on the channel is ignored.
	e.rdb.Publish(ctx, e.svc.Channel(), "garbage")
	e.rdb.Publish(ctx, e.svc.Channel(), id+" bogus 0")
	select {
	case u := <-probe:
		t.Fatalf("garbage delivered as %+v", u)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestHubReconnects: when Redis drops the subscription the hub
// re-subscribes and tells every waiter to re-read.
func TestHubReconnects(t *testing.T) {
	m, rdb := redistestMiniredis(t)
	e := newEnv(t, envConfig{rdb: rdb, sandbox: sandbox.Config{DropNotifies: true}})
	h := startHub(t, e)
	id := mustID(t)
	ch, stop := h.Subscribe(id)
	defer stop()
	m.Close()
	time.Sleep(50 * time.Millisecond)
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	if u := recv(t, ch); u.CheckoutID != id || u.Status != "" {
		t.Fatalf("after reconnect got %+v, want a resync", u)
	}
	// And updates flow again.
	waitFor(t, 5*time.Second, "update after reconnect", func() bool {
		e.rdb.Publish(context.Background(), e.svc.Channel(), id+" paid 1")
		select {
		case u := <-ch:
			return u.Status == checkout.StatusPaid && u.Late
		case <-time.After(50 * time.Millisecond):
			return false
		}
	})
}

// TestHubWatch: a watcher (a held event stream, which has no goroutine to
// read a channel) is called with its checkout's transitions, not after it
// cancels, and with Stopped when the Hub's Run returns, so held streams
// end at shutdown.
func TestHubWatch(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	h := e.app.Hub
	ctx, stopHub := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.Run(ctx) }()
	t.Cleanup(func() { stopHub(); <-done })
	select {
	case <-h.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("hub never subscribed")
	}
	c := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	// f runs on the Hub's goroutine and must not block: it hands over.
	watched := func() (<-chan notify.Update, func()) {
		ch := make(chan notify.Update, 4)
		return ch, h.Watch(c.ID, func(u notify.Update) { ch <- u })
	}
	got, cancel := watched()
	gone, cancelGone := watched()
	cancelGone()
	cancelGone() // twice: harmless
	if h.Waiters() != 1 {
		t.Fatalf("%d waiters, want 1", h.Waiters())
	}
	e.pay(a)
	if _, err := e.svc.Confirm(context.Background(), a.OutNo); err != nil {
		t.Fatal(err)
	}
	if u := recv(t, got); u.CheckoutID != c.ID || u.Status != checkout.StatusPaid || u.Stopped {
		t.Fatalf("update %+v", u)
	}
	stopHub()
	<-done
	if u := recv(t, got); u.CheckoutID != c.ID || !u.Stopped {
		t.Fatalf("after Run returned: %+v, want Stopped", u)
	}
	if len(gone) != 0 {
		t.Fatalf("a cancelled watcher was called: %+v", <-gone)
	}
	cancel()
	if h.Waiters() != 0 {
		t.Fatalf("%d waiters after cancelling", h.Waiters())
	}
}

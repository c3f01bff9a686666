package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The body merchants receive is a wire format: pin it.
func TestEventBodyGolden(t *testing.T) {
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	c := testCheckout(t, "m_acme", now)
	c.ID = "co_0123456789ABCDEFabcdefXY"
	c.Refunded = 300
	c.Status = checkout.StatusPartiallyRefunded
	c.ClientSecret = "co_0123456789ABCDEFabcdefXY_secret_0123456789abcdefghijABCDEFGHIJ0123"
	c.ExpiresAt = now.Add(30 * time.Minute)
	e, err := NewEvent(TypeRefundSucceeded, c, testPublicURL, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	e.ID = "evt_4mZ2h1pQd8Kx0aT6bW3cY9rN"
	e.Data.Refund = testRefund(c, "re_1", 300, "merchant", "succeeded", "requested_by_customer", "", 1, now)
	got, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/event_refund.golden.json"
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(got)+"\n" != string(want) {
		t.Errorf("body changed (go test -run Golden -update to accept):\n%s", got)
	}
}

func TestNewEvent(t *testing.T) {
	now := time.Now()
	c := testCheckout(t, "m_acme", now)
	c.WebhookURL = "https://hooks.example/x"
	e, err := NewEvent(TypePaid, c, testPublicURL, now)
	if err != nil {
		t.Fatal(err)
	}
	if !ValidID(e.ID) || e.MerchantID != "m_acme" || e.CheckoutID != c.ID || e.WebhookURL != c.WebhookURL ||
		e.Data.Checkout.Status != "paid" || e.Data.Checkout.PaidAt == "" || e.Data.Checkout.URL != "https://pay.example/c/"+c.ID ||
		e.APIVersion != APIVersion || e.Object != "event" || e.Data.Checkout.Amount != 1000 {
		t.Errorf("event %+v", e)
	}
	if _, err := NewEvent("checkout.exploded", c, testPublicURL, now); err == nil {
		t.Error("unknown type accepted")
	}
	if _, err := NewEvent(TypePaid, nil, testPublicURL, now); err == nil {
		t.Error("nil checkout accepted")
	}
	seen := map[string]bool{}
	for range 1000 {
		id, err := NewID()
		if err != nil || !ValidID(id) || seen[id] {
			t.Fatalf("NewID %q %v (dup %v)", id, err, seen[id])
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "evt_", "evt_short", "co_4mZ2h1pQd8Kx0aT6bW3cY9rN", "evt_4mZ2h1pQd8Kx0aT6bW3cY9r!", "evt_4mZ2h1pQd8Kx0aT6bW3cY9rNX"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q)", bad)
		}
	}
}

// Emitting an id twice stores and sends it once; an incomplete event is
// refused and stores nothing.
func TestEmit(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	e := f.emit(t, "m_acme", TypePaid)
	if err := f.svc.Emit(ctx, e); err != nil {
		t.Fatalf("second Emit of the same id: %v", err)
	}
	if n, _ := f.svc.Pending(ctx); n != 1 {
		t.Errorf("%d deliveries queued for one event", n)
	}
	if page, _, _ := f.svc.List(ctx, "m_acme", ListQuery{}); len(page) != 1 {
		t.Errorf("%d events listed", len(page))
	}

	base := e
	cases := map[string]func(*Event){
		"no id":             func(e *Event) { e.ID = "" },
		"garbage id":        func(e *Event) { e.ID = "evt_../../x" },
		"unknown type":      func(e *Event) { e.Type = "checkout.exploded" },
		"no merchant":       func(e *Event) { e.MerchantID = "" },
		"brace in merchant": func(e *Event) { e.MerchantID = "m_{x}" },
		"bad checkout id":   func(e *Event) { e.CheckoutID = "co_x y" },
		"no time":           func(e *Event) { e.CreatedAt = time.Time{} },
		"no api_version":    func(e *Event) { e.APIVersion = "" },
		"old api_version":   func(e *Event) { e.APIVersion = "2026-01-01" },
		"no object":         func(e *Event) { e.Object = "" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			ev := base
			ev.ID, _ = NewID()
			mutate(&ev)
			if err := f.svc.Emit(ctx, ev); !errors.Is(err, ErrInvalidEvent) {
				t.Errorf("Emit = %v, want ErrInvalidEvent", err)
			}
		})
	}
	if n, _ := f.svc.Pending(ctx); n != 1 {
		t.Errorf("refused events were queued: %d", n)
	}
}

// Redis down: Emit says so (the caller must not report success).
func TestEmitRedisDown(t *testing.T) {
	f := newFixture(t)
	f.svc = New(deadRedis(t), f.dir, WithPrefix(f.prefix), WithClock(f.clk.Now))
	e, _ := NewEvent(TypePaid, testCheckout(t, "m_acme", f.clk.Now()), testPublicURL, f.clk.Now())
	if err := f.svc.Emit(context.Background(), e); err == nil {
		t.Fatal("Emit succeeded with Redis down")
	}
	if _, err := f.svc.Tick(context.Background(), f.clk.Now()); err == nil {
		t.Fatal("Tick succeeded with Redis down")
	}
}

func TestForbiddenAddr(t *testing.T) {
	cases := map[string]bool{
		"127.0.0.1": true, "127.8.9.1": true, "::1": true, "10.1.2.3": true, "172.16.0.1": true,
		"192.168.1.1": true, "169.254.169.254": true, "0.0.0.0": true, "::": true, "fe80::1": true,
		"fc00::1": true, "100.64.0.1": true, "224.0.0.1": true, "255.255.255.255": true,
		"::ffff:127.0.0.1": true, "::ffff:10.0.0.1": true, "64:ff9b::a00:1": true, "0.1.2.3": true,
		"198.18.0.1": true, "ff02::1": true,
		"8.8.8.8": false, "1.1.1.1": false, "203.0.114.1": false, "2606:4700::1111": false,
		"::ffff:8.8.8.8": false, "100.128.0.1": false, "172.32.0.1": false,
	}
	for addr, want := range cases {
		ap := netip.AddrPortFrom(netip.MustParseAddr(addr), 443)
		if err := guardControl("tcp", ap.String(), nil); (err != nil) != want || err != nil && !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("guardControl(%s) = %v, want refused %v", ap, err, want)
		}
	}
	if err := guardControl("tcp", "not an address", nil); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("unparsable address: %v", err)
	}
	if err := guardControl("tcp4", "93.184.216.34:443", nil); err != nil {
		t.Errorf("public address: %v", err)
	}
}

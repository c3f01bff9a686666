package payments_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/gateway/sandbox"
	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/payments"
)

// intakeRandStr is the rand_str of the notifies these tests sign.
var intakeRandStr = strings.Repeat("Zq7x", 32)

// signedNotify signs a notify for attempt a whose timestamp field is ts,
// verbatim (it need not be a number), the way the gateway signs.
func signedNotify(e *env, a *checkout.Attempt, status gateway.Status, ts string) url.Values {
	fields := []gateway.Field{
		{Name: "ord_no", Value: a.OrdNo},
		{Name: "timestamp", Value: ts},
		{Name: "rand_str", Value: intakeRandStr},
		{Name: "out_no", Value: a.OutNo},
		{Name: "status", Value: strconv.Itoa(int(status))},
	}
	q := make(url.Values, len(fields)+1)
	for _, f := range fields {
		q.Set(f.Name, f.Value)
	}
	q.Set("sign", gateway.Sign(e.gs.Key, fields))
	return q
}

// notifyAt signs a notify for a whose timestamp is the service clock moved
// by d, in whole seconds as the gateway sends it.
func notifyAt(e *env, a *checkout.Attempt, status gateway.Status, d time.Duration) url.Values {
	return signedNotify(e, a, status, strconv.FormatInt(e.clk.Now().Unix()+int64(d/time.Second), 10))
}

// TestNotifyTimestampWindow: a notify signed more than 24 h before or more
// than 600 s after the service clock is refused with 400, asks nothing of
// the gateway and changes nothing; a late retry within the gateway's 3 h
// (and anything up to the limits) is confirmed as usual.
func TestNotifyTimestampWindow(t *testing.T) {
	spy := &gwSpy{}
	e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	for _, tc := range []struct {
		name   string
		offset time.Duration
		want   int
	}{
		{"a day and a second old", -24*time.Hour - time.Second, http.StatusBadRequest},
		{"exactly a day old", -24 * time.Hour, http.StatusOK},
		{"three hours old (the gateway's last retry)", -3 * time.Hour, http.StatusOK},
		{"now", 0, http.StatusOK},
		{"600 s ahead", 600 * time.Second, http.StatusOK},
		{"601 s ahead", 601 * time.Second, http.StatusBadRequest},
		{"a year ahead", 365 * 24 * time.Hour, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.newCheckout(1000, 30*time.Minute)
			a := e.order(c, checkout.ScenarioQR, "")
			e.pay(a)
			code, body := e.sendNotify(notifyAt(e, a, gateway.StatusPaid, tc.offset).Encode())
			if code != tc.want || (body == gateway.NotifySuccess) != (tc.want == http.StatusOK) {
				t.Fatalf("got %d %q, want %d", code, body, tc.want)
			}
			got := e.get(c.ID)
			if tc.want != http.StatusOK {
				if body != "stale notify" {
					t.Fatalf("body %q, want a clear reason", body)
				}
				if got.Status != checkout.StatusPending || spy.statusCalls(a.OutNo) != 0 || len(e.events.all(c.ID)) != 0 {
					t.Fatalf("refused notify changed something: %s, %d paystatus, events %v",
						got.Status, spy.statusCalls(a.OutNo), e.events.all(c.ID))
				}
				return
			}
			if got.Status != checkout.StatusPaid || spy.statusCalls(a.OutNo) != 1 || len(e.events.of(c.ID, webhook.TypePaid)) != 1 {
				t.Fatalf("accepted notify: %s, %d paystatus, events %v", got.Status, spy.statusCalls(a.OutNo), e.events.all(c.ID))
			}
		})
	}
}

// TestNotifyTimestampRefusalIsClean: the refusal is ErrStaleNotify, and its
// text (which the handler logs) names no secret of the store nor the
// notify's sign or nonce.
func TestNotifyTimestampRefusalIsClean(t *testing.T) {
	e := newEnv(t, envConfig{sandbox: sandbox.Config{DropNotifies: true}})
	c := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	for _, d := range []time.Duration{-25 * time.Hour, time.Hour} {
		q := notifyAt(e, a, gateway.StatusPaid, d)
		err := e.svc.Notify(context.Background(), e.gs.OpenID, q)
		if !errors.Is(err, payments.ErrStaleNotify) || errors.Is(err, payments.ErrBadSignature) {
			t.Fatalf("offset %s: %v, want ErrStaleNotify", d, err)
		}
		for _, secret := range []string{e.sbStore.OpenKey, e.sbStore.ShopPass, q.Get("sign"), intakeRandStr} {
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error %q shows a secret or the signature", err)
			}
		}
	}
}

// TestNotifyTimestampMalformed: timestamps that are not numbers, negative,
// or beyond any clock, even validly signed, get 400 without a panic, a
// paystatus or a change.
func TestNotifyTimestampMalformed(t *testing.T) {
	spy := &gwSpy{}
	e := newEnv(t, envConfig{spy: spy, sandbox: sandbox.Config{DropNotifies: true}})
	c := e.newCheckout(1000, 30*time.Minute)
	a := e.order(c, checkout.ScenarioQR, "")
	e.pay(a)
	for _, ts := range []string{
		"", "abc", "1.5", "1e9", "0x10", " 1", "0", "-1", "-86400", "+5",
		"-9223372036854775808", "9223372036854775807", "99999999999999999999", "-99999999999999999999",
		strconv.FormatInt(e.clk.Now().Unix(), 10) + "abc",
	} {
		t.Run(strconv.Quote(ts), func(t *testing.T) {
			code, body := e.sendNotify(signedNotify(e, a, gateway.StatusPaid, ts).Encode())
			if code != http.StatusBadRequest || body == gateway.NotifySuccess {
				t.Fatalf("got %d %q, want 400", code, body)
			}
		})
	}
	if got := e.get(c.ID); got.Status != checkout.StatusPending {
		t.Fatalf("checkout %s", got.Status)
	}
	if n := spy.statusCalls(a.OutNo); n != 0 {
		t.Fatalf("%d paystatus calls for refused notifies", n)
	}
	if evs := e.events.all(c.ID); len(evs) != 0 {
		t.Fatalf("events %v", evs)
	}
}

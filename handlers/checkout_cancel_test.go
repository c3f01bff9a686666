package handlers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
)

func TestCancel(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	open := e.create(e.keyA, `{"amount":100}`)["id"].(string)
	r := e.do("POST", "/v1/checkouts/"+open+"/cancel", e.keyA, "")
	if r.Status != 200 || r.JSON(t)["status"] != "cancelled" {
		t.Fatalf("cancel open: %d %s", r.Status, r.Body)
	}
	if r := e.do("POST", "/v1/checkouts/"+open+"/cancel", e.keyA, ""); r.Status != 200 || r.JSON(t)["status"] != "cancelled" {
		t.Fatalf("cancel twice: %d %s", r.Status, r.Body)
	}

	// Pending with a barcode attempt (closed upstream) and a QR attempt (stays watched).
	pending := e.create(e.keyA, `{"amount":100}`)["id"].(string)
	bar, _, err := e.repo.AddAttempt(ctx, pending, checkout.MethodWeChat, checkout.ScenarioBarcode)
	if err != nil {
		t.Fatal(err)
	}
	qr, _, err := e.repo.AddAttempt(ctx, pending, checkout.MethodAlipay, checkout.ScenarioQR)
	if err != nil {
		t.Fatal(err)
	}
	r = e.do("POST", "/v1/checkouts/"+pending+"/cancel", e.keyA, "")
	if r.Status != 200 || r.JSON(t)["status"] != "cancelled" {
		t.Fatalf("cancel pending: %d %s", r.Status, r.Body)
	}
	// The use cases close the barcode order upstream (payments' tests):
	// the handler hands the cancelled checkout over, once.
	if cancelled, _ := e.pay.handedOver(); len(cancelled) != 2 || cancelled[1] != pending+":cancelled" {
		t.Fatalf("cancels handed over %v", cancelled)
	}
	_ = bar
	// The QR order can still be paid: the checkout becomes paid, late.
	p, err := e.repo.MarkPaid(ctx, pending, qr.Seq, "ORDQR")
	if err != nil || !p.Changed || !p.Checkout.Late {
		t.Fatalf("late payment: %+v %v", p, err)
	}
	r = e.do("POST", "/v1/checkouts/"+pending+"/cancel", e.keyA, "")
	if r.Status != 409 {
		t.Fatalf("cancel paid: %d %s", r.Status, r.Body)
	}
	if code, _ := r.ErrorOf(t); code != "checkout_paid" {
		t.Fatalf("code %s", code)
	}
	if g := e.do("GET", "/v1/checkouts/"+pending, e.keyA, "").JSON(t); g["status"] != "paid" || g["late"] != true {
		t.Fatalf("after late payment: %v %v", g["status"], g["late"])
	}

	// Expired cannot be cancelled.
	exp := e.create(e.keyA, `{"amount":100,"expires_in":60}`)["id"].(string)
	e.clk.Advance(2 * time.Minute)
	if _, err := e.repo.Expire(ctx, exp); err != nil {
		t.Fatal(err)
	}
	r = e.do("POST", "/v1/checkouts/"+exp+"/cancel", e.keyA, "")
	if code, _ := r.ErrorOf(t); r.Status != 409 || code != "checkout_not_cancellable" {
		t.Fatalf("cancel expired: %d %s", r.Status, r.Body)
	}
}

func TestCancelHandsOverToNotifier(t *testing.T) {
	e := newEnv(t)
	fn := &standInPayments{}
	h, err := New(standIns(t, Deps{Redis: e.rdb, Directory: e.dir, Checkouts: e.repo, PublicURL: "http://x", Clock: e.clk.Now,
		Payments: fn, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	id := e.create(e.keyA, `{"amount":100}`)["id"].(string)
	if _, _, err := e.repo.AddAttempt(context.Background(), id, checkout.MethodWeChat, checkout.ScenarioBarcode); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/checkouts/"+id+"/cancel", nil)
		req.Header.Set("Authorization", "Bearer "+e.keyA)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
	}
	// Exactly one follow-up for three cancels, and the notifier (not the
	// handler) deals with the gateway.
	if len(fn.cancelled) != 1 || fn.cancelled[0] != id+":cancelled" {
		t.Fatalf("follow-ups %v", fn.cancelled)
	}
	// The intent came first, for the one request that stored the cancel
	// (the other two found it cancelled already).
	if len(fn.intents) != 1 || fn.intents[0] != id {
		t.Fatalf("intents %v", fn.intents)
	}
}

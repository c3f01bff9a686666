package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
)

// TestPayReturnVerification proves the front-end jump is only a way back to
// the result page: forged or tampered queries, and queries of other
// checkouts, are refused with a page, and nothing is ever marked paid.
func TestPayReturnVerification(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("redirect", 600)
	other := e.newCheckout("redirect", 600)
	b := e.browser(uaAlipay, "ret")
	_, _, csrf := b.openPage(ck.ID)
	if pr := b.pay(ck.ID, csrf, map[string]string{"wallet": "alipay", "scenario": "jump"}); pr.status != 200 {
		t.Fatalf("pay: %d %s", pr.status, pr.body)
	}
	_, _, csrf2 := b.openPage(other.ID)
	if pr := b.pay(other.ID, csrf2, map[string]string{"wallet": "alipay", "scenario": "jump"}); pr.status != 200 {
		t.Fatalf("pay other: %d %s", pr.status, pr.body)
	}
	snap, _ := e.sb.Order(e.sbRedir.OpenID, checkout.OutNo(ck.ID, 1))
	otherSnap, _ := e.sb.Order(e.sbRedir.OpenID, checkout.OutNo(other.ID, 1))
	valid := e.jumpQuery(e.sbRedir, snap.OrdNo, snap.OutNo, gateway.StatusPaid)

	tamper := func(f func(q url.Values)) url.Values {
		q := url.Values{}
		for k, v := range valid {
			q[k] = append([]string(nil), v...)
		}
		f(q)
		return q
	}
	tests := []struct {
		name string
		q    url.Values
	}{
		{"empty", url.Values{}},
		{"forged sign", tamper(func(q url.Values) { q.Set("sign", strings.Repeat("0", 32)) })},
		{"no sign", tamper(func(q url.Values) { q.Del("sign") })},
		{"changed status", tamper(func(q url.Values) { q.Set("ord_status", "4") })},
		{"changed out_no", tamper(func(q url.Values) { q.Set("out_no", otherSnap.OutNo) })},
		{"extra field", tamper(func(q url.Values) { q.Set("amount", "1") })},
		{"repeated field", tamper(func(q url.Values) { q.Add("out_no", snap.OutNo) })},
		{"other checkout's order, validly signed", e.jumpQuery(e.sbRedir, otherSnap.OrdNo, otherSnap.OutNo, gateway.StatusPaid)},
		{"signed with another store's key", e.jumpQuery(e.sbNative, snap.OrdNo, snap.OutNo, gateway.StatusPaid)},
		{"attempt that does not exist", e.jumpQuery(e.sbRedir, snap.OrdNo, checkout.OutNo(ck.ID, 9), gateway.StatusPaid)},
		{"garbage", url.Values{"sign": {"<script>"}, "out_no": {"../../x"}, "ord_no": {"\x00"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := b.do(false, "GET", "/c/"+ck.ID+"/return?"+tc.q.Encode(), nil, nil)
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, `data-testid="error`) {
				t.Fatalf("%d %.300s", r.status, r.body)
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
			}
		})
	}
	// The checkout was never paid (no one paid at the gateway) and stays as it was.
	for _, id := range []string{ck.ID, other.ID} {
		got, err := e.repo.Get(context.Background(), id)
		if err != nil || got.Status != checkout.StatusPending {
			t.Fatalf("checkout %s: %v %v", id, got.Status, err)
		}
	}
	// Even a valid jump saying paid marks nothing: the order is not paid.
	r := b.do(false, "GET", "/c/"+ck.ID+"/return?"+valid.Encode(), nil, nil)
	if r.status != http.StatusSeeOther {
		t.Fatalf("valid jump: %d", r.status)
	}
	if got, _ := e.repo.Get(context.Background(), ck.ID); got.Status != checkout.StatusPending {
		t.Fatalf("a jump callback changed the checkout to %s", got.Status)
	}
	// Unknown checkout: the 404 page.
	if r := b.get("/c/co_AAAAAAAAAAAAAAAAAAAAAAAA/return?" + valid.Encode()); r.status != http.StatusNotFound {
		t.Fatalf("unknown checkout: %d", r.status)
	}
}

// TestCashierSaidPaidIsAWalletOK is issue 12's first defect in redirect
// mode: the gateway's cashier, where the payer's wallet paid, sends the
// payer back with its signed "paid" before the notify (or paystatus)
// confirms it. That is the wallet's OK: the result page must be the one
// that never offers a bare "pay again" (result?wallet=ok, with its stamp);
// a "cancelled" or "awaiting payment" return is not.
func TestCashierSaidPaidIsAWalletOK(t *testing.T) {
	e := newPgEnv(t)
	for _, tc := range []struct {
		name   string
		status gateway.Status
		ok     bool
	}{
		{"paid", gateway.StatusPaid, true},
		{"cancelled", gateway.StatusCanceled, false},
		{"awaiting", gateway.StatusAwaiting, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ck := e.newCheckout("redirect", 600)
			b := e.browser(uaAlipay, "ret-"+tc.name)
			_, _, csrf := b.openPage(ck.ID)
			if pr := b.pay(ck.ID, csrf, map[string]string{"wallet": "alipay", "scenario": "jump"}); pr.status != 200 {
				t.Fatalf("pay: %d %s", pr.status, pr.body)
			}
			snap, _ := e.sb.Order(e.sbRedir.OpenID, checkout.OutNo(ck.ID, 1))
			r := b.do(false, "GET", "/c/"+ck.ID+"/return?"+e.jumpQuery(e.sbRedir, snap.OrdNo, snap.OutNo, tc.status).Encode(), nil, nil)
			if r.status != http.StatusSeeOther {
				t.Fatalf("return: %d %.200s", r.status, r.body)
			}
			loc := r.header.Get("Location")
			if got := strings.Contains(loc, "wallet=ok"); got != tc.ok {
				t.Fatalf("a cashier return saying %s leads to %q, want wallet's OK %v", tc.name, loc, tc.ok)
			}
			if stamp := attr(reWalletOK, b.get(loc).body); (stamp != "") != tc.ok {
				t.Errorf("the result page's stamp is %q, want one: %v", stamp, tc.ok)
			}
		})
	}
}

// TestLanguageSurvivesTheCashier: a payer who chose a language with ?lang=
// pays at the gateway's cashier (redirect mode) and comes back to the
// result page in that language, as through the wallets' OAuth (issue 12's
// third defect; docs/pages.md: "for the whole visit"). The language rides
// in jump_url's path, since every query field is signed by the gateway.
func TestLanguageSurvivesTheCashier(t *testing.T) {
	e := newPgEnv(t)
	for _, tc := range []struct{ query, lang string }{{"?lang=en", "en"}, {"?lang=zh-TW", "zh-Hant"}, {"", ""}} {
		t.Run(tc.query, func(t *testing.T) {
			ck := e.newCheckout("redirect", 600)
			b := e.browser(uaAlipay, "ret-lang")
			r := b.get("/c/" + ck.ID + tc.query)
			csrf := attr(reCSRF, r.body)
			pr := b.do(false, "POST", "/c/"+ck.ID+"/pay"+tc.query, []byte(`{"wallet":"alipay","scenario":"jump"}`), map[string]string{"X-CSRF-Token": csrf})
			if pr.status != 200 {
				t.Fatalf("pay: %d %s", pr.status, pr.body)
			}
			snap, _ := e.sb.Order(e.sbRedir.OpenID, checkout.OutNo(ck.ID, 1))
			ju, err := url.Parse(snap.JumpURL)
			if err != nil || ju.RawQuery != "" {
				t.Fatalf("jump_url %q: %v (no query of ours: the gateway signs every field)", snap.JumpURL, err)
			}
			ret := b.do(false, "GET", ju.Path+"?"+e.jumpQuery(e.sbRedir, snap.OrdNo, snap.OutNo, gateway.StatusCanceled).Encode(), nil, nil)
			if ret.status != http.StatusSeeOther {
				t.Fatalf("return: %d %.200s", ret.status, ret.body)
			}
			page := b.get(ret.header.Get("Location"))
			want := tc.lang
			if want == "" {
				want = "zh-Hans"
			}
			if got := attr(reHTMLLang, page.body); got != want {
				t.Errorf("back from the cashier (%s) the result page is in %q, want %q", ret.header.Get("Location"), got, want)
			}
		})
	}
}

var reHTMLLang = regexp.MustCompile(`<html lang="([^"]*)"`)

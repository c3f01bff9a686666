package handlers_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/payments"
)

var reWalletOK = regexp.MustCompile(`data-wallet-ok="([^"]*)"`)

// TestCheckAfterWalletOK: a result page reached after the wallet's OK gets
// a stamp of that moment; its checks learn how long until they may offer a
// second payment, and only a fresh check a minute after the OK (the
// service's clock) allows it. Without the stamp, or with a forged one,
// the answer says nothing about paying again.
func TestCheckAfterWalletOK(t *testing.T) {
	clk := newPgClock()
	e := newPgEnv(t, withClock(clk))
	ck := e.newCheckout("native", 100)
	b := e.browser(uaDesktop, "walletok")
	csrf := b.csrfOf(ck.ID)
	if r := b.pay(ck.ID, csrf, map[string]string{"wallet": "wechat", "scenario": "qr"}); r.status != http.StatusOK {
		t.Fatalf("pay: %d %s", r.status, r.body)
	}
	if tok := attr(reWalletOK, b.get("/c/"+ck.ID+"/result").body); tok != "" {
		t.Fatalf("a result page without the wallet's OK has a stamp %q", tok)
	}
	stamp := attr(reWalletOK, b.get("/c/"+ck.ID+"/result?wallet=ok").body)
	if stamp == "" {
		t.Fatal("the result page after the wallet's OK has no stamp")
	}
	type answer struct {
		Status     string `json:"status"`
		PayAgain   string `json:"pay_again"`
		PayAgainIn int64  `json:"pay_again_in"`
	}
	check := func(walletOK string) answer {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"wallet_ok": walletOK})
		r := b.do(false, "POST", "/c/"+ck.ID+"/check", body, map[string]string{"X-CSRF-Token": csrf, "Content-Type": "application/json"})
		var a answer
		if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &a) != nil {
			t.Fatalf("check: %d %s", r.status, r.body)
		}
		return a
	}
	clk.Advance(4 * time.Second)
	if a := check(stamp); a.Status != "pending" || a.PayAgain != "" || a.PayAgainIn <= 0 || a.PayAgainIn > (payments.WalletOKGrace-4*time.Second).Milliseconds() {
		t.Errorf("4 s after the OK: %+v, want pending, no offer, the time left", a)
	}
	for name, tok := range map[string]string{"none": "", "forged": "1" + stamp, "garbage": "x"} {
		if a := check(tok); a.PayAgain != "" || a.PayAgainIn != 0 {
			t.Errorf("%s stamp: %+v, want nothing about paying again", name, a)
		}
	}
	clk.Advance(payments.WalletOKGrace)
	if a := check(stamp); a.Status != "pending" || a.PayAgain != "if_unpaid" {
		t.Errorf("a minute after the OK, still unpaid: %+v, want pay_again if_unpaid", a)
	}
	if strings.Contains(b.get("/c/"+ck.ID+"/result").body, `data-testid="result-unconfirmed"`) {
		t.Error("the worded offer is on a result page not reached from the wallet's OK")
	}
}

// TestWalletOKOfferNeedsItsOwnCheck: the offer a minute after the wallet's
// OK rests on a paystatus asked by that very check. A check turned away by
// the rate limit (another page asked moments ago, and its gateway query
// may still be on its way) does not allow it: the page is told to ask
// again in a moment.
func TestWalletOKOfferNeedsItsOwnCheck(t *testing.T) {
	clk := newPgClock()
	e := newPgEnv(t, withClock(clk))
	ck := e.newCheckout("native", 100)
	b := e.browser(uaDesktop, "walletok-own")
	csrf := b.csrfOf(ck.ID)
	if r := b.pay(ck.ID, csrf, map[string]string{"wallet": "wechat", "scenario": "qr"}); r.status != http.StatusOK {
		t.Fatalf("pay: %d %s", r.status, r.body)
	}
	stamp := attr(reWalletOK, b.get("/c/"+ck.ID+"/result?wallet=ok").body)
	if stamp == "" {
		t.Fatal("no stamp")
	}
	check := func(walletOK string) (a struct {
		Status     string `json:"status"`
		PayAgain   string `json:"pay_again"`
		PayAgainIn int64  `json:"pay_again_in"`
	}) {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"wallet_ok": walletOK})
		r := b.do(false, "POST", "/c/"+ck.ID+"/check", body, map[string]string{"X-CSRF-Token": csrf, "Content-Type": "application/json"})
		if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &a) != nil {
			t.Fatalf("check: %d %s", r.status, r.body)
		}
		return a
	}
	clk.Advance(payments.WalletOKGrace + time.Second)
	check("") // another page's check takes this moment's gateway query
	if a := check(stamp); a.PayAgain != "" || a.PayAgainIn <= 0 || a.PayAgainIn > 5000 {
		t.Errorf("a rate-limited check a minute after the OK: %+v, want no offer and a retry within seconds", a)
	}
	clk.Advance(3 * time.Second)
	if a := check(stamp); a.Status != "pending" || a.PayAgain != "if_unpaid" {
		t.Errorf("its own check, still unpaid: %+v, want pay_again if_unpaid", a)
	}
}

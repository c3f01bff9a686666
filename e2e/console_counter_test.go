package e2e

import (
	"testing"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// stateLog records each change of the counter's connection state
// (data-state) in window.__states, so a short "offline" is not missed.
const stateLog = `window.__states = [];
setInterval(function () {
  var e = document.querySelector("[data-testid=counter-state]");
  if (!e) return;
  var s = e.getAttribute("data-state");
  if (window.__states[window.__states.length - 1] !== s) window.__states.push(s);
}, 10);`

// TestConsoleCounterReconnects: the server drops the counter's stream;
// the page goes offline, reconnects by itself, and a payment made after
// the drop still shows and is said.
func TestConsoleCounterReconnects(t *testing.T) {
	s := newStack(t, sandboxOptions{console: true})
	tb := newTab(t, s, desktop, speechStub, stateLog)
	tb.allow(`ERR_INCOMPLETE_CHUNKED_ENCODING|ERR_EMPTY_RESPONSE|ERR_CONNECTION`)
	signInConsole(tb, s, consoleAdmin)
	tb.open(s.url+"/console/counter", "[data-testid=counter-speak]")
	tb.waitFor("the stream opened", `document.querySelector("[data-testid=counter-state]").getAttribute("data-state") === "live"`)
	tb.click("[data-testid=counter-speak]")

	s.srv.CloseClientConnections()
	tb.waitFor("offline, then live again", `(function(){var s = window.__states, o = s.indexOf("offline");
		return o >= 0 && s.lastIndexOf("live") > o && s[s.length-1] === "live"})()`)

	co := payAtCounter(t, s, "counter-reconnect")
	tb.waitFor("the payment after the drop shows", `document.querySelector('[data-checkout-id="`+co.ID+`"]')`)
	tb.waitFor("and is said", `window.__spoken.indexOf("微信收款 15 元|zh-CN") >= 0`)
}

// payAtCounter records a 15 yuan WeChat payment of a new checkout
// (reference ref) and emits its paid event, as a notify would: what a
// counter screen shows and says.
func payAtCounter(t *testing.T, s *stack, ref string) *checkout.Checkout {
	t.Helper()
	ctx := t.Context()
	co, err := checkout.NewCheckout(&checkout.Draft{
		MerchantID: merchantID, StoreID: storeNative, Amounts: checkout.Amounts{Original: 1500, Trade: 1500},
		Description: "咖啡", Reference: ref, LatePolicy: checkout.LatePolicyAccept,
	}, s.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.app.Repo.Create(ctx, co, nil); err != nil {
		t.Fatal(err)
	}
	att, _, err := s.app.Repo.AddAttempt(ctx, co.ID, checkout.MethodWeChat, checkout.ScenarioJSAPI)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.app.Repo.MarkPaid(ctx, co.ID, att.Seq, "ord"+co.ID[3:13]); err != nil {
		t.Fatal(err)
	}
	paid, err := s.app.Repo.Get(ctx, co.ID)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := webhook.NewEvent(webhook.TypePaid, paid, s.url, s.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.app.Webhooks.Emit(ctx, ev); err != nil {
		t.Fatal(err)
	}
	return co
}

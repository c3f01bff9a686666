package e2e

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/wallet-checkout/checkout/checkout"
)

// TestCashierCancelOffersRetry is issue 12's fourth defect: a payer who
// cancels on the gateway's hosted cashier (redirect mode) is told at once
// that the payment was not completed and may try again, and the retry
// pays.
func TestCashierCancelOffersRetry(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})
	id, u := s.createCheckout(map[string]any{"amount": 1700, "store": storeRedirect})
	tb := newTab(t, s, wechatPhone)
	tb.open(u, "[data-testid=pay-button]")
	tb.click("[data-testid=pay-button]")
	tb.click("[data-testid=sandbox-cancel]")
	tb.visible("[data-testid=result-page]")
	tb.waitFor("the page says the payment was not completed", `document.getElementById("app").dataset.view === "unpaid"`)
	tb.screenshot("result-after-cashier-cancel")
	if tb.isVisible("[data-testid=result-pending]") {
		t.Error("still confirming after the payer cancelled at the cashier")
	}
	assertNotPaid(t, s, storeRedirect, id)

	tb.click("[data-testid=result-unpaid] [data-testid=pay-again]")
	tb.click("[data-testid=pay-button]")
	tb.visible("[data-testid=sandbox-pay]")
	// Back at the (same) cashier, the order may be paid any moment: the
	// payer's status must wait for it again, not offer another try.
	if got := payerStatus(t, s, id); got != "pending" {
		t.Errorf("status %q while the payer is back at the cashier, want pending", got)
	}
	if n := len(s.orders(storeRedirect, id)); n != 1 {
		t.Errorf("%d gateway orders after \"pay again\", want the one the payer left (reused, no second payable order)", n)
	}
	tb.click("[data-testid=sandbox-pay]")
	tb.visible("[data-testid=result-paid]")
	assertPaidOnce(t, s, storeRedirect, id)
	if c := s.checkout(id); c.Status != checkout.StatusPaid {
		t.Errorf("checkout is %s", c.Status)
	}
}

// payerStatus reads GET /c/{id}/status as a page's script does.
func payerStatus(t *testing.T, s *stack, id string) string {
	t.Helper()
	res, err := http.Get(s.url + "/c/" + id + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("status answer: %v", err)
	}
	return out.Status
}

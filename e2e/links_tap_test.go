package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// linkAPI calls the payment links API with the stack's key and decodes
// the answer into out (may be nil); it fails the test on another status.
func (s *stack) linkAPI(method, path, body string, want int, out any) {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	r, _ := http.NewRequest(method, s.url+path, rd)
	r.Header.Set("Authorization", "Bearer "+s.apiKey)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		s.t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// linkCheckoutCount is how many checkouts link id made.
func (s *stack) linkCheckoutCount(id string) int {
	s.t.Helper()
	var page struct {
		Data []json.RawMessage `json:"data"`
	}
	s.linkAPI(http.MethodGet, "/v1/checkouts?payment_link="+id+"&limit=100", "", http.StatusOK, &page)
	return len(page.Data)
}

// TestPaymentLinkDoubleClick: a real double click on the link's pay
// button in Chromium ends on one checkout's page, and the link made one
// checkout. Chromium cancels the first form post's navigation when the
// second starts, so this checks what the payer sees, not the race itself:
// that is handlers' TestLinkDoubleTap (concurrent posts of one page that
// all complete), which fails without the tap claim where this may not.
func TestPaymentLinkDoubleClick(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})
	link, u := s.createLink(map[string]any{"amount": 1800, "description": "双击测试", "store": storeNative, "max_payments": 3})
	tb := newTab(t, s, desktop)
	tb.open(u, "[data-testid=link-pay]")
	// What a user's double click sends: two clicks, the second counted 2.
	xy := eval[[]float64](tb, `(() => { const r = document.querySelector("[data-testid=link-pay]").getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2] })()`)
	tb.run("double-click pay", chromedp.MouseClickXY(xy[0], xy[1]), chromedp.MouseClickXY(xy[0], xy[1], chromedp.ClickCount(2)))
	tb.visible("[data-testid=qr-image-wechat]")
	linkCheckout(t, tb)
	if n := s.linkCheckoutCount(link); n != 1 {
		t.Fatalf("a double click made %d checkouts", n)
	}
}

// TestPaymentLinkChangedTerms: on a phone, the merchant changes the
// link's amount and description while the payer's page is open; the tap
// makes nothing and shows the new terms with a message saying so; the
// next tap pays the new terms.
func TestPaymentLinkChangedTerms(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})
	link, u := s.createLink(map[string]any{"amount": 1500, "description": "拿铁", "store": storeNative})
	tb := newTab(t, s, device{ua: uaPhoneBrowser, width: 390, height: 844, mobile: true, lang: "zh-CN,zh;q=0.9"})
	tb.allow(`status of 409`) // the tap on old terms is answered 409 with the page
	tb.open(u, "[data-testid=link-pay]")
	s.linkAPI(http.MethodPost, "/v1/payment-links/"+link, `{"amount":2600,"description":"大杯拿铁"}`, http.StatusOK, nil)
	tb.click("[data-testid=link-pay]")
	tb.visible("[data-testid=link-changed]")
	tb.screenshot("changed")
	if msg := tb.text("[data-testid=link-changed]"); !strings.Contains(msg, "商家刚刚修改了付款内容") {
		t.Errorf("message %q", msg)
	}
	if got := tb.text("[data-testid=amount]"); got != "¥26.00" {
		t.Errorf("amount shown %q, want the new ¥26.00", got)
	}
	if n := s.linkCheckoutCount(link); n != 0 {
		t.Fatalf("the tap on old terms made %d checkouts", n)
	}
	tb.click("[data-testid=link-pay]")
	tb.waitFor("the checkout's page", `location.pathname.startsWith("/c/")`)
	if c := s.checkout(linkCheckout(t, tb)); c.Amounts.Trade != 2600 || c.Description != "大杯拿铁" {
		t.Fatalf("checkout %+v", c)
	}
}

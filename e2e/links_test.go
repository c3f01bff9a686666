package e2e

import (
	"bytes"
	"encoding/json"
	"image"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	qr "github.com/piglig/go-qr"

	"github.com/wallet-checkout/checkout/checkout"
)

// createLink makes a payment link through the API and returns its id and
// page URL.
func (s *stack) createLink(req map[string]any) (id, pageURL string) {
	s.t.Helper()
	b, _ := json.Marshal(req)
	r, _ := http.NewRequest(http.MethodPost, s.url+"/v1/payment-links", bytes.NewReader(b))
	r.Header.Set("Authorization", "Bearer "+s.apiKey)
	r.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	}
	if res.StatusCode != http.StatusCreated || json.Unmarshal(raw, &out) != nil || out.ID == "" {
		s.t.Fatalf("create link: %d %s", res.StatusCode, raw)
	}
	return out.ID, out.URL
}

// linkCheckout is the checkout id of the /c/ page the tab is on.
func linkCheckout(t *testing.T, tb *tab) string {
	t.Helper()
	loc, _, _ := strings.Cut(tb.location(), "#")
	loc, _, _ = strings.Cut(loc, "?")
	_, id, ok := strings.Cut(loc, "/c/")
	if !ok || !checkout.ValidID(id) {
		t.Fatalf("not on a checkout page: %s", loc)
	}
	return id
}

// TestPaymentLinkDesktop: a fixed-amount link opened in a desktop browser;
// the tap leads to the checkout's QR page, whose code the payer's phone
// pays at the sandbox; paid once, the checkout carries the link.
func TestPaymentLinkDesktop(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})
	link, u := s.createLink(map[string]any{"amount": 4500, "description": "拿铁 ×2", "store": storeNative})
	tb := newTab(t, s, desktop)
	tb.open(u, "[data-testid=link-pay]")
	if got := tb.text("[data-testid=amount]"); got != "¥45.00" {
		t.Errorf("link page amount %q", got)
	}
	tb.screenshot("link")
	tb.click("[data-testid=link-pay]")
	tb.visible("[data-testid=qr-image-wechat]")
	id := linkCheckout(t, tb)
	assertCheckoutPage(t, tb, "¥45.00", "qr")
	png := get(tb, "capture the QR code", chromedp.Screenshot(chromedp.CSS("[data-testid=qr-image-wechat]")))
	img, _, err := image.Decode(bytes.NewReader(png))
	if err != nil {
		t.Fatal(err)
	}
	code, err := qr.Decode(img)
	if err != nil {
		t.Fatalf("the QR code does not decode: %v", err)
	}
	scan(t, s, code)
	tb.waitFor("the page follows to the result", `location.pathname.endsWith("/result") && !!document.querySelector("[data-view=paid]")`)
	assertPaidOnce(t, s, storeNative, id)
	if c := s.checkout(id); c.PaymentLink != link {
		t.Errorf("checkout's payment_link %q, want %q", c.PaymentLink, link)
	}
}

// TestPaymentLinkEnteredWeChat: an entered-amount link inside WeChat
// (native mode): the payer types the amount on the keypad page, taps pay,
// goes through WeChat's OAuth on the checkout's page and pays with the
// bridge stand-in.
func TestPaymentLinkEnteredWeChat(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})
	link, u := s.createLink(map[string]any{"min_amount": 100, "max_amount": 50000, "presets": []int{1000}, "description": "拿铁 ×2", "store": storeNative})
	tb := newTab(t, s, wechatPhone, wechatBridge("ok"))
	tb.open(u, "[data-testid=amount-input]")
	tb.screenshot("keypad")
	if got := tb.text("[data-testid=amount-range]"); !strings.Contains(got, "¥1.00") || !strings.Contains(got, "¥500.00") {
		t.Errorf("range shows %q", got)
	}
	// The refused amount is answered 400, on purpose.
	tb.allow(`status of 400 .*/l/pl_`)
	tb.run("type a bad amount", chromedp.SendKeys("[data-testid=amount-input]", "12.345"), chromedp.Click("[data-testid=link-pay]"))
	tb.visible("[data-testid=amount-error]")
	tb.screenshot("keypad-refused")
	tb.exec(`document.querySelector("[data-testid=amount-input]").value = ""`)
	tb.run("type the amount", chromedp.SendKeys("[data-testid=amount-input]", "36.21"), chromedp.Click("[data-testid=link-pay]"))
	tb.visible("[data-testid=pay-button]")
	id := linkCheckout(t, tb)
	assertCheckoutPage(t, tb, "¥36.21", "wechat_jsapi")
	tb.click("[data-testid=pay-button]")
	tb.visible("[data-testid=result-paid]")
	assertPaidOnce(t, s, storeNative, id)
	if c := s.checkout(id); c.PaymentLink != link || c.Amounts.Trade != 3621 {
		t.Errorf("checkout %s of link %q, %d fen", id, c.PaymentLink, c.Amounts.Trade)
	}
}

// registeredName is the stack's merchant's registered name, which a
// payment link's pages show beside its code number.
const registeredName = "沙箱咖啡（上海）有限公司"

// TestPaymentLinkAlipay: a fixed-amount link and an entered-amount link
// opened in Alipay (native mode): the link's page goes through Alipay's
// auth_base on the first visit, shows the merchant's registered name and
// the link's code number, and the tap leads to the checkout's page (no
// second OAuth), which shows them too and pays with the AlipayJSBridge
// stand-in through the sandbox, once.
func TestPaymentLinkAlipay(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})
	for _, tc := range []struct {
		name  string
		req   map[string]any
		typed string
		shown string
		fen   int64
	}{
		{"fixed", map[string]any{"amount": 2800, "description": "燕麦拿铁", "store": storeNative}, "", "¥28.00", 2800},
		{"entered", map[string]any{"min_amount": 100, "max_amount": 20000, "description": "随心付", "store": storeNative}, "66.60", "¥66.60", 6660},
	} {
		t.Run(tc.name, func(t *testing.T) {
			link, u := s.createLink(tc.req)
			code := checkout.LinkShortCode(link)
			tb := newTab(t, s, alipayPhone, alipayBridge("ok"))
			tb.open(u, "[data-testid=link-pay]")
			if !strings.HasSuffix(strings.SplitN(tb.location(), "?", 2)[0], "/l/"+link) {
				t.Fatalf("after auth_base the payer is at %s, want the link's page", tb.location())
			}
			if got := tb.text("[data-testid=registered-name]"); !strings.Contains(got, registeredName) {
				t.Errorf("registered name shows %q", got)
			}
			if got := tb.text("[data-testid=short-code]"); !strings.Contains(got, code[:4]+" "+code[4:]) {
				t.Errorf("code number shows %q, want %s", got, code)
			}
			tb.screenshot("link")
			if tc.typed != "" {
				tb.run("type the amount", chromedp.SendKeys("[data-testid=amount-input]", tc.typed))
			}
			tb.click("[data-testid=link-pay]")
			tb.visible("[data-testid=pay-button]")
			id := linkCheckout(t, tb)
			assertCheckoutPage(t, tb, tc.shown, "alipay_jsapi", tc.req["description"].(string))
			if got := tb.text("[data-testid=registered-name]"); !strings.Contains(got, registeredName) {
				t.Errorf("the checkout's page shows registered name %q", got)
			}
			tb.screenshot("checkout")
			tb.click("[data-testid=pay-button]")
			tb.visible("[data-testid=result-paid]")
			assertPaidOnce(t, s, storeNative, id)
			if c := s.checkout(id); c.PaymentLink != link || c.Amounts.Trade != tc.fen {
				t.Errorf("checkout %s of link %q, %d fen", id, c.PaymentLink, c.Amounts.Trade)
			}
			// Deleted by the merchant: the same code now says so.
			s.deleteLink(link)
			tb.allow(`status of 404 .*/l/pl_`)
			tb.open(u, "[data-testid=error-page]")
			if got := tb.text("[data-testid=error-title]"); got != "该收款码已失效" {
				t.Errorf("a deleted link's page says %q", got)
			}
			tb.screenshot("deleted")
		})
	}
}

// deleteLink deletes a payment link through the API.
func (s *stack) deleteLink(id string) {
	s.t.Helper()
	r, _ := http.NewRequest(http.MethodDelete, s.url+"/v1/payment-links/"+id, nil)
	r.Header.Set("Authorization", "Bearer "+s.apiKey)
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		s.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		s.t.Fatalf("delete link %s: %d", id, res.StatusCode)
	}
}

// TestPaymentLinkOtherKinds completes the grid of link kinds and
// browsers with the two the tests above leave out: a fixed-amount link in
// WeChat (OAuth, then the bridge stand-in) and an entered-amount link in
// a desktop browser (typed on the keypad page, then the checkout's QR
// paid at the sandbox).
func TestPaymentLinkOtherKinds(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})
	t.Run("wechat fixed", func(t *testing.T) {
		link, u := s.createLink(map[string]any{"amount": 1800, "description": "美式", "store": storeNative})
		tb := newTab(t, s, wechatPhone, wechatBridge("ok"))
		tb.open(u, "[data-testid=link-pay]")
		if got := tb.text("[data-testid=amount]"); got != "¥18.00" {
			t.Errorf("link page amount %q", got)
		}
		tb.click("[data-testid=link-pay]")
		tb.visible("[data-testid=pay-button]")
		id := linkCheckout(t, tb)
		assertCheckoutPage(t, tb, "¥18.00", "wechat_jsapi", "美式")
		tb.click("[data-testid=pay-button]")
		tb.visible("[data-testid=result-paid]")
		assertPaidOnce(t, s, storeNative, id)
		if c := s.checkout(id); c.PaymentLink != link || c.Amounts.Trade != 1800 {
			t.Errorf("checkout %s of link %q, %d fen", id, c.PaymentLink, c.Amounts.Trade)
		}
	})
	t.Run("desktop entered", func(t *testing.T) {
		link, u := s.createLink(map[string]any{"min_amount": 100, "max_amount": 50000, "description": "随心付", "store": storeNative})
		tb := newTab(t, s, desktop)
		tb.open(u, "[data-testid=amount-input]")
		tb.run("type the amount", chromedp.SendKeys("[data-testid=amount-input]", "12.30"), chromedp.Click("[data-testid=link-pay]"))
		tb.visible("[data-testid=qr-image-wechat]")
		id := linkCheckout(t, tb)
		assertCheckoutPage(t, tb, "¥12.30", "qr", "随心付")
		png := get(tb, "capture the QR code", chromedp.Screenshot(chromedp.CSS("[data-testid=qr-image-wechat]")))
		img, _, err := image.Decode(bytes.NewReader(png))
		if err != nil {
			t.Fatal(err)
		}
		code, err := qr.Decode(img)
		if err != nil {
			t.Fatalf("the QR code does not decode: %v", err)
		}
		scan(t, s, code)
		tb.waitFor("the page follows to the result", `location.pathname.endsWith("/result") && !!document.querySelector("[data-view=paid]")`)
		assertPaidOnce(t, s, storeNative, id)
		if c := s.checkout(id); c.PaymentLink != link || c.Amounts.Trade != 1230 {
			t.Errorf("checkout %s of link %q, %d fen", id, c.PaymentLink, c.Amounts.Trade)
		}
	})
}

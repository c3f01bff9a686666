package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"image"
	_ "image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	qr "github.com/piglig/go-qr"

	"github.com/wallet-checkout/checkout/checkout"
)

// merchantSite serves a merchant's page that embeds a checkout with the
// documented snippet and /embed.js, and records what reaches it: the
// script's "walletcheckout" events (got) and every message from the
// service's origin (raw).
func merchantSite(t *testing.T, s *stack, id string) *httptest.Server {
	t.Helper()
	page := fmt.Sprintf(`<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>茶饮小铺官网</title></head><body>
<h1>茶饮小铺</h1><p>拿铁 ×2 · ¥36.00</p>
<a id="buy" href="%[1]s/c/%[2]s" data-wallet-checkout>微信 / 支付宝 支付</a>
<script>
window.got = []; window.raw = [];
document.addEventListener("walletcheckout", function (e) { window.got.push(e.detail); });
window.addEventListener("message", function (e) { if (e.origin === %[3]q) window.raw.push(e.data); });
</script>
<script src="%[1]s/embed.js" async></script>
</body></html>`, html.EscapeString(s.url), html.EscapeString(id), s.url)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, page)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// decodeShot reads a QR code off a screenshot, as a phone's camera would.
func decodeShot(t *testing.T, png []byte) (string, error) {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(png))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return qr.Decode(img)
}

// TestEmbedOverlay: a merchant's page on another origin (127.0.0.1 on
// another port, allowed by the merchant's redirect hosts) includes
// /embed.js; a click opens the overlay with the checkout's code, the
// checkout is paid through the sandbox, and the page receives the
// completion. A page on an origin the merchant did not allow (localhost)
// gets the overlay's frame refused and no message; on a phone the button
// navigates.
func TestEmbedOverlay(t *testing.T) {
	s := newStack(t, sandboxOptions{})
	id, pageURL := s.createCheckout(nil)
	site := merchantSite(t, s, id)

	tb := newTab(t, s, desktop)
	tb.open(site.URL+"/", "#buy[data-wallet-checkout-ready]")
	tb.screenshot("merchant-page")
	tb.click("#buy")
	tb.visible("[data-wallet-checkout-overlay] iframe")
	if loc := tb.location(); loc != site.URL+"/" {
		t.Fatalf("a desktop click navigated to %s", loc)
	}
	// The overlay shows the checkout page's code: what a phone reads off
	// the screen is the checkout's URL.
	var got string
	deadline := time.Now().Add(30 * time.Second)
	for {
		// The iframe's node can be replaced while its page loads (CDP's
		// "No node with given id found"): such a capture is tried again
		// like an unreadable one, until the deadline.
		png, err := chromedp.Run(tb.ctx, chromedp.Screenshot(chromedp.CSS("[data-wallet-checkout-overlay] iframe")))
		if err != nil && time.Now().After(deadline) {
			tb.fail("capture the overlay", err)
		}
		if err == nil {
			if got, err = decodeShot(t, png); err == nil || time.Now().After(deadline) {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got != pageURL {
		t.Fatalf("the overlay's code reads %q, want %q", got, pageURL)
	}
	tb.screenshot("overlay")
	if n := eval[int](tb, "window.got.length + window.raw.length"); n != 0 {
		t.Fatalf("%d messages before payment", n)
	}

	payQR(t, s, id)
	tb.waitFor("the completion message", `window.got.length === 1 && window.got[0].event === "paid" && window.got[0].checkout === `+jsString(id))
	detail := eval[string](tb, "JSON.stringify(window.got[0])")
	var d map[string]string
	if err := json.Unmarshal([]byte(detail), &d); err != nil || d["type"] != "wallet-checkout" || d["status"] != "paid" {
		t.Fatalf("message %s", detail)
	}
	tb.screenshot("overlay-paid")

	// Another origin the merchant did not allow: the frame is refused
	// (frame-ancestors) and nothing reaches the page.
	id2, _ := s.createCheckout(nil)
	other := merchantSite(t, s, id2)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(other.URL, "http://"))
	evil := "http://localhost:" + port
	tb2 := newTab(t, s, desktop)
	tb2.allowHost("localhost:" + port)
	tb2.allow(`(?i)refused to frame|frame-ancestors|ERR_BLOCKED_BY_RESPONSE`)
	tb2.open(evil+"/", "#buy[data-wallet-checkout-ready]")
	tb2.click("#buy")
	tb2.visible("[data-wallet-checkout-overlay] iframe")
	payQR(t, s, id2)
	waitStatus(t, s, id2, checkout.StatusPaid)
	// The allowed page above heard within its stream's latency; give this
	// one far longer before saying it heard nothing (a negative can only
	// be observed for a while).
	time.Sleep(3 * time.Second)
	if n := eval[int](tb2, "window.got.length + window.raw.length"); n != 0 {
		t.Fatalf("a page on a non-allowed origin received %d messages", n)
	}

	// On a phone the button is a plain link: it opens the checkout.
	id3, _ := s.createCheckout(nil)
	site3 := merchantSite(t, s, id3)
	tb3 := newTab(t, s, phone)
	tb3.open(site3.URL+"/", "#buy[data-wallet-checkout-ready]")
	tb3.click("#buy")
	tb3.waitFor("the checkout page", `location.pathname === "/c/`+id3+`"`)
	if tb3.isVisible("[data-wallet-checkout-overlay]") {
		t.Fatal("an overlay on a phone")
	}
}

// TestPosterScreenshots renders the printable store codes at A4 and A5
// (794x1123 and 559x794 CSS pixels) and the link's page, saves them under
// /tmp/qr-shots/ (or $QR_SHOTS_DIR) to be looked at, and reads the code
// off the A4 picture.
func TestPosterScreenshots(t *testing.T) {
	s := newStack(t, sandboxOptions{})
	dir := os.Getenv("QR_SHOTS_DIR")
	if dir == "" {
		dir = "/tmp/qr-shots"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fixed := createLink(t, s, `{"amount":1500,"description":"拿铁（大杯）"}`)
	entered := createLink(t, s, `{"min_amount":100,"max_amount":50000,"description":"到店付款"}`)
	for _, tc := range []struct {
		name, id, query string
		dev             device
	}{
		{"poster-fixed-a4", fixed, "?paper=a4", device{ua: uaDesktop, width: 794, height: 1123, lang: "zh-CN,zh;q=0.9"}},
		{"poster-entered-a5", entered, "", device{ua: uaDesktop, width: 559, height: 794, lang: "zh-CN,zh;q=0.9"}},
		{"poster-fixed-a5-en", fixed, "?lang=en", device{ua: uaDesktop, width: 559, height: 794, lang: "en"}},
	} {
		tb := newTab(t, s, tc.dev)
		tb.open(s.url+"/l/"+tc.id+"/poster"+tc.query, "[data-testid=poster-qr]")
		tb.waitFor("the code drawn", `document.querySelector("[data-testid=poster-qr]").complete && document.fonts.status === "loaded"`)
		// On paper the sheet starts at the top-left corner: as printed.
		tb.exec(`document.querySelector(".sheet").style.margin = "0"`)
		png := get(tb, "screenshot", chromedp.CaptureScreenshot())
		p := filepath.Join(dir, tc.name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("poster: %s", p)
		got, err := decodeShot(t, png)
		if err != nil || got != s.url+"/l/"+tc.id {
			t.Errorf("%s: the printed code reads %q (%v), want %s", tc.name, got, err, s.url+"/l/"+tc.id)
		}
		pdf := get(tb, "print to PDF", chromedp.PrintToPDF(chromedp.PDFPreferCSSPageSize(), chromedp.PDFPrintBackground()))
		if err := os.WriteFile(filepath.Join(dir, tc.name+".pdf"), pdf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The link's page, as the payer sees it after scanning: the same number.
	tb := newTab(t, s, wechatPhone)
	tb.open(s.url+"/l/"+fixed, "[data-testid=short-code]")
	if n := tb.text("[data-testid=short-code]"); !strings.Contains(strings.ReplaceAll(n, " ", ""), checkout.LinkShortCode(fixed)) {
		t.Errorf("link page shows %q, want the number %s", n, checkout.LinkShortCode(fixed))
	}
	png := get(tb, "screenshot", chromedp.CaptureScreenshot())
	if err := os.WriteFile(filepath.Join(dir, "link-page-wechat.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// createLink makes a payment link through the API and returns its id.
func createLink(t *testing.T, s *stack, body string) string {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPost, s.url+"/v1/payment-links", strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+s.apiKey)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Idempotency-Key", randomHex(t, 8))
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out struct {
		ID string `json:"id"`
	}
	if res.StatusCode != http.StatusCreated || json.Unmarshal(raw, &out) != nil || out.ID == "" {
		t.Fatalf("create link: %d %s", res.StatusCode, raw)
	}
	return out.ID
}

// TestEmbedMessageOrigin: the view posts to the origin it was given (once
// the merchant's hosts allow it), never to "*": a page on an allowed
// origin that frames two views, one told its own origin and one told
// another allowed origin, hears only the first, although both checkouts
// are paid (the second one first).
func TestEmbedMessageOrigin(t *testing.T) {
	s := newStack(t, sandboxOptions{})
	right, _ := s.createCheckout(nil)
	wrong, _ := s.createCheckout(nil)
	var site *httptest.Server
	site = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html><head><meta charset="utf-8"><title>shop</title></head><body>
<script>window.raw = []; window.addEventListener("message", function (e) { window.raw.push({origin: e.origin, data: e.data}); });</script>
<iframe id="right" src="%[1]s/c/%[2]s/embed?origin=%[3]s" width="380" height="520"></iframe>
<iframe id="wrong" src="%[1]s/c/%[4]s/embed?origin=%[5]s" width="380" height="520"></iframe>
</body></html>`, s.url, right, site.URL, wrong, "http://127.0.0.1:1")
	}))
	t.Cleanup(site.Close)
	tb := newTab(t, s, desktop)
	// The second view's message is dropped by the browser, which says so.
	tb.allow(`(?i)postMessage.*target origin`)
	tb.open(site.URL+"/", "#wrong")
	payQR(t, s, wrong)
	waitStatus(t, s, wrong, checkout.StatusPaid)
	payQR(t, s, right)
	tb.waitFor("the right view's message", `window.raw.some(function (m) { return m.data && m.data.checkout === `+jsString(right)+` })`)
	time.Sleep(time.Second) // the wrong view was paid first; let any stray message land
	msgs := eval[string](tb, "JSON.stringify(window.raw)")
	if strings.Contains(msgs, wrong) || strings.Count(msgs, `"checkout"`) != 1 || !strings.Contains(msgs, `"origin":"`+s.url+`"`) {
		t.Fatalf("messages received: %s", msgs)
	}
}

// TestAccessibilityQRPages runs axe-core on the store code poster and the
// embed view in every language, with the payer pages' bar: no serious or
// critical violation, nor any of alsoRequired.
func TestAccessibilityQRPages(t *testing.T) {
	s := newStack(t, sandboxOptions{})
	link := createLink(t, s, `{"amount":1500,"description":"拿铁（大杯）"}`)
	id, _ := s.createCheckout(nil)
	pages := []struct{ name, path, wait string }{
		{"poster", "/l/" + link + "/poster", "[data-testid=poster-qr]"},
		{"embed", "/c/" + id + "/embed", "[data-testid=embed-qr]"},
	}
	for _, lang := range a11yLangs {
		for _, p := range pages {
			t.Run(lang.name+"/"+p.name, func(t *testing.T) {
				tb := newTab(t, s, device{ua: uaDesktop, width: 794, height: 1123, lang: lang.accept})
				tb.open(s.url+p.path, p.wait)
				if got := eval[string](tb, `document.documentElement.lang`); got != lang.name {
					t.Errorf("page language %q, want %q", got, lang.name)
				}
				for _, v := range runAxe(tb) {
					if v.Impact != "serious" && v.Impact != "critical" && !alsoRequired[v.ID] {
						continue
					}
					var where []string
					for _, n := range v.Nodes {
						where = append(where, fmt.Sprint(n.Target)+": "+strings.ReplaceAll(n.Summary, "\n", " "))
					}
					t.Errorf("axe %s (%s): %s\n  %s", v.ID, v.Impact, v.Help, strings.Join(where, "\n  "))
				}
			})
		}
	}
}

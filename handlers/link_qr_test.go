package handlers_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	go_qr "github.com/piglig/go-qr"

	"github.com/wallet-checkout/checkout/checkout"
)

// TestLinkCodes: the link's store code, SVG and PNG, decodes to its public
// URL at any size up to a poster's; bad sizes, other merchants' links and
// missing keys are refused.
func TestLinkCodes(t *testing.T) {
	e := newEnv(t)
	link := e.createLink(e.keyA, `{"amount":1500,"description":"拿铁"}`)
	id := link["id"].(string)
	want := "https://pay.example/l/" + id

	for _, size := range []string{"", "64", "300", "2048"} {
		q := ""
		if size != "" {
			q = "?size=" + size
		}
		r := e.do("GET", "/v1/payment-links/"+id+"/qr.png"+q, e.keyA, "")
		if r.status != 200 || r.header.Get("Content-Type") != "image/png" || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("png %q: %d %s %s", size, r.status, r.header.Get("Content-Type"), r.body)
		}
		if got := decodeQR(t, r.body); got != want {
			t.Fatalf("png %q decodes to %q, want %q", size, got, want)
		}
	}
	svg := e.do("GET", "/v1/payment-links/"+id+"/qr.svg?size=1200", e.keyA, "")
	if svg.status != 200 || svg.header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(string(svg.body), `width="1200"`) {
		t.Fatalf("svg: %d %s", svg.status, svg.header.Get("Content-Type"))
	}
	if etag := svg.header.Get("ETag"); etag == "" {
		t.Fatal("no ETag")
	} else if r := e.do("GET", "/v1/payment-links/"+id+"/qr.svg?size=1200", e.keyA, "", "If-None-Match", etag); r.status != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", r.status)
	}

	for _, size := range []string{"63", "2049", "0", "big", "-64", "1e3"} {
		r := e.do("GET", "/v1/payment-links/"+id+"/qr.png?size="+size, e.keyA, "")
		if code, param := r.errorOf(t); r.status != http.StatusBadRequest || code != "invalid_parameter" || param != "size" {
			t.Errorf("size=%s: %d %s %s", size, r.status, code, param)
		}
	}
	for _, tc := range []struct {
		path, key string
		status    int
	}{
		{"/v1/payment-links/" + id + "/qr.svg", e.keyB, http.StatusNotFound}, // another merchant's
		{"/v1/payment-links/pl_nope/qr.svg", e.keyA, http.StatusNotFound},
		{"/v1/payment-links/pl_000000000000000000000000/qr.png", e.keyA, http.StatusNotFound},
		{"/v1/payment-links/" + id + "/qr.svg", "", http.StatusUnauthorized},
		{"/v1/payment-links/" + id + "/qr.gif", e.keyA, http.StatusNotFound},
	} {
		if r := e.do("GET", tc.path, tc.key, ""); r.status != tc.status {
			t.Errorf("%s: %d, want %d", tc.path, r.status, tc.status)
		}
	}
}

var (
	rePosterNumber = regexp.MustCompile(`data-testid="poster-number">[^<]*<strong>([0-9 ]+)</strong>`)
	reLinkNumber   = regexp.MustCompile(`data-testid="short-code">[^<]*?([0-9]{4} [0-9]{4})</p>`)
	rePosterQR     = regexp.MustCompile(`<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"[^>]*data-testid="poster-qr"`)
)

// TestLinkPoster: the printable poster shows the merchant, the amount or
// "输入金额", the wallets, the short URL and the link's number, which the
// link's own page shows too; in three languages; a bad paper is a 400;
// 200 views store nothing.
func TestLinkPoster(t *testing.T) {
	e := newPgEnv(t)
	fixed := e.newLink(checkout.LinkTerms{Amount: 1500, Description: "拿铁"})
	entered := e.newLink(checkout.LinkTerms{MinAmount: 100, MaxAmount: 10000})
	wechatOnly := e.newLink(checkout.LinkTerms{Amount: 800, Wallets: []checkout.Method{checkout.MethodWeChat}})
	b := e.browser(uaDesktop, "owner")
	before := e.dbKeys()

	r := b.get("/l/" + fixed.ID + "/poster")
	if r.status != 200 || !strings.Contains(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("poster: %d %s", r.status, r.body)
	}
	number := attr(rePosterNumber, r.body)
	wantNumber := checkout.LinkShortCode(fixed.ID)
	if strings.ReplaceAll(number, " ", "") != wantNumber || len(number) != 9 {
		t.Fatalf("poster number %q, want %s as 4-4", number, wantNumber)
	}
	for _, want := range []string{"茶饮小铺", "¥15.00", "微信 / 支付宝 扫一扫", `data-testid="poster-wallet-wechat"`, `data-testid="poster-wallet-alipay"`,
		strings.TrimPrefix(e.srv.URL, "http://") + "/l/" + fixed.ID, `data-paper="a5"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("poster lacks %q", want)
		}
	}
	svg, err := base64.StdEncoding.DecodeString(attr(rePosterQR, r.body))
	if err != nil || !svgMatches(t, string(svg), e.srv.URL+"/l/"+fixed.ID, go_qr.Quartile) {
		t.Errorf("the poster's code does not draw the link's URL (%v)", err)
	}
	// The link's page shows the same number.
	page := b.get("/l/" + fixed.ID)
	if got := attr(reLinkNumber, page.body); got != number {
		t.Fatalf("link page number %q, poster %q", got, number)
	}

	r = b.get("/l/" + entered.ID + "/poster?paper=a4")
	if !strings.Contains(r.body, "输入金额") || !strings.Contains(r.body, `data-paper="a4"`) || strings.Contains(r.body, "¥") {
		t.Errorf("entered amount poster: %s", r.body)
	}
	r = b.get("/l/" + wechatOnly.ID + "/poster")
	if !strings.Contains(r.body, "微信 扫一扫") || strings.Contains(r.body, "poster-wallet-alipay") {
		t.Errorf("WeChat-only poster names Alipay")
	}
	for lang, want := range map[string]string{"zh-Hant": "微信 / 支付寶 掃一掃", "en": "Scan with WeChat / Alipay"} {
		if r := b.get("/l/" + fixed.ID + "/poster?lang=" + lang); !strings.Contains(r.body, want) {
			t.Errorf("%s poster lacks %q", lang, want)
		}
	}
	if r := b.get("/l/" + entered.ID + "/poster?lang=en"); !strings.Contains(r.body, "Enter the amount") {
		t.Error("en poster lacks Enter the amount")
	}

	if r := b.get("/l/" + fixed.ID + "/poster?paper=letter"); r.status != http.StatusBadRequest || !strings.Contains(r.body, `"param":"paper"`) {
		t.Errorf("paper=letter: %d %s", r.status, r.body)
	}
	for _, id := range []string{"pl_000000000000000000000000", "nope"} {
		if r := b.get("/l/" + id + "/poster"); r.status != http.StatusNotFound {
			t.Errorf("%s: %d", id, r.status)
		}
	}
	if after := e.dbKeys(); after != before {
		t.Fatalf("poster views stored %d keys", after-before)
	}
	if len(b.c.Jar.Cookies(mustURL(t, e.srv.URL))) > 1 { // the wallet emulator's payer cookie only
		t.Fatal("a poster view set a cookie")
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

package handlers_test

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
)

var reParentOrigin = regexp.MustCompile(`data-parent-origin="([^"]*)"`)

// headersOf GETs path and returns the answer's status and headers without
// reading the body (an event stream never ends), following no redirect.
func (e *pgEnv) headersOf(t *testing.T, path string) (int, http.Header) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+path, nil)
	req.Header.Set("User-Agent", uaDesktop)
	resp, err := (&http.Transport{}).RoundTrip(req)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// TestFrameHeadersPerPage: every GET route of the hosted pages (read from
// the routes' golden list, so a new page is covered without a change
// here) refuses to be framed (frame-ancestors 'none' and X-Frame-Options
// DENY), whatever it answers; the embed view alone may be framed, by the
// merchant's redirect hosts only.
func TestFrameHeadersPerPage(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 1200)
	l := e.newLink(checkout.LinkTerms{Amount: 1500})
	f, err := os.Open("testdata/routes.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pages int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "GET" || !(strings.HasPrefix(fields[1], "/c/") || strings.HasPrefix(fields[1], "/l/")) {
			continue
		}
		route := fields[1]
		path := strings.NewReplacer(":seq", "1.svg", ":lang", "en").Replace(route)
		if strings.HasPrefix(route, "/c/") {
			path = strings.Replace(path, ":id", ck.ID, 1)
		} else {
			path = strings.Replace(path, ":id", l.ID, 1)
		}
		// And an unknown id: the error answers are not framable either.
		unknown := strings.Replace(strings.Replace(path, ck.ID, "co_000000000000000000000000", 1), l.ID, "pl_000000000000000000000000", 1)
		for _, p := range []string{path + "?origin=http://localhost:9", unknown} {
			pages++
			status, hd := e.headersOf(t, p)
			csp := hd.Get("Content-Security-Policy")
			framable := route == "/c/:id/embed" && p != unknown
			switch {
			case framable:
				if hd.Get("X-Frame-Options") != "" || !strings.Contains(csp, "frame-ancestors localhost:* shop.example:8443;") && !strings.HasSuffix(csp, "frame-ancestors localhost:* shop.example:8443") {
					t.Errorf("%s (%d): XFO %q, CSP %q; want framable by the redirect hosts only", p, status, hd.Get("X-Frame-Options"), csp)
				}
			default:
				if hd.Get("X-Frame-Options") != "DENY" || !strings.Contains(csp, "frame-ancestors 'none'") {
					t.Errorf("%s (%d): XFO %q, CSP %q; want no framing", p, status, hd.Get("X-Frame-Options"), csp)
				}
			}
		}
	}
	if pages < 20 {
		t.Fatalf("only %d page answers checked: is the routes list read right?", pages)
	}
}

// TestEmbedView: the framable view shows the amount and the page's code,
// no payer control, and names a parent origin for its completion message
// only when the merchant's redirect hosts allow it.
func TestEmbedView(t *testing.T) {
	e := newPgEnv(t)
	ck := e.newCheckout("native", 4321)
	b := e.browser(uaDesktop, "merchant-site")
	before := e.dbKeys()
	r := b.get("/c/" + ck.ID + "/embed?origin=http://localhost:5173")
	if r.status != 200 {
		t.Fatalf("embed: %d %s", r.status, r.body)
	}
	for _, want := range []string{"¥43.21", `src="/c/` + ck.ID + `/qr.svg"`, `data-page="embed"`, `data-events-url="/c/` + ck.ID + `/events"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("embed view lacks %s", want)
		}
	}
	// No payer control: nothing to pay, check, cancel or post, no token.
	for _, bad := range []string{"data-pay", "data-csrf", "<form", "<button", "/pay", "/check", "shop.example/cancel", string(ck.ClientSecret)} {
		if strings.Contains(r.body, bad) {
			t.Errorf("embed view has %q", bad)
		}
	}
	if got := attr(reParentOrigin, r.body); got != "http://localhost:5173" {
		t.Fatalf("parent origin %q", got)
	}
	for origin, want := range map[string]string{
		"https://shop.example:8443":            "https://shop.example:8443",
		"HTTP://LOCALHOST:1":                   "http://localhost:1",
		"https://shop.example":                 "", // the host is allowed on port 8443 only
		"https://evil.example":                 "",
		"http://localhost.evil.example":        "",
		"http://127.0.0.1:5173":                "",
		"*":                                    "",
		"null":                                 "",
		"javascript:alert(1)":                  "",
		"http://localhost:5173/path":           "",
		"http://user@localhost:5173":           "",
		"http://localhost:5173?x=1":            "",
		"http://localhost:5173#x":              "",
		"http://localhost:5173\"><script>":     "",
		strings.Repeat("http://localhost", 50): "",
		"":                                     "",
	} {
		r := b.get("/c/" + ck.ID + "/embed?origin=" + urlQuery(origin))
		if got := attr(reParentOrigin, r.body); got != want || r.status != 200 {
			t.Errorf("origin %q: %d, parent origin %q, want %q", origin, r.status, got, want)
		}
	}
	if after := e.dbKeys(); after != before {
		t.Fatalf("embed views stored %d keys", after-before)
	}
}

func urlQuery(s string) string {
	return strings.NewReplacer("%", "%25", "&", "%26", "#", "%23", "?", "%3F", "+", "%2B", " ", "%20", `"`, "%22", "<", "%3C", ">", "%3E").Replace(s)
}

// TestEmbedScriptServed: /embed.js is the embedded script, cacheable for
// an hour at a fixed URL.
func TestEmbedScriptServed(t *testing.T) {
	e := newPgEnv(t)
	r := e.browser(uaDesktop, "x").get("/embed.js")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/javascript") ||
		r.header.Get("Cache-Control") != "public, max-age=3600" || !strings.Contains(r.body, `"wallet-checkout"`) {
		t.Fatalf("embed.js: %d %s %s", r.status, r.header.Get("Content-Type"), r.header.Get("Cache-Control"))
	}
}

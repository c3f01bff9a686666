package handlers

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/sessions"
	"github.com/wallet-checkout/checkout/web/templates"
)

// pageHeaders sets what every payer-facing answer carries: never cached
// (the back button must not show a stale unpaid page), a strict CSP, no
// framing, no sniffing, no referrer to third parties. The CSP allows
// nothing to run; an HTML answer replaces it with one that allows its
// own scripts and styles by nonce (pageNonce), so the JSON and stream
// answers, the hot polling path, make no nonce.
func (h *handler) pageHeaders(c *gin.Context) {
	hd := c.Writer.Header()
	// Shared values, set without a copy each: nothing appends to or
	// changes a header's slice in place (Header.Add would reallocate).
	hd["Cache-Control"] = hdrNoStore
	hd["Content-Security-Policy"] = hdrCSPNothing
	hd["X-Content-Type-Options"] = hdrNoSniff
	hd["X-Frame-Options"] = hdrDeny
	hd["Referrer-Policy"] = hdrSameOrigin
	c.Next()
}

// The payer-facing answers' fixed header values (pageHeaders).
var (
	hdrNoStore     = []string{"no-store"}
	hdrCSPNothing  = []string{"default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"}
	hdrNoSniff     = []string{"nosniff"}
	hdrDeny        = []string{"DENY"}
	hdrSameOrigin  = []string{"same-origin"}
	hdrContentHTML = []string{"text/html; charset=utf-8"}
)

// pageNonce is the request's CSP nonce, made on first use together with
// the CSP that allows the page's own scripts and styles by it. Call it
// before the answer is written.
func pageNonce(c *gin.Context) string {
	r := requestOf(c)
	if r.page.nonce != "" {
		return r.page.nonce
	}
	var b [18]byte
	_, _ = rand.Read(b[:])
	var n [24]byte // base64 of 18 bytes, unpadded
	base64.RawURLEncoding.Encode(n[:], b[:])
	// One string for the header, the nonce a part of it.
	csp := cspNonceA + string(n[:]) + cspNonceB + string(n[:]) + cspNonceC
	nonce := csp[len(cspNonceA) : len(cspNonceA)+len(n)]
	r.page.nonce, r.page.csp[0] = nonce, csp
	c.Writer.Header()["Content-Security-Policy"] = r.page.csp[:]
	return nonce
}

// The CSP of an HTML answer, around its nonce (pageNonce).
const (
	cspNonceA = "default-src 'none'; script-src 'self' 'nonce-"
	cspNonceB = "'; style-src 'self' 'nonce-"
	cspNonceC = "'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

// sameOrigin refuses cross-origin state-changing requests (Sec-Fetch-Site
// or Origin say another site sent them): the CSRF token is the second lock.
func (h *handler) sameOrigin(c *gin.Context) {
	if err := h.pages.cop.Check(c.Request); err != nil {
		h.payError(c, errCrossOrigin)
		return
	}
	c.Next()
}

// page is the request's common page data: language and nonce.
func (h *handler) page(c *gin.Context) templates.Page {
	return templates.Page{Lang: payerLang(c), Nonce: pageNonce(c)}
}

// pageBuffers hold rendered pages until they are written: a page goes out
// in one write with its Content-Length, not in the chunks templ would
// flush its small buffer in.
var pageBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledPage is the largest buffer kept for reuse; a rare huge page
// must not pin its memory.
const maxPooledPage = 64 << 10

// render writes a component with the request's nonce, in one write.
func (h *handler) render(c *gin.Context, status int, comp templ.Component) {
	ctx := templ.WithNonce(c.Request.Context(), pageNonce(c))
	h.writePage(c, status, func(buf *bytes.Buffer) error {
		return comp.Render(ctx, buf)
	})
}

// renderCheckoutPage writes the checkout page through the cache of rendered
// pages: the same markup as render(templates.CheckoutPage(v)), without
// running the template when a page with the same view was rendered before.
// The view carries the nonce: the cache splices it in, and gives it to the
// template itself when it renders, so no nonce context is made here.
func (h *handler) renderCheckoutPage(c *gin.Context, v templates.CheckoutView) {
	h.writePage(c, http.StatusOK, func(buf *bytes.Buffer) error {
		return h.pages.rendered.WriteCheckoutPage(c.Request.Context(), buf, v)
	})
}

// writePage writes what fill puts into a pooled buffer in one write, with
// its Content-Length.
func (h *handler) writePage(c *gin.Context, status int, fill func(*bytes.Buffer) error) {
	buf := pageBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledPage {
			pageBuffers.Put(buf)
		}
	}()
	if err := fill(buf); err != nil {
		h.logger(c).Warn("Rendering a page failed", slog.String("path", c.Request.URL.Path), slog.Any("error", err))
	}
	hd := c.Writer.Header()
	hd["Content-Type"] = hdrContentHTML
	r := requestOf(c)
	r.page.contentLength[0] = strconv.Itoa(buf.Len())
	hd["Content-Length"] = r.page.contentLength[:]
	// Straight to the writer: gin's Data would set both headers again,
	// four allocations per page for nothing.
	c.Writer.WriteHeader(status)
	_, _ = c.Writer.Write(buf.Bytes())
	c.Abort()
}

// errorPage renders a payer-facing error; its texts come from the
// catalogue, never from an error value.
func (h *handler) errorPage(c *gin.Context, status int, text errorText, backURL string) {
	p := h.page(c)
	h.render(c, status, templates.ErrorPage(templates.ErrorView{
		Page: p, Status: status,
		Title:   p.T(text.title),
		Message: p.T(text.body),
		BackURL: backURL,
	}))
}

// payError answers a page's fetch with err's answer (failPage), the
// message in the payer's language.
func (h *handler) payError(c *gin.Context, err error) {
	h.failPage(c, err, payerLang(c))
}

// pageFailure answers a page route's failure of its opening steps: a page
// script's fetch (asJSON) with the JSON error, a page with the error page
// text, in the payer's language either way. Answers of 500 and more are
// logged with their cause.
func (h *handler) pageFailure(c *gin.Context, asJSON bool, err error, text errorText) {
	if asJSON {
		h.payError(c, err)
		return
	}
	a, _ := h.resolve(c, err)
	h.errorPage(c, a.status, text, "")
}

// errStoreGone means a live checkout's store is no longer in the
// merchants file.
var errStoreGone = errors.New("store not in the merchants file")

// payerLang is the language of the payer's answers.
func payerLang(c *gin.Context) string {
	return templates.Negotiate(c.GetHeader("Accept-Language"), queryLang(c))
}

// queryLang is the request's ?lang=, "" without a query string (without
// parsing one: gin would make its query map for nothing).
func queryLang(c *gin.Context) string {
	if c.Request.URL.RawQuery == "" {
		return ""
	}
	return c.Query("lang")
}

// explicitLang is the language the request asks for with ?lang=, in its
// catalogue form, "" when it names none (the Accept-Language header then
// decides, as on every request).
func explicitLang(c *gin.Context) string {
	l, _ := templates.ExplicitLang(queryLang(c))
	return l
}

// withLang adds an explicit language choice (explicitLang) to a page's
// path, so that the page it leads to speaks it too.
func withLang(path, lang string) string {
	if lang == "" {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "lang=" + url.QueryEscape(lang)
}

// pageCheckout loads the checkout of /c/:id with its merchant and store
// (for requireCheckout) and, withPayer, the payer: with a session cookie
// the session is read in the same Redis round trip as the checkout (one
// pipeline), without one the payer is a fresh one. The checkout is read
// with Repo.GetCurrent: its state from Redis, its terms from the process's
// cache once read.
// On failure it has already answered (HTML or JSON as asked) and reports
// false.
func (h *handler) pageCheckout(c *gin.Context, asJSON, withPayer bool) (*checkout.Checkout, *checkout.Merchant, *checkout.Store, *sessions.Payer, bool) {
	id := c.Param("id")
	if !checkout.ValidID(id) {
		h.pageFailure(c, asJSON, errNoCheckout, pageNotFound)
		return nil, nil, nil, nil, false
	}
	ctx := c.Request.Context()
	var (
		ck        *checkout.Checkout
		err       error
		loadPayer = freshPayer
	)
	if withPayer && h.pages.Sessions.HasCookie(c.Request) {
		var getCheckout func() (*checkout.Checkout, error)
		err = h.repo.Share(ctx, func(pipe redis.Pipeliner) { // each command keeps its own error
			getCheckout = h.repo.QueueGetCurrent(ctx, pipe, id)
			_, loadPayer = h.pages.Sessions.Queue(ctx, pipe, c.Request)
		})
		if err == nil {
			ck, err = getCheckout()
		}
	} else {
		ck, err = h.repo.GetCurrent(ctx, id)
	}
	if errors.Is(err, checkout.ErrNotFound) {
		h.pageFailure(c, asJSON, errNoCheckout, pageNotFound)
		return nil, nil, nil, nil, false
	}
	if err != nil {
		h.pageFailure(c, asJSON, unavailable("load checkout "+id, err), pageUnavailable)
		return nil, nil, nil, nil, false
	}
	m, ok1 := h.dir.Merchant(ck.MerchantID)
	st, ok2 := h.dir.Store(ck.MerchantID, ck.StoreID)
	if !ok1 || !ok2 {
		// The merchants file changed under a live checkout.
		err := fmt.Errorf("merchant %s, store %s: %w", ck.MerchantID, ck.StoreID, errStoreGone)
		h.pageFailure(c, asJSON, unavailable("checkout "+id, err), pageUnavailable)
		return nil, nil, nil, nil, false
	}
	// The payer's session only once the checkout is known to exist: its
	// renewal (a cookie) never goes out with a "not found".
	payer, err := loadPayer(c.Writer)
	if err != nil {
		h.pageFailure(c, asJSON, unavailable("load the payer session", err), pageUnavailable)
		return nil, nil, nil, nil, false
	}
	return ck, m, st, payer, true
}

// freshPayer is the payer of a request without a session cookie.
func freshPayer(http.ResponseWriter) (*sessions.Payer, error) { return &sessions.Payer{}, nil }

// savePayer stores the session; a failure is logged and the page goes on
// (the payer only loses what this request learned).
func (h *handler) savePayer(c *gin.Context, p *sessions.Payer) bool {
	if err := h.pages.Sessions.Save(c.Writer, c.Request, p); err != nil {
		h.logger(c).Error("Saving the payer session failed", slog.Any("error", err))
		return false
	}
	return true
}

// displayStatus is the status a payer should see: an active checkout past
// its expiry is expired even before the poller has moved it.
func displayStatus(ck *checkout.Checkout, now time.Time) checkout.Status {
	if ck.Status.Active() && !now.Before(ck.ExpiresAt) {
		return checkout.StatusExpired
	}
	return ck.Status
}

// walletsOffered lists the wallets the payer may use: allowed by the
// checkout and enabled for the store, WeChat first.
func walletsOffered(ck *checkout.Checkout, st *checkout.Store) []string {
	wechat := st.WeChat.Enabled && ck.Allows(checkout.MethodWeChat)
	alipay := st.Alipay.Enabled && ck.Allows(checkout.MethodAlipay)
	if !wechat && !alipay {
		return nil
	}
	out := make([]string, 0, 2) // one allocation, not one per wallet
	if wechat {
		out = append(out, string(checkout.MethodWeChat))
	}
	if alipay {
		out = append(out, string(checkout.MethodAlipay))
	}
	return out
}

func hasWallet(ws []string, w checkout.Method) bool {
	for _, x := range ws {
		if x == string(w) {
			return true
		}
	}
	return false
}

// pagePath is the path of one of a checkout's pages.
func pagePath(id, sub string) string {
	if sub == "" {
		return "/c/" + id
	}
	return "/c/" + id + "/" + sub
}

// pagePaths are the paths of the pages a checkout page links to.
type pagePaths struct{ pay, status, events, result, check string }

// pagePathsOf is pagePath of each of the checkout page's links, made in
// one allocation (parts of one string), not five.
func pagePathsOf(id string) pagePaths {
	s := "/c/" + id + "/pay" + "/c/" + id + "/status" + "/c/" + id + "/events" +
		"/c/" + id + "/result" + "/c/" + id + "/check"
	n := len("/c/") + len(id) + 1
	var p pagePaths
	next := func(sub string) string {
		part := s[:n+len(sub)]
		s = s[len(part):]
		return part
	}
	p.pay, p.status, p.events, p.result, p.check = next("pay"), next("status"), next("events"), next("result"), next("check")
	return p
}

// detach gives background work the request's values but not its
// cancellation, bounded by d.
func detach(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

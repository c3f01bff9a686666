package handlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/internal/hostclass"
)

// createRequest is the body of POST /v1/checkouts. Pointers tell "absent"
// from zero.
type createRequest struct {
	Amount         *int64            `json:"amount"`
	OriginalAmount *int64            `json:"original_amount"`
	DiscountAmount *int64            `json:"discount_amount"`
	IgnoreAmount   *int64            `json:"ignore_amount"`
	Description    string            `json:"description"`
	Reference      string            `json:"reference"`
	SuccessURL     string            `json:"success_url"`
	CancelURL      string            `json:"cancel_url"`
	LatePolicy     string            `json:"late_policy"`
	WebhookURL     string            `json:"webhook_url"`
	ExpiresIn      *int64            `json:"expires_in"` // seconds
	Wallets        []string          `json:"wallets"`
	Metadata       map[string]string `json:"metadata"`
	Store          string            `json:"store"`
}

// Limits of the create request not already set by the checkout package.
const (
	maxURLLen            = 2048
	maxIdempotencyKeyLen = 255
)

// decodeCreate parses a create body strictly (decodeStrict).
func decodeCreate(body []byte) (*createRequest, *requestError) {
	var req createRequest
	if err := decodeStrict(body, &req); err != nil {
		return nil, err
	}
	return &req, nil
}

// draftFrom applies every API rule to a decoded request.
func (h *handler) draftFrom(m *checkout.Merchant, liveKey bool, req *createRequest) (*checkout.Draft, *requestError) {
	st, perr := storeFor(m, liveKey, req.Store)
	if perr != nil {
		return nil, perr
	}
	d := &checkout.Draft{MerchantID: m.ID, StoreID: st.ID}

	if req.Amount == nil {
		return nil, invalid("amount", "required: the amount to charge, in fen")
	}
	amount := *req.Amount
	maxAmount := h.maxAmount
	if m.MaxAmount > 0 {
		maxAmount = m.MaxAmount
	}
	// The service's (or the merchant's) ceiling; the breakdown's own rule
	// is the domain's (Amounts.Check).
	if amount > maxAmount {
		return nil, invalid("amount", fmt.Sprintf("must be at most %d fen", maxAmount))
	}
	a := checkout.Amounts{Trade: amount}
	if req.DiscountAmount != nil {
		a.Discount = *req.DiscountAmount
	}
	if req.IgnoreAmount != nil {
		a.Ignore = *req.IgnoreAmount
	}
	if req.OriginalAmount != nil {
		a.Original = *req.OriginalAmount
	} else if a.Discount >= 0 && a.Ignore >= 0 && a.Discount <= checkout.MaxFen && a.Ignore <= checkout.MaxFen {
		// Only parts in range are added up: Check names a part out of
		// range, not an original_amount overflowed from it.
		a.Original = a.Trade + a.Discount + a.Ignore
	}
	if err := a.Check(); err != nil {
		return nil, refusalOf(err)
	}
	d.Amounts = a

	if err := checkout.CheckDescription(req.Description); err != nil {
		return nil, refusalOf(err)
	}
	d.Description = req.Description
	if err := checkout.CheckReference(req.Reference); err != nil {
		return nil, refusalOf(err)
	}
	d.Reference = req.Reference

	for _, u := range []struct {
		name string
		raw  string
		dst  *string
	}{{"success_url", req.SuccessURL, &d.SuccessURL}, {"cancel_url", req.CancelURL, &d.CancelURL}} {
		if u.raw == "" {
			continue
		}
		if msg := checkRedirect(u.raw, m.RedirectHosts); msg != "" {
			return nil, invalid(u.name, msg)
		}
		*u.dst = u.raw
	}

	switch p := checkout.LatePolicy(req.LatePolicy); {
	case p == "", p.Valid():
		d.LatePolicy = checkout.EffectiveLatePolicy(p, st.LatePolicy)
	default:
		return nil, invalid("late_policy", "must be accept or refund")
	}

	d.WebhookURL = m.WebhookURL
	if req.WebhookURL != "" {
		if msg := checkWebhook(req.WebhookURL, h.allowPrivateWebhooks); msg != "" {
			return nil, invalid("webhook_url", msg)
		}
		// Deliveries are signed with the merchant's secrets: without one the
		// events would only ever wait as "not sent".
		if len(m.WebhookSecrets) == 0 {
			return nil, invalid("webhook_url", "the merchant has no webhook secret to sign deliveries with; add webhook.secrets to the merchant in the merchants file first")
		}
		d.WebhookURL = req.WebhookURL
	}

	d.TTL = checkout.DefaultTTL
	if req.ExpiresIn != nil {
		ttl := time.Duration(*req.ExpiresIn) * time.Second
		if *req.ExpiresIn < int64(checkout.MinTTL/time.Second) || *req.ExpiresIn > int64(checkout.MaxTTL/time.Second) {
			return nil, invalid("expires_in", fmt.Sprintf("must be between %d and %d seconds", int64(checkout.MinTTL/time.Second), int64(checkout.MaxTTL/time.Second)))
		}
		d.TTL = ttl
	}

	if d.Wallets, perr = walletsFor(st, req.Wallets); perr != nil {
		return nil, perr
	}

	if err := checkout.CheckMetadata(req.Metadata); err != nil {
		return nil, refusalOf(err)
	}
	if len(req.Metadata) > 0 {
		d.Metadata = req.Metadata
	}
	return d, nil
}

// storeFor is the store a create request names (name, "" for the
// merchant's default), if the API key may use it: live keys only live
// stores, test keys only sandbox ones.
func storeFor(m *checkout.Merchant, liveKey bool, name string) (*checkout.Store, *requestError) {
	st := m.DefaultStore()
	if name != "" {
		var ok bool
		if st, ok = m.Store(name); !ok {
			return nil, invalid("store", "unknown store")
		}
	}
	if st == nil {
		return nil, invalid("store", "the merchant has no store")
	}
	if liveKey == st.Sandbox {
		if liveKey {
			return nil, invalid("store", "a live API key cannot use a sandbox store")
		}
		return nil, invalid("store", "a test API key (sk_test_) can only use sandbox stores")
	}
	return st, nil
}

// walletsFor checks a request's wallets against the store: known, once
// each, and enabled there.
func walletsFor(st *checkout.Store, ws []string) ([]checkout.Method, *requestError) {
	var out []checkout.Method
	seen := map[checkout.Method]bool{}
	for _, w := range ws {
		mw := checkout.Method(w)
		switch {
		case !mw.Valid():
			return nil, invalid("wallets", "each wallet must be wechat or alipay")
		case seen[mw]:
			return nil, invalid("wallets", "a wallet is listed twice")
		case mw == checkout.MethodWeChat && !st.WeChat.Enabled, mw == checkout.MethodAlipay && !st.Alipay.Enabled:
			return nil, invalid("wallets", "the store does not take "+w)
		}
		seen[mw] = true
		out = append(out, mw)
	}
	return out, nil
}

// sampleID stands in for {CHECKOUT_ID} while a URL is checked.
const sampleID = "co_000000000000000000000000"

// checkRedirect accepts only absolute http(s) URLs whose host is one of
// hosts, and returns why not otherwise. It is strict on purpose: browsers
// repair URLs that Go's parser reads differently (backslashes, spaces, tabs),
// so anything unusual is refused instead of interpreted.
func checkRedirect(raw string, hosts []string) string {
	u, msg := parseAbsolute(raw)
	if msg != "" {
		return msg
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	port := u.Port()
	for _, allowed := range hosts {
		allowed = strings.ToLower(strings.TrimSpace(allowed))
		ah, ap, err := net.SplitHostPort(allowed)
		if err != nil {
			// No port in the entry: any port of that host.
			ah, ap = strings.Trim(allowed, "[]"), ""
		}
		ah = strings.TrimSuffix(ah, ".")
		if ah != "" && ah == host && (ap == "" || ap == port) {
			return ""
		}
	}
	return "host " + host + " is not one of the merchant's allowed redirect hosts"
}

// checkWebhook accepts absolute https URLs without credentials whose host is
// not internal (hostclass), the rule the merchants file applies to webhook
// URLs; allowPrivate (development) also accepts http and private hosts.
// Names are resolved, and refused if private, only when a webhook is
// delivered; refusing literal addresses here tells the merchant at once
// instead of at every failed delivery.
func checkWebhook(raw string, allowPrivate bool) string {
	u, msg := parseAbsolute(raw)
	if msg != "" || allowPrivate {
		return msg
	}
	if u.Scheme != "https" {
		return "must be an https:// URL"
	}
	if hostclass.Of(u.Hostname()).Internal() {
		return "must not point at a loopback or private address"
	}
	return ""
}

func parseAbsolute(raw string) (*url.URL, string) {
	if len(raw) > maxURLLen {
		return nil, fmt.Sprintf("must be at most %d bytes", maxURLLen)
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return nil, "must not contain spaces, control characters or backslashes"
		}
	}
	lower := strings.ToLower(raw)
	if !strings.HasPrefix(lower, "https://") && !strings.HasPrefix(lower, "http://") {
		return nil, "must be an absolute http:// or https:// URL"
	}
	u, err := url.Parse(strings.ReplaceAll(raw, checkout.CheckoutIDPlaceholder, sampleID))
	if err != nil {
		return nil, "is not a valid URL"
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https", u.Opaque != "":
		return nil, "must be an absolute http:// or https:// URL"
	case u.User != nil:
		return nil, "must not contain a user name or password"
	case u.Host == "" || u.Hostname() == "":
		return nil, "must have a host"
	case strings.ContainsAny(u.Host, "%@"):
		return nil, "has an invalid host"
	case !validPort(u.Port()):
		return nil, "has an invalid port (1-65535)"
	}
	return u, ""
}

// validPort reports whether a URL's port is absent or 1-65535 in decimal.
func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535 && p[0] != '0'
}

// createCheckout is POST /v1/checkouts.
func (h *handler) createCheckout(c *gin.Context) {
	m := merchantOf(c)
	ctx := c.Request.Context()
	body, err := readJSON(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	idemKey := c.GetHeader("Idempotency-Key")
	if idemKey != "" {
		if !validIdempotencyKey(idemKey) {
			h.fail(c, invalid("Idempotency-Key", fmt.Sprintf("Idempotency-Key must be 1-%d printable ASCII characters", maxIdempotencyKeyLen)))
			return
		}
		rep, err := h.repo.BeginIdempotent(ctx, m.ID, idemKey, body)
		if err != nil {
			h.fail(c, unavailable("idempotency check", err))
			return
		}
		if rep != nil {
			c.Header("Idempotent-Replayed", "true")
			c.Data(rep.Status, "application/json; charset=utf-8", rep.Body)
			return
		}
	}
	fail := func(err error) {
		if idemKey != "" {
			// The request changed nothing: let the merchant retry with the same key.
			if err := h.repo.ReleaseIdempotent(context.WithoutCancel(ctx), m.ID, idemKey); err != nil {
				h.logger(c).Warn("Cannot release an idempotency key", slog.Any("error", err))
			}
		}
		h.fail(c, err)
	}
	req, perr := decodeCreate(body)
	if perr != nil {
		fail(perr)
		return
	}
	d, perr := h.draftFrom(m, liveKeyOf(c), req)
	if perr != nil {
		fail(perr)
		return
	}
	h.insert(c, m, d, idemKey, fail)
}

func (h *handler) insert(c *gin.Context, m *checkout.Merchant, d *checkout.Draft, idemKey string, fail func(error)) {
	co, err := checkout.NewCheckout(d, h.now())
	if err != nil {
		fail(err)
		return
	}
	// Written by hand, as encoding/json would (appendCheckoutJSON).
	view := h.checkoutView(co)
	body, err := appendCheckoutJSON(make([]byte, 0, 768), &view)
	if err != nil {
		fail(err)
		return
	}
	var idem *checkout.IdempotentResponse
	if idemKey != "" {
		idem = &checkout.IdempotentResponse{MerchantID: m.ID, Key: idemKey, Status: http.StatusCreated, Body: body}
	}
	if err := h.repo.Create(c.Request.Context(), co, idem); err != nil {
		fail(unavailableWith("the checkout could not be stored; retry", "store checkout", err))
		return
	}
	// The access line says what was made (checkout_id, amount, besides
	// the merchant): one line per create instead of a line of its own.
	requestOf(c).api.created = co
	c.Writer.Header()["Location"] = []string{"/v1/checkouts/" + co.ID}
	writeJSON(c, http.StatusCreated, body)
}

// validIdempotencyKey: 1 to maxIdempotencyKeyLen printable ASCII characters.
func validIdempotencyKey(key string) bool {
	return key != "" && len(key) <= maxIdempotencyKeyLen && strings.IndexFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) < 0
}

// readJSON checks that the body, if typed, is JSON in UTF-8 (the only
// charset JSON has: RFC 8259) and reads it (readBody).
func readJSON(c *gin.Context) ([]byte, error) {
	// The usual values, spelled exactly so, need no parsing: they are what
	// mime.ParseMediaType accepts as JSON in UTF-8.
	if ct := c.GetHeader("Content-Type"); ct != "" && ct != "application/json" && ct != "application/json; charset=utf-8" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, errMediaType
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return nil, errMediaType
		}
	}
	return readBody(c)
}

// readBody reads the whole body up to maxBodyBytes: beyond, the answer is
// 413 body_too_large; a body that cannot be read otherwise (the client went
// away, a broken chunked encoding) is 400 invalid_body.
func readBody(c *gin.Context) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, bodyTooLarge(tooBig.Limit)
	case err != nil:
		return nil, errUnreadable.because(err)
	}
	return b, nil
}

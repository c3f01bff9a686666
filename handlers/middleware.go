package handlers

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
)

const headerRequestID = "X-Request-Id"

// serve is the one middleware every request passes, in place of a chain
// of five (each a gin frame, and the request id's context a value and a
// logger of its own): it takes a sane X-Request-Id from the caller or
// makes one, and echoes it, so a merchant can quote it to support; the
// request's context carries the id (logFrom gives a logger with it), and
// every log line of the request names it, nothing else (never a header,
// key or secret). It asks browsers for https only when the service is
// served over https (HSTS), keeps every merchant API answer out of caches
// (some carry a client_secret, none is worth keeping), turns a panic into
// a JSON 500 and a log line with the stack, and logs one access line per
// request, in that order.
func (h *handler) serve(c *gin.Context) {
	start := time.Now()
	id := c.GetHeader(headerRequestID)
	if !validRequestID(id) {
		id = newRequestID()
	}
	r := h.withRequestState(c, id)
	hd := c.Writer.Header()
	// Slices of the request's own state or shared constants, not a copy
	// per header: nothing appends to or changes a header's slice in place
	// (Header.Add would reallocate).
	hd[headerRequestID] = r.idHeader[:]
	if h.https {
		hd["Strict-Transport-Security"] = hdrHSTS
	}
	if p := c.Request.URL.Path; p == "/v1" || strings.HasPrefix(p, "/v1/") {
		hd["Cache-Control"] = hdrNoStore
	}
	h.recovering(c)
	h.accessLine(c, r, start)
}

// withRequestState makes the request's own state (requestLog) with id and
// puts it in c's request as its context (serve; a test that calls a
// handler on a bare gin context).
func (h *handler) withRequestState(c *gin.Context, id string) *requestLog {
	r := &requestLog{Context: c.Request.Context(), id: id, base: h.log}
	r.idHeader[0] = id
	c.Request = c.Request.WithContext(r)
	return r
}

// hdrHSTS is one year, the common preload-free setting.
var hdrHSTS = []string{"max-age=31536000"}

// requestIDs makes the ids of requests that bring none: a random prefix
// per process and a counter, so that ids stay unique across replicas and
// restarts without reading the system's random source on every request.
// They are names, not secrets.
var requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func init() { requestIDs.prefix = "req_" + rand.Text()[:13] }

// base32 is the alphabet of request ids (rand.Text's).
const base32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// newRequestID is "req_", the process's 13 random characters, and the
// request's number in 13 more (65 bits: it never wraps).
func newRequestID() string {
	var b [4 + 13 + 13]byte
	copy(b[:], requestIDs.prefix)
	n := requestIDs.n.Add(1)
	for i := len(b) - 1; i >= 4+13; i-- {
		b[i] = base32[n&31]
		n >>= 5
	}
	return string(b[:])
}

// requestLog is the request's logging context: its id, the service's
// logger, and that logger with the id, made on first use. Most requests log only their access line,
// which names the id itself: a logger per request (slog's With formats
// the id ahead) would be made for nothing.
//
// It is the request's context itself (the one allocation for both), and
// holds what the merchant API's authentication (apiState) and the page
// routes (pageState) load and make per request, which gin's c.Set would
// keep in a map made per request, behind a lock.
type requestLog struct {
	context.Context
	id       string
	base     *slog.Logger
	log      atomic.Pointer[slog.Logger]
	idHeader [1]string
	api      apiState
	page     pageState
}

// apiState is what authenticate learns of a merchant API request, and
// what a create made: the access line names both.
type apiState struct {
	// merchant is the authenticated merchant, nil before authenticate.
	merchant *checkout.Merchant
	// keyID is the API key's public id (APIKeyFor), which names its rate
	// limit; never the key.
	keyID string
	// live is whether the key is a live one (not a sandbox key).
	live bool
	// created is the checkout a create made (createCheckout): its access
	// line names it, so that a create logs one line, not two.
	created *checkout.Checkout
}

// Value is the request's logging context for loggerKey, else the
// request's own values.
func (r *requestLog) Value(key any) any {
	if key == (loggerKey{}) {
		return r
	}
	return r.Context.Value(key)
}

// requestOf is the state serve made for c's request. Every route of the
// service passes serve (routes); outside it (a bare engine) it is nil, and
// the accessors of what the state holds would panic.
func requestOf(c *gin.Context) *requestLog {
	ctx := c.Request.Context()
	if r, ok := ctx.(*requestLog); ok {
		return r
	}
	r, _ := ctx.Value(loggerKey{}).(*requestLog)
	return r
}

// logger is the service's logger with the request's id, made once (a
// detached goroutine may ask at the same time as the request: either's
// logger will do).
func (r *requestLog) logger() *slog.Logger {
	if l := r.log.Load(); l != nil {
		return l
	}
	l := r.base.With(slog.String("request_id", r.id))
	r.log.Store(l)
	return l
}

// router is the service's gin engine behind the one check that must come
// before routing: gin decodes and cleans the path, and may redirect it,
// before any middleware runs, so /notify/..%2f..%2fv1%2fcheckouts would
// reach /v1/checkouts (or be redirected there) and slip past a proxy that
// filters by path prefix. A path with an encoded '/', '\' or '.' (%2f,
// %5c, %2e) is refused; no route of ours needs one. A plain trailing or
// doubled slash is not an attack: gin's handling of those stays.
type router struct{ *gin.Engine }

func (r router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if encodedSeparator(req) {
		a := errEncodedPath.answer
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(a.status)
		_ = json.NewEncoder(w).Encode(errorBody{apiError{Code: a.code, Message: a.message}})
		return
	}
	r.Engine.ServeHTTP(w, req)
}

// encodedSeparator reports whether the request's path, as sent, has an
// encoded '/', '\' or '.'.
func encodedSeparator(req *http.Request) bool {
	raw, _, _ := strings.Cut(req.RequestURI, "?")
	if raw == "" {
		raw = req.URL.EscapedPath()
	}
	// Every request passes here: search without lowering a copy.
	for i := strings.IndexByte(raw, '%'); i >= 0 && i+2 < len(raw); {
		switch raw[i+1] {
		case '2':
			if c := raw[i+2] | 0x20; c == 'f' || c == 'e' {
				return true
			}
		case '5':
			if raw[i+2]|0x20 == 'c' {
				return true
			}
		}
		j := strings.IndexByte(raw[i+1:], '%')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// loggerKey is the context key of the request's logger.
type loggerKey struct{}

// logFrom is the logger of the request ctx belongs to (or was detached
// from), with its request_id; the service's logger outside a request.
func (h *handler) logFrom(ctx context.Context) *slog.Logger {
	if r, ok := ctx.Value(loggerKey{}).(*requestLog); ok {
		return r.logger()
	}
	return h.log
}

// logLine logs one line of the request at level with its request_id,
// without making the request's logger: a request that logs once (a
// create) need not pay for a logger made With the id.
func (h *handler) logLine(c *gin.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	ctx := c.Request.Context()
	r, ok := ctx.Value(loggerKey{}).(*requestLog)
	if !ok {
		h.log.LogAttrs(ctx, level, msg, attrs...)
		return
	}
	if l := r.log.Load(); l != nil {
		l.LogAttrs(ctx, level, msg, attrs...)
		return
	}
	if !r.base.Enabled(ctx, level) {
		return
	}
	// Straight to the handler, as the access line: no stack walk for a
	// source the lines never show.
	rec := slog.NewRecord(time.Now(), level, msg, 0)
	rec.AddAttrs(slog.String("request_id", r.id))
	rec.AddAttrs(attrs...)
	_ = r.base.Handler().Handle(ctx, rec)
}

// logger is the request's logger: every handler logs through it.
func (h *handler) logger(c *gin.Context) *slog.Logger {
	return h.logFrom(c.Request.Context())
}

func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// accessLine logs one line for the request serve began at start. It logs
// the path, never the query string or headers (the Authorization header
// carries the API key).
func (h *handler) accessLine(c *gin.Context, r *requestLog, start time.Time) {
	ctx := c.Request.Context()
	level := slog.LevelInfo
	if c.Writer.Status() >= 500 {
		level = slog.LevelError
	}
	if !h.log.Enabled(ctx, level) {
		return
	}
	end := time.Now()
	// A record handed to the handler directly: Logger.LogAttrs would walk
	// the stack for a source line that the access line never shows, on
	// every request.
	rec := slog.NewRecord(end, level, "Request", 0)
	// The request's id as the line's first attribute, where a logger
	// made With it would put it, without making one.
	rec.AddAttrs(
		slog.String("request_id", r.id),
		slog.String("method", c.Request.Method),
		slog.String("path", c.Request.URL.Path),
		slog.String("route", c.FullPath()),
		slog.Int("status", c.Writer.Status()),
		slog.Int("bytes", c.Writer.Size()),
		slog.Float64("duration_ms", float64(end.Sub(start).Microseconds())/1000),
		slog.String("client_ip", c.ClientIP()),
	)
	if m := r.api.merchant; m != nil {
		rec.AddAttrs(slog.String("merchant_id", m.ID))
	}
	if co := r.api.created; co != nil {
		rec.AddAttrs(slog.String("checkout_id", co.ID), slog.Int64("amount", co.Amounts.Trade))
	}
	_ = h.log.Handler().Handle(ctx, rec)
}

// recovering runs the rest of the chain, turning a panic into a JSON 500
// and a log line with the stack (serve).
func (h *handler) recovering(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
			panic(v)
		}
		h.logger(c).Error("Panic while serving a request",
			slog.Any("panic", v),
			slog.String("stack", string(debug.Stack())))
		if !c.Writer.Written() {
			abortWith(c, internalAnswer)
			return
		}
		c.Abort()
	}()
	c.Next()
}

// authenticate checks the Bearer API key and remembers the merchant.
func (h *handler) authenticate(c *gin.Context) {
	auth := c.GetHeader("Authorization")
	scheme, key, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || key == "" {
		h.authFailed(c, errNoAuth, `Bearer realm="checkout"`)
		return
	}
	key = strings.TrimSpace(key)
	m, ok := h.dir.Authenticate(key)
	if !ok {
		h.authFailed(c, errBadKey, `Bearer realm="checkout", error="invalid_token"`)
		return
	}
	a := &requestOf(c).api
	a.merchant = m
	// The key's public id, never the key, names its rate limit (the id
	// APIKeyFor gives, without hashing the key a second time).
	a.keyID = key[:min(len(key), checkout.APIKeyIDLen)]
	a.live = strings.HasPrefix(key, checkout.LiveKeyPrefix)
	c.Next()
}

// merchantOf is the merchant authenticate authenticated.
func merchantOf(c *gin.Context) *checkout.Merchant { return requestOf(c).api.merchant }

// liveKeyOf reports whether the request's API key is a live one
// (authenticate).
func liveKeyOf(c *gin.Context) bool { return requestOf(c).api.live }

// keyIDOf is the request's API key's public id (authenticate).
func keyIDOf(c *gin.Context) string { return requestOf(c).api.keyID }

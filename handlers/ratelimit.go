package handlers

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/web/templates"
)

// RateLimits are the service's abuse limits (CHECKOUT_RATE_*), each a GCRA
// limit in Redis under one key (redis_rate: one key per script, so any
// topology works). A zero Limit is off.
type RateLimits struct {
	// API counts the merchant API's requests per API key (its public id),
	// after authentication, on every /v1 route.
	API redis_rate.Limit
	// AuthFailures counts failed authentications (401) per client address;
	// beyond it the address's failing requests get 429.
	AuthFailures redis_rate.Limit
	// Payer counts each payer action (pay, check, the mini-program
	// payment) per checkout and client address: keyed by checkout as
	// well, so that payers behind one carrier NAT address do not share.
	Payer redis_rate.Limit
	// Prefix starts the limiter's own part of every key (app.Config.Prefix);
	// redis_rate puts "rate:" in front of it.
	Prefix string
}

// authWarnEvery is how long one warning about an address that keeps
// failing authentication stands for that address (across replicas).
const authWarnEvery = 10 * time.Minute

// limiterLogEvery bounds the log lines about a failing limiter: it fails
// open, and a Redis outage must not flood the log.
const limiterLogEvery = time.Minute

// limiter applies RateLimits, its Redis calls coalesced per key and its
// refusals remembered (coalescer). A Redis failure lets the request
// through (fail open) and is logged at most once per limiterLogEvery.
type limiter struct {
	co     *coalescer
	rdb    redis.UniversalClient
	limits RateLimits
	log    *slog.Logger
	obs    Observer
	// lastFailLog is when (Unix ns, wall clock) a failure was last logged.
	lastFailLog atomic.Int64
}

func newLimiter(rdb redis.UniversalClient, limits RateLimits, log *slog.Logger) *limiter {
	return &limiter{co: newCoalescer(redis_rate.NewLimiter(rdb)), rdb: rdb, limits: limits, log: log, obs: nopObserver{}}
}

// errRateLimited is the refusal of a request over a limit. Its
// Retry-After, which differs from request to request, is set by allow with
// the RateLimit-* headers.
var errRateLimited = refusal(http.StatusTooManyRequests, "rate_limited", apiErrorMessage(templates.LangEn, "rate_limited"), "")

func ceilSeconds(d time.Duration, least int) int {
	return max(least, int(math.Ceil(d.Seconds())))
}

// allow takes one request from key's budget under limit. It reports false
// when the request is over the limit, having set Retry-After (whole
// seconds, rounded up, at least 1); the caller answers errRateLimited. It
// reports true when the request may go on: the limit is off, the request
// is within it, or the limiter fails (fail open). The RateLimit-* headers
// are set whenever the limiter answered.
func (l *limiter) allow(c *gin.Context, what, key string, limit redis_rate.Limit) bool {
	if limit.IsZero() {
		return true
	}
	v, err := l.co.allow(c.Request.Context(), l.limits.Prefix+key, limit)
	if err != nil {
		l.failedOpen(c.Request.Context(), what, err)
		return true
	}
	setRateHeaders(c, v)
	if v.allowed {
		return true
	}
	c.Writer.Header()["Retry-After"] = []string{strconv.Itoa(ceilSeconds(v.retryAfter, 1))}
	l.obs.RateLimited(what)
	return false
}

// setRateHeaders sets RateLimit-Limit (the requests allowed at once),
// RateLimit-Remaining and RateLimit-Reset (seconds until the budget is
// whole again). The names are canonical already: assigned directly, they
// cost no canonicalisation.
func setRateHeaders(c *gin.Context, v rateVerdict) {
	h := c.Writer.Header()
	h["Ratelimit-Limit"] = []string{strconv.Itoa(v.limit)}
	h["Ratelimit-Remaining"] = []string{strconv.Itoa(max(0, v.remaining))}
	h["Ratelimit-Reset"] = []string{strconv.Itoa(ceilSeconds(v.resetAfter, 0))}
}

// failedOpen logs a failure of the limiter, at most once per
// limiterLogEvery in this process; a request the client gave up on is no
// failure of the limiter.
func (l *limiter) failedOpen(ctx context.Context, what string, err error) {
	if ctx.Err() != nil {
		return
	}
	now := time.Now().UnixNano()
	last := l.lastFailLog.Load()
	if now-last < int64(limiterLogEvery) || !l.lastFailLog.CompareAndSwap(last, now) {
		return
	}
	l.log.WarnContext(ctx, "Rate limiter unavailable; letting requests through",
		slog.String("limit", what), slog.Any("error", err))
}

// limitAPI is the per-key limit of the merchant API (after authenticate).
func (h *handler) limitAPI(c *gin.Context) {
	m := merchantOf(c)
	if !h.limiter.allow(c, "api", "api:"+m.ID+":"+keyIDOf(c), h.limiter.limits.API) {
		h.fail(c, errRateLimited)
		return
	}
	c.Next()
}

// authFailed counts a failed authentication of the client's address and
// answers it: 401 (err, with the WWW-Authenticate challenge) within the
// limit, 429 beyond it, with one warning per address per authWarnEvery
// while it keeps failing. Only failures count: a right key from the same
// address (another server behind the same egress) still gets in.
func (h *handler) authFailed(c *gin.Context, err error, challenge string) {
	l := h.limiter
	ip := clientAddress(c)
	if l.allow(c, "auth_failures", "auth:"+ip, l.limits.AuthFailures) {
		c.Header("WWW-Authenticate", challenge)
		h.fail(c, err)
		return
	}
	warn, werr := l.rdb.SetNX(c.Request.Context(), l.limits.Prefix+"rl:authwarn:"+ip, "1", authWarnEvery).Result()
	if werr != nil {
		l.failedOpen(c.Request.Context(), "auth_failures warning", werr)
	} else if warn {
		h.logger(c).Warn("An address keeps failing authentication; refusing it with 429",
			slog.String("client_ip", ip), slog.String("limit", l.limits.AuthFailures.String()))
	}
	h.fail(c, errRateLimited)
}

// limitPayer is the per checkout and address limit of a payer's action on
// the page (after requireCheckout): the refusal in the payer's language.
func (h *handler) limitPayer(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !h.allowPayer(c, action, pageCheckoutOf(c).ID) {
			h.payError(c, errRateLimited)
			return
		}
		c.Next()
	}
}

// limitOAuth is the per checkout and address limit of a wallet's OAuth
// callback (after requireCheckoutPayer). Each callback spends an OAuth
// state and leaves its used-marker in Redis for minutes, so their rate is
// what bounds those keys. A browser lands here: the refusal is the error
// page in the payer's language, with Retry-After.
func (h *handler) limitOAuth(wallet string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !h.allowPayer(c, "oauth-"+wallet, pageCheckoutOf(c).ID) {
			h.pageFailure(c, false, errRateLimited, pageRateLimited)
			return
		}
		c.Next()
	}
}

// allowPayer takes one of action's requests on checkoutID from the
// client address's budget.
func (h *handler) allowPayer(c *gin.Context, action, checkoutID string) bool {
	return h.limiter.allow(c, "payer", "payer:"+action+":"+checkoutID+":"+clientAddress(c), h.limiter.limits.Payer)
}

// clientAddress is what the per-address limits count by: the client's IP
// (c.ClientIP, which believes X-Forwarded-For only from trusted proxies),
// an IPv6 address as its /64, the block one subscriber usually holds.
func clientAddress(c *gin.Context) string {
	ip := c.ClientIP()
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Unmap().Is4() {
		return ip
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

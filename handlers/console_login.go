package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-redis/redis_rate/v10"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/console"
	"github.com/wallet-checkout/checkout/sessions"
	"github.com/wallet-checkout/checkout/web/templates"
)

// ConsoleDeps are what the merchant console needs (console_*.go). Without
// Sessions the console is not served.
type ConsoleDeps struct {
	// Sessions keeps console sessions, apart from payers'.
	Sessions *sessions.ConsoleStore
	// LoginPerAddress and LoginPerAccount bound sign-in attempts per
	// client address and per email (known or not); zero means the
	// defaults below.
	LoginPerAddress, LoginPerAccount redis_rate.Limit
	// Prefix starts the console's own Redis keys (the one-time codes
	// used), like app.Config.Prefix.
	Prefix string
	// Audit is the console's audit log (required with Sessions).
	Audit *console.Audit
}

// The default sign-in limits: an account is locked after 5 attempts in 15
// minutes (the page says 15 minutes), an address after 30 an hour, which a
// shop's shared office address does not reach by mistake.
var (
	defaultLoginPerAccount = redis_rate.Limit{Rate: 5, Burst: 5, Period: 15 * time.Minute}
	defaultLoginPerAddress = redis_rate.Limit{Rate: 30, Burst: 30, Period: time.Hour}
)

// consoleCSRFScope binds the console's CSRF tokens (sessions.CSRF, whose
// first field is a checkout id on the payer pages) to the console: a payer
// page's token is never a console token.
const (
	consoleLoginScope = "console:login"
	consoleScope      = "console"
)

// Form limits: a field beyond them is refused before any work.
const (
	maxEmailLen = 254
	totpUsedTTL = 2 * time.Minute
)

// consoleCtx keys.
const ctxConsoleUser = "console_user"

// consoleUser is the signed-in user of a console request.
type consoleUser struct {
	merchant  *checkout.Merchant
	user      *checkout.ConsoleUser
	sessionID string
}

func (h *handler) consoleRoutes(r *gin.Engine, d ConsoleDeps) {
	if d.Sessions == nil {
		return
	}
	if d.LoginPerAccount.IsZero() {
		d.LoginPerAccount = defaultLoginPerAccount
	}
	if d.LoginPerAddress.IsZero() {
		d.LoginPerAddress = defaultLoginPerAddress
	}
	if d.Audit == nil {
		d.Audit = console.NewAudit(h.rdb, d.Prefix, 0, h.now)
	}
	h.console = &d
	g := r.Group("/console", h.pageHeaders)
	g.GET("/login", h.showConsoleLogin)
	g.POST("/login", h.sameOriginConsole, h.consoleLogin)
	signedIn := g.Group("", h.requireConsole)
	signedIn.GET("/", h.showConsoleHome)
	signedIn.GET("/audit", h.showConsoleAudit)
	signedIn.GET("/payments", h.showConsolePayments)
	signedIn.GET("/payments/:id", h.showConsolePayment)
	h.consolePaymentRoutes(signedIn)
	signedIn.POST("/logout", h.sameOriginConsole, h.requireConsoleCSRF, h.consoleLogout)
}

// sameOriginConsole refuses a cross-origin POST with the console's 403
// page: SameSite=Strict and the CSRF token are the other locks.
func (h *handler) sameOriginConsole(c *gin.Context) {
	if err := h.pages.cop.Check(c.Request); err != nil {
		h.errorPage(c, http.StatusForbidden, pageForbidden, "")
		return
	}
	c.Next()
}

func (h *handler) loginView(c *gin.Context) templates.ConsoleLoginView {
	return templates.ConsoleLoginView{Page: h.page(c), CSRF: h.pages.CSRF.Token(consoleLoginScope, "", h.now())}
}

func (h *handler) showConsoleLogin(c *gin.Context) {
	if u, _, err := h.console.Sessions.Load(c.Request); err == nil && u != nil {
		c.Redirect(http.StatusSeeOther, "/console/")
		return
	}
	h.render(c, http.StatusOK, templates.ConsoleLoginPage(h.loginView(c)))
}

// consoleLogin checks a sign-in. Every failure gets the same page and
// status, and an unknown email costs the same password hashing as a known
// one (console.VerifyDecoy), so neither the answer nor its time says which
// emails are users. Attempts are limited per address and per email before
// any hashing.
func (h *handler) consoleLogin(c *gin.Context) {
	v := h.loginView(c)
	email := strings.ToLower(strings.TrimSpace(c.PostForm("email")))
	password := c.PostForm("password")
	code := strings.TrimSpace(c.PostForm("totp"))
	if len(email) > maxEmailLen || len(password) > console.MaxPasswordLen || len(code) > 6 {
		v.Failed = true
		h.render(c, http.StatusBadRequest, templates.ConsoleLoginPage(v))
		return
	}
	v.Email = email
	if !h.pages.CSRF.Check(c.PostForm("csrf"), consoleLoginScope, "", h.now()) {
		v.Expired = true
		h.render(c, http.StatusForbidden, templates.ConsoleLoginPage(v))
		return
	}
	sum := sha256.Sum256([]byte(email))
	account := hex.EncodeToString(sum[:16])
	if !h.limiter.allow(c, "console_login_address", "console:login:addr:"+clientAddress(c), h.console.LoginPerAddress) ||
		!h.limiter.allow(c, "console_login_account", "console:login:acct:"+account, h.console.LoginPerAccount) {
		v.Locked = true
		h.render(c, http.StatusTooManyRequests, templates.ConsoleLoginPage(v))
		return
	}
	m, u, ok := h.dir.ConsoleUser(email)
	if !ok {
		console.VerifyDecoy(password)
	} else {
		ok = console.VerifyPassword(password, u.PasswordHash)
		if ok && u.TOTPSecret != "" {
			ok = h.useTOTP(c, u, code)
		}
	}
	if !ok {
		h.logger(c).Info("Console sign-in refused", "client_ip", c.ClientIP())
		v.Failed = true
		h.render(c, http.StatusUnauthorized, templates.ConsoleLoginPage(v))
		return
	}
	if _, err := h.console.Sessions.Begin(c.Writer, c.Request, m.ID, u.Email); err != nil {
		h.logger(c).Error("Console session not saved", "error", err)
		h.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
		return
	}
	h.logger(c).Info("Console sign-in", "merchant", m.ID, "user", u.Email, "client_ip", c.ClientIP())
	h.audit(c, m.ID, u.Email, "sign_in", "", "")
	c.Redirect(http.StatusSeeOther, "/console/")
}

// useTOTP checks the user's one-time code and spends it: a code signs in
// once, even within its 30 seconds (SET NX of its step).
func (h *handler) useTOTP(c *gin.Context, u *checkout.ConsoleUser, code string) bool {
	step, ok := console.VerifyTOTP(code, u.TOTPSecret.Reveal(), h.now())
	if !ok {
		return false
	}
	key := h.console.Prefix + "console:totp:" + u.Email + ":" + strconv.FormatInt(step, 10)
	fresh, err := h.rdb.SetNX(c.Request.Context(), key, 1, totpUsedTTL).Result()
	if err != nil {
		// Fail closed: a sign-in can wait for Redis; a replayed code must
		// not pass.
		h.logger(c).Warn("Console one-time code not recorded", "error", err)
		return false
	}
	return fresh
}

// requireConsole loads the signed-in user, as the directory has it now (a
// reload that removes the user ends the session), or sends the browser to
// the sign-in page.
func (h *handler) requireConsole(c *gin.Context) {
	s, id, err := h.console.Sessions.Load(c.Request)
	if err != nil {
		h.logger(c).Warn("Console session not loaded", "error", err)
	}
	if s == nil {
		c.Redirect(http.StatusSeeOther, "/console/login")
		c.Abort()
		return
	}
	m, u, ok := h.dir.ConsoleUser(s.Email)
	if !ok || m.ID != s.MerchantID {
		_ = h.console.Sessions.End(c.Writer, c.Request)
		c.Redirect(http.StatusSeeOther, "/console/login")
		c.Abort()
		return
	}
	c.Set(ctxConsoleUser, &consoleUser{merchant: m, user: u, sessionID: id})
	c.Next()
}

func signedInUser(c *gin.Context) *consoleUser {
	v, _ := c.Get(ctxConsoleUser)
	u, _ := v.(*consoleUser)
	return u
}

// requireConsoleCSRF checks a signed-in form's token, bound to the session.
func (h *handler) requireConsoleCSRF(c *gin.Context) {
	u := signedInUser(c)
	if u == nil || !h.pages.CSRF.Check(c.PostForm("csrf"), consoleScope, u.sessionID, h.now()) {
		h.errorPage(c, http.StatusForbidden, pageForbidden, "")
		return
	}
	c.Next()
}

func (h *handler) showConsoleHome(c *gin.Context) {
	u := signedInUser(c)
	h.render(c, http.StatusOK, templates.ConsoleHomePage(templates.ConsoleHomeView{
		Page: h.page(c), MerchantName: u.merchant.Name, Email: u.user.Email, Role: string(u.user.Role),
		CSRF: h.pages.CSRF.Token(consoleScope, u.sessionID, h.now()),
	}))
}

func (h *handler) consoleLogout(c *gin.Context) {
	if u := signedInUser(c); u != nil {
		h.audit(c, u.merchant.ID, u.user.Email, "sign_out", "", "")
	}
	if err := h.console.Sessions.End(c.Writer, c.Request); err != nil {
		h.logger(c).Warn("Console session not ended", "error", err)
	}
	c.Redirect(http.StatusSeeOther, "/console/login")
}

// audit writes an entry to the merchant's audit log. A sign-in or
// sign-out whose entry fails is logged and still done; an action that
// moves money records its entry before answering (console_refund).
func (h *handler) audit(c *gin.Context, merchantID, actor, action, target, detail string) {
	err := h.console.Audit.Record(c.Request.Context(), merchantID, console.AuditEntry{
		Actor: actor, Action: action, Target: target, Detail: detail, Address: c.ClientIP(),
	})
	if err != nil {
		h.logger(c).Warn("Console audit entry not written", "merchant", merchantID, "action", action, "error", err)
	}
}

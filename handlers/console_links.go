package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/web/qrcode"
	"github.com/wallet-checkout/checkout/web/templates"
)

// consoleLinksPage is how many links one page of the list shows.
const consoleLinksPage = 50

// maxConsoleLinkField bounds a link form's fields before any parsing.
const maxConsoleLinkField = 4096

func (o *consoleOps) linkRoutes(g *gin.RouterGroup) {
	g.GET("/links", o.showLinks)
	g.GET("/links/new", o.requireAdmin, o.showNewLink)
	g.GET("/links/:id", o.showLink)
	g.GET("/links/:id/qr.svg", o.consoleLinkCode(formatSVG))
	g.GET("/links/:id/qr.png", o.consoleLinkCode(formatPNG))
	admin := g.Group("", o.sameOriginConsole, o.requireConsoleCSRF, o.requireAdmin)
	admin.POST("/links", o.createConsoleLink)
	admin.POST("/links/:id", o.updateConsoleLink)
	admin.POST("/links/:id/deactivate", o.deactivateConsoleLink)
}

// requireAdmin refuses what only an admin may do (payment links), on the
// server: a viewer's or support user's POST is a 403 whatever the page
// showed.
func (o *consoleOps) requireAdmin(c *gin.Context) {
	if u := signedInUser(c); u == nil || !u.user.Role.CanManageLinks() {
		o.errorPage(c, http.StatusForbidden, pageForbidden, "/console/links")
		return
	}
	c.Next()
}

func (o *consoleOps) csrfOf(c *gin.Context) string {
	return o.pages.CSRF.Token(consoleScope, signedInUser(c).sessionID, o.now())
}

// linkRow is a link as the console shows it.
func (o *consoleOps) linkRow(l *checkout.PaymentLink, m *checkout.Merchant) templates.ConsoleLinkRow {
	r := templates.ConsoleLinkRow{
		ID: l.ID, Description: l.Description, Reference: l.Reference, Store: l.StoreID,
		Payments: strconv.Itoa(l.Payments), Active: l.Active, Open: l.Open(o.now()),
		URL: o.linkURL(l.ID), Created: l.CreatedAt.In(chinaTime).Format("2006-01-02 15:04"),
	}
	if st, ok := m.Store(l.StoreID); ok && st.Sandbox {
		r.Sandbox = true
	}
	if l.EnteredAmount() {
		r.Entered = true
		r.Min, r.Max = fenOrEmpty(l.MinAmount), fenOrEmpty(l.MaxAmount)
	} else {
		r.Amount = templates.FormatFen(l.Amount)
	}
	if l.MaxPayments > 0 {
		r.MaxPayments = strconv.Itoa(l.MaxPayments)
	}
	return r
}

func fenOrEmpty(f int64) string {
	if f == 0 {
		return ""
	}
	return templates.FormatFen(f)
}

// showLinks is GET /console/links: the merchant's payment links, newest
// first (?after= pages).
func (o *consoleOps) showLinks(c *gin.Context) {
	u := signedInUser(c)
	page, next, err := o.repo.ListLinks(c.Request.Context(), u.merchant.ID, c.Query("after"), consoleLinksPage)
	if errors.Is(err, checkout.ErrBadCursor) {
		o.errorPage(c, http.StatusBadRequest, pageNotFound, "/console/links")
		return
	}
	if err != nil {
		o.logger(c).Error("Console links not listed", "error", err)
		o.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
		return
	}
	v := templates.ConsoleLinksView{Page: o.page(c), MerchantName: u.merchant.Name, CanManage: u.user.Role.CanManageLinks()}
	for _, l := range page {
		v.Rows = append(v.Rows, o.linkRow(l, u.merchant))
	}
	if next != "" {
		v.NextURL = "/console/links?after=" + next
	}
	o.render(c, http.StatusOK, templates.ConsoleLinksPage(v))
}

// linkFormView is the create or edit form, with the merchant's stores.
func (o *consoleOps) linkFormView(c *gin.Context) templates.ConsoleLinkFormView {
	u := signedInUser(c)
	v := templates.ConsoleLinkFormView{Page: o.page(c), MerchantName: u.merchant.Name, CSRF: o.csrfOf(c), Mode: "fixed"}
	for _, st := range u.merchant.Stores {
		name := st.Name
		if name == "" {
			name = st.ID
		}
		v.Stores = append(v.Stores, templates.ConsoleOption{Value: st.ID, Label: name, Sandbox: st.Sandbox})
	}
	return v
}

func (o *consoleOps) showNewLink(c *gin.Context) {
	o.render(c, http.StatusOK, templates.ConsoleLinkFormPage(o.linkFormView(c)))
}

// linkForm is what the create and edit forms post, as typed: amounts in
// yuan, the end as a local time in UTC+8.
type linkForm struct {
	mode, amount, min, max, presets, description, reference, store, maxPayments, activeUntil, inactiveMessage string
}

func readLinkForm(c *gin.Context) (linkForm, bool) {
	f := linkForm{
		mode: c.PostForm("mode"), amount: c.PostForm("amount"), min: c.PostForm("min_amount"), max: c.PostForm("max_amount"),
		presets: c.PostForm("presets"), description: c.PostForm("description"), reference: c.PostForm("reference"),
		store: c.PostForm("store"), maxPayments: c.PostForm("max_payments"), activeUntil: c.PostForm("active_until"),
		inactiveMessage: c.PostForm("inactive_message"),
	}
	for _, s := range []string{f.mode, f.amount, f.min, f.max, f.presets, f.description, f.reference, f.store, f.maxPayments, f.activeUntil, f.inactiveMessage} {
		if len(s) > maxConsoleLinkField {
			return f, false
		}
	}
	return f, true
}

// yuanField reads an optional amount in yuan as fen (nil when empty).
func yuanField(name, s string) (*int64, *requestError) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	fen, err := checkout.ParseYuan(s)
	if err != nil {
		return nil, invalid(name, "must be an amount in yuan with at most two decimals, e.g. 12.50")
	}
	return &fen, nil
}

// amountTerms turns the form's amount fields into the API's: a fixed
// amount, or min, max and presets for an amount the payer enters.
func (f linkForm) amountTerms() (amount, minA, maxA *int64, presets []int64, perr *requestError) {
	if f.mode == "entered" {
		if minA, perr = yuanField("min_amount", f.min); perr != nil {
			return
		}
		if maxA, perr = yuanField("max_amount", f.max); perr != nil {
			return
		}
		for _, p := range strings.FieldsFunc(f.presets, func(r rune) bool { return r == ',' || r == '，' || r == ' ' }) {
			var fen *int64
			if fen, perr = yuanField("presets", p); perr != nil {
				return
			}
			presets = append(presets, *fen)
		}
		return
	}
	if amount, perr = yuanField("amount", f.amount); perr != nil {
		return
	}
	if amount == nil {
		perr = invalid("amount", "enter the amount, or choose an amount the payer enters")
	}
	return
}

// limits reads the form's max_payments and active_until (a local time in
// UTC+8, as a datetime-local field sends it) in the API's forms.
func (f linkForm) limits() (maxPay *int64, until *string, perr *requestError) {
	if s := strings.TrimSpace(f.maxPayments); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, nil, invalid("max_payments", "must be a whole number")
		}
		maxPay = &n
	}
	if s := strings.TrimSpace(f.activeUntil); s != "" {
		t, err := time.ParseInLocation("2006-01-02T15:04", s, chinaTime)
		if err != nil {
			return nil, nil, invalid("active_until", "must be a date and time, e.g. 2026-12-31T23:59")
		}
		r := t.UTC().Format(time.RFC3339)
		until = &r
	} else {
		empty := ""
		until = &empty
	}
	return maxPay, until, nil
}

// formAgain shows the form again with what was typed and why it was
// refused, with status 400.
func (o *consoleOps) formAgain(c *gin.Context, v templates.ConsoleLinkFormView, f linkForm, perr *requestError) {
	v.Mode, v.Amount, v.Min, v.Max, v.Presets = f.mode, f.amount, f.min, f.max, f.presets
	v.Description, v.Reference, v.Store, v.MaxPayments = f.description, f.reference, f.store, f.maxPayments
	v.ActiveUntil, v.InactiveMessage = f.activeUntil, f.inactiveMessage
	if perr != nil {
		v.ErrorParam, v.ErrorMessage = perr.param, perr.message
	}
	o.render(c, http.StatusBadRequest, templates.ConsoleLinkFormPage(v))
}

// createConsoleLink is POST /console/links: the API's rules (linkFrom),
// the same event, and an audit entry.
func (o *consoleOps) createConsoleLink(c *gin.Context) {
	u := signedInUser(c)
	v := o.linkFormView(c)
	f, ok := readLinkForm(c)
	if !ok {
		o.formAgain(c, v, linkForm{}, invalid("form", "a field is too long"))
		return
	}
	req := linkRequest{Description: strings.TrimSpace(f.description), Reference: strings.TrimSpace(f.reference), Store: f.store}
	var perr *requestError
	if req.Amount, req.MinAmount, req.MaxAmount, req.Presets, perr = f.amountTerms(); perr != nil {
		o.formAgain(c, v, f, perr)
		return
	}
	var until *string
	if req.MaxPayments, until, perr = f.limits(); perr != nil {
		o.formAgain(c, v, f, perr)
		return
	}
	if *until != "" {
		req.ActiveUntil = until
	}
	if s := strings.TrimSpace(f.inactiveMessage); s != "" {
		req.InactiveMessage = &s
	}
	// The console acts for the merchant on the store it picks: a sandbox
	// store as a test key would, a real one as a live key.
	st, ok := u.merchant.Store(f.store)
	if !ok {
		o.formAgain(c, v, f, invalid("store", "unknown store"))
		return
	}
	l, perr := o.linkFrom(u.merchant, !st.Sandbox, &req)
	if perr != nil {
		o.formAgain(c, v, f, perr)
		return
	}
	ctx := c.Request.Context()
	// The link and its payment_link.created are stored together; the
	// event follows even if its emit fails (Payments.CreateLink).
	if err := o.pay.CreateLink(ctx, l, nil); err != nil {
		o.logger(c).Error("Console link not stored", "error", err)
		o.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
		return
	}
	o.audit(c, u.merchant.ID, u.user.Email, "payment_link.created", l.ID, linkSummary(l))
	c.Redirect(http.StatusSeeOther, "/console/links/"+l.ID)
}

// linkSummary is what the audit log says of a link's terms.
func linkSummary(l *checkout.PaymentLink) string {
	s := l.Description
	if l.EnteredAmount() {
		s += fmt.Sprintf(" · %s–%s", templates.FormatFen(l.MinAmount), templates.FormatFen(l.MaxAmount))
	} else {
		s += " · " + templates.FormatFen(l.Amount)
	}
	if !l.Active {
		s += " · inactive"
	}
	return s
}

// loadConsoleLink reads the signed-in merchant's link :id; another
// merchant's is a 404, as an unknown one.
func (o *consoleOps) loadConsoleLink(c *gin.Context) (*checkout.PaymentLink, bool) {
	u := signedInUser(c)
	id := c.Param("id")
	if !checkout.ValidLinkID(id) {
		o.errorPage(c, http.StatusNotFound, pageNotFound, "/console/links")
		return nil, false
	}
	l, err := o.repo.GetLinkFor(c.Request.Context(), u.merchant.ID, id)
	if errors.Is(err, checkout.ErrNotFound) {
		o.errorPage(c, http.StatusNotFound, pageNotFound, "/console/links")
		return nil, false
	}
	if err != nil {
		o.logger(c).Error("Console link not read", "error", err)
		o.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
		return nil, false
	}
	return l, true
}

// editView is the edit form of l, filled with its terms.
func (o *consoleOps) editView(c *gin.Context, l *checkout.PaymentLink) templates.ConsoleLinkFormView {
	u := signedInUser(c)
	v := o.linkFormView(c)
	v.Link = ptr(o.linkRow(l, u.merchant))
	v.CanManage = u.user.Role.CanManageLinks()
	v.AmountLocked = l.Used
	v.Description, v.Reference, v.Store, v.InactiveMessage = l.Description, l.Reference, l.StoreID, l.InactiveMessage
	yuan := func(f int64) string {
		if f == 0 {
			return ""
		}
		return strings.TrimPrefix(templates.FormatFen(f), "¥")
	}
	if l.EnteredAmount() {
		v.Mode = "entered"
		v.Min, v.Max = yuan(l.MinAmount), yuan(l.MaxAmount)
		var ps []string
		for _, p := range l.Presets {
			ps = append(ps, yuan(p))
		}
		v.Presets = strings.Join(ps, ", ")
	} else {
		v.Amount = yuan(l.Amount)
	}
	if l.MaxPayments > 0 {
		v.MaxPayments = strconv.Itoa(l.MaxPayments)
	}
	if !l.ActiveUntil.IsZero() {
		v.ActiveUntil = l.ActiveUntil.In(chinaTime).Format("2006-01-02T15:04")
	}
	return v
}

func ptr[T any](v T) *T { return &v }

// showLink is GET /console/links/:id: the link's terms, its code and
// poster, and, for an admin, the edit form.
func (o *consoleOps) showLink(c *gin.Context) {
	l, ok := o.loadConsoleLink(c)
	if !ok {
		return
	}
	o.render(c, http.StatusOK, templates.ConsoleLinkFormPage(o.editView(c, l)))
}

// updateConsoleLink is POST /console/links/:id: description, limits and
// the inactive message at any time; the amount terms only while no
// checkout used the link (the domain refuses it then).
func (o *consoleOps) updateConsoleLink(c *gin.Context) {
	u := signedInUser(c)
	l, ok := o.loadConsoleLink(c)
	if !ok {
		return
	}
	v := o.editView(c, l)
	f, ok := readLinkForm(c)
	if !ok {
		o.formAgain(c, v, linkForm{}, invalid("form", "a field is too long"))
		return
	}
	f.store, f.reference = l.StoreID, l.Reference // not editable
	desc := strings.TrimSpace(f.description)
	req := linkUpdateRequest{Description: &desc}
	if !l.Used {
		a, minA, maxA, presets, perr := f.amountTerms()
		if perr != nil {
			o.formAgain(c, v, f, perr)
			return
		}
		req.Amount, req.MinAmount, req.MaxAmount, req.Presets = a, minA, maxA, &presets
	}
	var perr *requestError
	if req.MaxPayments, req.ActiveUntil, perr = f.limits(); perr != nil {
		o.formAgain(c, v, f, perr)
		return
	}
	if req.MaxPayments == nil {
		req.MaxPayments = new(int64)
	}
	msg := strings.TrimSpace(f.inactiveMessage)
	req.InactiveMessage = &msg
	o.applyLinkUpdate(c, u, l.ID, &req, func(perr *requestError) { o.formAgain(c, v, f, perr) })
}

// deactivateConsoleLink is POST /console/links/:id/deactivate.
func (o *consoleOps) deactivateConsoleLink(c *gin.Context) {
	u := signedInUser(c)
	l, ok := o.loadConsoleLink(c)
	if !ok {
		return
	}
	off := false
	o.applyLinkUpdate(c, u, l.ID, &linkUpdateRequest{Active: &off}, func(perr *requestError) {
		o.formAgain(c, o.editView(c, l), linkForm{}, perr)
	})
}

// applyLinkUpdate checks req with the API's rules (updateFrom), stores
// it, emits the API's events and writes the audit entry.
func (o *consoleOps) applyLinkUpdate(c *gin.Context, u *consoleUser, id string, req *linkUpdateRequest, refuse func(*requestError)) {
	upd, perr := o.updateFrom(u.merchant, req)
	if perr != nil {
		refuse(perr)
		return
	}
	ctx := c.Request.Context()
	// The change and its events are stored together (Payments.UpdateLink).
	ch, err := o.pay.UpdateLink(ctx, u.merchant.ID, id, upd)
	switch {
	case errors.Is(err, checkout.ErrLinkAmountFixed):
		refuse(refusal(http.StatusConflict, "amount_locked", "the amount cannot change once a checkout used the link; make a new link", "amount"))
		return
	case errors.Is(err, checkout.ErrNotFound):
		o.errorPage(c, http.StatusNotFound, pageNotFound, "/console/links")
		return
	case errors.Is(err, checkout.ErrInvalid):
		refuse(refusalOf(err))
		return
	case err != nil:
		o.logger(c).Error("Console link not updated", "error", err)
		o.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
		return
	}
	action := "payment_link.updated"
	if ch.Deactivated {
		action = "payment_link.deactivated"
	}
	o.audit(c, u.merchant.ID, u.user.Email, action, id, linkSummary(ch.Link))
	c.Redirect(http.StatusSeeOther, "/console/links/"+id)
}

// consoleLinkCode answers the link's store code for download, as the
// API's qr.svg and qr.png do, for the signed-in merchant's link.
func (o *consoleOps) consoleLinkCode(format qrFormat) gin.HandlerFunc {
	return func(c *gin.Context) {
		l, ok := o.loadConsoleLink(c)
		if !ok {
			return
		}
		size, err := qrcode.ParseSize(c.Query("size"))
		if err != nil {
			o.errorPage(c, http.StatusBadRequest, pageNotFound, "/console/links/"+l.ID)
			return
		}
		ext := "svg"
		if format == formatPNG {
			ext = "png"
		}
		c.Header("Content-Disposition", `attachment; filename="`+l.ID+`.`+ext+`"`)
		o.serveQR(c, o.linkURL(l.ID), qrcode.Print, size, format, "private, no-store")
	}
}

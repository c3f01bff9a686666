package handlers

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/notify/webhook"
	"github.com/wallet-checkout/checkout/web/templates"
)

// developerDeliveries is how many recent events the developers page reads
// to list their deliveries, failing ones first.
const developerDeliveries = 50

func (o *consoleOps) developerRoutes(g *gin.RouterGroup) {
	g.GET("/developers", o.showDevelopers)
	g.POST("/developers/ping", o.sameOriginConsole, o.requireConsoleCSRF, o.requireSendEvents, o.sendPing)
}

// requireSendEvents refuses a test event to a viewer, on the server.
func (o *consoleOps) requireSendEvents(c *gin.Context) {
	if u := signedInUser(c); u == nil || !u.user.Role.CanSendEvents() {
		o.errorPage(c, http.StatusForbidden, pageForbidden, "/console/developers")
		return
	}
	c.Next()
}

// showDevelopers is GET /console/developers: the merchant's API keys by
// label and hint (never more: only their hashes are stored), the webhook
// URL, the last deliveries with failing ones first, the test event button
// and the signature check.
func (o *consoleOps) showDevelopers(c *gin.Context) {
	u := signedInUser(c)
	m := u.merchant
	v := templates.ConsoleDevelopersView{
		Page: o.page(c), MerchantName: m.Name, WebhookURL: m.WebhookURL, Signed: len(m.WebhookSecrets) > 0,
		CanSend: u.user.Role.CanSendEvents(), CSRF: o.csrfOf(c), Sent: c.Query("sent") != "",
	}
	for _, k := range m.APIKeys {
		v.Keys = append(v.Keys, templates.ConsoleKeyRow{ID: k.ID, Label: k.Label, Hint: k.Hint, Live: k.Live})
	}
	recs, _, err := o.events.List(c.Request.Context(), m.ID, webhook.ListQuery{Limit: developerDeliveries})
	if err != nil {
		o.logger(c).Error("Console deliveries not listed", "error", err)
		o.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
		return
	}
	// Failing first, each group newest first (List's order, kept by a
	// stable sort).
	slices.SortStableFunc(recs, func(a, b *webhook.Record) int {
		fa, fb := failing(a), failing(b)
		switch {
		case fa && !fb:
			return -1
		case fb && !fa:
			return 1
		}
		return 0
	})
	for _, r := range recs {
		row := templates.ConsoleEventDeliveryRow{
			EventID: r.ID, Type: r.Type, CheckoutID: r.CheckoutID, State: r.Delivery.State, Failing: failing(r),
			Created:  r.CreatedAt.In(chinaTime).Format("2006-01-02 15:04:05"),
			Attempts: strconv.Itoa(len(r.Delivery.Attempts)),
		}
		if n := len(r.Delivery.Attempts); n > 0 {
			a := r.Delivery.Attempts[n-1]
			row.LastAt = a.At.In(chinaTime).Format("2006-01-02 15:04:05")
			if a.Status != 0 {
				row.LastStatus = strconv.Itoa(a.Status)
			}
			row.LastError, row.LastResponse = a.Error, excerpt(a.Response, 120)
		}
		v.Deliveries = append(v.Deliveries, row)
	}
	o.render(c, http.StatusOK, templates.ConsoleDevelopersPage(v))
}

// excerpt is s cut to n runes.
func excerpt(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// sendPing is POST /console/developers/ping: a ping event to the
// merchant's webhook URL, stored, signed and delivered like every other
// event (so it is listed below with its delivery), and audit-logged.
func (o *consoleOps) sendPing(c *gin.Context) {
	u := signedInUser(c)
	e, err := webhook.NewPingEvent(u.merchant.ID, o.now())
	if err == nil {
		err = o.events.Emit(c.Request.Context(), e)
	}
	if err != nil {
		o.logger(c).Error("Console test event not stored", "error", err)
		o.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
		return
	}
	o.audit(c, u.merchant.ID, u.user.Email, "webhook.ping", e.ID, "")
	c.Redirect(http.StatusSeeOther, "/console/developers?sent="+e.ID+"#deliveries")
}

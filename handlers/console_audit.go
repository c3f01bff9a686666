package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/web/templates"
)

// auditPage is how many entries one page of the audit log shows.
const auditPage = 50

// chinaTime is UTC+8, the merchants' time: fixed, no daylight saving.
var chinaTime = time.FixedZone("UTC+8", 8*3600)

// showConsoleAudit lists the signed-in user's merchant's audit log, newest
// first; ?before= (unix ms, from the previous page) pages back.
func (h *handler) showConsoleAudit(c *gin.Context) {
	u := signedInUser(c)
	var before int64
	if s := c.Query("before"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v <= 0 {
			h.errorPage(c, http.StatusBadRequest, pageNotFound, "/console/audit")
			return
		}
		before = v
	}
	entries, next, err := h.console.Audit.List(c.Request.Context(), u.merchant.ID, before, auditPage)
	if err != nil {
		h.logger(c).Error("Console audit log not read", "error", err)
		h.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
		return
	}
	v := templates.ConsoleAuditView{Page: h.page(c), MerchantName: u.merchant.Name}
	for _, e := range entries {
		v.Entries = append(v.Entries, templates.ConsoleAuditRow{
			When: e.At.In(chinaTime).Format("2006-01-02 15:04:05"), Actor: e.Actor, Action: e.Action,
			Target: e.Target, Detail: e.Detail, Address: e.Address,
		})
	}
	if next > 0 {
		v.NextURL = "/console/audit?before=" + strconv.FormatInt(next, 10)
	}
	h.render(c, http.StatusOK, templates.ConsoleAuditPage(v))
}

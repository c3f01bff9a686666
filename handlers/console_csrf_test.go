package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
)

// TestConsoleEveryPOSTNeedsCSRF walks the router: every POST under
// /console/, now and whenever one is added, refuses a signed-in admin's
// form without the CSRF token or with a forged one (403), and the paid
// checkout its :id names is left as it was.
func TestConsoleEveryPOSTNeedsCSRF(t *testing.T) {
	e := newCPEnv(t)
	id, _, _ := e.paid("order-csrf", 1000)
	engine, ok := e.app.Handler.(interface{ Routes() gin.RoutesInfo })
	if !ok {
		t.Fatalf("the handler is %T, not a gin engine", e.app.Handler)
	}
	admin := e.signIn(cpAdmin)
	n := 0
	for _, r := range engine.Routes() {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.Path, "/console/") {
			continue
		}
		n++
		path := strings.NewReplacer(":id", id, ":event", "evt_x").Replace(r.Path)
		for name, form := range map[string]url.Values{
			"no token":     {"amount": {"100"}, "key": {"ABCDEFGHIJKLMNOPQRSTUVWXYZ"}, "email": {cpAdmin}, "password": {consolePassword}},
			"forged token": {"csrf": {"1a2b3c.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "amount": {"100"}, "key": {"ABCDEFGHIJKLMNOPQRSTUVWXYZ"}, "email": {cpAdmin}, "password": {consolePassword}},
		} {
			if a := admin.do("POST", path, form); a.status != http.StatusForbidden {
				t.Errorf("POST %s with %s: %d, want 403", r.Path, name, a.status)
			}
		}
	}
	if n < 9 {
		t.Errorf("found %d console POST routes, want at least the 9 of the issue's actions", n)
	}
	co, err := e.app.Repo.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if co.Status != checkout.StatusPaid || co.Refunded != 0 {
		t.Errorf("after the refused posts: %s, refunded %d", co.Status, co.Refunded)
	}
	if a := admin.do("GET", "/console/", nil); a.status != http.StatusOK {
		t.Errorf("the session did not survive the refused posts: %d", a.status)
	}
}

package handlers_test

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/api"
	"github.com/wallet-checkout/checkout/app"
	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/handlers"
	"github.com/wallet-checkout/checkout/payments"
)

// v1Routes lists "METHOD /path" of every route the service registers under
// /v1, in the description's path syntax ({id} for :id).
func v1Routes(t *testing.T) []string {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { rdb.Close() })
	dir, err := checkout.NewDirectory(nil)
	if err != nil {
		t.Fatal(err)
	}
	noop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	a := build(t, &app.Config{Redis: rdb, Directory: dir, Accounts: payments.NewAccounts(), Sandbox: noop, WalletSim: noop})
	engine, ok := a.Handler.(interface{ Routes() gin.RoutesInfo })
	if !ok {
		t.Fatalf("New returned %T, not a gin engine", a.Handler)
	}
	var out []string
	for _, r := range engine.Routes() {
		if !strings.HasPrefix(r.Path, "/v1/") {
			continue
		}
		segs := strings.Split(r.Path, "/")
		for i, s := range segs {
			if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
				segs[i] = "{" + s[1:] + "}"
			}
		}
		out = append(out, r.Method+" "+strings.Join(segs, "/"))
	}
	slices.Sort(out)
	return out
}

// describedRoutes lists "METHOD /path" of every operation the description has.
func describedRoutes(t *testing.T, doc []byte) []string {
	t.Helper()
	d, err := handlers.LoadOpenAPI(doc)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, path := range d.Paths.InMatchingOrder() {
		for method := range d.Paths.Value(path).Operations() {
			out = append(out, method+" "+path)
		}
	}
	slices.Sort(out)
	return out
}

// routeDrift says how registered and described routes differ ("" when
// they do not).
func routeDrift(registered, described []string) string {
	var b strings.Builder
	for _, r := range registered {
		if !slices.Contains(described, r) {
			fmt.Fprintf(&b, "registered but not described: %s\n", r)
		}
	}
	for _, r := range described {
		if !slices.Contains(registered, r) {
			fmt.Fprintf(&b, "described but not registered: %s\n", r)
		}
	}
	return b.String()
}

// Every route registered under /v1 is described, and every described
// operation is a registered route. The check itself fails on a document
// with one path less.
func TestOpenAPIRoutes(t *testing.T) {
	registered := v1Routes(t)
	if len(registered) < 13 {
		t.Fatalf("only %d /v1 routes found: %v", len(registered), registered)
	}
	if d := routeDrift(registered, describedRoutes(t, api.JSON())); d != "" {
		t.Errorf("the description and the routes differ (api/openapi.yaml):\n%s", d)
	}

	// Without /v1/events/{id}/resend, the check names it.
	cut, err := handlers.WithoutPath(api.JSON(), "/v1/events/{id}/resend")
	if err != nil {
		t.Fatal(err)
	}
	if d := routeDrift(registered, describedRoutes(t, cut)); d != "registered but not described: POST /v1/events/{id}/resend\n" {
		t.Errorf("a path removed from the document: drift %q", d)
	}
}

// GET /v1/openapi.json serves the committed description to anyone, with
// an ETag to revalidate against.
func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/v1/openapi.json", "", "")
	if r.status != http.StatusOK || !bytes.Equal(r.body, api.JSON()) {
		t.Fatalf("GET /v1/openapi.json without a key: %d, %d bytes (want the %d of api.JSON)", r.status, len(r.body), len(api.JSON()))
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	etag := r.header.Get("ETag")
	if r.header.Get("Cache-Control") != "no-cache" || len(etag) < 10 {
		t.Errorf("Cache-Control %q, ETag %q", r.header.Get("Cache-Control"), etag)
	}
	// A wrong key changes nothing: the route checks none.
	if r := e.do("GET", "/v1/openapi.json", "sk_test_wrong", ""); r.status != http.StatusOK {
		t.Errorf("with a wrong key: %d", r.status)
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		if r := e.do("GET", "/v1/openapi.json", "", "", "If-None-Match", inm); r.status != http.StatusNotModified || len(r.body) != 0 {
			t.Errorf("If-None-Match %s: %d %d bytes, want 304 and no body", inm, r.status, len(r.body))
		}
	}
	if r := e.do("GET", "/v1/openapi.json", "", "", "If-None-Match", `"stale"`); r.status != http.StatusOK {
		t.Errorf("a stale ETag: %d", r.status)
	}
	if r := e.do("POST", "/v1/openapi.json", "", "{}"); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", r.status)
	}
}

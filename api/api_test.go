package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/wallet-checkout/checkout/api"
	"github.com/wallet-checkout/checkout/apiobject"
	"github.com/wallet-checkout/checkout/client"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// load loads the served document (the JSON) with kin-openapi's loader.
func load(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.JSON())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return doc
}

// The description is a valid OpenAPI 3.1 document, as kin-openapi checks
// one (its 3.1 support: the document's structure, every $ref resolved, and
// the schemas checked as JSON Schema 2020-12, examples included).
func TestDescriptionValid(t *testing.T) {
	doc := load(t)
	if !doc.IsOpenAPI31OrLater() || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("invalid OpenAPI 3.1: %v", err)
	}
}

// The JSON the service serves is the committed YAML, member for member, in
// the file's order.
func TestJSONIsTheYAML(t *testing.T) {
	fromYAML, err := openapi3.NewLoader().LoadFromData(api.YAML)
	if err != nil {
		t.Fatal(err)
	}
	a, err := json.Marshal(fromYAML)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(load(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("the JSON differs from the YAML:\n%s\n%s", a, b)
	}
	if !bytes.HasPrefix(api.JSON(), []byte(`{"openapi":"3.1.0","info":`)) {
		t.Errorf("members out of the file's order: %.60s", api.JSON())
	}
}

func TestToJSONRefusesWhatItCannotKeep(t *testing.T) {
	for name, doc := range map[string]string{
		"repeated key": "a: 1\na: 2\n",
		"merge key":    "x: &x {a: 1}\ny:\n  <<: *x\n",
		"not YAML":     "a: [\n",
		"binary":       "a: !!binary aGVsbG8=\n",
	} {
		if _, err := api.ToJSON([]byte(doc)); err == nil {
			t.Errorf("%s: converted", name)
		}
	}
	got, err := api.ToJSON([]byte("b: 1\na: [true, null, 1.5, \"x\", &k y, *k]\n"))
	if err != nil || string(got) != `{"b":1,"a":[true,null,1.5,"x","y","y"]}` {
		t.Errorf("ToJSON = %s, %v", got, err)
	}
}

// eventsDir holds one golden body of each event type
// (notify/webhook.TestEventBodiesGolden pins them).
const eventsDir = "../notify/webhook/testdata/events"

// bodySchema is the schema of the body of webhook typ.
func bodySchema(t *testing.T, doc *openapi3.T, typ string) *openapi3.Schema {
	t.Helper()
	item := doc.Webhooks[typ]
	if item == nil || item.Post == nil || item.Post.RequestBody == nil {
		t.Fatalf("webhook %s is not described", typ)
	}
	mt := item.Post.RequestBody.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		t.Fatalf("webhook %s has no JSON body schema", typ)
	}
	return mt.Schema.Value
}

func decodeFile(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// Each event type has a webhook entry, and each type's golden body (the
// wire format, pinned in notify/webhook) validates against its schema, as
// do the two bodies docs/webhooks.md shows. The schemas are not vacuous:
// a body with a member they do not know, of another type, or without its
// details fails.
func TestEventPayloadsMatchSchemas(t *testing.T) {
	doc := load(t)
	if len(doc.Webhooks) != len(webhook.Types) {
		t.Errorf("%d webhooks described for %d event types", len(doc.Webhooks), len(webhook.Types))
	}
	enum := doc.Components.Schemas["EventType"].Value.Enum
	if fmt.Sprint(enum) != fmt.Sprint(webhook.Types) {
		t.Errorf("EventType enum %v, want webhook.Types %v", enum, webhook.Types)
	}
	opts := []openapi3.SchemaValidationOption{openapi3.EnableJSONSchema2020(), openapi3.MultiErrors()}
	for _, typ := range webhook.Types {
		t.Run(typ, func(t *testing.T) {
			s := bodySchema(t, doc, typ)
			body := decodeFile(t, filepath.Join(eventsDir, typ+".json"))
			if body["type"] != typ {
				t.Fatalf("golden body of %s has type %v", typ, body["type"])
			}
			if err := s.VisitJSON(body, opts...); err != nil {
				t.Fatalf("golden body does not match the %s schema: %v", typ, err)
			}
			mutants := map[string]func(map[string]any){
				"unknown member":      func(b map[string]any) { b["surprise"] = 1 },
				"unknown data member": func(b map[string]any) { b["data"].(map[string]any)["surprise"] = 1 },
				"no data":             func(b map[string]any) { delete(b, "data") },
				"no api_version":      func(b map[string]any) { delete(b, "api_version") },
				"another api_version": func(b map[string]any) { b["api_version"] = "2026-01-01" },
				"legacy created":      func(b map[string]any) { b["created"] = b["created_at"]; delete(b, "created_at") },
				"legacy checkout": func(b map[string]any) {
					d := b["data"].(map[string]any)
					if link, ok := d["payment_link"].(map[string]any); ok {
						link["store_id"] = link["store"] // the link's pre-release event shape
						delete(link, "store")
						return
					}
					if r, ok := d["reconciliation"].(map[string]any); ok && d["checkout"] == nil {
						r["store"] = "main" // no checkout: break the alert
						return
					}
					// A checkout in data, the legacy one (a ping has none at all).
					d["checkout"] = decodeFile(t, "../notify/webhook/testdata/legacy/checkout.paid.json")["data"].(map[string]any)["checkout"]
				},
				"another type": func(b map[string]any) {
					b["type"] = "checkout.paid"
					if typ == "checkout.paid" {
						b["type"] = "checkout.expired"
					}
				},
			}
			for name, mutate := range mutants {
				m := decodeFile(t, filepath.Join(eventsDir, typ+".json"))
				mutate(m)
				if err := s.VisitJSON(m, opts...); err == nil {
					t.Errorf("%s: accepted by the %s schema", name, typ)
				}
			}
		})
	}
	// A legacy body (written before api_version) is no current event, and
	// listed with its delivery it is a LegacyEventRecord.
	for _, name := range []string{"checkout.paid", "checkout.refund.succeeded"} {
		body := decodeFile(t, filepath.Join("../notify/webhook/testdata/legacy", name+".json"))
		if err := bodySchema(t, doc, name).VisitJSON(body, opts...); err == nil {
			t.Errorf("legacy %s accepted as a current event", name)
		}
		body["delivery"] = map[string]any{"state": "delivered", "attempts": []any{}}
		anyRec := doc.Components.Schemas["AnyEventRecord"].Value
		if err := anyRec.VisitJSON(body, opts...); err != nil {
			t.Errorf("legacy %s is not a listed event: %v", name, err)
		}
		if err := doc.Components.Schemas["EventRecord"].Value.VisitJSON(body, opts...); err == nil {
			t.Errorf("legacy %s accepted as an EventRecord", name)
		}
	}
	// The bodies the docs show (and their own golden tests pin).
	for _, name := range []string{"event_refund.golden.json", "event_reconciliation.golden.json"} {
		body := decodeFile(t, filepath.Join("../notify/webhook/testdata", name))
		typ, _ := body["type"].(string)
		if err := bodySchema(t, doc, typ).VisitJSON(body, opts...); err != nil {
			t.Errorf("%s does not match the %s schema: %v", name, typ, err)
		}
	}
}

// The events' api_version has one value: the constant the service writes
// (apiobject.APIVersion), the description's APIVersion schema, and the Go
// client's APIVersion, whose types describe that shape.
func TestAPIVersionOneValue(t *testing.T) {
	doc := load(t)
	s := doc.Components.Schemas["APIVersion"]
	if s == nil || s.Value == nil {
		t.Fatal("no APIVersion schema")
	}
	if s.Value.Const != apiobject.APIVersion || client.APIVersion != apiobject.APIVersion || webhook.APIVersion != apiobject.APIVersion {
		t.Errorf("api_version: description %v, service %q, client %q", s.Value.Const, apiobject.APIVersion, client.APIVersion)
	}
	if _, err := time.Parse("2006-01-02", apiobject.APIVersion); err != nil {
		t.Errorf("api_version %q is not a date: %v", apiobject.APIVersion, err)
	}
}

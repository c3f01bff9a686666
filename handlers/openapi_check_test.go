package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/wallet-checkout/checkout/api"
)

// The handler tests check every answer of the merchant API against its
// OpenAPI description (package api): the test servers of both test
// packages serve through OpenAPIValidating, which validates each answer to
// a described operation (status, headers, body) and, when the answer is a
// success, the request too (a request the service accepted must be one the
// description allows). A mismatch fails the test that made the request.

// openAPIShared is the description loaded once for all tests, with the
// router that finds a request's operation in it.
var openAPIShared = sync.OnceValues(func() (*openAPILoaded, error) {
	doc, err := openapi3.NewLoader().LoadFromData(api.JSON())
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &openAPILoaded{doc: doc, router: router}, nil
})

type openAPILoaded struct {
	doc    *openapi3.T
	router routers.Router
}

// OpenAPICheck records what OpenAPIValidating validated: the operations
// and their answers' statuses.
type OpenAPICheck struct {
	t      testing.TB
	loaded *openAPILoaded
	mu     sync.Mutex
	seen   map[string][]int // operationId → statuses validated
}

// Validated lists the statuses validated for each operation id.
func (k *OpenAPICheck) Validated() map[string][]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make(map[string][]int, len(k.seen))
	for op, sts := range k.seen {
		out[op] = slices.Clone(sts)
	}
	return out
}

// Operations lists the operation ids of every path of the description.
func (k *OpenAPICheck) Operations() []string {
	var out []string
	doc := k.loaded.doc
	for _, path := range doc.Paths.InMatchingOrder() {
		for _, op := range doc.Paths.Value(path).Operations() {
			out = append(out, op.OperationID)
		}
	}
	slices.Sort(out)
	return out
}

// OpenAPIDoc is the loaded description.
func OpenAPIDoc(t testing.TB) *openapi3.T {
	t.Helper()
	doc, err := LoadOpenAPI(api.JSON())
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// LoadOpenAPI loads a description with kin-openapi.
func LoadOpenAPI(doc []byte) (*openapi3.T, error) {
	return openapi3.NewLoader().LoadFromData(doc)
}

// WithoutPath is the JSON description doc without one of its paths.
func WithoutPath(doc []byte, path string) ([]byte, error) {
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	paths, _ := d["paths"].(map[string]any)
	if _, ok := paths[path]; !ok {
		return nil, fmt.Errorf("no path %s", path)
	}
	delete(paths, path)
	return json.Marshal(d)
}

// OpenAPIValidating wraps h (the service's handler) for a test server:
// every answer to a /v1 request is validated against the description, as
// said above. Benchmarks are served unwrapped: validation would be part
// of what they measure.
func OpenAPIValidating(t testing.TB, h http.Handler) (http.Handler, *OpenAPICheck) {
	t.Helper()
	loaded, err := openAPIShared()
	if err != nil {
		t.Fatalf("the OpenAPI description: %v", err)
	}
	k := &OpenAPICheck{t: t, loaded: loaded, seen: map[string][]int{}}
	if _, bench := t.(*testing.B); bench {
		return h, k
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/") {
			h.ServeHTTP(w, r)
			return
		}
		var reqBody bytes.Buffer
		if r.Body != nil {
			r.Body = readCloser{io.TeeReader(r.Body, &reqBody), r.Body}
		}
		// Validation reads what the client sent, not what a handler
		// changed: keep the request as it came.
		sent := r.Clone(context.WithoutCancel(r.Context()))
		rec := &recordingWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		if err := k.check(sent, reqBody.Bytes(), rec); err != nil {
			// kin-openapi's message ends with the whole schema: keep the reason.
			msg, _, _ := strings.Cut(err.Error(), "\nSchema:")
			t.Errorf("OpenAPI: %s %s → %d %s:\n%s", sent.Method, sent.URL.RequestURI(), rec.status, truncate(rec.body.Bytes()), msg)
		}
	}), k
}

// check validates one exchange.
func (k *OpenAPICheck) check(req *http.Request, reqBody []byte, rec *recordingWriter) error {
	ctx := context.Background()
	route, params, err := k.loaded.router.FindRoute(req)
	if err != nil {
		// No operation: the router's own refusals (no such route, wrong
		// method, an encoded separator) still answer the one error shape.
		if rec.status < 400 {
			return fmt.Errorf("an undescribed request was answered %d: %w", rec.status, err)
		}
		return k.checkErrorBody(rec)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: bearerPresent, MultiError: true},
	}
	if rec.status < 300 {
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
		if len(reqBody) > 0 && req.Header.Get("Content-Type") == "" {
			// The service reads an untyped body as JSON, as the
			// description says (info.description).
			req.Header.Set("Content-Type", "application/json")
		}
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			return fmt.Errorf("the request, answered %d, breaks the description: %w", rec.status, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: rec.status, Header: rec.Header(),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	out.SetBodyBytes(rec.body.Bytes())
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return err
	}
	k.mu.Lock()
	k.seen[route.Operation.OperationID] = append(k.seen[route.Operation.OperationID], rec.status)
	k.mu.Unlock()
	return nil
}

// checkErrorBody validates an answer against the Error schema.
func (k *OpenAPICheck) checkErrorBody(rec *recordingWriter) error {
	doc := k.loaded.doc
	var v any
	if err := json.Unmarshal(rec.body.Bytes(), &v); err != nil {
		return fmt.Errorf("error body is not JSON: %w", err)
	}
	return doc.Components.Schemas["Error"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
}

// bearerPresent checks the one security scheme: a Bearer token was sent.
// Whether it is a right one is the service's business (a success answer
// says it was).
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	scheme, token, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return errors.New("no Bearer token")
	}
	return nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// recordingWriter keeps the status and a copy of the body it passes on.
type recordingWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (w *recordingWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

// Flush passes a stream's flush on (GET /v1/events/stream).
func (w *recordingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// CheckWebhook validates one webhook delivery the service made (its
// Checkout-Event-Type header and raw body) against the description's
// webhook of that type: the body against its request body schema, the
// header against its const. It records "webhook.<type>" as validated
// (Validated), so a test can require a delivery of each type it drives.
func (k *OpenAPICheck) CheckWebhook(eventType string, body []byte) error {
	item := k.loaded.doc.Webhooks[eventType]
	if item == nil || item.Post == nil || item.Post.RequestBody == nil || item.Post.RequestBody.Value == nil {
		return fmt.Errorf("webhook %q is not described", eventType)
	}
	mt := item.Post.RequestBody.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return fmt.Errorf("webhook %q has no JSON body schema", eventType)
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("webhook %s: the body is not a JSON object: %w", eventType, err)
	}
	if v["type"] != eventType {
		return fmt.Errorf("webhook %s: the header says %s, the body %v", eventType, eventType, v["type"])
	}
	if err := mt.Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors()); err != nil {
		msg, _, _ := strings.Cut(err.Error(), "\nSchema:")
		return fmt.Errorf("webhook %s: the body breaks the description: %s", eventType, msg)
	}
	op := item.Post.OperationID
	k.mu.Lock()
	k.seen[op] = append(k.seen[op], http.StatusOK)
	k.mu.Unlock()
	return nil
}

// The store codes' SVG (GET /v1/payment-links/{id}/qr.svg) is validated
// as the opaque string its schema says, like the PNG (kin-openapi knows
// image/png as a file already, not image/svg+xml).
func init() {
	openapi3filter.RegisterBodyDecoder("image/svg+xml", openapi3filter.FileBodyDecoder)
}

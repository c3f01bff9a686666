package webhook_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wallet-checkout/checkout/client/webhook"
)

// A merchant's webhook handler: check the signature over the raw body
// before trusting anything in it, deduplicate on the event id, and answer
// 2xx quickly. During a secret rotation list both secrets.
func Example() {
	secrets := []string{"whsec_current", "whsec_previous"}
	seen := map[string]bool{} // use your database in production

	handler := func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if err := webhook.Verify(body, r.Header.Get(webhook.HeaderSignature), secrets, 5*time.Minute, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id := r.Header.Get(webhook.HeaderEventID)
		if seen[id] {
			w.WriteHeader(http.StatusOK) // a retry of something already handled
			return
		}
		seen[id] = true
		fmt.Println("handled", r.Header.Get(webhook.HeaderEventType), id)
		w.WriteHeader(http.StatusOK)
	}

	// What the service sends (here made with the package's own signer).
	body := []byte(`{"id":"evt_4mZ2h1pQd8Kx0aT6bW3cY9rN","type":"checkout.paid"}`)
	header := webhook.SignatureHeader(time.Now(), body, []string{"whsec_current"})
	for _, sig := range []string{header, header, "t=1,v1=forged"} {
		req := httptest.NewRequest(http.MethodPost, "/hooks/checkout", strings.NewReader(string(body)))
		req.Header.Set(webhook.HeaderSignature, sig)
		req.Header.Set(webhook.HeaderEventID, "evt_4mZ2h1pQd8Kx0aT6bW3cY9rN")
		req.Header.Set(webhook.HeaderEventType, "checkout.paid")
		rec := httptest.NewRecorder()
		handler(rec, req)
		fmt.Println(rec.Code)
	}
	// Output:
	// handled checkout.paid evt_4mZ2h1pQd8Kx0aT6bW3cY9rN
	// 200
	// 200
	// 400
}

// Verify says why a delivery was refused.
func ExampleVerify() {
	body := []byte(`{"id":"evt_4mZ2h1pQd8Kx0aT6bW3cY9rN","type":"checkout.paid"}`)
	now := time.Now()
	header := webhook.SignatureHeader(now, body, []string{"whsec_current", "whsec_previous"})

	secrets := []string{"whsec_previous"} // either secret is enough
	fmt.Println(webhook.Verify(body, header, secrets, 5*time.Minute, now))
	fmt.Println(webhook.Verify([]byte(`{"tampered":true}`), header, secrets, 5*time.Minute, now))
	err := webhook.Verify(body, header, secrets, 5*time.Minute, now.Add(time.Hour))
	fmt.Println(errors.Is(err, webhook.ErrTooOld))
	// Output:
	// <nil>
	// webhook: no valid signature
	// true
}

// SignatureHeader makes test deliveries for a merchant's own handler.
func ExampleSignatureHeader() {
	at := time.Unix(1_790_000_000, 0)
	fmt.Println(webhook.SignatureHeader(at, []byte(`{"id":"evt_1"}`), []string{"whsec_test"}))
	// Output:
	// t=1790000000,v1=e32657f3e678d33b41ec084c16ac0e125d25480a06cb3902286dc5942c6fd259
}

package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/wallet-checkout/checkout/notify/webhook"
)

// A merchant's webhook handler, with nothing but the standard library: check
// the signature over the raw body before trusting anything in it, refuse
// stale timestamps, deduplicate on the event id, and answer 2xx quickly.
// During a secret rotation list both secrets.
func Example() {
	secrets := []string{"whsec_current", "whsec_previous"}
	seen := map[string]bool{} // use your database in production

	handler := func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if err := verifySignature(body, r.Header.Get("Checkout-Signature"), secrets, 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var event struct {
			ID         string `json:"id"`
			Type       string `json:"type"`
			CheckoutID string `json:"checkout_id"`
			Data       struct {
				Checkout struct {
					Status    string `json:"status"`
					Amount    int64  `json:"amount"` // fen
					Reference string `json:"reference"`
				} `json:"checkout"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &event); err != nil {
			http.Error(w, "bad JSON", http.StatusBadRequest)
			return
		}
		if seen[event.ID] {
			w.WriteHeader(http.StatusOK) // a retry of something already handled
			return
		}
		seen[event.ID] = true
		if event.Type == "checkout.paid" {
			fmt.Printf("order %s paid: %d fen\n", event.Data.Checkout.Reference, event.Data.Checkout.Amount)
		}
		w.WriteHeader(http.StatusOK)
	}

	// What the service sends (here made with the package's own signer).
	body := []byte(`{"id":"evt_4mZ2h1pQd8Kx0aT6bW3cY9rN","type":"checkout.paid","checkout_id":"co_x",` +
		`"data":{"checkout":{"status":"paid","amount":1000,"reference":"order-42"}}}`)
	header := webhook.SignatureHeader(time.Now(), body, []string{"whsec_current"})
	for _, sig := range []string{header, header, "t=1,v1=forged"} {
		req := httptest.NewRequest(http.MethodPost, "/hooks/checkout", strings.NewReader(string(body)))
		req.Header.Set("Checkout-Signature", sig)
		rec := httptest.NewRecorder()
		handler(rec, req)
		fmt.Println(rec.Code)
	}
	// Output:
	// order order-42 paid: 1000 fen
	// 200
	// 200
	// 400
}

// verifySignature checks a Checkout-Signature header
// ("t=<unix>,v1=<hex>[,v1=<hex>…]") against the raw body.
func verifySignature(body []byte, header string, secrets []string, tolerance time.Duration) error {
	var ts int64
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts, _ = strconv.ParseInt(v, 10, 64)
		case "v1":
			if s, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, s)
			}
		}
	}
	if ts <= 0 || len(sigs) == 0 {
		return errors.New("missing or malformed signature header")
	}
	valid := false
	for _, secret := range secrets {
		mac := hmac.New(sha256.New, []byte(secret))
		fmt.Fprintf(mac, "%d.", ts)
		mac.Write(body)
		want := mac.Sum(nil)
		for _, s := range sigs {
			if hmac.Equal(s, want) {
				valid = true
			}
		}
	}
	if !valid {
		return errors.New("no valid signature")
	}
	if age := time.Since(time.Unix(ts, 0)); age > tolerance || age < -tolerance {
		return errors.New("timestamp outside the tolerance")
	}
	return nil
}

// With this package as a dependency, Verify does the same and says why a
// delivery was refused.
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

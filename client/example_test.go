package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/wallet-checkout/checkout/client"
)

// fakeService stands in for the service so the examples run offline: it
// answers just enough of the API for them.
func fakeService() *httptest.Server {
	const co = `{"id":"co_6uqvXQ2b0o8yJc1hTa4WkZ3e","object":"checkout","url":"https://pay.example.com/c/co_6uqvXQ2b0o8yJc1hTa4WkZ3e",` +
		`"status":"%s","store":"demo","currency":"CNY","amount":1999,"refunded_amount":%d,"reference":"order-1042"}`
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req_example")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/checkouts":
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, co, "open", 0)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/refunds"):
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"id":"re_1","object":"refund","checkout_id":"co_6uqvXQ2b0o8yJc1hTa4WkZ3e","amount":500,"currency":"CNY","kind":"merchant","status":"succeeded","attempt":1}`)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/cancel"):
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, `{"error":{"code":"checkout_paid","message":"the checkout is paid: refund it instead"}}`)
		case r.URL.Path == "/v1/checkouts/co_6uqvXQ2b0o8yJc1hTa4WkZ3e":
			fmt.Fprintf(w, co, "partially_refunded", 500)
		case r.URL.Path == "/v1/checkouts" && r.URL.Query().Get("starting_after") == "":
			fmt.Fprintf(w, `{"object":"list","data":[`+co+`],"has_more":true,"next_cursor":"co_6uqvXQ2b0o8yJc1hTa4WkZ3e"}`, "paid", 0)
		case r.URL.Path == "/v1/checkouts":
			io.WriteString(w, `{"object":"list","data":[{"id":"co_0ldErQ2b0o8yJc1hTa4WkZ3e","status":"paid","amount":800}],"has_more":false}`)
		case r.URL.Path == "/v1/events":
			io.WriteString(w, `{"object":"list","data":[{"id":"evt_4mZ2h1pQd8Kx0aT6bW3cY9rN","object":"event","type":"checkout.paid","api_version":"2026-12-01",`+
				`"checkout_id":"co_6uqvXQ2b0o8yJc1hTa4WkZ3e","created_at":"2026-12-01T10:00:00.123Z",`+
				`"data":{"checkout":{"id":"co_6uqvXQ2b0o8yJc1hTa4WkZ3e","object":"checkout","status":"paid","amount":1000,"refunded_amount":0}},"delivery":{"state":"delivered","attempts":[{"status":200,"duration_ms":42}]}}],"has_more":false}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"code":"not_found","message":"no such checkout","param":"id"}}`)
		}
	}))
}

// Create a checkout and send the payer to its URL.
func ExampleClient_CreateCheckout() {
	srv := fakeService() // your service's URL, e.g. https://pay.example.com
	defer srv.Close()
	c, err := client.New(srv.URL, "sk_test_…") // e.g. os.Getenv("CHECKOUT_API_KEY")
	if err != nil {
		log.Fatal(err)
	}
	co, err := c.CreateCheckout(context.Background(), &client.CheckoutCreateParams{
		Amount:      1999, // fen: ¥19.99
		Description: "2 × 拿铁 Latte",
		Reference:   "order-1042",
		SuccessURL:  "https://shop.example.com/orders/1042?checkout={CHECKOUT_ID}",
		ExpiresIn:   900,
	}, client.WithIdempotencyKey("order-1042")) // optional: safe to repeat across restarts
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(co.ID, co.Status, co.URL)
	// Output:
	// co_6uqvXQ2b0o8yJc1hTa4WkZ3e open https://pay.example.com/c/co_6uqvXQ2b0o8yJc1hTa4WkZ3e
}

// Read one checkout; a missing one is ErrNotFound.
func ExampleClient_GetCheckout() {
	srv := fakeService()
	defer srv.Close()
	c, _ := client.New(srv.URL, "sk_test_…")
	ctx := context.Background()
	co, err := c.GetCheckout(ctx, "co_6uqvXQ2b0o8yJc1hTa4WkZ3e")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(co.Status, co.RefundedAmount)
	_, err = c.GetCheckout(ctx, "co_nosuchcheckout")
	fmt.Println(errors.Is(err, client.ErrNotFound))
	// Output:
	// partially_refunded 500
	// true
}

// Walk every paid checkout, page after page.
func ExampleClient_IterCheckouts() {
	srv := fakeService()
	defer srv.Close()
	c, _ := client.New(srv.URL, "sk_test_…")
	it := c.IterCheckouts(context.Background(), &client.CheckoutListParams{Status: client.StatusPaid, Limit: 100})
	for it.Next() {
		co := it.Current()
		fmt.Println(co.ID, co.Amount)
	}
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// co_6uqvXQ2b0o8yJc1hTa4WkZ3e 1999
	// co_0ldErQ2b0o8yJc1hTa4WkZ3e 800
}

// Cancel a checkout; a paid one cannot be cancelled, and the error says
// why with its code, for programs, and its message, for people.
func ExampleClient_CancelCheckout() {
	srv := fakeService()
	defer srv.Close()
	c, _ := client.New(srv.URL, "sk_test_…")
	_, err := c.CancelCheckout(context.Background(), "co_6uqvXQ2b0o8yJc1hTa4WkZ3e")
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Code, apiErr.RequestID)
	}
	fmt.Println(errors.Is(err, client.ErrCheckoutPaid))
	// Output:
	// 409 checkout_paid req_example
	// true
}

// Refund part of a paid checkout. The client sends an idempotency key,
// the same on each of its retries; give your own to be safe across
// restarts of your process too.
func ExampleClient_CreateRefund() {
	srv := fakeService()
	defer srv.Close()
	c, _ := client.New(srv.URL, "sk_test_…")
	re, err := c.CreateRefund(context.Background(), "co_6uqvXQ2b0o8yJc1hTa4WkZ3e",
		&client.RefundCreateParams{Amount: 500, Reason: "one latte was cold"},
		client.WithIdempotencyKey("refund-order-1042-1"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(re.ID, re.Amount, re.Status)
	// Output:
	// re_1 500 succeeded
}

// List the events of a checkout and how their webhooks went.
func ExampleClient_ListEvents() {
	srv := fakeService()
	defer srv.Close()
	c, _ := client.New(srv.URL, "sk_test_…")
	page, err := c.ListEvents(context.Background(), &client.EventListParams{CheckoutID: "co_6uqvXQ2b0o8yJc1hTa4WkZ3e"})
	if err != nil {
		log.Fatal(err)
	}
	for _, ev := range page.Data {
		// ev.Data.Checkout is a client.Checkout, as GetCheckout returns it.
		fmt.Println(ev.Type, ev.APIVersion, ev.Data.Checkout.Status, ev.Data.Checkout.Amount, ev.Delivery.State, ev.Delivery.Attempts[0].Status)
	}
	// Output:
	// checkout.paid 2026-12-01 paid 1000 delivered 200
}

// A webhook endpoint: ParseEvent verifies the signature over the raw body,
// then decodes the event.
func ExampleParseEvent() {
	secrets := []string{"whsec_current", "whsec_previous"} // both while rotating
	http.HandleFunc("/hooks/checkout", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		ev, err := client.ParseEvent(body, r.Header.Get("Checkout-Signature"), secrets, 0)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// Deduplicate on ev.ID: a delivery may come more than once.
		if ev.Type == client.EventCheckoutPaid {
			log.Printf("order %s paid", ev.Data.Checkout.Reference)
		}
		w.WriteHeader(http.StatusOK)
	})
}

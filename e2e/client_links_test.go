package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/client"
)

// TestGoClientPaymentLinks drives the Go client's payment link calls
// against the real service: create (a retry under the same key is one
// link), get, update, list across pages, a payer's tap on the link's page,
// the checkouts of the link, and the amount lock once a checkout used it.
func TestGoClientPaymentLinks(t *testing.T) {
	t.Parallel()
	s := newStack(t, sandboxOptions{})
	c, err := client.New(s.url, s.apiKey, client.WithBackoff(10*time.Millisecond, 100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	params := &client.PaymentLinkCreateParams{Amount: 1500, Description: "拿铁", Store: storeNative, MaxPayments: 5, Metadata: map[string]string{"menu": "a"}}
	l, err := c.CreatePaymentLink(ctx, params, client.WithIdempotencyKey("link-e2e-1"))
	if err != nil {
		t.Fatal(err)
	}
	var ri client.ResponseInfo
	again, err := c.CreatePaymentLink(ctx, params, client.WithIdempotencyKey("link-e2e-1"), client.WithResponseInfo(&ri))
	if err != nil || again.ID != l.ID || !ri.Replayed {
		t.Fatalf("replayed create: %+v %+v %v", again, ri, err)
	}
	if l.AmountType != "fixed" || l.Amount != 1500 || !l.Active || l.MaxPayments != 5 || !strings.HasSuffix(l.URL, "/l/"+l.ID) {
		t.Fatalf("created %+v", l)
	}
	entered, err := c.CreatePaymentLink(ctx, &client.PaymentLinkCreateParams{MinAmount: 100, MaxAmount: 9900, Presets: []int64{500}, Store: storeNative})
	if err != nil || entered.AmountType != "entered" {
		t.Fatalf("entered: %+v %v", entered, err)
	}
	got, err := c.GetPaymentLink(ctx, l.ID)
	if err != nil || got.Metadata["menu"] != "a" {
		t.Fatalf("get: %+v %v", got, err)
	}
	it := c.IterPaymentLinks(ctx, &client.PaymentLinkListParams{Limit: 1})
	var listed []string
	for it.Next() {
		listed = append(listed, it.Current().ID)
	}
	if it.Err() != nil || len(listed) != 2 {
		t.Fatalf("listed %v %v", listed, it.Err())
	}
	desc := "大杯拿铁"
	up, err := c.UpdatePaymentLink(ctx, l.ID, &client.PaymentLinkUpdateParams{Description: &desc})
	if err != nil || up.Description != desc {
		t.Fatalf("update: %+v %v", up, err)
	}

	// A payer taps the link's page.
	jar := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := jar.Get(l.URL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]*)"`).FindSubmatch(page)
	if res.StatusCode != 200 || m == nil {
		t.Fatalf("link page: %d", res.StatusCode)
	}
	req, _ := http.NewRequest("POST", l.URL, strings.NewReader(url.Values{"csrf": {string(m[1])}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.url)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err = jar.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/c/co_") {
		t.Fatalf("tap: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	cs, err := c.ListCheckouts(ctx, &client.CheckoutListParams{PaymentLink: l.ID})
	if err != nil || len(cs.Data) != 1 || cs.Data[0].PaymentLink != l.ID || cs.Data[0].Amount != 1500 || "/c/"+cs.Data[0].ID != res.Header.Get("Location") {
		t.Fatalf("the link's checkouts: %+v %v", cs, err)
	}
	amount := int64(1)
	_, err = c.UpdatePaymentLink(ctx, l.ID, &client.PaymentLinkUpdateParams{Amount: &amount})
	if !errors.Is(err, client.ErrAmountLocked) {
		t.Fatalf("amount of a used link: %v", err)
	}
	off := false
	if up, err := c.UpdatePaymentLink(ctx, l.ID, &client.PaymentLinkUpdateParams{Active: &off}); err != nil || up.Active || up.DeactivatedBy != "merchant" || !up.AmountLocked {
		t.Fatalf("deactivate: %+v %v", up, err)
	}
	if _, err := c.GetPaymentLink(ctx, "pl_000000000000000000000000"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("missing link: %v", err)
	}
	// Deleted: gone from the API and the list; a second delete is 404.
	if d, err := c.DeletePaymentLink(ctx, entered.ID); err != nil || !d.Deleted || d.ID != entered.ID {
		t.Fatalf("delete: %+v %v", d, err)
	}
	if _, err := c.GetPaymentLink(ctx, entered.ID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("deleted link: %v", err)
	}
	if _, err := c.DeletePaymentLink(ctx, entered.ID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if page, err := c.ListPaymentLinks(ctx, nil); err != nil || len(page.Data) != 1 || page.Data[0].ID != l.ID {
		t.Fatalf("list after delete: %+v %v", page, err)
	}
}

package handlers_test

import (
	"io"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
)

// TestConsoleOverviewScale measures the overview of a merchant with
// CONSOLE_SCALE checkouts created over the week, half of them paid (it
// reads the day sums, so its time does not grow with them), and the
// export of the week (which reads every checkout, streamed). A
// measurement, run by hand:
// CONSOLE_SCALE=100000 go test -run TestConsoleOverviewScale -v ./handlers/
func TestConsoleOverviewScale(t *testing.T) {
	consoleBenchCheckouts, _ := strconv.Atoi(os.Getenv("CONSOLE_SCALE"))
	if consoleBenchCheckouts <= 0 {
		t.Skip("CONSOLE_SCALE not set")
	}

	e := newConsoleEnv(t)
	ctx := t.Context()
	start := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	for i := range consoleBenchCheckouts {
		e.now.Store(start.Add(time.Duration(i) * 6 * time.Hour * 24 / time.Duration(consoleBenchCheckouts)).UnixNano())
		co, err := checkout.NewCheckout(&checkout.Draft{MerchantID: "shop", StoreID: "main", Amounts: checkout.Amounts{Original: 100, Trade: 100},
			Description: "bench", LatePolicy: checkout.LatePolicyAccept, TTL: time.Hour}, e.clock())
		if err != nil {
			t.Fatal(err)
		}
		if err := e.app.Repo.Create(ctx, co, nil); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			a, _, err := e.app.Repo.AddAttempt(ctx, co.ID, checkout.MethodWeChat, checkout.ScenarioJSAPI)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.app.Repo.MarkPaid(ctx, co.ID, a.Seq, "ord"+co.ID[3:13]); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.now.Store(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC).UnixNano())
	br := e.loginViewer()
	const rounds = 5
	began := time.Now()
	for range rounds {
		if a := e.do(br, "GET", "/console/overview", nil); a.status != http.StatusOK {
			t.Fatal(a.status)
		}
	}
	t.Logf("overview of %d checkouts: %v a page", consoleBenchCheckouts, time.Since(began)/rounds)
	began = time.Now()
	for range rounds {
		resp, err := br.Get(e.srv.URL + "/console/export.csv?from=2026-11-26&to=2026-12-02")
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n == 0 {
			t.Fatal(resp.StatusCode)
		}
	}
	t.Logf("export of the week (%d payments): %v", consoleBenchCheckouts/2, time.Since(began)/rounds)
}

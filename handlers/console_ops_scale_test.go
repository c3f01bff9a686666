package handlers_test

import (
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
)

// TestConsoleOverviewScale measures the overview of a merchant with
// CONSOLE_SCALE checkouts created over the week, half of them paid (it
// reads the day sums, so its time does not grow with them), and the
// export of the week (which reads every checkout, streamed), and the
// payments page filtered by status and by day (the indexes). A
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
	// The step first: i × 6 days in nanoseconds overflows an int64 past
	// i ≈ 17,800, and the checkouts landed on wrapped-around times.
	step := 6 * 24 * time.Hour / time.Duration(consoleBenchCheckouts)
	for i := range consoleBenchCheckouts {
		e.now.Store(start.Add(time.Duration(i) * step).UnixNano())
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
	// The payments page with the filters the indexes serve (the issue's
	// target: under 50 ms a page at 100,000), the whole request: session,
	// list, attempts and the rendering, a full page of rows each.
	for _, q := range []string{"status=paid", "from=2026-11-29&to=2026-11-29",
		"status=paid&from=2026-11-29&to=2026-11-29", ""} {
		times := make([]time.Duration, 0, 9)
		for range 9 {
			began := time.Now()
			a := e.do(br, "GET", "/console/payments?"+q, nil)
			times = append(times, time.Since(began))
			if a.status != http.StatusOK || rows(a.body) != 50 {
				t.Fatalf("payments?%s: %d, %d rows, further %v", q, a.status, rows(a.body), strings.Contains(a.body, "payments-further"))
			}
		}
		slices.Sort(times)
		t.Logf("payments page ?%s of %d checkouts: median %v, slowest %v", q, consoleBenchCheckouts, times[len(times)/2], times[len(times)-1])
		if times[len(times)/2] > 50*time.Millisecond {
			t.Errorf("payments page ?%s: median %v, over the 50 ms target", q, times[len(times)/2])
		}
	}
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

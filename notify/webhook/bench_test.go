package webhook

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// BenchmarkVerify is the merchant-side cost of checking one delivery
// signed with two secrets.
func BenchmarkVerify(b *testing.B) {
	body := make([]byte, 1200)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	now := time.Unix(1_790_000_000, 0)
	h := SignatureHeader(now, body, []string{secretNew, secretOld})
	secrets := []string{secretOld}
	b.ReportAllocs()
	for b.Loop() {
		if err := Verify(body, h, secrets, time.Minute, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeliver measures the whole delivery path per event: claim,
// sign, POST to a local receiver, record the attempt. Batches of 50 events
// are emitted outside the timer and delivered by one Tick.
func BenchmarkDeliver(b *testing.B) {
	f := newFixture(b, WithBatch(50, 8))
	rc := newReceiver(b, always(http.StatusOK))
	f.merchant("m_acme", rc.URL)
	counter := &roundTrips{}
	f.rdb.AddHook(counter)
	ctx := context.Background()
	c := testCheckout(b, "m_acme", f.clk.Now())
	b.ReportAllocs()
	delivered := 0
	var tickTrips int64
	b.ResetTimer()
	for delivered < b.N {
		b.StopTimer()
		n := min(50, b.N-delivered)
		for range n {
			e, err := NewEvent(TypePaid, c, testPublicURL, f.clk.Now())
			if err != nil {
				b.Fatal(err)
			}
			if err := f.svc.Emit(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
		before := counter.n.Load()
		b.StartTimer()
		got, err := f.svc.Tick(ctx, f.clk.Now())
		if err != nil || got != n {
			b.Fatalf("Tick: %d, %v (want %d)", got, err, n)
		}
		b.StopTimer()
		tickTrips += counter.n.Load() - before
		b.StartTimer()
		delivered += n
	}
	b.StopTimer()
	b.ReportMetric(float64(tickTrips)/float64(b.N), "roundtrips/op")
}

// BenchmarkLogAfterIdle is one poll of an events stream that is up to
// date (what each held stream does every second): one ZRANGE that finds
// nothing, after 1000 events.
func BenchmarkLogAfterIdle(b *testing.B) {
	f := newFixture(b)
	f.merchant("m_acme", "")
	for range 1000 {
		f.emit(b, "m_acme", TypePaid)
	}
	ctx := context.Background()
	head, err := f.svc.Head(ctx, "m_acme")
	if err != nil || head != 1000 {
		b.Fatalf("head %d, %v", head, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		evs, _, err := f.svc.LogAfter(ctx, "m_acme", head, 100)
		if err != nil || len(evs) != 0 {
			b.Fatalf("%d events, %v", len(evs), err)
		}
	}
}

package checkout

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/gateway"
)

func TestSentIndexByGatewayDay(t *testing.T) {
	r, _ := newTestRepo(t)
	ctx := context.Background()
	cn := gateway.ChinaTime()
	// 23:59:59 and 00:00:01 in UTC+8 fall on two gateway days, though both
	// are the same UTC day.
	late := time.Date(2026, 12, 1, 23, 59, 59, 0, cn)
	early := time.Date(2026, 12, 2, 0, 0, 1, 0, cn)
	for _, s := range []struct {
		out string
		at  time.Time
	}{{"A1", late}, {"B1", early}, {"A1", early}, {"C1", late.Add(-time.Hour)}} {
		if err := r.RecordSent(ctx, "m1", "s1", s.out, s.at); err != nil {
			t.Fatal(err)
		}
	}
	got, err := r.SentOn(ctx, "m1", "s1", late.UTC())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].OutNo != "C1" || got[1].OutNo != "A1" || !got[1].At.Equal(late) {
		t.Fatalf("Dec 1: got %+v, want C1 then A1 at %v", got, late)
	}
	got, err = r.SentOn(ctx, "m1", "s1", early)
	if err != nil {
		t.Fatal(err)
	}
	// A1 was sent again on Dec 2 (a resend under the same number): it is
	// in both days' lists.
	if len(got) != 2 || got[0].OutNo != "A1" || got[1].OutNo != "B1" {
		t.Fatalf("Dec 2: got %+v, want A1 and B1", got)
	}
	if other, _ := r.SentOn(ctx, "m1", "s2", late); len(other) != 0 {
		t.Fatalf("another store sees %+v", other)
	}
	if err := r.RecordSent(ctx, "m{1}", "s1", "X", late); !errors.Is(err, ErrInvalid) {
		t.Fatalf("braces in a merchant id: %v, want ErrInvalid", err)
	}
}

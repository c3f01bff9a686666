package console

import (
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/internal/redistest"
)

func TestAuditLog(t *testing.T) {
	rdb := redistest.New(t)
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	a := NewAudit(rdb, redistest.Prefix(t, rdb), 30*24*time.Hour, func() time.Time { return now })
	ctx := t.Context()
	for i, action := range []string{"sign_in", "refund", "sign_out"} {
		if err := a.Record(ctx, "shop", AuditEntry{Actor: "ops@shop.example", Action: action, Target: "co_1", Address: "203.0.113.9"}); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Duration(i+1) * time.Second)
	}
	if err := a.Record(ctx, "other", AuditEntry{Actor: "x@other.example", Action: "sign_in", Address: "198.51.100.1"}); err != nil {
		t.Fatal(err)
	}
	got, next, err := a.List(ctx, "shop", 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Action != "sign_out" || got[1].Action != "refund" || next == 0 {
		t.Fatalf("first page %+v next %d", got, next)
	}
	if got[0].Actor != "ops@shop.example" || got[0].Address != "203.0.113.9" || got[0].Target != "co_1" || got[0].ID == "" || got[0].At.IsZero() {
		t.Errorf("entry %+v lacks who, what, where or when", got[0])
	}
	rest, next, err := a.List(ctx, "shop", next, 2)
	if err != nil || len(rest) != 1 || rest[0].Action != "sign_in" || next != 0 {
		t.Fatalf("second page %+v next %d err %v", rest, next, err)
	}
	// Past the retention the old entries are neither listed nor kept.
	now = now.Add(31 * 24 * time.Hour)
	if got, _, _ := a.List(ctx, "shop", 0, 10); len(got) != 0 {
		t.Errorf("entries past the retention listed: %+v", got)
	}
	if err := a.Record(ctx, "shop", AuditEntry{Actor: "ops@shop.example", Action: "sign_in", Address: "203.0.113.9"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.ZCard(ctx, a.key("shop")).Result(); n != 1 {
		t.Errorf("%d entries stored after the trim, want 1", n)
	}
	if ttl, _ := rdb.TTL(ctx, a.key("shop")).Result(); ttl <= 0 || ttl > 30*24*time.Hour {
		t.Errorf("TTL %s", ttl)
	}
	if err := a.Record(ctx, "shop", AuditEntry{Action: "refund"}); err == nil {
		t.Error("an entry without an actor was written")
	}
}

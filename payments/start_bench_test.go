package payments

import (
	"context"
	"testing"
)

// BenchmarkStartReuse is a reload's or a double click's Start: the lock, two
// reads and the stored parameters, no gateway call.
//
//	go test ./checkout -run '^$' -bench StartReuse -benchmem
func BenchmarkStartReuse(b *testing.B) {
	e := newPayEnvTB(b)
	c := e.checkout(b, 1234)
	ctx := context.Background()
	req := wechatJSAPI(c.ID, "alice")
	if _, err := e.pay.Start(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		a, err := e.pay.Start(ctx, req)
		if err != nil || !a.Reused {
			b.Fatalf("%+v %v", a, err)
		}
	}
	if n := e.gw.payOrders.Load(); n != 1 {
		b.Fatalf("%d payorders", n)
	}
}

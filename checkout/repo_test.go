package checkout

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"crypto/rand"

	"github.com/redis/go-redis/v9"
	"github.com/wallet-checkout/checkout/internal/redistest"
)

// clock is a settable test clock.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func newTestRepo(t testing.TB) (*Repo, *clock) {
	t.Helper()
	clk := newClock()
	rdb := redistest.New(t)
	return NewRepo(rdb, WithPrefix(redistest.Prefix(t, rdb)), WithClock(clk.Now)), clk
}

func draft(merchant string) *Draft {
	return &Draft{
		MerchantID:  merchant,
		StoreID:     "main",
		Amounts:     Amounts{Original: 1200, Discount: 100, Ignore: 100, Trade: 1000},
		Description: "两杯咖啡",
		Reference:   "order-42",
		SuccessURL:  "https://shop.example/ok?c={CHECKOUT_ID}",
		CancelURL:   "https://shop.example/cancel",
		LatePolicy:  LatePolicyAccept,
		Metadata:    map[string]string{"table": "7"},
		Wallets:     []Method{MethodWeChat, MethodAlipay},
	}
}

func create(t testing.TB, r *Repo, clk *clock, merchant string) *Checkout {
	t.Helper()
	c, err := NewCheckout(draft(merchant), clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Create(context.Background(), c, nil); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCreateGet(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	c := create(t, r, clk, "m1")
	if !ValidID(c.ID) || len(c.ID) != 27 {
		t.Fatalf("id %q", c.ID)
	}
	got, err := r.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.SuccessURL != "https://shop.example/ok?c="+c.ID {
		t.Fatalf("placeholder not replaced: %s", got.SuccessURL)
	}
	if fmt.Sprint(got) != fmt.Sprint(c) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, c)
	}
	if !got.VerifyClientSecret(c.ClientSecret) || got.VerifyClientSecret(c.ClientSecret+"x") || got.VerifyClientSecret("") {
		t.Fatal("client secret check")
	}
	if id, ok := CheckoutIDFromClientSecret(c.ClientSecret); !ok || id != c.ID {
		t.Fatal("CheckoutIDFromClientSecret")
	}
	if _, err := r.GetFor(ctx, "m2", c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other merchant: err = %v, want ErrNotFound", err)
	}
	if _, err := r.GetFor(ctx, "m1", c.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "co_", "co_" + rand.Text(), "../etc", c.ID[:len(c.ID)-1] + "!"} {
		if _, err := r.Get(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get(%q) err = %v", id, err)
		}
	}
}

func TestNewCheckoutRejects(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name string
		mod  func(*Draft)
	}{
		{"zero amount", func(d *Draft) { d.Amounts = Amounts{} }},
		{"negative", func(d *Draft) { d.Amounts = Amounts{Original: 100, Discount: -10, Trade: 110} }},
		{"does not add up", func(d *Draft) { d.Amounts.Trade = 999 }},
		{"overflowing breakdown", func(d *Draft) {
			d.Amounts = Amounts{Original: 0, Discount: 1<<63 - 1, Ignore: 1<<63 - 1, Trade: 2}
		}},
		{"long description", func(d *Draft) { d.Description = string(make([]rune, 101)) }},
		{"bad late policy", func(d *Draft) { d.LatePolicy = "" }},
		{"short ttl", func(d *Draft) { d.TTL = time.Second }},
		{"long ttl", func(d *Draft) { d.TTL = 25 * time.Hour }},
		{"bad wallet", func(d *Draft) { d.Wallets = []Method{"paypal"} }},
		{"no store", func(d *Draft) { d.StoreID = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := draft("m")
			tt.mod(d)
			if _, err := NewCheckout(d, now); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestOutNo(t *testing.T) {
	id, _ := NewID()
	for _, seq := range []int{1, 9, 10, 123456} {
		o := OutNo(id, seq)
		if !isAlnum(o) || len(o) > 64 {
			t.Fatalf("out_no %q", o)
		}
		gid, gseq, ok := ParseOutNo(o)
		if !ok || gid != id || gseq != seq {
			t.Fatalf("ParseOutNo(%q) = %q, %d, %v", o, gid, gseq, ok)
		}
	}
	for _, bad := range []string{"", "abc", id[3:], id[3:] + "0", id[3:] + "01", id[3:] + "-1", id[3:] + "1a", id[3:] + "9999999999"} {
		if _, _, ok := ParseOutNo(bad); ok {
			t.Fatalf("ParseOutNo(%q) accepted", bad)
		}
	}
}

func FuzzParseOutNo(f *testing.F) {
	f.Add("Ab3dEfGhIjKlMnOpQrStUvWx1")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, seq, ok := ParseOutNo(s)
		if ok && OutNo(id, seq) != s {
			t.Fatalf("ParseOutNo(%q) = %q,%d does not round-trip", s, id, seq)
		}
	})
}

// stateOf drives a fresh checkout to a start state and returns it; attempt 1
// exists (pending or paid) in every state but open and cancelled_open.
func stateOf(t *testing.T, r *Repo, clk *clock, state string) *Checkout {
	t.Helper()
	ctx := context.Background()
	c := create(t, r, clk, "m1")
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("reach %s: %v", state, err)
		}
	}
	addAttempt := func() {
		t.Helper()
		if _, _, err := r.AddAttempt(ctx, c.ID, MethodWeChat, ScenarioQR); err != nil {
			t.Fatalf("reach %s: %v", state, err)
		}
	}
	switch state {
	case "open":
	case "pending":
		addAttempt()
	case "paid":
		addAttempt()
		must(r.MarkPaid(ctx, c.ID, 1, "ORD1"))
	case "partially_refunded":
		addAttempt()
		must(r.MarkPaid(ctx, c.ID, 1, "ORD1"))
		must(r.RecordRefund(ctx, c.ID, "R1", 100))
	case "refunded":
		addAttempt()
		must(r.MarkPaid(ctx, c.ID, 1, "ORD1"))
		must(r.RecordRefund(ctx, c.ID, "R1", 1000))
	case "expired":
		addAttempt()
		clk.Advance(31 * time.Minute)
		must(r.Expire(ctx, c.ID))
	case "cancelled":
		addAttempt()
		must(r.Cancel(ctx, c.ID))
	case "expired_open":
		clk.Advance(31 * time.Minute)
		must(r.Expire(ctx, c.ID))
	case "cancelled_open":
		must(r.Cancel(ctx, c.ID))
	default:
		t.Fatalf("unknown state %s", state)
	}
	got, err := r.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestTransitions(t *testing.T) {
	type op string
	const (
		opCancel  op = "cancel"
		opExpire  op = "expire"
		opPay     op = "pay"
		opRefund  op = "refund"
		opAttempt op = "attempt"
	)
	// want is the status after the op, "" when it must be refused.
	tests := []struct {
		start string
		op    op
		want  Status
		late  bool
	}{
		{"open", opCancel, StatusCancelled, false},
		{"open", opExpire, StatusExpired, false},
		{"open", opRefund, "", false},
		{"open", opAttempt, StatusPending, false},
		{"pending", opCancel, StatusCancelled, false},
		{"pending", opExpire, StatusExpired, false},
		{"pending", opPay, StatusPaid, false},
		{"pending", opRefund, "", false},
		{"pending", opAttempt, StatusPending, false},
		{"paid", opCancel, "", false},
		{"paid", opExpire, "", false},
		{"paid", opPay, "", false}, // duplicate confirmation
		{"paid", opRefund, StatusPartiallyRefunded, false},
		{"paid", opAttempt, "", false},
		{"partially_refunded", opCancel, "", false},
		{"partially_refunded", opExpire, "", false},
		{"partially_refunded", opPay, "", false},
		{"partially_refunded", opRefund, StatusPartiallyRefunded, false},
		{"partially_refunded", opAttempt, "", false},
		{"refunded", opCancel, "", false},
		{"refunded", opExpire, "", false},
		{"refunded", opPay, "", false},
		{"refunded", opRefund, "", false},
		{"refunded", opAttempt, "", false},
		{"expired", opCancel, "", false},
		{"expired", opExpire, "", false},
		{"expired", opPay, StatusPaid, true},
		{"expired", opRefund, "", false},
		{"expired", opAttempt, "", false},
		{"cancelled", opCancel, "", false},
		{"cancelled", opExpire, "", false},
		{"cancelled", opPay, StatusPaid, true},
		{"cancelled", opRefund, "", false},
		{"cancelled", opAttempt, "", false},
		{"expired_open", opCancel, "", false},
		{"expired_open", opAttempt, "", false},
		{"cancelled_open", opExpire, "", false},
		{"cancelled_open", opAttempt, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.start+"/"+string(tt.op), func(t *testing.T) {
			r, clk := newTestRepo(t)
			ctx := context.Background()
			c := stateOf(t, r, clk, tt.start)
			if tt.op == opExpire {
				clk.Advance(31 * time.Minute)
			}
			var changed bool
			var after *Checkout
			var err error
			switch tt.op {
			case opCancel:
				var tr *Transition
				if tr, err = r.Cancel(ctx, c.ID); err == nil {
					changed, after = tr.Changed, tr.Checkout
				}
			case opExpire:
				var tr *Transition
				if tr, err = r.Expire(ctx, c.ID); err == nil {
					changed, after = tr.Changed, tr.Checkout
				}
			case opPay:
				var p *Payment
				if p, err = r.MarkPaid(ctx, c.ID, 1, "ORD1"); err == nil {
					changed, after = p.Changed, p.Checkout
					if p.DoublePaid {
						t.Fatal("same attempt reported as a double payment")
					}
				}
			case opRefund:
				var tr *Transition
				if tr, err = r.RecordRefund(ctx, c.ID, "R9", 100); err == nil {
					changed, after = tr.Changed, tr.Checkout
				}
			case opAttempt:
				var tr *Transition
				if _, tr, err = r.AddAttempt(ctx, c.ID, MethodAlipay, ScenarioJump); err == nil {
					changed, after = true, tr.Checkout
				} else if !errors.Is(err, ErrNotAllowed) {
					t.Fatalf("refused attempt: err = %v, want ErrNotAllowed", err)
				} else {
					err = nil
				}
			}
			if err != nil {
				t.Fatalf("%s from %s: %v", tt.op, tt.start, err)
			}
			now, gerr := r.Get(ctx, c.ID)
			if gerr != nil {
				t.Fatal(gerr)
			}
			if tt.want == "" {
				if changed {
					t.Fatalf("%s from %s happened; must be refused", tt.op, tt.start)
				}
				if now.Status != c.Status || now.Refunded != c.Refunded || now.Late != c.Late || now.Attempts != c.Attempts {
					t.Fatalf("refused %s changed the checkout: %+v → %+v", tt.op, c, now)
				}
				return
			}
			if !changed || after.Status != tt.want || now.Status != tt.want || now.Late != tt.late {
				t.Fatalf("%s from %s: changed=%v status=%s late=%v; want %s late=%v", tt.op, tt.start, changed, now.Status, now.Late, tt.want, tt.late)
			}
		})
	}
}

func TestRefundLimits(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	c := stateOf(t, r, clk, "paid")
	if _, err := r.RecordRefund(ctx, c.ID, "R1", 1001); !errors.Is(err, ErrInvalid) {
		t.Fatalf("over-refund err = %v", err)
	}
	if _, err := r.RecordRefund(ctx, c.ID, "R1", 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("zero refund err = %v", err)
	}
	tr, err := r.RecordRefund(ctx, c.ID, "R1", 400)
	if err != nil || tr.To != StatusPartiallyRefunded || tr.Checkout.Refunded != 400 {
		t.Fatalf("partial: %+v, %v", tr, err)
	}
	if _, err := r.RecordRefund(ctx, c.ID, "R2", 601); !errors.Is(err, ErrInvalid) {
		t.Fatalf("over-refund err = %v", err)
	}
	tr, err = r.RecordRefund(ctx, c.ID, "R2", 600)
	if err != nil || tr.From != StatusPartiallyRefunded || tr.To != StatusRefunded || tr.Checkout.Refunded != 1000 {
		t.Fatalf("rest: %+v, %v", tr, err)
	}
}

func TestDoublePayment(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	c := create(t, r, clk, "m1")
	a1, _, err := r.AddAttempt(ctx, c.ID, MethodWeChat, ScenarioQR)
	if err != nil {
		t.Fatal(err)
	}
	a2, _, err := r.AddAttempt(ctx, c.ID, MethodAlipay, ScenarioQR)
	if err != nil {
		t.Fatal(err)
	}
	if a1.OutNo == a2.OutNo || a2.Seq != 2 {
		t.Fatalf("attempts %+v %+v", a1, a2)
	}
	p1, err := r.MarkPaid(ctx, c.ID, a1.Seq, "W1")
	if err != nil || !p1.Changed || p1.DoublePaid {
		t.Fatalf("first: %+v %v", p1, err)
	}
	p2, err := r.MarkPaid(ctx, c.ID, a2.Seq, "A2")
	if err != nil || p2.Changed || !p2.DoublePaid || !p2.AttemptChanged {
		t.Fatalf("second: %+v %v", p2, err)
	}
	if p2.Checkout.PaidAttempt != 1 {
		t.Fatalf("paid attempt = %d, want 1", p2.Checkout.PaidAttempt)
	}
	p3, err := r.MarkPaid(ctx, c.ID, a2.Seq, "A2")
	if err != nil || p3.Changed || p3.DoublePaid || p3.AttemptChanged {
		t.Fatalf("duplicate of second: %+v %v", p3, err)
	}
	if _, err := r.MarkPaid(ctx, c.ID, a1.Seq, "FORGED"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("other ord_no: err = %v, want ErrInvalid", err)
	}
	if _, err := r.MarkPaid(ctx, c.ID, 9, "X"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing attempt: err = %v", err)
	}
}

func TestAttempts(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	c := create(t, r, clk, "m1")
	a, tr, err := r.AddAttempt(ctx, c.ID, MethodWeChat, ScenarioJSAPI)
	if err != nil || !tr.Changed || tr.From != StatusOpen || tr.To != StatusPending {
		t.Fatalf("add: %+v %v", tr, err)
	}
	if a.Amount != 1000 || a.Status != AttemptPending {
		t.Fatalf("attempt %+v", a)
	}
	gc, ga, err := r.AttemptByOutNo(ctx, a.OutNo)
	if err != nil || gc.ID != c.ID || ga.Seq != 1 || ga.Method != MethodWeChat || ga.Scenario != ScenarioJSAPI {
		t.Fatalf("by out_no: %+v %+v %v", gc, ga, err)
	}
	if _, _, err := r.AttemptByOutNo(ctx, OutNo(c.ID, 2)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown seq err = %v", err)
	}
	if _, _, err := r.AttemptByOutNo(ctx, "garbage"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("garbage err = %v", err)
	}
	// ord_no once, then moves.
	if ch, err := r.UpdateAttempt(ctx, c.ID, 1, "", "ORD9"); err != nil || !ch {
		t.Fatalf("set ord_no: %v %v", ch, err)
	}
	if ch, err := r.UpdateAttempt(ctx, c.ID, 1, "", "ORD9"); err != nil || ch {
		t.Fatalf("same ord_no again: %v %v", ch, err)
	}
	if _, err := r.UpdateAttempt(ctx, c.ID, 1, "", "OTHER"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("other ord_no err = %v", err)
	}
	moves := []struct {
		to AttemptStatus
		ok bool
	}{
		{AttemptUnknown, true}, {AttemptPending, true}, {AttemptFailed, true},
		{AttemptPending, false}, {AttemptCancelled, false}, {AttemptUnknown, false},
	}
	for _, m := range moves {
		ch, err := r.UpdateAttempt(ctx, c.ID, 1, m.to, "")
		if m.ok && (err != nil || !ch) {
			t.Fatalf("move to %s: %v %v", m.to, ch, err)
		}
		if !m.ok && !errors.Is(err, ErrNotAllowed) {
			t.Fatalf("move to %s: err = %v, want ErrNotAllowed", m.to, err)
		}
	}
	if _, err := r.UpdateAttempt(ctx, c.ID, 1, AttemptPaid, ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("paid through UpdateAttempt: %v", err)
	}
	// A failed attempt whose money arrives anyway is still paid.
	p, err := r.MarkPaid(ctx, c.ID, 1, "ORD9")
	if err != nil || !p.Changed {
		t.Fatalf("pay failed attempt: %+v %v", p, err)
	}
	as, err := r.Attempts(ctx, c.ID)
	if err != nil || len(as) != 1 || as[0].Status != AttemptPaid || as[0].OrdNo != "ORD9" {
		t.Fatalf("attempts: %+v %v", as, err)
	}

	// Wallet restrictions and expiry.
	d := draft("m1")
	d.Wallets = []Method{MethodAlipay}
	c2, _ := NewCheckout(d, clk.Now())
	if err := r.Create(ctx, c2, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.AddAttempt(ctx, c2.ID, MethodWeChat, ScenarioQR); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("disallowed wallet err = %v", err)
	}
	clk.Advance(31 * time.Minute)
	if _, _, err := r.AddAttempt(ctx, c2.ID, MethodAlipay, ScenarioQR); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("past expiry err = %v", err)
	}
}

func TestExpiryQueue(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	a := create(t, r, clk, "m1")
	clk.Advance(time.Minute)
	b := create(t, r, clk, "m1")
	due, err := r.DueForExpiry(ctx, clk.Now(), 10)
	if err != nil || len(due) != 0 {
		t.Fatalf("nothing due yet: %v %v", due, err)
	}
	// Not due: refused, stays queued.
	tr, err := r.Expire(ctx, a.ID)
	if err != nil || tr.Changed {
		t.Fatalf("early expire: %+v %v", tr, err)
	}
	clk.Advance(29*time.Minute + 30*time.Second)
	due, err = r.DueForExpiry(ctx, clk.Now(), 10)
	if err != nil || len(due) != 1 || due[0] != a.ID {
		t.Fatalf("due = %v %v; want [a]", due, err)
	}
	if tr, err := r.Expire(ctx, a.ID); err != nil || !tr.Changed || tr.To != StatusExpired {
		t.Fatalf("expire a: %+v %v", tr, err)
	}
	// b is cancelled before it is due: it leaves the queue.
	if _, err := r.Cancel(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	due, err = r.DueForExpiry(ctx, clk.Now(), 10)
	if err != nil || len(due) != 0 {
		t.Fatalf("queue after expire and cancel: %v %v", due, err)
	}
	// A queued id whose checkout is gone is dropped.
	if _, err := r.Expire(ctx, "co_"+rand.Text()[:24]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("gone: %v", err)
	}
}

func TestRetentionTTL(t *testing.T) {
	m, rdb := redistest.Miniredis(t)
	clk := newClock()
	r := NewRepo(rdb, WithClock(clk.Now), WithRetention(48*time.Hour))
	ctx := context.Background()
	c, _ := NewCheckout(draft("m1"), clk.Now())
	// miniredis has no wall clock: PEXPIREAT is relative to its own time.
	m.SetTime(clk.Now())
	if err := r.Create(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	if ttl := m.TTL(r.keyCheckout(c.ID)); ttl < 48*time.Hour || ttl > 49*time.Hour {
		t.Fatalf("active TTL = %s, want expiry + retention", ttl)
	}
	if _, _, err := r.AddAttempt(ctx, c.ID, MethodWeChat, ScenarioQR); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Cancel(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{r.keyCheckout(c.ID), r.keyAttempts(c.ID)} {
		if ttl := m.TTL(k); ttl != 48*time.Hour {
			t.Fatalf("terminal TTL of %s = %s, want retention", k, ttl)
		}
	}
	m.FastForward(48*time.Hour + time.Second)
	if _, err := r.Get(ctx, c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after retention: %v", err)
	}
}

func TestConcurrentTransitions(t *testing.T) {
	const n = 50
	r, clk := newTestRepo(t)
	ctx := context.Background()
	race := func(name string, c *Checkout, f func() (bool, error)) {
		t.Helper()
		var wins atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ok, err := f()
				if err != nil {
					errs <- err
					return
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("%s: %v", name, err)
		}
		if wins.Load() != 1 {
			t.Fatalf("%s: %d goroutines won, want exactly 1", name, wins.Load())
		}
	}
	c := stateOf(t, r, clk, "pending")
	race("mark paid", c, func() (bool, error) {
		p, err := r.MarkPaid(ctx, c.ID, 1, "ORD")
		if err != nil {
			return false, err
		}
		return p.Changed, nil
	})
	c = stateOf(t, r, clk, "pending")
	race("cancel", c, func() (bool, error) {
		tr, err := r.Cancel(ctx, c.ID)
		if err != nil {
			return false, err
		}
		return tr.Changed, nil
	})
	c = stateOf(t, r, clk, "pending")
	clk.Advance(31 * time.Minute)
	race("expire", c, func() (bool, error) {
		tr, err := r.Expire(ctx, c.ID)
		if err != nil {
			return false, err
		}
		return tr.Changed, nil
	})
	c = stateOf(t, r, clk, "paid")
	race("full refund", c, func() (bool, error) {
		tr, err := r.RecordRefund(ctx, c.ID, "R1", 1000)
		if errors.Is(err, ErrInvalid) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return tr.Changed, nil
	})
	c = create(t, r, clk, "m1")
	race("open to pending", c, func() (bool, error) {
		_, tr, err := r.AddAttempt(ctx, c.ID, MethodWeChat, ScenarioQR)
		if err != nil {
			return false, err
		}
		return tr.Changed, nil
	})
	as, err := r.Attempts(ctx, c.ID)
	if err != nil || len(as) != n {
		t.Fatalf("%d attempts, want %d distinct: %v", len(as), n, err)
	}
	seen := map[string]bool{}
	for _, a := range as {
		if seen[a.OutNo] {
			t.Fatalf("duplicate out_no %s", a.OutNo)
		}
		seen[a.OutNo] = true
	}
}

func TestLock(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	c := create(t, r, clk, "m1")
	unlock, err := r.Lock(ctx, c.ID, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lock(ctx, c.ID, 5*time.Second); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock err = %v", err)
	}
	if err := unlock(ctx); err != nil {
		t.Fatal(err)
	}
	unlock2, err := r.Lock(ctx, c.ID, 5*time.Second)
	if err != nil {
		t.Fatalf("relock: %v", err)
	}
	// A stale unlock must not release someone else's lock.
	if err := unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lock(ctx, c.ID, 5*time.Second); !errors.Is(err, ErrLocked) {
		t.Fatalf("stale unlock released the lock: %v", err)
	}
	_ = unlock2(ctx)
}

func TestIdempotency(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	body := []byte(`{"amount":1000}`)
	rep, err := r.BeginIdempotent(ctx, "m1", "k1", body)
	if err != nil || rep != nil {
		t.Fatalf("first begin: %v %v", rep, err)
	}
	if _, err := r.BeginIdempotent(ctx, "m1", "k1", body); !errors.Is(err, ErrIdempotencyInFlight) {
		t.Fatalf("in flight: %v", err)
	}
	if _, err := r.BeginIdempotent(ctx, "m1", "k1", []byte(`{"amount":1}`)); !errors.Is(err, ErrIdempotencyConflict) {
		t.Fatalf("conflict while in flight: %v", err)
	}
	// Another merchant's key space is separate.
	if rep, err := r.BeginIdempotent(ctx, "m2", "k1", body); err != nil || rep != nil {
		t.Fatalf("other merchant: %v %v", rep, err)
	}
	c, _ := NewCheckout(draft("m1"), clk.Now())
	if err := r.Create(ctx, c, &IdempotentResponse{MerchantID: "m1", Key: "k1", Status: 201, Body: []byte(`{"id":"` + c.ID + `"}`)}); err != nil {
		t.Fatal(err)
	}
	rep, err = r.BeginIdempotent(ctx, "m1", "k1", body)
	if err != nil || rep == nil || rep.Status != 201 || string(rep.Body) != `{"id":"`+c.ID+`"}` {
		t.Fatalf("replay: %+v %v", rep, err)
	}
	if _, err := r.BeginIdempotent(ctx, "m1", "k1", []byte(`{"amount":2000}`)); !errors.Is(err, ErrIdempotencyConflict) {
		t.Fatalf("conflict: %v", err)
	}
	// Released keys can be retried.
	if err := r.ReleaseIdempotent(ctx, "m2", "k1"); err != nil {
		t.Fatal(err)
	}
	if rep, err := r.BeginIdempotent(ctx, "m2", "k1", []byte("other")); err != nil || rep != nil {
		t.Fatalf("after release: %v %v", rep, err)
	}
}

func TestList(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	var ids []string
	for i := range 25 {
		c := create(t, r, clk, "ma")
		ids = append(ids, c.ID)
		if i%5 == 0 {
			if _, err := r.Cancel(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
		}
		clk.Advance(time.Millisecond)
	}
	for range 3 {
		create(t, r, clk, "mb")
	}
	// Newest first, pages of 10.
	var got []string
	cursor := ""
	pages := 0
	for {
		page, next, err := r.List(ctx, "ma", ListQuery{After: cursor, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, c := range page {
			got = append(got, c.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if pages != 3 || len(got) != 25 {
		t.Fatalf("pages=%d items=%d; want 3 pages, 25 items", pages, len(got))
	}
	for i := range got {
		if got[i] != ids[len(ids)-1-i] {
			t.Fatalf("item %d = %s, want %s (newest first)", i, got[i], ids[len(ids)-1-i])
		}
	}
	page, next, err := r.List(ctx, "ma", ListQuery{Status: StatusCancelled, Limit: 3})
	if err != nil || len(page) != 3 || next == "" {
		t.Fatalf("cancelled page 1: %d %q %v", len(page), next, err)
	}
	page2, next2, err := r.List(ctx, "ma", ListQuery{Status: StatusCancelled, Limit: 3, After: next})
	if err != nil || len(page2) != 2 || next2 != "" {
		t.Fatalf("cancelled page 2: %d %q %v", len(page2), next2, err)
	}
	for _, c := range append(page, page2...) {
		if c.Status != StatusCancelled {
			t.Fatalf("filter let %s through", c.Status)
		}
	}
	if b, _, err := r.List(ctx, "mb", ListQuery{}); err != nil || len(b) != 3 {
		t.Fatalf("merchant b sees %d, %v", len(b), err)
	}
	if _, _, err := r.List(ctx, "mb", ListQuery{After: ids[0]}); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("other merchant's cursor: %v", err)
	}
	if _, _, err := r.List(ctx, "ma", ListQuery{After: "garbage"}); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("garbage cursor: %v", err)
	}
}

// GetWithAttempts reads what Get and Attempts read, in one round trip.
func TestGetWithAttempts(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	if _, _, err := r.GetWithAttempts(ctx, "co_000000000000000000000000"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing checkout: %v, want ErrNotFound", err)
	}
	if _, _, err := r.GetWithAttempts(ctx, "../x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("invalid id: %v, want ErrNotFound", err)
	}
	c := create(t, r, clk, "m1")
	for want := range 3 {
		got, atts, err := r.GetWithAttempts(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		single, _ := r.Get(ctx, c.ID)
		list, _ := r.Attempts(ctx, c.ID)
		if !reflect.DeepEqual(got, single) || (want > 0 && !reflect.DeepEqual(atts, list)) || len(atts) != want || len(list) != want || got.Attempts != want {
			t.Fatalf("with %d attempts: %+v %+v; Get and Attempts say %+v %+v", want, got, atts, single, list)
		}
		a, _, err := r.AddAttempt(ctx, c.ID, MethodWeChat, ScenarioQR)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.UpdateAttempt(ctx, c.ID, a.Seq, AttemptFailed, ""); err != nil {
			t.Fatal(err)
		}
	}
}

// The merchant's list drops entries older than any checkout still stored,
// a few creates at a time (Create trims every listTrimEvery-th create), so
// it stays bounded whatever the traffic.
func TestListTrimmedAsCheckoutsAreCreated(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	var old []string
	for range 3 {
		c, _ := NewCheckout(draft("m1"), clk.Now())
		if err := r.Create(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
		old = append(old, c.ID)
	}
	clk.Advance(r.retention + MaxTTL + time.Hour)
	for range listTrimEvery {
		c, _ := NewCheckout(draft("m1"), clk.Now())
		if err := r.Create(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
	}
	n, err := r.rdb.ZCard(ctx, r.keyList("m1")).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != listTrimEvery {
		t.Fatalf("the list holds %d entries after %d old and %d new creates, want the %d new ones", n, len(old), listTrimEvery, listTrimEvery)
	}
	for _, id := range old {
		if _, err := r.rdb.ZScore(ctx, r.keyList("m1"), id).Result(); err == nil {
			t.Errorf("old entry %s still listed (%v)", id, err)
		}
	}
}

// A payer back from the cashier unpaid marks a pending or unknown attempt,
// at the repository's clock, and only such one; a paid one keeps its word.
func TestMarkReturnedUnpaid(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	c := create(t, r, clk, "m1")
	for i := 0; i < 2; i++ {
		if _, _, err := r.AddAttempt(ctx, c.ID, MethodWeChat, ScenarioJump); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.MarkPaid(ctx, c.ID, 2, "ORD2"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	for _, tc := range []struct {
		name   string
		seq    int
		marked bool
		err    error
	}{
		{"pending", 1, true, nil},
		{"again", 1, true, nil},
		{"paid", 2, false, nil},
		{"no such attempt", 3, false, ErrNotFound},
		{"no seq", 0, false, ErrNotFound},
	} {
		marked, err := r.MarkReturnedUnpaid(ctx, c.ID, tc.seq)
		if marked != tc.marked || !errors.Is(err, tc.err) {
			t.Errorf("%s: marked %v, err %v; want %v, %v", tc.name, marked, err, tc.marked, tc.err)
		}
	}
	as, err := r.Attempts(ctx, c.ID)
	if err != nil || len(as) != 2 {
		t.Fatalf("attempts: %+v %v", as, err)
	}
	if !as[0].ReturnedUnpaid.Equal(clk.Now().Truncate(time.Millisecond)) || as[0].Status != AttemptPending {
		t.Errorf("attempt 1 returned %v status %s, want %v pending", as[0].ReturnedUnpaid, as[0].Status, clk.Now())
	}
	if !as[1].ReturnedUnpaid.IsZero() {
		t.Errorf("the paid attempt was marked returned unpaid at %v", as[1].ReturnedUnpaid)
	}
	// Back on that order: the mark goes, once.
	for i, want := range []bool{true, false} {
		if cleared, err := r.ClearReturnedUnpaid(ctx, c.ID, 1); cleared != want || err != nil {
			t.Errorf("clear #%d: %v %v, want %v", i+1, cleared, err, want)
		}
	}
	if a, err := r.Attempts(ctx, c.ID); err != nil || !a[0].ReturnedUnpaid.IsZero() {
		t.Errorf("after clearing: %+v %v", a[0], err)
	}
}

// TestCreateStoresFields pins what Create writes, field by field, as the
// values' own strings (encodeCheckout passes pointers to go-redis rather
// than boxed values), and the hash's TTL: retention after expiry.
func TestCreateStoresFields(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	for _, wallets := range [][]Method{nil, {MethodAlipay}, {MethodWeChat, MethodAlipay}} {
		d := draft("m1")
		d.Wallets = wallets
		c, err := NewCheckout(d, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		c.Late, c.Refunded, c.Attempts, c.PaymentLink = true, 70, 3, "lnk_x"
		if err := r.Create(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
		got, err := r.rdb.HGetAll(ctx, r.keyCheckout(c.ID)).Result()
		if err != nil {
			t.Fatal(err)
		}
		msOf := func(tm time.Time) string { return fmt.Sprint(tm.UnixMilli()) }
		ws := ""
		for i, w := range wallets {
			if i > 0 {
				ws += ","
			}
			ws += string(w)
		}
		want := map[string]string{
			"id": c.ID, "merchant": "m1", "store": "main",
			"original": "1200", "discount": "100", "ignore": "100", "trade": "1000",
			"description": "两杯咖啡", "reference": "order-42",
			"success_url": "https://shop.example/ok?c=" + c.ID, "cancel_url": "https://shop.example/cancel",
			"late_policy": string(LatePolicyAccept), "webhook_url": c.WebhookURL,
			"metadata": `{"table":"7"}`, "wallets": ws,
			"expires_at": msOf(c.ExpiresAt), "created_at": msOf(c.CreatedAt), "updated_at": msOf(c.UpdatedAt),
			"client_secret": strings.TrimPrefix(c.ClientSecret, c.ID+"_secret_"), "status": "open", "late": "1",
			"refunded": "70", "seq": "3", "payment_link": "lnk_x",
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("wallets %v: stored\n%v\nwant\n%v", wallets, got, want)
		}
		if c.ClientSecret == "" || c.ExpiresAt.IsZero() {
			t.Fatalf("checkout not filled: %+v", c)
		}
		exp, err := r.rdb.PExpireTime(ctx, r.keyCheckout(c.ID)).Result()
		if err != nil {
			t.Fatal(err)
		}
		// Redis keeps the PEXPIREAT time itself; miniredis keeps a TTL from
		// its own clock and gives the time back later by as long as passed
		// between the two calls (on a loaded machine, any time): a wrong
		// time would be off by days (the retention).
		if want, got := c.ExpiresAt.Add(r.retention).UnixMilli(), exp.Milliseconds(); got < want-5 || got > want+time.Hour.Milliseconds() {
			t.Fatalf("expires at %d ms, want %d", got, want)
		}
	}
}

// TestCheckoutHashPacked: a checkout's hash stays in Redis's packed
// encoding (its values within hash-max-listpack-value): the client
// secret is stored without the id it starts with. Whole, it made every
// checkout a table of about 2 KB.
func TestCheckoutHashPacked(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	c := create(t, r, clk, "m1")
	enc, err := r.rdb.ObjectEncoding(ctx, r.keyCheckout(c.ID)).Result()
	if err != nil {
		t.Skipf("OBJECT ENCODING: %v (miniredis)", err)
	}
	size, err := r.rdb.MemoryUsage(ctx, r.keyCheckout(c.ID)).Result()
	if err != nil {
		t.Skipf("MEMORY USAGE: %v", err)
	}
	if enc != "listpack" || size > 1024 {
		t.Fatalf("checkout hash: %s encoding, %d bytes", enc, size)
	}
	got, err := r.Get(ctx, c.ID)
	if err != nil || got.ClientSecret != c.ClientSecret || !got.VerifyClientSecret(c.ClientSecret) {
		t.Fatalf("secret read back %q, want %q (%v)", got.ClientSecret, c.ClientSecret, err)
	}
}

// TestClientSecretStoredWhole: a checkout stored before, with the whole
// client secret in its hash, reads back the same secret.
func TestClientSecretStoredWhole(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	c := create(t, r, clk, "m1")
	if err := r.rdb.HSet(ctx, r.keyCheckout(c.ID), "client_secret", c.ClientSecret).Err(); err != nil {
		t.Fatal(err)
	}
	for _, get := range []func(context.Context, string) (*Checkout, error){r.Get, NewRepo(r.rdb, WithPrefix(r.prefix)).GetCurrent} {
		got, err := get(ctx, c.ID)
		if err != nil || got.ClientSecret != c.ClientSecret || !got.VerifyClientSecret(c.ClientSecret) {
			t.Fatalf("secret %q (%v), want %q", got.ClientSecret, err, c.ClientSecret)
		}
	}
	if got := secretOf(c.ID, ""); got != "" {
		t.Fatalf("no secret stored reads as %q", got)
	}
}

// createCmds records the commands of each pipeline sent.
type createCmds struct {
	mu    sync.Mutex
	sends [][]string
}

func (h *createCmds) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *createCmds) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if n := cmd.Name(); n == "hello" || n == "client" {
			return next(ctx, cmd) // a new connection's handshake
		}
		h.mu.Lock()
		h.sends = append(h.sends, []string{cmd.Name()})
		h.mu.Unlock()
		return next(ctx, cmd)
	}
}
func (h *createCmds) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		names := make([]string, len(cmds))
		for i, c := range cmds {
			names[i] = c.Name()
		}
		if names[0] == "client" {
			return next(ctx, cmds) // a new connection's handshake
		}
		h.mu.Lock()
		h.sends = append(h.sends, names)
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

// TestCreateOnePipeline: Create is one round trip of plain commands (no
// MULTI/EXEC, on every topology: the reasons are on Create), the hash's
// HSET and its PEXPIREAT first, so every index entry names a stored
// checkout, and the idempotent answer last, so a replay names a checkout
// stored and indexed.
func TestCreateOnePipeline(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	h := &createCmds{}
	r.rdb.AddHook(h)
	c, err := NewCheckout(draft("m1"), clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Create(ctx, c, &IdempotentResponse{MerchantID: "m1", Key: "k1", Status: 201, Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	want := []string{"hset", "pexpireat", "zadd", "zadd", "zadd", "zadd", "pexpireat", "hset", "pexpire"}
	if len(h.sends) != 1 || !reflect.DeepEqual(h.sends[0], want) {
		t.Fatalf("sent %v, want one pipeline %v", h.sends, want)
	}
	// Everything landed: the indexes, and the answer with its day's TTL.
	for k, want := range map[string]time.Time{
		r.keyExpiry(c.ID): c.ExpiresAt, r.keyList("m1"): c.CreatedAt,
		r.keyStatus("m1", StatusOpen): c.CreatedAt, r.keyRef("m1", c.Reference): c.CreatedAt,
	} {
		if got, err := r.rdb.ZScore(ctx, k, c.ID).Result(); err != nil || int64(got) != want.UnixMilli() {
			t.Fatalf("%s: score %v %v, want %d", k, got, err, want.UnixMilli())
		}
	}
	if ttl := r.rdb.PTTL(ctx, r.keyIdem("m1", "k1")).Val(); ttl <= IdempotencyTTL-time.Minute {
		t.Fatalf("idempotent answer's TTL %v", ttl)
	}
}

package checkout

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/internal/redistest"
)

func newLink(t testing.TB, r *Repo, clk *clock, terms LinkTerms) *PaymentLink {
	t.Helper()
	terms.Active = true
	if terms.Amount == 0 && terms.MinAmount == 0 {
		terms.Amount = 1500
	}
	l, err := NewPaymentLink("m1", "s1", terms, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.CreateLink(context.Background(), l, nil, ""); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLinkCreateGetList(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	a := newLink(t, r, clk, LinkTerms{Description: "咖啡", Metadata: map[string]string{"k": "v"}, Wallets: []Method{MethodWeChat}, MaxPayments: 3})
	clk.Advance(time.Millisecond)
	b := newLink(t, r, clk, LinkTerms{MinAmount: 100, MaxAmount: 50000, Presets: []int64{1000, 2000}})
	got, err := r.GetLink(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Description != "咖啡" || got.Amount != 1500 || got.MaxPayments != 3 || !got.Active || got.Metadata["k"] != "v" || len(got.Wallets) != 1 {
		t.Fatalf("read back %+v", got)
	}
	if _, err := r.GetLinkFor(ctx, "m2", a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another merchant's link: %v", err)
	}
	page, next, err := r.ListLinks(ctx, "m1", "", 1)
	if err != nil || len(page) != 1 || page[0].ID != b.ID || next != b.ID {
		t.Fatalf("first page %v %q %v", page, next, err)
	}
	page, next, err = r.ListLinks(ctx, "m1", next, 1)
	if err != nil || len(page) != 1 || page[0].ID != a.ID || next != "" {
		t.Fatalf("second page %v %q %v", page, next, err)
	}
	if got, _ := r.GetLink(ctx, b.ID); len(got.Presets) != 2 || got.Presets[1] != 2000 || !got.EnteredAmount() {
		t.Fatalf("presets %+v", got)
	}
}

// TestLinkLimitConcurrent is the brief's figure: a link limited to 10
// payments and 50 payers tapping at once gives at most 10 open-or-paid
// checkouts at any moment and at most 10 paid; the others are refused
// with ErrLinkInactive.
func TestLinkLimitConcurrent(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	l := newLink(t, r, clk, LinkTerms{MaxPayments: 10})
	var made, refused atomic.Int64
	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := r.CreateFromLink(ctx, l, 1500, "", LinkTap{})
			switch {
			case errors.Is(err, ErrLinkInactive):
				refused.Add(1)
			case err != nil:
				t.Error(err)
			default:
				made.Add(1)
				mu.Lock()
				ids = append(ids, c.ID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if made.Load() != 10 || refused.Load() != 40 {
		t.Fatalf("made %d refused %d, want 10 and 40", made.Load(), refused.Load())
	}
	if n, _ := r.LinkHeld(ctx, l.ID); n != 10 {
		t.Fatalf("held %d", n)
	}
	// All ten pay, concurrently, each twice (a duplicate notify): ten
	// counted, the tenth deactivates the link exactly once.
	var deact atomic.Int64
	for _, id := range ids {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := r.MarkPaid(ctx, id, 1, ""); err != nil && !errors.Is(err, ErrNotFound) {
					t.Error(err)
				}
				u, err := r.ConsumeLinkSlot(ctx, l.ID, id, false)
				if err != nil {
					t.Error(err)
					return
				}
				if u.Deactivated {
					deact.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	got, err := r.GetLink(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Payments != 10 || got.Active || got.DeactivatedBy != DeactivatedByLimit || deact.Load() != 1 {
		t.Fatalf("after ten payments: payments %d active %v by %q deactivations %d", got.Payments, got.Active, got.DeactivatedBy, deact.Load())
	}
	if _, err := r.CreateFromLink(ctx, l, 1500, "", LinkTap{}); !errors.Is(err, ErrLinkInactive) {
		t.Fatalf("an eleventh payer: %v", err)
	}
	cs, _, err := r.ListByLink(ctx, "m1", l.ID, ListQuery{Limit: 100})
	if err != nil || len(cs) != 10 {
		t.Fatalf("the link's checkouts: %d %v", len(cs), err)
	}
	for _, c := range cs {
		if c.PaymentLink != l.ID || c.Amounts.Trade != 1500 {
			t.Fatalf("checkout %+v", c)
		}
	}
}

func TestLinkSlotReleasedByExpiryAndCancel(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	l := newLink(t, r, clk, LinkTerms{MaxPayments: 1})
	c1, err := r.CreateFromLink(ctx, l, 1500, "", LinkTap{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateFromLink(ctx, l, 1500, "", LinkTap{}); !errors.Is(err, ErrLinkInactive) {
		t.Fatalf("second payer while the first holds the slot: %v", err)
	}
	// Cancel releases.
	if _, err := r.Cancel(ctx, c1.ID); err != nil {
		t.Fatal(err)
	}
	if ok, err := r.ReleaseLinkSlot(ctx, l.ID, c1.ID); !ok || err != nil {
		t.Fatalf("release after cancel: %v %v", ok, err)
	}
	if ok, _ := r.ReleaseLinkSlot(ctx, l.ID, c1.ID); ok {
		t.Fatal("released twice")
	}
	c2, err := r.CreateFromLink(ctx, l, 1500, "", LinkTap{})
	if err != nil {
		t.Fatalf("after the cancel: %v", err)
	}
	// Expiry releases.
	clk.Advance(LinkCheckoutTTL + time.Second)
	if tr, err := r.Expire(ctx, c2.ID); err != nil || !tr.Changed {
		t.Fatalf("expire: %v %v", tr, err)
	}
	if ok, _ := r.ReleaseLinkSlot(ctx, l.ID, c2.ID); !ok {
		t.Fatal("expiry's release found no reservation")
	}
	c3, err := r.CreateFromLink(ctx, l, 1500, "", LinkTap{})
	if err != nil {
		t.Fatalf("after the expiry: %v", err)
	}
	// A late payment for c2, whose slot c3 now holds: the link ran out,
	// so it is not counted (it is refunded by payments).
	u, err := r.ConsumeLinkSlot(ctx, l.ID, c2.ID, true)
	if err != nil || u.Counted {
		t.Fatalf("late payment on a full link: %+v %v", u, err)
	}
	// c3 pays in time and takes the one payment.
	u, err = r.ConsumeLinkSlot(ctx, l.ID, c3.ID, false)
	if err != nil || !u.Counted || !u.Deactivated || u.Link.Payments != 1 {
		t.Fatalf("payment in time: %+v %v", u, err)
	}
}

func TestLinkLateCountsWhileRoom(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	l := newLink(t, r, clk, LinkTerms{MaxPayments: 2})
	c, err := r.CreateFromLink(ctx, l, 1500, "", LinkTap{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReleaseLinkSlot(ctx, l.ID, c.ID); err != nil {
		t.Fatal(err)
	}
	u, err := r.ConsumeLinkSlot(ctx, l.ID, c.ID, true)
	if err != nil || !u.Counted || u.Link.Payments != 1 || !u.Link.Active {
		t.Fatalf("late payment with room: %+v %v", u, err)
	}
	// Counted once: the marker lasts the retention, never for ever.
	if u, err := r.ConsumeLinkSlot(ctx, l.ID, c.ID, true); err != nil || !u.Counted || u.Link.Payments != 1 {
		t.Fatalf("counted again: %+v %v", u, err)
	}
	if ttl, err := r.rdb.PTTL(ctx, r.keyLinkPaidMark(l.ID, c.ID)).Result(); err != nil || ttl <= 0 || ttl > r.retention {
		t.Fatalf("paid marker lives %s (%v)", ttl, err)
	}
}

// TestLinkHoldLapses: a reservation nothing released (a crash between the
// checkout's expiry and the release) stops counting after its grace.
func TestLinkHoldLapses(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	l := newLink(t, r, clk, LinkTerms{MaxPayments: 1})
	if _, err := r.CreateFromLink(ctx, l, 1500, "", LinkTap{}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(LinkCheckoutTTL)
	if _, err := r.CreateFromLink(ctx, l, 1500, "", LinkTap{}); !errors.Is(err, ErrLinkInactive) {
		t.Fatalf("within the grace: %v", err)
	}
	clk.Advance(linkHoldGrace + time.Millisecond)
	if _, err := r.CreateFromLink(ctx, l, 1500, "", LinkTap{}); err != nil {
		t.Fatalf("after the grace: %v", err)
	}
}

func TestLinkUpdate(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	l := newLink(t, r, clk, LinkTerms{})
	desc, msg := "新的", "今日售罄"
	ch, err := r.UpdateLink(ctx, "m1", l.ID, LinkUpdate{Amounts: &PaymentLink{Amount: 2000}, Description: &desc}, "")
	if err != nil || ch.Link.Amount != 2000 || ch.Link.Description != desc || ch.Deactivated {
		t.Fatalf("unused link: %+v %v", ch, err)
	}
	if _, err := r.UpdateLink(ctx, "m2", l.ID, LinkUpdate{Description: &desc}, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another merchant: %v", err)
	}
	l = ch.Link
	if _, err := r.CreateFromLink(ctx, l, 2000, "", LinkTap{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.UpdateLink(ctx, "m1", l.ID, LinkUpdate{Amounts: &PaymentLink{Amount: 1}}, ""); !errors.Is(err, ErrLinkAmountFixed) {
		t.Fatalf("amount of a used link: %v", err)
	}
	off := false
	ch, err = r.UpdateLink(ctx, "m1", l.ID, LinkUpdate{Active: &off, InactiveMessage: &msg}, "")
	if err != nil || !ch.Deactivated || ch.Link.Active || ch.Link.DeactivatedBy != DeactivatedByMerchant || ch.Link.InactiveMessage != msg {
		t.Fatalf("deactivate: %+v %v", ch, err)
	}
	if ch, _ := r.UpdateLink(ctx, "m1", l.ID, LinkUpdate{Active: &off}, ""); ch.Deactivated {
		t.Fatal("deactivated twice")
	}
	if _, err := r.CreateFromLink(ctx, l, 2000, "", LinkTap{}); !errors.Is(err, ErrLinkInactive) {
		t.Fatalf("a payer after deactivation: %v", err)
	}
	on := true
	until := clk.Now().Add(time.Hour)
	if _, err := r.UpdateLink(ctx, "m1", l.ID, LinkUpdate{Active: &on, ActiveUntil: &until}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateFromLink(ctx, l, 2000, "", LinkTap{}); err != nil {
		t.Fatalf("reactivated: %v", err)
	}
	clk.Advance(time.Hour)
	if _, err := r.CreateFromLink(ctx, l, 2000, "", LinkTap{}); !errors.Is(err, ErrLinkInactive) {
		t.Fatalf("at active_until: %v", err)
	}
}

func TestLinkAmountRules(t *testing.T) {
	entered := &PaymentLink{MinAmount: 100, MaxAmount: 10000}
	fixed := &PaymentLink{Amount: 1500}
	for _, tc := range []struct {
		l    *PaymentLink
		fen  int64
		want AmountKind
	}{
		{entered, 100, ""}, {entered, 10000, ""}, {entered, 99, AmountBelowMin}, {entered, 0, AmountBelowMin},
		{entered, 10001, AmountAboveMax}, {fixed, 1500, ""}, {fixed, 1501, AmountNotFixed},
	} {
		err := tc.l.CheckAmount(tc.fen)
		var ae *AmountError
		if tc.want == "" && err != nil || tc.want != "" && (!errors.As(err, &ae) || ae.Kind != tc.want || !errors.Is(err, ErrInvalid)) {
			t.Errorf("%+v %d: %v, want %q", tc.l, tc.fen, err, tc.want)
		}
	}
	for _, tc := range []struct {
		amount, minA, maxA int64
		presets            []int64
		field              string
	}{
		{0, 0, 100, nil, "min_amount"}, {0, 10, 0, nil, "max_amount"}, {0, 20, 10, nil, "min_amount"},
		{0, 1, 10, []int64{11}, "presets"}, {0, 1, 10, []int64{5, 5}, "presets"}, {-1, 0, 0, nil, "amount"},
		{100, 1, 0, nil, "min_amount"}, {100, 0, 0, []int64{1}, "presets"}, {0, 1, 1 << 40, nil, "max_amount"},
		{0, 1, 100, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9}, "presets"},
	} {
		err := CheckLinkAmounts(tc.amount, tc.minA, tc.maxA, tc.presets, 1<<30)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%+v: %v, want a refusal of %s", tc, err, tc.field)
		}
	}
	if err := CheckLinkAmounts(0, 1, 100, []int64{1, 100}, 1<<30); err != nil {
		t.Error(err)
	}
}

func TestParseYuan(t *testing.T) {
	for _, tc := range []struct {
		in   string
		fen  int64
		kind AmountKind
	}{
		{"8", 800, ""}, {"8.5", 850, ""}, {"8.50", 850, ""}, {"0.01", 1, ""}, {"0.29", 29, ""}, {" ¥12.30 ", 1230, ""},
		{"￥1", 100, ""}, {"0", 0, ""}, {".5", 50, ""}, {"99999999999.99", 9999999999999, ""},
		{"", 0, AmountBad}, {".", 0, AmountBad}, {"8.", 0, AmountBad}, {"-1", 0, AmountBad}, {"+1", 0, AmountBad},
		{"1e3", 0, AmountBad}, {"1,000", 0, AmountBad}, {"１２", 0, AmountBad}, {"abc", 0, AmountBad},
		{"1.2.3", 0, AmountBad}, {"999999999999", 0, AmountBad}, {"NaN", 0, AmountBad}, {"1 2", 0, AmountBad},
		{"1.234", 0, AmountPrecision}, {"0.001", 0, AmountPrecision},
	} {
		fen, err := ParseYuan(tc.in)
		var ae *AmountError
		switch {
		case tc.kind == "" && (err != nil || fen != tc.fen):
			t.Errorf("ParseYuan(%q) = %d, %v; want %d", tc.in, fen, err, tc.fen)
		case tc.kind != "" && (!errors.As(err, &ae) || ae.Kind != tc.kind):
			t.Errorf("ParseYuan(%q) = %d, %v; want a %s refusal", tc.in, fen, err, tc.kind)
		}
	}
}

func FuzzParseYuan(f *testing.F) {
	for _, s := range []string{"8.50", "0.01", "1e3", "¥3", "99999999999.99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fen, err := ParseYuan(s)
		if err != nil {
			return
		}
		if fen < 0 || fen > MaxFen {
			t.Fatalf("%q → %d", s, fen)
		}
		back, err := ParseYuan(FormatYuan(fen))
		if err != nil || back != fen {
			t.Fatalf("%q → %d → %q → %d %v", s, fen, FormatYuan(fen), back, err)
		}
	})
}

// TestLinkRepoOnCluster runs every payment link operation through
// go-redis's cluster client, which refuses a transaction or script whose
// keys span hash slots (as TestRepoOnCluster does for checkouts).
func TestLinkRepoOnCluster(t *testing.T) {
	m, _ := redistest.Miniredis(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{m.Addr()}})
	t.Cleanup(func() { _ = rdb.Close() })
	clk := newClock()
	r := NewRepo(rdb, WithClock(clk.Now))
	ctx := context.Background()
	if rep, err := r.BeginIdempotent(ctx, "m1", "k1", []byte("{}")); err != nil || rep != nil {
		t.Fatal(rep, err)
	}
	l, err := NewPaymentLink("m1", "s1", LinkTerms{Amount: 500, MaxPayments: 2, Active: true}, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.CreateLink(ctx, l, &IdempotentResponse{MerchantID: "m1", Key: "k1", Status: 201, Body: []byte("{}")}, ""); err != nil {
		t.Fatalf("create link: %v", err)
	}
	if err := r.FinishIdempotent(ctx, "m1", "k2", 200, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.ListLinks(ctx, "m1", "", 10); err != nil {
		t.Fatal(err)
	}
	tap := LinkTap{Token: "tok1", Who: "abc123"}
	c, err := r.CreateFromLink(ctx, l, 500, "", tap)
	if err != nil {
		t.Fatalf("checkout from link: %v", err)
	}
	if again, err := r.CreateFromLink(ctx, l, 500, "", tap); err != nil || again.ID != c.ID {
		t.Fatalf("the tap again: %v %v", again, err)
	}
	if _, err := r.ConsumeLinkSlot(ctx, l.ID, c.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReleaseLinkSlot(ctx, l.ID, c.ID); err != nil {
		t.Fatal(err)
	}
	desc := "x"
	if _, err := r.UpdateLink(ctx, "m1", l.ID, LinkUpdate{Description: &desc}, ""); err != nil {
		t.Fatal(err)
	}
	if cs, _, err := r.ListByLink(ctx, "m1", l.ID, ListQuery{}); err != nil || len(cs) != 1 {
		t.Fatalf("list by link: %d %v", len(cs), err)
	}
	if n, err := r.LinkHeld(ctx, l.ID); err != nil || n != 0 {
		t.Fatalf("held %d %v", n, err)
	}
}

// TestLinkPaidInTimeAfterSlotReleased: a payment in time (late false) for
// a checkout whose slot was released and retaken by another payer must not
// be counted beyond max_payments: it is refused (Counted false, refunded
// by payments), never an eleventh paid payment.
func TestLinkPaidInTimeAfterSlotReleased(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	l := newLink(t, r, clk, LinkTerms{MaxPayments: 1})
	c1, err := r.CreateFromLink(ctx, l, 1500, "", LinkTap{})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := r.ReleaseLinkSlot(ctx, l.ID, c1.ID); !ok || err != nil {
		t.Fatalf("release: %v %v", ok, err)
	}
	c2, err := r.CreateFromLink(ctx, l, 1500, "", LinkTap{})
	if err != nil {
		t.Fatalf("retake: %v", err)
	}
	u, err := r.ConsumeLinkSlot(ctx, l.ID, c1.ID, false)
	if err != nil || u.Counted || u.Link.Payments != 0 {
		t.Fatalf("payment in time on a released, retaken slot: %+v %v", u, err)
	}
	u, err = r.ConsumeLinkSlot(ctx, l.ID, c2.ID, false)
	if err != nil || !u.Counted || !u.Deactivated || u.Link.Payments != 1 {
		t.Fatalf("the holder pays: %+v %v", u, err)
	}
	// Released and not retaken: a payment in time counts while there is room.
	l2 := newLink(t, r, clk, LinkTerms{MaxPayments: 1})
	c3, err := r.CreateFromLink(ctx, l2, 1500, "", LinkTap{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReleaseLinkSlot(ctx, l2.ID, c3.ID); err != nil {
		t.Fatal(err)
	}
	if u, err := r.ConsumeLinkSlot(ctx, l2.ID, c3.ID, false); err != nil || !u.Counted || u.Link.Payments != 1 {
		t.Fatalf("payment in time with room: %+v %v", u, err)
	}
}

// TestLinkLimitUnderChurn: max_payments 10 and 50 payers at once, each
// tapping until its checkout is paid or it gives up, while checkouts are
// cancelled or expire (their slots released and retaken) and some of
// those still pay in time afterwards. A watcher reads the open-or-paid
// count (live reservations + payments) atomically throughout: never above
// 10; at the end at most 10 payments are kept and counted.
func TestLinkLimitUnderChurn(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	const maxp = 10
	l := newLink(t, r, clk, LinkTerms{MaxPayments: maxp})
	var kept, refused atomic.Int64
	var peak atomic.Int64
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			var held *redis.IntCmd
			var paid *redis.StringCmd
			_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
				held = p.ZCard(ctx, r.keyLinkHeld(l.ID))
				paid = p.HGet(ctx, r.keyLink(l.ID), "payments")
				return nil
			})
			if err != nil && !errors.Is(err, redis.Nil) {
				t.Error(err)
				return
			}
			n, _ := paid.Int64()
			if sum := held.Val() + n; sum > peak.Load() {
				peak.Store(sum)
			}
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for try := range 20 {
				c, err := r.CreateFromLink(ctx, l, 1500, "", LinkTap{})
				if errors.Is(err, ErrLinkInactive) {
					refused.Add(1)
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				switch (i + try) % 4 {
				case 0, 1: // cancelled or expired unpaid: the slot goes back
					if _, err := r.ReleaseLinkSlot(ctx, l.ID, c.ID); err != nil {
						t.Error(err)
						return
					}
					if (i+try)%4 == 1 {
						continue
					}
					// and its money still comes, in time
					u, err := r.ConsumeLinkSlot(ctx, l.ID, c.ID, false)
					if err != nil {
						t.Error(err)
						return
					}
					if u.Counted {
						kept.Add(1)
					}
					return
				default: // paid while it holds its slot
					u, err := r.ConsumeLinkSlot(ctx, l.ID, c.ID, false)
					if err != nil {
						t.Error(err)
						return
					}
					if !u.Counted {
						t.Errorf("a payment holding its slot was refused: %+v", u)
					}
					kept.Add(1)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	<-watched
	got, err := r.GetLink(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kept %d, refusals %d, peak open-or-paid %d", kept.Load(), refused.Load(), peak.Load())
	if peak.Load() > maxp || kept.Load() > maxp || got.Payments > maxp || int64(got.Payments) != kept.Load() {
		t.Fatalf("peak open-or-paid %d, kept %d, link counts %d: want all at most %d and kept = counted", peak.Load(), kept.Load(), got.Payments, maxp)
	}
	if got.Payments != maxp || got.Active {
		t.Fatalf("50 payers should fill the link: %+v", got)
	}
}

// TestLinkTapClaim: ten requests of one tap at once make one checkout and
// hold one slot; once that checkout ended (cancelled), the same tap makes
// a new one; another amount is another tap.
func TestLinkTapClaim(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	l := newLink(t, r, clk, LinkTerms{MinAmount: 100, MaxAmount: 5000, MaxPayments: 5})
	tap := LinkTap{Token: "PAGE1", Who: "w1"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[string]bool{}
	for range 10 {
		wg.Go(func() {
			c, err := r.CreateFromLink(ctx, l, 1500, "", tap)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ids[c.ID] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if n, _ := r.LinkHeld(ctx, l.ID); len(ids) != 1 || n != 1 {
		t.Fatalf("one tap ten times: checkouts %v, %d held", ids, n)
	}
	var first string
	for id := range ids {
		first = id
	}
	if _, err := r.Cancel(ctx, first); err != nil {
		t.Fatal(err)
	}
	c, err := r.CreateFromLink(ctx, l, 1500, "", tap)
	if err != nil || c.ID == first {
		t.Fatalf("after the cancel: %v %v", c, err)
	}
	if c2, err := r.CreateFromLink(ctx, l, 2000, "", tap); err != nil || c2.ID == c.ID || c2.Amounts.Trade != 2000 {
		t.Fatalf("another amount: %v %v", c2, err)
	}
}

// TestLinkReserveStaleTerms: a tap on terms that are no longer the
// link's (the merchant changed the description, or the amount before any
// checkout used it, after the page was read) is refused with
// ErrLinkChanged and makes nothing, whether the change is seen by the tap's
// page digest or only in the reserve step.
func TestLinkReserveStaleTerms(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		u    func(*PaymentLink) LinkUpdate
	}{
		{"description", func(*PaymentLink) LinkUpdate { d := "新的说明"; return LinkUpdate{Description: &d} }},
		{"amount", func(l *PaymentLink) LinkUpdate {
			a := *l
			a.Amount = 2500
			return LinkUpdate{Amounts: &a}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLink(t, r, clk, LinkTerms{Amount: 1500, Description: "拿铁", MaxPayments: 3})
			seen := LinkTermsDigest(l)
			if _, err := r.UpdateLink(ctx, "m1", l.ID, tc.u(l), ""); err != nil {
				t.Fatal(err)
			}
			// The reserve step finds the link changed under the read.
			if _, err := r.CreateFromLink(ctx, l, 1500, "", LinkTap{Terms: seen}); !errors.Is(err, ErrLinkChanged) {
				t.Fatalf("stale read: %v", err)
			}
			// The page's digest names the old terms though the read is fresh.
			fresh, err := r.GetLink(ctx, l.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.CreateFromLink(ctx, fresh, fresh.Amount, "", LinkTap{Terms: seen}); !errors.Is(err, ErrLinkChanged) {
				t.Fatalf("stale page: %v", err)
			}
			if n, _ := r.LinkHeld(ctx, l.ID); n != 0 {
				t.Fatalf("%d slots held", n)
			}
			if cs, _, _ := r.ListByLink(ctx, "m1", l.ID, ListQuery{}); len(cs) != 0 {
				t.Fatalf("%d checkouts", len(cs))
			}
			if _, err := r.CreateFromLink(ctx, fresh, fresh.Amount, "", LinkTap{Terms: LinkTermsDigest(fresh)}); err != nil {
				t.Fatalf("the new terms: %v", err)
			}
		})
	}
}

// TestLinkReservationLapsesAfterCrash: a process that reserved a slot and
// died before storing the checkout (and before the poller could ever see
// it) leaves a reservation that holds the slot until the would-be
// checkout's expiry and its grace, then frees it for the next payer; the
// checkout that never was is not listed among the link's checkouts.
func TestLinkReservationLapsesAfterCrash(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	l := newLink(t, r, clk, LinkTerms{MaxPayments: 1})
	d, err := DraftFromLink(l, 1500, "")
	if err != nil {
		t.Fatal(err)
	}
	ghost, err := NewCheckout(d, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if claimed, err := r.Reserve(ctx, l, ghost, LinkTap{Token: "CRASHED"}); err != nil || claimed != "" {
		t.Fatalf("reserve: %q %v", claimed, err)
	}
	// The process dies here: no Create, no release.
	if _, err := r.CreateFromLink(ctx, l, 1500, "", LinkTap{}); !errors.Is(err, ErrLinkInactive) {
		t.Fatalf("while the ghost holds the slot: %v", err)
	}
	// The same page tapped again: its claim names the ghost, which never
	// comes; after tapWait the claim is dropped and the tap is refused
	// like any other (the slot is still held), never left hanging.
	if _, err := r.CreateFromLink(ctx, l, 1500, "", LinkTap{Token: "CRASHED"}); !errors.Is(err, ErrLinkInactive) {
		t.Fatalf("the crashed page's tap again: %v", err)
	}
	clk.Advance(LinkCheckoutTTL + linkHoldGrace + time.Millisecond)
	c, err := r.CreateFromLink(ctx, l, 1500, "", LinkTap{})
	if err != nil {
		t.Fatalf("after the lapse: %v", err)
	}
	cs, _, err := r.ListByLink(ctx, "m1", l.ID, ListQuery{Limit: 10})
	if err != nil || len(cs) != 1 || cs[0].ID != c.ID {
		t.Fatalf("the link's checkouts: %v %v", cs, err)
	}
	if n, _ := r.LinkHeld(ctx, l.ID); n != 1 {
		t.Fatalf("held %d", n)
	}
}

// TestLinkTapNotAnotherPayers: a page's tap token posted by another
// wallet identity (copied or replayed) gets a checkout of its own, never
// the first payer's; and a claim that names a checkout of another amount
// or another link (a key written by anything else) is never handed out.
func TestLinkTapNotAnotherPayers(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	l := newLink(t, r, clk, LinkTerms{MinAmount: 100, MaxAmount: 5000, MaxPayments: 5})
	a, err := r.CreateFromLink(ctx, l, 1500, "", LinkTap{Token: "PAGEA", Who: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tap := range []LinkTap{{Token: "PAGEA", Who: "bob"}, {Token: "PAGEA"}} {
		b, err := r.CreateFromLink(ctx, l, 1500, "", tap)
		if err != nil {
			t.Fatal(err)
		}
		if b.ID == a.ID {
			t.Fatalf("tap %+v got the first payer's checkout %s", tap, a.ID)
		}
	}

	// Claims planted on checkouts that are not this tap's terms.
	other := newLink(t, r, clk, LinkTerms{MinAmount: 100, MaxAmount: 5000})
	foreign, err := r.CreateFromLink(ctx, other, 1500, "", LinkTap{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		target string
	}{{"another amount", a.ID}, {"another link", foreign.ID}} {
		tap := LinkTap{Token: "PLANT" + strconv.Itoa(len(tc.name))}
		for _, k := range r.tapKeys(l.ID, tap, 2000) {
			if err := r.rdb.Set(ctx, k, tc.target, time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
		}
		c, err := r.CreateFromLink(ctx, l, 2000, "", tap)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if c.ID == tc.target || c.Amounts.Trade != 2000 || c.PaymentLink != l.ID {
			t.Fatalf("%s: got %s (%d fen, link %s)", tc.name, c.ID, c.Amounts.Trade, c.PaymentLink)
		}
	}
}

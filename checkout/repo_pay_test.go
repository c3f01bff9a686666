package checkout

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPayParamsStorage(t *testing.T) {
	r, clk := newTestRepo(t)
	ctx := context.Background()
	c := create(t, r, clk, "m1")
	other := create(t, r, clk, "m1")
	want := PayParams{
		Payer: "wxapp/openid", Kind: "wechat_jsapi",
		WeChat:     WeChatPay{AppID: "wx1", TimeStamp: "1700000000", NonceStr: "n", Package: "prepay_id=wx1", SignType: "MD5", PaySign: "ABC"},
		ValidUntil: clk.Now().Add(2 * time.Hour).Truncate(time.Millisecond).UTC(),
	}
	if err := r.SavePayParams(ctx, c.ID, 1, want, c.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	got, err := r.PayParamsOf(ctx, c.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Payer != want.Payer || got.Kind != want.Kind || got.WeChat != want.WeChat || !got.ValidUntil.Equal(want.ValidUntil) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// The key lives as long as the checkout's record.
	ttl := r.rdb.PTTL(ctx, r.keyPay(c.ID)).Val()
	if d := time.Until(c.ExpiresAt.Add(r.retention)); ttl <= 0 || ttl > d+time.Minute {
		t.Fatalf("TTL %v, want about %v", ttl, d)
	}

	for _, tc := range []struct {
		name string
		id   string
		seq  int
	}{
		{"other attempt", c.ID, 2},
		{"other checkout", other.ID, 1},
		{"garbage id", "../x", 1},
		{"zero seq", c.ID, 0},
		{"negative seq", c.ID, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.PayParamsOf(ctx, tc.id, tc.seq); !errors.Is(err, ErrNotFound) {
				t.Fatalf("err %v", err)
			}
		})
	}
	if err := r.SavePayParams(ctx, "../x", 1, want, c.ExpiresAt); !errors.Is(err, ErrInvalid) {
		t.Fatalf("save under a garbage id: %v", err)
	}
	// A corrupt record is an error, not a zero value handed to a payer.
	r.rdb.HSet(ctx, r.keyPay(c.ID), "3", "{not json")
	if _, err := r.PayParamsOf(ctx, c.ID, 3); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("corrupt record: %v", err)
	}
}

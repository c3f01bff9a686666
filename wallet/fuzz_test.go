package wallet

import (
	"errors"
	"testing"
)

// FuzzDecodeAlipayToken feeds arbitrary answers to the Alipay decoder. It
// must never panic, and it may only succeed on an answer whose signature
// verifies, with an id in hand. Seeds live in testdata/fuzz.
func FuzzDecodeAlipayToken(f *testing.F) {
	k := loadKeys(f)
	f.Add([]byte(signedAnswer(f, tokenMember, `{"user_id":"2088102104794936"}`, k.alipay)))
	f.Add([]byte(`{"error_response":{"code":"40002","sub_code":"isv.code-invalid"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		id, err := decodeAlipayToken(body, &k.alipay.PublicKey)
		if err != nil {
			var ae *AlipayError
			if !errors.As(err, &ae) && !errors.Is(err, ErrMalformedResponse) && !errors.Is(err, ErrBadSignature) {
				t.Fatalf("untyped error: %v", err)
			}
			if id != (AlipayIdentity{}) {
				t.Fatalf("identity %+v alongside error %v", id, err)
			}
			return
		}
		if id.BuyerID() == "" {
			t.Fatal("success without an id")
		}
	})
}

// FuzzDecodeWeChat feeds arbitrary answers to the WeChat decoder: no panics,
// and success always carries an openid.
func FuzzDecodeWeChat(f *testing.F) {
	f.Add([]byte(`{"openid":"o1","is_snapshotuser":1}`))
	f.Add([]byte(`{"errcode":40163,"errmsg":"code been used"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := decodeWeChat(body)
		if err != nil {
			var we *WeChatError
			if !errors.As(err, &we) && !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		if a.OpenID == "" {
			t.Fatal("success without an openid")
		}
	})
}

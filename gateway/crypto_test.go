package gateway

import (
	"errors"
	"strings"
	"testing"
)

// The document's vectors (doc 2.3 and 2.4), verified against public clients.
const (
	docKey    = "0828e83720fdbe3685a7b94214af04f9"
	docOpenID = "87f46f5db1b65f0ac195285f49ee6958"
	docData   = "3304A5EC2CDEB4D12ED3338B5C01BF6B"
	docSign   = "915be5aff09f2686870e1d17e93b3542"
)

func TestDocumentVectors(t *testing.T) {
	key := MustParseKey(docKey)
	if got := Encrypt(key, []byte(`{"pmt_type":0}`)); got != docData {
		t.Errorf("Encrypt = %s, want %s", got, docData)
	}
	for _, hex := range []string{docData, strings.ToLower(docData)} {
		plain, err := Decrypt(key, hex)
		if err != nil || string(plain) != `{"pmt_type":0}` {
			t.Errorf("Decrypt(%s) = %q, %v", hex, plain, err)
		}
	}
	fields := []Field{{"open_id", docOpenID}, {"timestamp", "1497957842"}, {"data", docData}}
	if got := Sign(key, fields); got != docSign {
		t.Errorf("Sign = %s, want %s", got, docSign)
	}
	form := SealRequest(key, docOpenID, 1497957842, []byte(`{"pmt_type":0}`))
	if form.Sign != docSign || form.Data != docData {
		t.Errorf("SealRequest = %+v", form)
	}
	if err := VerifySign(key, fields, strings.ToUpper(docSign)); err != nil {
		t.Errorf("VerifySign upper-case: %v", err)
	}
}

func TestDecryptErrors(t *testing.T) {
	key := MustParseKey(docKey)
	other := MustParseKey("vCfnB1SvPQqUDa7q0AFpqdiGOCICGT92")
	tests := []struct {
		name string
		key  Key
		data string
		want error
	}{
		{"odd length", key, docData[:31], ErrDataOddLength},
		{"not hex", key, "ZZ" + docData[2:], ErrDataNotHex},
		{"empty", key, "", ErrDataBlockSize},
		{"partial block", key, docData[:30], ErrDataBlockSize},
		{"wrong key", other, docData, ErrBadPadding},
		{"zero key", Key{}, docData, ErrKeyLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decrypt(tt.key, tt.data)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseKeyLength(t *testing.T) {
	for _, k := range []string{"", "short", docKey + "x", docKey[:31]} {
		if _, err := ParseKey(k); !errors.Is(err, ErrKeyLength) {
			t.Errorf("ParseKey(%d bytes) err = %v", len(k), err)
		}
	}
}

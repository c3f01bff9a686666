package gateway

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
)

// Field is one name=value pair of a signed set: the form fields of a request,
// the members of a response or the query of a callback.
type Field struct {
	Name, Value string
}

// Sign computes the gateway's signature over fields plus open_key: sort by
// name in byte order, join as name=value with '&' (raw values: no URL
// encoding, UTF-8 kept), then md5_hex(sha1_hex(joined)), lowercase. The
// caller's slice is left as it was.
func Sign(key Key, fields []Field) string {
	var out [32]byte
	signInto(&out, key, fields)
	return string(out[:])
}

func signInto(out *[32]byte, key Key, fields []Field) {
	var arr [16]Field
	fields = append(append(arr[:0], fields...), Field{"open_key", key.raw})
	// Insertion sort: a handful of fields, and unlike slices.SortFunc it
	// keeps the array on the stack.
	for i := 1; i < len(fields); i++ {
		for j := i; j > 0 && fields[j].Name < fields[j-1].Name; j-- {
			fields[j], fields[j-1] = fields[j-1], fields[j]
		}
	}
	h := sha1.New()
	var buf [256]byte
	b := buf[:0]
	for i, f := range fields {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, f.Name...)
		b = append(b, '=')
		b = append(b, f.Value...)
		if len(b) > len(buf)/2 {
			h.Write(b)
			b = buf[:0]
		}
	}
	h.Write(b)
	var sum [sha1.Size]byte
	var sumHex [2 * sha1.Size]byte
	hex.Encode(sumHex[:], h.Sum(sum[:0]))
	m := md5.Sum(sumHex[:])
	hex.Encode(out[:], m[:])
}

// VerifySign checks a received sign against fields (which must not include
// sign itself). The comparison is constant-time and ignores case. It returns
// ErrMissingSign or ErrBadSign.
func VerifySign(key Key, fields []Field, sign string) error {
	if sign == "" {
		return ErrMissingSign
	}
	var want [32]byte
	signInto(&want, key, fields)
	if len(sign) != len(want) {
		return ErrBadSign
	}
	var got [32]byte
	for i := 0; i < len(got); i++ {
		c := sign[i]
		if 'A' <= c && c <= 'F' {
			c += 'a' - 'A'
		}
		got[i] = c
	}
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return ErrBadSign
	}
	return nil
}

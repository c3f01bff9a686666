package gateway

import (
	"crypto/aes"
	"fmt"
	"slices"
)

const upperHex = "0123456789ABCDEF"

// Encrypt seals plaintext the gateway's way: AES-256-ECB with PKCS#5 padding
// under the store's key, written as uppercase hex (the document's examples are
// uppercase; the server accepts either).
func Encrypt(key Key, plaintext []byte) string {
	return string(AppendEncrypt(nil, key, plaintext))
}

// AppendEncrypt is Encrypt appending the hex to dst, for callers that build a
// request body in one buffer.
func AppendEncrypt(dst []byte, key Key, plaintext []byte) []byte {
	pad := aes.BlockSize - len(plaintext)%aes.BlockSize
	n := len(plaintext) + pad
	start := len(dst)
	dst = slices.Grow(dst, 2*n)[:start+2*n]
	out := dst[start:]
	// Seal in the second half of the output, then spread it into hex from
	// the front: writing byte k's digits (2k, 2k+1) never passes the bytes
	// still to be read (n+k onwards), so one buffer serves both.
	buf := out[n:]
	copy(buf, plaintext)
	for i := len(plaintext); i < n; i++ {
		buf[i] = byte(pad)
	}
	// ECB: each block on its own. The protocol mandates it; we do not choose it.
	for i := 0; i < n; i += aes.BlockSize {
		key.block.Encrypt(buf[i:i+aes.BlockSize], buf[i:i+aes.BlockSize])
	}
	for k := 0; k < n; k++ {
		b := out[n+k]
		out[2*k] = upperHex[b>>4]
		out[2*k+1] = upperHex[b&0x0f]
	}
	return dst
}

// Decrypt opens hex ciphertext from the gateway (either case). Its errors say
// what was wrong: ErrDataOddLength, ErrDataNotHex, ErrDataBlockSize (not whole
// AES blocks) or ErrBadPadding (most often a wrong key).
func Decrypt(key Key, hexData string) ([]byte, error) {
	if key.IsZero() {
		return nil, ErrKeyLength
	}
	if len(hexData)%2 != 0 {
		return nil, fmt.Errorf("%w (%d hex digits)", ErrDataOddLength, len(hexData))
	}
	n := len(hexData) / 2
	if n == 0 || n%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w (%d bytes)", ErrDataBlockSize, n)
	}
	buf := make([]byte, n)
	for i := 0; i < n; i++ {
		hi, ok1 := unhex(hexData[2*i])
		lo, ok2 := unhex(hexData[2*i+1])
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%w (at offset %d)", ErrDataNotHex, 2*i)
		}
		buf[i] = hi<<4 | lo
	}
	for i := 0; i < n; i += aes.BlockSize {
		key.block.Decrypt(buf[i:i+aes.BlockSize], buf[i:i+aes.BlockSize])
	}
	pad := int(buf[n-1])
	if pad == 0 || pad > aes.BlockSize {
		return nil, ErrBadPadding
	}
	// Check every pad byte, not just the last: a wrong key rarely passes this.
	var bad byte
	for _, b := range buf[n-pad:] {
		bad |= b ^ byte(pad)
	}
	if bad != 0 {
		return nil, ErrBadPadding
	}
	return buf[:n-pad], nil
}

// unhexTable maps an ASCII hex digit to its value and anything else to 0xff.
var unhexTable = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range "0123456789abcdef" {
		t[c] = byte(i)
	}
	for i, c := range "ABCDEF" {
		t[c] = byte(10 + i)
	}
	return t
}()

func unhex(c byte) (byte, bool) {
	v := unhexTable[c]
	return v, v != 0xff
}

package notify

import (
	"strings"
	"testing"
)

// FuzzDecodeUpdate: any pub/sub payload decodes without panicking, and
// what decodes encodes back to the same update. Seeds:
// testdata/fuzz/FuzzDecodeUpdate.
func FuzzDecodeUpdate(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		u, ok := decodeUpdate(s)
		if !ok {
			return
		}
		v, ok := decodeUpdate(encodeUpdate(u))
		if !ok || v != u {
			t.Fatalf("%q → %+v → %q → %+v", s, u, encodeUpdate(u), v)
		}
		if strings.ContainsAny(u.CheckoutID, " \t\n") {
			t.Fatalf("id with spaces: %q", u.CheckoutID)
		}
	})
}

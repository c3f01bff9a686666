package checkout_test

import (
	"math/rand/v2"
	"testing"

	"github.com/wallet-checkout/checkout/checkout"
)

func TestLinkShortCode(t *testing.T) {
	// The code is a check a payer compares, not a key: with 10^8 codes two
	// of 2,000 random links share one about 2 % of the time (the birthday
	// bound), so a fixed set of ids tests the spread, not fresh random
	// ones (which made this test fail one CI run in fifty).
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	rnd := rand.New(rand.NewPCG(16, 15))
	seen := map[string]string{}
	for i := 0; i < 2000; i++ {
		b := []byte("pl_")
		for range 24 {
			b = append(b, alnum[rnd.IntN(len(alnum))])
		}
		id := string(b)
		if !checkout.ValidLinkID(id) {
			t.Fatalf("%s is not a link id", id)
		}
		code := checkout.LinkShortCode(id)
		if len(code) != 8 {
			t.Fatalf("%s: code %q is not 8 digits", id, code)
		}
		for _, r := range code {
			if r < '0' || r > '9' {
				t.Fatalf("%s: code %q is not 8 digits", id, code)
			}
		}
		if again := checkout.LinkShortCode(id); again != code {
			t.Fatalf("%s: %q then %q", id, code, again)
		}
		if other, dup := seen[code]; dup {
			t.Fatalf("%s and %s share %s in 2000 links", id, other, code)
		}
		seen[code] = id
	}
	// Pinned: the number printed on posters must not change with a release.
	if got := checkout.LinkShortCode("pl_000000000000000000000000"); got != pinnedCode {
		t.Fatalf("LinkShortCode changed: %s, printed posters say %s", got, pinnedCode)
	}
}

// pinnedCode is LinkShortCode("pl_000000000000000000000000") since it was introduced.
const pinnedCode = "54703285"

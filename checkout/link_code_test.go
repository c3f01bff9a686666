package checkout_test

import (
	"testing"

	"github.com/wallet-checkout/checkout/checkout"
)

func TestLinkShortCode(t *testing.T) {
	seen := map[string]string{}
	for i := 0; i < 2000; i++ {
		id, err := checkout.NewLinkID()
		if err != nil {
			t.Fatal(err)
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

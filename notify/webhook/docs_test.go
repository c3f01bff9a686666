package webhook_test

import (
	"os"
	"strings"
	"testing"
)

// funcSource returns the Go function named name, from its "func name(" line
// to the first closing brace at the start of a line, or "" when absent.
func funcSource(src, name string) string {
	start := strings.Index(src, "\nfunc "+name+"(")
	if start < 0 {
		return ""
	}
	rest := src[start+1:]
	end := strings.Index(rest, "\n}")
	if end < 0 {
		return ""
	}
	return rest[:end+2]
}

// TestDocsVerificationExample: the verification code the README and
// docs/webhooks.md show merchants is the code Example runs, so what they
// copy is what the tests prove works.
func TestDocsVerificationExample(t *testing.T) {
	example, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	want := funcSource(string(example), "verifySignature")
	if want == "" {
		t.Fatal("example_test.go has no verifySignature")
	}
	for _, doc := range []string{"../../README.md", "../../docs/webhooks.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		got := funcSource(string(b), "verifySignature")
		if got == "" {
			t.Errorf("%s shows no verifySignature", doc)
			continue
		}
		if got != want {
			t.Errorf("%s's verifySignature differs from the one Example runs:\n%s\n--- want ---\n%s", doc, got, want)
		}
	}
}

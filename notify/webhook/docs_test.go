package webhook_test

import (
	"encoding/json"
	"os"
	"reflect"
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

// TestDocsEventExample: the event docs/webhooks.md shows under "The
// request" is the golden event body the tests produce (same fields, same
// values), so the documented payload cannot drift from the real one.
func TestDocsEventExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i := strings.Index(s, "## The request")
	if i < 0 {
		t.Fatal(`docs/webhooks.md has no "## The request" section`)
	}
	s = s[i:]
	start := strings.Index(s, "```json\n")
	if start < 0 {
		t.Fatal("no JSON example in the request section")
	}
	s = s[start+len("```json\n"):]
	end := strings.Index(s, "```")
	if end < 0 {
		t.Fatal("unterminated JSON example")
	}
	var shown, golden any
	if err := json.Unmarshal([]byte(s[:end]), &shown); err != nil {
		t.Fatalf("the documented event is not JSON: %v", err)
	}
	g, err := os.ReadFile("testdata/event_refund.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(g, &golden); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(shown, golden) {
		t.Errorf("docs/webhooks.md's event differs from testdata/event_refund.golden.json:\n%s", s[:end])
	}
}

// TestDocsReconciliationExample: the reconciliation alert docs/webhooks.md
// shows is the golden body the tests produce.
func TestDocsReconciliationExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i := strings.Index(s, "## Reconciliation alerts")
	if i < 0 {
		t.Fatal(`docs/webhooks.md has no "## Reconciliation alerts" section`)
	}
	s = s[i:]
	start := strings.Index(s, "```json\n")
	end := strings.Index(s[max(start, 0)+len("```json\n"):], "```")
	if start < 0 || end < 0 {
		t.Fatal("no JSON example in the reconciliation section")
	}
	shownText := s[start+len("```json\n"):][:end]
	var shown, golden any
	if err := json.Unmarshal([]byte(shownText), &shown); err != nil {
		t.Fatalf("the documented event is not JSON: %v", err)
	}
	g, err := os.ReadFile("testdata/event_reconciliation.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(g, &golden); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(shown, golden) {
		t.Errorf("docs/webhooks.md's alert differs from testdata/event_reconciliation.golden.json:\n%s", shownText)
	}
}

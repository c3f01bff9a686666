package sandbox

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var tableSeparator = regexp.MustCompile(`^\|(\s*:?-+:?\s*\|)+\s*$`)

func readDoc(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDocsMatchTheSandbox keeps docs/sandbox.md and the README true to the
// code merchants run: every flag, magic amount and magic auth_code is
// documented, and every table renders (a row cut off from its header by a
// blank line shows as plain text).
func TestDocsMatchTheSandbox(t *testing.T) {
	doc := readDoc(t, "../../docs/sandbox.md")
	readme := readDoc(t, "../../README.md")

	t.Run("tables have headers", func(t *testing.T) {
		lines := strings.Split(doc, "\n")
		for i := 0; i < len(lines); i++ {
			if !strings.HasPrefix(lines[i], "|") {
				continue
			}
			if i+1 >= len(lines) || !tableSeparator.MatchString(lines[i+1]) {
				t.Errorf("docs/sandbox.md:%d: table without a header separator: %s", i+1, lines[i])
			}
			for i < len(lines) && strings.HasPrefix(lines[i], "|") {
				i++
			}
		}
	})

	t.Run("every flag", func(t *testing.T) {
		var usage bytes.Buffer
		if code := Main(context.Background(), []string{"-h"}, &bytes.Buffer{}, &usage); code != 0 {
			t.Fatalf("-h exits %d", code)
		}
		flags := regexp.MustCompile(`(?m)^\s+(-[a-z-]+)`).FindAllStringSubmatch(usage.String(), -1)
		if len(flags) < 10 {
			t.Fatalf("found %d flags in the usage: %s", len(flags), usage.String())
		}
		for _, f := range flags {
			if !strings.Contains(doc, "| `"+f[1]+"` |") {
				t.Errorf("docs/sandbox.md's flag table lacks %s", f[1])
			}
		}
	})

	t.Run("magic amounts and auth_codes", func(t *testing.T) {
		for _, n := range []int{MagicAmountPayFails, MagicAmountNotifyDelayed, MagicAmountNotifyTriple, MagicAmountNotifyNever,
			MagicAmountDiffers, MagicAmountLatePayer, MagicAmountRefundFails} {
			row := "| `" + strconv.Itoa(n) + "` |"
			if !strings.Contains(doc, row) {
				t.Errorf("docs/sandbox.md lacks the magic amount row %s", row)
			}
			if !strings.Contains(readme, row) {
				t.Errorf("README.md lacks the magic amount row %s", row)
			}
		}
		for _, c := range []string{MagicAuthCodePassword, MagicAuthCodePasswordForever, MagicAuthCodeNoFunds, MagicAuthCodeExpired} {
			if !strings.Contains(doc, "| `"+c+"` |") {
				t.Errorf("docs/sandbox.md lacks the magic auth_code row %s", c)
			}
			if !strings.Contains(readme, "`"+c+"`") {
				t.Errorf("README.md lacks the magic auth_code %s", c)
			}
		}
	})

	t.Run("standalone command", func(t *testing.T) {
		const cmd = "checkout sandbox -addr 127.0.0.1:9000 -store OPEN_ID:OPEN_KEY[:SHOP_PASS]"
		for name, text := range map[string]string{"docs/sandbox.md": doc, "README.md": strings.Join(strings.Fields(readme), " ")} {
			if !strings.Contains(text, cmd) {
				t.Errorf("%s does not show %q", name, cmd)
			}
		}
	})
}

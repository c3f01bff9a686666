package config

import (
	"os"
	"strings"
	"testing"
)

// TestSigningSecretDocumented: CHECKOUT_SIGNING_SECRET signs the payer
// pages' CSRF tokens and OAuth states (issue 11); its usage and the
// README's row say so, and say that changing it makes open pages reload.
func TestSigningSecretDocumented(t *testing.T) {
	for _, v := range Vars {
		if v.Env == "CHECKOUT_SIGNING_SECRET" && (!strings.Contains(v.Usage, "CSRF") || !strings.Contains(v.Usage, "OAuth")) {
			t.Errorf("the usage of CHECKOUT_SIGNING_SECRET does not say what it signs: %q", v.Usage)
		}
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Skipf("README.md not readable: %v", err)
	}
	var found bool
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "| `CHECKOUT_SIGNING_SECRET`") {
			found = true
			if !strings.Contains(line, "CSRF") || !strings.Contains(line, "OAuth") || strings.Contains(line, "not used yet") {
				t.Errorf("README.md's row of CHECKOUT_SIGNING_SECRET does not say what it signs: %s", line)
			}
		}
	}
	if !found {
		t.Error("README.md has no row for CHECKOUT_SIGNING_SECRET")
	}
}

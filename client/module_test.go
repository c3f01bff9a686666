package client

import (
	"os"
	"strings"
	"testing"
)

// The module stays standard library only, on an old Go, so that a merchant
// inherits neither the service's dependencies nor its Go version (go vet's
// stdversion check then refuses library calls newer than the directive).
func TestModuleHasNoDependencies(t *testing.T) {
	b, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mod := string(b)
	if strings.Contains(mod, "require") || strings.Contains(mod, "toolchain") {
		t.Errorf("client/go.mod requires something:\n%s", mod)
	}
	if !strings.Contains(mod, "\ngo 1.22\n") {
		t.Errorf("client/go.mod's go directive is not 1.22:\n%s", mod)
	}
}

package gateway

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestProtocolDocsInRepo: the gateway's own document and its English
// summary, which this package and the sandbox follow, are in the repository
// (docs/gateway/), and every reference to them points there, not at a copy
// outside it.
func TestProtocolDocsInRepo(t *testing.T) {
	const root = "../"
	for _, name := range []string{"docs/gateway/gateway-api.zh.txt", "docs/gateway/PROTOCOL.md", "docs/gateway/README.md"} {
		b, err := os.ReadFile(root + name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(b) < 100 {
			t.Errorf("%s is nearly empty (%d bytes)", name, len(b))
		}
	}
	// The summary's test vectors are the ones this package's tests check.
	if b, err := os.ReadFile(root + "docs/gateway/PROTOCOL.md"); err == nil {
		for _, vector := range []string{"915be5aff09f2686870e1d17e93b3542", "3304A5EC2CDEB4D12ED3338B5C01BF6B"} {
			if !strings.Contains(string(b), vector) {
				t.Errorf("docs/gateway/PROTOCOL.md lacks the test vector %s", vector)
			}
		}
	}

	ref := regexp.MustCompile(`docs/gateway/[A-Za-z0-9._-]+`)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext != ".go" && ext != ".md" && ext != ".txt" || path == root+"gateway/docs_test.go" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		text := string(b)
		if strings.Contains(text, "shared/spec") || regexp.MustCompile("`spec/").MatchString(text) {
			t.Errorf("%s cites the protocol documents outside the repository (shared/spec, spec/); they are in docs/gateway/", strings.TrimPrefix(path, root))
		}
		for _, r := range ref.FindAllString(text, -1) {
			r = strings.TrimRight(r, ".")
			if _, err := os.Stat(root + r); err != nil {
				t.Errorf("%s cites %s, which does not exist", strings.TrimPrefix(path, root), r)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

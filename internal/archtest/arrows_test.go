package archtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/wallet-checkout/checkout"

// allowed is the dependency map: for each package of the module (its path
// under the module), the packages of the module its non-test files may
// import. Imports from outside the module (the standard library, gin,
// go-redis, …) are not checked. docs/architecture.md shows the same arrows;
// TestArchitectureDocMatches keeps the two equal.
var allowed = map[string][]string{
	"api":                {},
	"apiobject":          {"checkout"},
	"client":             {"client/webhook"},
	"client/webhook":     {},
	"gateway":            {},
	"gateway/sandbox":    {"gateway"},
	"internal/hostclass": {},
	"internal/redistest": {},
	"internal/porttest":  {},
	"internal/archtest":  {},
	// metrics owns the registry; the packages it counts for declare
	// observers of their own, which app wires to it.
	"metrics":          {},
	"checkout":         {},
	"console":          {},
	"wallet":           {},
	"wallet/walletsim": {"wallet"},
	"config":           {"checkout", "console", "gateway", "internal/hostclass", "notify/webhook", "payments", "wallet"},
	// client/webhook is in the client's own module (client/, standard
	// library only): the webhook signature scheme, owned there so that
	// merchants import it without the service.
	"notify/webhook": {"apiobject", "checkout", "client/webhook", "internal/hostclass"},
	"notify":         {"checkout"},
	"payments":       {"apiobject", "checkout", "gateway", "notify", "notify/webhook"},
	"reconciliation": {"checkout", "gateway", "notify/webhook", "payments"},
	"sessions":       {},
	"web/static":     {},
	"web/logos":      {},
	"web/qrcode":     {},
	"web/templates":  {"checkout", "web/static"},
	"handlers": {
		"api", "apiobject", "checkout", "console", "internal/hostclass", "notify", "notify/webhook", "payments",
		"reconciliation", "sessions", "wallet", "web/logos", "web/qrcode", "web/static", "web/templates",
	},
	"app": {
		"checkout", "config", "console", "gateway", "handlers", "metrics", "notify", "notify/webhook",
		"payments", "reconciliation", "sessions", "wallet", "wallet/walletsim", "web/logos",
	},
	"cmd/checkout": {
		"app", "checkout", "client", "client/webhook", "config", "console", "gateway", "gateway/sandbox", "internal/hostclass", "metrics", "notify/webhook",
		"payments", "reconciliation", "wallet/walletsim",
	},
	"cmd/loadharness": {"app", "checkout", "config", "gateway", "gateway/sandbox", "notify", "payments"},
	// Test-only packages: their code is all in _test.go files.
	"chaos":                {},
	"e2e":                  {},
	"examples/miniprogram": {},
}

// leaving are arrows that exist today and that a change under way removes,
// each with why; docs/architecture.md marks them ✗. They are in allowed
// until then; when one goes, delete it from both tables and from the doc.
// None today.
var leaving = map[[2]string]string{}

// imports lists the module's packages with their non-test imports from
// the module, by path under the module ("" for the module's root).
func imports(t *testing.T) map[string][]string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go command not found: %v", err)
	}
	cmd := exec.Command(gobin, "list", "-e", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"/...")
	cmd.Dir = filepath.Join("..", "..")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	got := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		pkg, ok := local(f[0])
		if !ok {
			continue
		}
		deps := []string{}
		for _, imp := range f[1:] {
			if p, ok := local(imp); ok {
				deps = append(deps, p)
			}
		}
		got[pkg] = deps
	}
	if len(got) == 0 {
		t.Fatal("go list found no package of the module")
	}
	return got
}

// local returns path relative to the module, and whether it is in it.
func local(path string) (string, bool) {
	if path == module {
		return "", true
	}
	rest, ok := strings.CutPrefix(path, module+"/")
	return rest, ok
}

// TestImportArrows fails on any non-test import between the module's
// packages that allowed does not list, naming the file's package and the
// import, on any package missing from the table, and on an arrow of the
// table that no package draws any more (the map must stay current).
func TestImportArrows(t *testing.T) {
	got := imports(t)
	pkgs := make([]string, 0, len(got))
	for p := range got {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, p := range pkgs {
		ok, known := allowed[p]
		if !known {
			t.Errorf("package %s/%s is not in the dependency table: add it to allowed in internal/archtest/arrows_test.go and to docs/architecture.md", module, p)
			continue
		}
		for _, imp := range got[p] {
			if !slices.Contains(ok, imp) {
				t.Errorf("forbidden import: %s/%s imports %s/%s (%s → %s is not an allowed arrow; see docs/architecture.md)",
					module, p, module, imp, p, imp)
			}
		}
		for _, a := range ok {
			if !slices.Contains(got[p], a) {
				t.Errorf("arrow %s → %s is in the table but %s no longer imports %s: delete it from internal/archtest and docs/architecture.md", p, a, p, a)
			}
		}
	}
	for p := range allowed {
		if _, ok := got[p]; !ok {
			t.Errorf("package %s is in the dependency table but not in the module: delete it", p)
		}
	}
	for a := range leaving {
		if !slices.Contains(allowed[a[0]], a[1]) {
			t.Errorf("leaving arrow %s → %s is not in allowed: delete it from leaving too", a[0], a[1])
		}
	}
}

// TestArchitectureDocMatches: the arrows block of docs/architecture.md
// (the lines "from → to, to" between the markers) is the table above, and
// marks exactly the leaving arrows as such.
func TestArchitectureDocMatches(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- arrows:begin -->", "<!-- arrows:end -->"
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("docs/architecture.md has no %s … %s block", begin, end)
	}
	var doc, docLeaving []string
	for line := range strings.Lines(s[i+len(begin) : j]) {
		from, rest, ok := strings.Cut(line, "→")
		if !ok {
			continue
		}
		from = strings.TrimSpace(from)
		for to := range strings.SplitSeq(rest, ",") {
			to = strings.TrimSpace(to)
			if to == "" || to == "(nothing)" {
				continue
			}
			if name, ok := strings.CutSuffix(to, "✗"); ok {
				to = strings.TrimSpace(name)
				docLeaving = append(docLeaving, from+" → "+to)
			}
			doc = append(doc, from+" → "+to)
		}
	}
	var want, wantLeaving []string
	for p, deps := range allowed {
		for _, d := range deps {
			want = append(want, p+" → "+d)
		}
	}
	for a := range leaving {
		wantLeaving = append(wantLeaving, a[0]+" → "+a[1])
	}
	for _, l := range [][]string{doc, docLeaving, want, wantLeaving} {
		sort.Strings(l)
	}
	if d := diff(want, doc); d != "" {
		t.Errorf("docs/architecture.md's arrows differ from allowed:\n%s", d)
	}
	if d := diff(wantLeaving, docLeaving); d != "" {
		t.Errorf("docs/architecture.md's ✗ (to be removed) arrows differ from leaving:\n%s", d)
	}
}

func diff(want, got []string) string {
	var b strings.Builder
	for _, w := range want {
		if !slices.Contains(got, w) {
			fmt.Fprintf(&b, "  missing from the doc: %s\n", w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			fmt.Fprintf(&b, "  not in the table: %s\n", g)
		}
	}
	return b.String()
}

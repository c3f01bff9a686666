package templates

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// keyShape is what a catalogue key looks like: dotted lower-case words.
var keyShape = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

// keyUse is a key found in the source, with where it was found.
type keyUse struct {
	key string
	pos string
}

// usedKeys walks the module's Go source (generated templ code included,
// tests excluded) and returns every catalogue key it uses: the literal
// arguments of T and Translate calls, and key-shaped literals in composite
// literals (the handlers' and the wallets' key tables) whose first word is
// one of the catalogue's. A key built with + inside a T or Translate call
// is reported as an error: the catalogue's checks could not see it.
func usedKeys(t *testing.T) []keyUse {
	t.Helper()
	namespaces := map[string]bool{}
	for k := range catalog[LangDefault] {
		ns, _, _ := strings.Cut(k, ".")
		namespaces[ns] = true
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	self, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	const importPath = `"github.com/wallet-checkout/checkout/web/templates"`
	fset := token.NewFileSet()
	var uses []keyUse
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		inPackage := filepath.Dir(path) == self
		if inPackage && filepath.Base(path) == "catalog.go" {
			return nil // the catalogue itself
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Errorf("parsing %s: %v", path, err)
			return nil
		}
		if !inPackage && !importsPath(f, importPath) {
			return nil
		}
		uses = append(uses, keysIn(t, fset, f, namespaces)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return uses
}

func importsPath(f *ast.File, path string) bool {
	for _, imp := range f.Imports {
		if imp.Path.Value == path {
			return true
		}
	}
	return false
}

// keysIn returns the keys one file uses.
func keysIn(t *testing.T, fset *token.FileSet, f *ast.File, namespaces map[string]bool) []keyUse {
	var uses []keyUse
	add := func(lit *ast.BasicLit) {
		if lit.Kind != token.STRING {
			return
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil {
			return
		}
		uses = append(uses, keyUse{s, fset.Position(lit.Pos()).String()})
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if !isTranslateCall(n) || len(n.Args) == 0 {
				return true
			}
			arg := n.Args[len(n.Args)-1]
			switch a := arg.(type) {
			case *ast.BasicLit:
				add(a)
			case *ast.BinaryExpr:
				t.Errorf("%s: a message key is built with %s; write it out in full so the catalogue's checks see it",
					fset.Position(a.Pos()), a.Op)
			}
		case *ast.CompositeLit:
			for _, e := range n.Elts {
				if kv, ok := e.(*ast.KeyValueExpr); ok {
					e = kv.Value
				}
				lit, ok := e.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil || !keyShape.MatchString(s) {
					continue
				}
				if ns, _, _ := strings.Cut(s, "."); namespaces[ns] {
					add(lit)
				}
			}
		}
		return true
	})
	return uses
}

// isTranslateCall reports whether call is Page.T, Translate or
// templates.Translate.
func isTranslateCall(call *ast.CallExpr) bool {
	switch fn := call.Fun.(type) {
	case *ast.Ident:
		return fn.Name == "Translate"
	case *ast.SelectorExpr:
		return fn.Sel.Name == "T" || fn.Sel.Name == "Translate"
	}
	return false
}

// TestCatalogKeysUsed keeps the one catalogue and its users in step: every
// key the source uses is in all three languages, and every key of the
// catalogue is used somewhere.
func TestCatalogKeysUsed(t *testing.T) {
	uses := usedKeys(t)
	used := map[string]bool{}
	for _, u := range uses {
		used[u.key] = true
		for _, lang := range []string{LangZhHans, LangZhHant, LangEn} {
			if _, ok := catalog[lang][u.key]; !ok {
				t.Errorf("%s: key %q is not in the %s catalogue", u.pos, u.key, lang)
			}
		}
	}
	var unused []string
	for k := range catalog[LangDefault] {
		if !used[k] {
			unused = append(unused, k)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Errorf("catalogue keys nothing uses (remove them, or write the key out in full where it is used): %v", unused)
	}
	// The scan must have seen both the pages and the handlers.
	for _, want := range []string{"checkout.title", "error.not_found.title", "api_error.csrf", "pay.wechat"} {
		if !used[want] {
			t.Errorf("the source scan did not find %q; is it looking in the right places?", want)
		}
	}
}

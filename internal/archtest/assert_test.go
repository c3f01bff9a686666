package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoDependencyDiscoveredByAssertion: a dependency held in a struct
// field (h.pages.Hub, s.gw, …) is never asserted to an interface to find
// out whether it can do more. What a package needs of a dependency is in
// the interface it declares for it, so that a stand-in or a new
// implementation that lacks a method fails to compile instead of silently
// taking a slower or different path (issue 10: "no interfaces discovered
// by type assertion").
//
// It flags, in the module's non-test files, x.f.(T) where T is an
// interface literal or an interface type declared in the same package.
// Assertions on values that arrive as parameters or from a library (an
// http.ResponseWriter that may be a Hijacker, a Redis reply) are not
// dependencies and are not flagged.
func TestNoDependencyDiscoveredByAssertion(t *testing.T) {
	root := filepath.Join("..", "..")
	pkgs := map[string][]*ast.File{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		pkgs[filepath.Dir(p)] = append(pkgs[filepath.Dir(p)], f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) == 0 {
		t.Fatal("found no Go file in the module")
	}
	for _, files := range pkgs {
		ifaces := map[string]bool{}
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				if ts, ok := n.(*ast.TypeSpec); ok {
					if _, ok := ts.Type.(*ast.InterfaceType); ok {
						ifaces[ts.Name.Name] = true
					}
				}
				return true
			})
		}
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				ta, ok := n.(*ast.TypeAssertExpr)
				if !ok || ta.Type == nil {
					return true
				}
				if _, field := ta.X.(*ast.SelectorExpr); !field {
					return true
				}
				iface := false
				switch typ := ta.Type.(type) {
				case *ast.InterfaceType:
					iface = true
				case *ast.Ident:
					iface = ifaces[typ.Name]
				}
				if iface {
					t.Errorf("%s: a dependency is asserted to an interface; put the method in the interface the package declares for it",
						fset.Position(ta.Pos()))
				}
				return true
			})
		}
	}
}

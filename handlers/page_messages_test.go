package handlers

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/web/templates"
)

// TestAPIErrorCodesHaveMessages reads the handlers' source for every error
// code a payer's page or the mini-program can receive with a catalogue
// message (the code argument of payError and apiErrorMessage, the codes
// startError and pageCheckout fail with, the codes notPayableCode returns)
// and checks that apiErrorKeys has each of them, and nothing else.
func TestAPIErrorCodesHaveMessages(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	sent := map[string]string{} // code → where
	literal := func(e ast.Expr) {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return
		}
		if s, err := strconv.Unquote(lit.Value); err == nil {
			sent[s] = fset.Position(lit.Pos()).String()
		}
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			fn := fd.Name.Name
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					switch callee(n) {
					case "payError":
						if len(n.Args) > 2 {
							literal(n.Args[2])
						}
					case "apiErrorMessage":
						if len(n.Args) > 1 {
							literal(n.Args[1])
						}
					case "fail":
						if (fn == "startError" || fn == "pageCheckout") && len(n.Args) > 1 {
							literal(n.Args[1])
						}
					}
				case *ast.ReturnStmt:
					if fn == "notPayableCode" {
						for _, r := range n.Results {
							literal(r)
						}
					}
				}
				return true
			})
		}
	}
	for code, pos := range sent {
		if _, ok := apiErrorKeys[code]; !ok {
			t.Errorf("%s: error code %q has no message in apiErrorKeys", pos, code)
		}
	}
	var unused []string
	for code, key := range apiErrorKeys {
		if _, ok := sent[code]; !ok {
			unused = append(unused, code)
		}
		for _, lang := range []string{templates.LangZhHans, templates.LangZhHant, templates.LangEn} {
			if templates.Translate(lang, key) == key {
				t.Errorf("%s: %q has no %s text", code, key, lang)
			}
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Errorf("apiErrorKeys has codes no handler sends: %v", unused)
	}
	if len(sent) < 10 {
		t.Errorf("found only %d codes in the source; is the scan looking at the right calls?", len(sent))
	}
}

// callee is the name of the function or method a call calls.
func callee(call *ast.CallExpr) string {
	switch fn := call.Fun.(type) {
	case *ast.Ident:
		return fn.Name
	case *ast.SelectorExpr:
		return fn.Sel.Name
	}
	return ""
}

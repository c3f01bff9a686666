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
// message (the refusals payError and pageFailure answer with, the code
// argument of apiErrorMessage, the codes startError fails with, the codes
// notPayableCode returns) and checks that apiErrorKeys has each of them,
// and nothing else.
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
	// codes of the refusals declared as variables (errCSRF = refusal(…)),
	// and of the call that makes a 503 (unavailable(…)).
	codes := map[string]string{}
	refused := func(e ast.Expr) {
		switch e := e.(type) {
		case *ast.Ident:
			if code, ok := codes[e.Name]; ok {
				sent[code] = fset.Position(e.Pos()).String()
			}
		case *ast.CallExpr:
			if callee(e) == "unavailable" {
				sent["unavailable"] = fset.Position(e.Pos()).String()
			}
		}
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, v := range vs.Values {
				call, ok := v.(*ast.CallExpr)
				if !ok || i >= len(vs.Names) {
					continue
				}
				arg := -1
				switch callee(call) {
				case "refusal":
					arg = 1
				case "badRequest":
					arg = 0
				}
				if arg >= 0 && arg < len(call.Args) {
					if lit, ok := call.Args[arg].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						code, _ := strconv.Unquote(lit.Value)
						codes[vs.Names[i].Name] = code
					}
				}
			}
			return true
		})
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
						if len(n.Args) > 1 {
							refused(n.Args[1])
						}
					case "pageFailure":
						if len(n.Args) > 2 {
							refused(n.Args[2])
						}
					case "apiErrorMessage":
						if len(n.Args) > 1 {
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

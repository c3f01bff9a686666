package handlers

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// pageOnlyCodes are the error codes only the payer pages' own fetches
// answer (their POSTs' origin and CSRF checks, and a way to pay the page
// did not offer): not part of the API.
var pageOnlyCodes = []string{"cross_origin", "csrf", "method_not_offered"}

// answeredCodes reads every error code the handlers' code can answer:
// the code of each answer{…} literal, of each refusal(…) and badRequest(…)
// call, "invalid_parameter" for invalid(…), and the codes notPayableCode
// returns. Reading the source finds a code added anywhere, in any file,
// without a list to keep.
func answeredCodes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	lit := func(e ast.Expr) {
		if b, ok := e.(*ast.BasicLit); ok && b.Kind == token.STRING {
			s, err := strconv.Unquote(b.Value)
			if err != nil {
				t.Fatal(err)
			}
			seen[s] = true
		}
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || strings.HasSuffix(name, "_templ.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); ok && id.Name == "answer" {
					for _, el := range n.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok {
							if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "code" {
								lit(kv.Value)
							}
						}
					}
				}
			case *ast.CallExpr:
				fn, ok := n.Fun.(*ast.Ident)
				if !ok {
					break
				}
				switch fn.Name {
				case "refusal":
					lit(n.Args[1])
				case "badRequest":
					lit(n.Args[0])
				case "invalid":
					seen["invalid_parameter"] = true
				}
			case *ast.FuncDecl:
				if n.Name.Name == "notPayableCode" {
					ast.Inspect(n.Body, func(m ast.Node) bool {
						if r, ok := m.(*ast.ReturnStmt); ok {
							for _, e := range r.Results {
								lit(e)
							}
						}
						return true
					})
				}
			}
			return true
		})
	}
	var out []string
	for c := range seen {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// The description's ErrorCode lists exactly the codes the merchant API and
// the mini-program route can answer: each code found in the handlers'
// source (answeredCodes), less the payer pages' own.
func TestOpenAPIErrorCodes(t *testing.T) {
	codes := answeredCodes(t)
	if len(codes) < 30 {
		t.Fatalf("only %d codes found in the source: %v", len(codes), codes)
	}
	var described []string
	for _, v := range OpenAPIDoc(t).Components.Schemas["ErrorCode"].Value.Enum {
		described = append(described, v.(string))
	}
	for _, c := range codes {
		if !slices.Contains(described, c) && !slices.Contains(pageOnlyCodes, c) {
			t.Errorf("code %q is answered but not in ErrorCode (api/openapi.yaml)", c)
		}
	}
	for _, c := range described {
		if !slices.Contains(codes, c) {
			t.Errorf("ErrorCode lists %q, which no handler answers", c)
		}
	}
}

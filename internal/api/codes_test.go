package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/topics"
)

// TestEveryCodeHasAStatus: a code added to codes.go without a status in
// the catalogue would answer 500.
func TestEveryCodeHasAStatus(t *testing.T) {
	shared := map[string]string{"topics.CodeTooLarge": topics.CodeTooLarge,
		"topics.CodeIdempotencyKeyReused": topics.CodeIdempotencyKeyReused}
	f, err := parser.ParseFile(token.NewFileSet(), "codes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			if vs := spec.(*ast.ValueSpec); !strings.HasPrefix(vs.Names[0].Name, "Code") {
				continue
			}
			for _, v := range spec.(*ast.ValueSpec).Values {
				var code string
				switch v := v.(type) {
				case *ast.BasicLit:
					code, _ = strconv.Unquote(v.Value)
				case *ast.SelectorExpr:
					// A code shared with another package: its value.
					name := v.X.(*ast.Ident).Name + "." + v.Sel.Name
					var known bool
					if code, known = shared[name]; !known {
						t.Errorf("codes.go uses %s: add its value to this test", name)
					}
				default:
					continue
				}
				if _, ok := statuses[code]; !ok {
					t.Errorf("code %q has no status in the catalogue", code)
				}
				n++
			}
		}
	}
	if n < 18 {
		t.Fatalf("found %d codes in codes.go; the parse missed some", n)
	}
}

func TestStatus(t *testing.T) {
	for code, want := range map[string]int{
		CodeTooManyWaiting:        http.StatusServiceUnavailable,
		CodeIdempotencyKeyReused:  http.StatusUnprocessableEntity,
		aggregate.CodeUnknownType: http.StatusNotFound,
		aggregate.CodeInvalidID:   http.StatusBadRequest,
		"no_such_code":            http.StatusInternalServerError,
	} {
		if got := Status(code); got != want {
			t.Errorf("Status(%q) = %d, want %d", code, got, want)
		}
	}
	for code, want := range map[string]int{
		aggregate.CodeVersionConflict: http.StatusPreconditionFailed,
		"already_reserved":            http.StatusConflict,
	} {
		if got := RejectionProblem(code, "").Status; got != want {
			t.Errorf("RejectionProblem(%q) = %d, want %d", code, got, want)
		}
	}
	// A command its own data refused: the kernel's status, else 400.
	for code, want := range map[string]int{
		aggregate.CodeUnknownType:  http.StatusNotFound,
		aggregate.CodeMissingField: http.StatusBadRequest,
		"invalid_time_range":       http.StatusBadRequest,
	} {
		if p := CommandProblem(code, ""); p.Status != want || p.Title != http.StatusText(want) {
			t.Errorf("CommandProblem(%q) = %d %s, want %d", code, p.Status, p.Title, want)
		}
	}
	p := NewProblem(CodeViewBehind, "not yet")
	if p.Status != 503 || p.Title != "Service Unavailable" || p.Type != "https://rewind.dev/problems/view_behind" || p.Code != CodeViewBehind {
		t.Fatalf("NewProblem: %+v", p)
	}
}

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
)

// TestEveryCodeHasAStatus: a code added to codes.go without a status in
// the catalogue would answer 500.
func TestEveryCodeHasAStatus(t *testing.T) {
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
				lit, ok := v.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				code, _ := strconv.Unquote(lit.Value)
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
		CodeIdempotencyKeyReused:      http.StatusUnprocessableEntity,
		"already_reserved":            http.StatusConflict,
	} {
		if got := RejectionStatus(code); got != want {
			t.Errorf("RejectionStatus(%q) = %d, want %d", code, got, want)
		}
	}
	p := NewProblem(CodeViewBehind, "not yet")
	if p.Status != 503 || p.Title != "Service Unavailable" || p.Type != "https://rewind.dev/problems/view_behind" || p.Code != CodeViewBehind {
		t.Fatalf("NewProblem: %+v", p)
	}
}

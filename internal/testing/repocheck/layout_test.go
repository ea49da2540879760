package repocheck

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rewind/rewind/internal/testing/testkit"
)

// TestArchitectureImportTable: the table of docs/architecture.md that
// lists, for each layer, the packages of this module it imports says what
// the code does. A new edge is a design decision; it shows up here as a
// failing test until the doc says it.
func TestArchitectureImportTable(t *testing.T) {
	root := testkit.Root(t)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z/]+)` \\| ((?:`[a-z/]+`(?:, )?)+|—) \\|$")
	start := strings.Index(string(doc), "| package | imports (of this module) |")
	if start < 0 {
		t.Fatal("docs/architecture.md has no import table")
	}
	table := string(doc[start:])
	table = table[:strings.Index(table, "\n\n")]
	rows := row.FindAllStringSubmatch(table, -1)
	if len(rows) < 10 {
		t.Fatalf("the import table has %d rows", len(rows))
	}
	const module = "github.com/rewind/rewind/"
	for _, r := range rows {
		pkg, said := r[1], strings.ReplaceAll(strings.ReplaceAll(r[2], "`", ""), "—", "")
		cmd := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, "./"+pkg)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		var imports []string
		for _, imp := range strings.Fields(string(out)) {
			if rest, ok := strings.CutPrefix(imp, module); ok {
				imports = append(imports, rest)
			}
		}
		if got := strings.Join(imports, ", "); got != said {
			t.Errorf("%s imports %q; docs/architecture.md says %q", pkg, got, said)
		}
	}
}

// TestNoBuiltBinaries: no executable built here is committed; a go build
// at the root once put a 34 MB one in the history.
func TestNoBuiltBinaries(t *testing.T) {
	root, names := trackedFiles(t)
	for _, name := range names {
		f, err := os.Open(filepath.Join(root, name))
		if err != nil {
			continue // deleted in the working tree
		}
		magic := make([]byte, 4)
		n, _ := f.Read(magic)
		f.Close()
		if n == 4 && string(magic) == "\x7fELF" {
			t.Errorf("%s is a built binary; build into bin/ (make build)", name)
		}
	}
}

// maxLines is the most lines a Go file may have: past it, a file
// usually does more than one job.
const maxLines = 500

// generated marks a generated Go file (go help generate), which is
// exempt from maxLines.
var generated = regexp.MustCompile(`(?m)^// Code generated .* DO NOT EDIT\.$`)

// TestFileLength: no Go file that a person writes is over maxLines.
func TestFileLength(t *testing.T) {
	root, names := trackedFiles(t)
	for _, name := range names {
		if !strings.HasSuffix(name, ".go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			continue // deleted in the working tree
		}
		if n := bytes.Count(b, []byte("\n")); n > maxLines && !generated.Match(b) {
			t.Errorf("%s has %d lines, more than %d: split it by job", name, n, maxLines)
		}
	}
}

// trackedFiles returns the module's root and the files git tracks there;
// it skips the test outside a git checkout.
func trackedFiles(t *testing.T) (string, []string) {
	t.Helper()
	root := testkit.Root(t)
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	return root, strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
}

// maxFuncLines is the most lines a function may have, not counting the
// lines of its tables (composite literals of tableLines or more): past
// it, a function usually does more than one thing.
const (
	maxFuncLines = 80
	tableLines   = 10
)

// TestFunctionLength: no function a person writes is over maxFuncLines,
// unless the rest is a table.
func TestFunctionLength(t *testing.T) {
	root, names := trackedFiles(t)
	fset := token.NewFileSet()
	for _, name := range names {
		if !strings.HasSuffix(name, ".go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(root, name), nil, parser.ParseComments)
		if err != nil {
			continue // deleted in the working tree
		}
		if ast.IsGenerated(f) {
			continue
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			if n := codeLines(fset, fn); n > maxFuncLines {
				t.Errorf("%s: %s has %d lines besides its tables, more than %d", fset.Position(fn.Pos()), fn.Name.Name, n, maxFuncLines)
			}
		}
	}
}

// codeLines counts fn's lines, less those of the tables in it.
func codeLines(fset *token.FileSet, fn *ast.FuncDecl) int {
	line := func(p token.Pos) int { return fset.Position(p).Line }
	n := line(fn.End()) - line(fn.Pos()) + 1
	ast.Inspect(fn.Body, func(node ast.Node) bool {
		lit, ok := node.(*ast.CompositeLit)
		if !ok {
			return true
		}
		if l := line(lit.End()) - line(lit.Pos()) + 1; l >= tableLines {
			n -= l - 1
			return false
		}
		return true
	})
	return n
}

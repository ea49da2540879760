package repocheck

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rewind/rewind/internal/testing/testkit"
)

// The patterns are assembled from pieces so that this file, which is
// scanned like any other, does not match its own patterns.
var (
	// outside are strings that name a file beside the repository, where
	// the design used to live before docs/.
	outside = []string{
		".." + "/shared",
		"shared" + "/DESIGN",
		"shared" + "/STYLE",
	}
	// designFiles match a citation of the design notes that lived
	// there (a file name, or a section sign after DESIGN), which no
	// clone has; the repository's own design is in docs/.
	designFiles = regexp.MustCompile(`\b(DESIGN|STYLE)` + `\.md\b|\bDESIGN` + `\s*§`)
	// upLinks match a markdown link whose target climbs out of its
	// directory, inline or reference-style. Inside docs/ that would
	// leave the docs; at the root, the repository.
	upLinks = []*regexp.Regexp{
		regexp.MustCompile(`\]` + `\(\s*<?\.\./`),
		regexp.MustCompile(`^\s{0,3}\[[^\]]+\]` + `:\s*<?\.\./`),
	}
)

// skipDirs are skipped wherever they are: version control, and
// downloaded JavaScript, which is not ours.
var skipDirs = map[string]bool{".git": true, "node_modules": true}

// rootOnlySkipDirs, build output and local data (both in .gitignore),
// are skipped at the repository root only: a package deeper down may
// well be called data.
var rootOnlySkipDirs = map[string]bool{"bin": true, "data": true}

// textExts are the extensions of files the check reads.
var textExts = []string{".go", ".md", ".yaml", ".yml", ".json", ".sh", ".html", ".js", ".css"}

// textNames are files without such an extension that it reads too.
var textNames = []string{"Makefile", "Dockerfile"}

// TestNoReferenceOutsideRepo fails for every line of a text file that
// refers to a path outside the repository.
func TestNoReferenceOutsideRepo(t *testing.T) {
	root := testkit.Root(t)
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if skipDirs[d.Name()] || (!strings.Contains(rel, "/") && rootOnlySkipDirs[rel]) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !isText(rel) {
			return nil
		}
		checked++
		problems, err := scanFile(path)
		if err != nil {
			return err
		}
		for _, p := range problems {
			t.Errorf("%s:%s", rel, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatalf("no files checked under %s: the walk is broken", root)
	}
}

// TestMatch keeps the patterns honest: each bad line must be caught, each
// good one passed.
func TestMatch(t *testing.T) {
	// Each bad line trips one pattern only, so that each is shown to work.
	up, sh, design, style := ".."+"/", "shared", "DESIGN", "STYLE"
	for _, tt := range []struct {
		line string
		bad  bool
	}{
		{line: "read it from " + up + sh + " if you have it", bad: true},
		{line: "see " + sh + "/" + design + ", section 2", bad: true},
		{line: "see " + sh + "/" + style + " for the house rules", bad: true},
		{line: "// loop is " + design + ".md: per polled batch", bad: true},
		{line: "// the addresses of " + design + " §4.", bad: true},
		{line: "see " + style + ".md, rule 3", bad: true},
		{line: "the [kernel](" + up + "aggregate/doc.go)", bad: true},
		{line: "the [kernel](<" + up + "aggregate/doc.go>)", bad: true},
		{line: "[kernel]: " + up + "aggregate/doc.go", bad: true},
		{line: "the [processor](docs/processor.md) and [topics](topics.md#keys)", bad: false},
		{line: "// I5: nothing about one record may stop the partition (docs/processor.md).", bad: false},
		{line: "// Close flushes nothing (writes are unsynced by design)", bad: false},
		{line: `os.ReadFile("` + up + `docker-compose.yml")`, bad: false},
		{line: `badKey.Key = []byte("t1/` + up + `etc")`, bad: false},
		{line: "a shared cache of designs; the " + design + " review", bad: false},
	} {
		if got := match(tt.line) != ""; got != tt.bad {
			t.Errorf("match(%q) = %v, want %v", tt.line, got, tt.bad)
		}
	}
}

// match names what in line refers outside the repository, or is "".
func match(line string) string {
	for _, s := range outside {
		if strings.Contains(line, s) {
			return fmt.Sprintf("refers to %q, outside the repository", s)
		}
	}
	if loc := designFiles.FindStringIndex(line); loc != nil {
		return fmt.Sprintf("cites %q, a design note outside the repository (see docs/)", line[loc[0]:loc[1]])
	}
	for _, re := range upLinks {
		if loc := re.FindStringIndex(line); loc != nil {
			return fmt.Sprintf("markdown link to a parent directory: %q", line[loc[0]:])
		}
	}
	return ""
}

// scanFile returns "line: problem" for each offending line of the file.
func scanFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20) // minified JSON has long lines
	for n := 1; sc.Scan(); n++ {
		if p := match(sc.Text()); p != "" {
			out = append(out, fmt.Sprintf("%d: %s", n, p))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

func isText(rel string) bool {
	name := filepath.Base(rel)
	return rel == ".ci/run" || slices.Contains(textNames, name) || slices.Contains(textExts, filepath.Ext(name))
}

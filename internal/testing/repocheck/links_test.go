package repocheck

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/rewind/rewind/internal/testing/testkit"
)

var (
	// mdLink is an inline markdown link; its target has no spaces.
	mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	// codeSpan is inline code, where brackets are not links.
	codeSpan = regexp.MustCompile("`[^`]*`")
)

// TestDocLinks fails for a link in a markdown file of the repository
// that points at a file that does not exist, or at a heading that the
// file does not have: the README and docs/ point into each other, and a
// renamed heading must not leave a reader at the top of a long page.
func TestDocLinks(t *testing.T) {
	root := testkit.Root(t)
	anchors := map[string]map[string]bool{} // file → its headings' anchors
	headings := func(path string) map[string]bool {
		if a, ok := anchors[path]; ok {
			return a
		}
		a := map[string]bool{}
		seen := map[string]int{}
		eachLine(t, path, func(line string) {
			if !strings.HasPrefix(line, "#") {
				return
			}
			text := strings.TrimSpace(strings.TrimLeft(line, "#"))
			slug := slugOf(text)
			// GitHub numbers repeated headings: x, x-1, x-2.
			if n := seen[slug]; n > 0 {
				a[slug+"-"+strconv.Itoa(n)] = true
			} else {
				a[slug] = true
			}
			seen[slug]++
		})
		anchors[path] = a
		return a
	}
	checked := 0
	for _, file := range markdownFiles(t, root) {
		eachLine(t, file, func(line string) {
			for _, m := range mdLink.FindAllStringSubmatch(codeSpan.ReplaceAllString(line, ""), -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				path, anchor, _ := strings.Cut(target, "#")
				dest := file
				if path != "" {
					dest = filepath.Join(filepath.Dir(file), path)
				}
				rel, _ := filepath.Rel(root, file)
				if _, err := os.Stat(dest); err != nil {
					t.Errorf("%s: link %s: no such file", rel, target)
					continue
				}
				checked++
				if anchor != "" && strings.HasSuffix(dest, ".md") && !headings(dest)[anchor] {
					t.Errorf("%s: link %s: %s has no heading with that anchor", rel, target, filepath.Base(dest))
				}
			}
		})
	}
	if checked < 50 {
		t.Fatalf("only %d links checked: the search is broken", checked)
	}
}

// slugOf is GitHub's anchor of a heading: lower case, letters, digits,
// '-' and '_' kept, spaces as '-', the rest dropped.
func slugOf(heading string) string {
	heading = codeTicks.Replace(heading)
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

var codeTicks = strings.NewReplacer("`", "")

// markdownFiles are the repository's markdown files, outside skipped
// directories.
func markdownFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if skipDirs[d.Name()] || filepath.Dir(path) == root && rootOnlySkipDirs[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".md") {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// eachLine calls f with each line of a markdown file outside fenced code
// blocks.
func eachLine(t *testing.T, path string, f func(string)) {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	fenced := false
	lines := bufio.NewScanner(file)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		line := lines.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			f(line)
		}
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}
}

// makeCall is a make invocation in prose or a shell block.
var makeCall = regexp.MustCompile("(?:^|[\\s`(])make ([a-z][a-z0-9-]*)")

// TestDocMakeTargets fails for a `make <target>` in the README or docs/
// that the Makefile does not have.
func TestDocMakeTargets(t *testing.T) {
	root := testkit.Root(t)
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([a-z][a-z0-9-]*):`).FindAllStringSubmatch(string(makefile), -1) {
		targets[m[1]] = true
	}
	seen := 0
	for _, file := range markdownFiles(t, root) {
		rel, _ := filepath.Rel(root, file)
		if rel != "README.md" && !strings.HasPrefix(rel, "docs"+string(filepath.Separator)) {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range makeCall.FindAllStringSubmatch(string(data), -1) {
			seen++
			if !targets[m[1]] {
				t.Errorf("%s: make %s: the Makefile has no such target", rel, m[1])
			}
		}
	}
	if seen < 5 {
		t.Fatalf("only %d make calls found: the search is broken", seen)
	}
}

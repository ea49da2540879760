// Package candidate builds Rewind's commands from a copy of its source
// with a few edits: the candidate builds of a logic change (a handler with
// a bug, a wrong upcaster) that the replay walk-through (cmd/replaydemo)
// and its end-to-end test preview and roll out.
package candidate

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Edit replaces the one occurrence of Old in File (relative to the module
// root) with New. An Old found zero or several times is an error, so a
// refactoring of the edited code fails loudly instead of building the
// unedited code.
type Edit struct {
	File, Old, New string
}

// Build copies the module at root into dir/src, applies the edits, and
// builds the commands (./cmd/<name>) into dir/bin, which it returns.
func Build(root, dir string, edits []Edit, commands ...string) (string, error) {
	dir, err := filepath.Abs(dir) // go build runs in the copy
	if err != nil {
		return "", err
	}
	src := filepath.Join(dir, "src")
	if err := copyTree(root, src); err != nil {
		return "", err
	}
	for _, e := range edits {
		path := filepath.Join(src, e.File)
		b, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		if n := strings.Count(string(b), e.Old); n != 1 {
			return "", fmt.Errorf("candidate: %q occurs %d times in %s, want once", e.Old, n, e.File)
		}
		if err := os.WriteFile(path, []byte(strings.Replace(string(b), e.Old, e.New, 1)), 0o644); err != nil {
			return "", err
		}
	}
	bin := filepath.Join(dir, "bin")
	args := []string{"build", "-o", bin + string(filepath.Separator)}
	for _, c := range commands {
		args = append(args, "./cmd/"+c)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("candidate: go build: %v\n%s", err, out)
	}
	return bin, nil
}

// copyTree copies the source files: everything but version control,
// build output, data and dependencies of the web tooling.
func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch name := d.Name(); {
			case rel != "." && (strings.HasPrefix(name, ".") || name == "bin" || name == "data" || name == "node_modules" || name == "testdata"):
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
}

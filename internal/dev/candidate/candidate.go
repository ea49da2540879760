// Package candidate builds Rewind's commands as the candidate builds of a
// logic change (a handler with a bug, a wrong upcaster) that the replay
// walk-through (cmd/replaydemo) and its end-to-end test preview and roll
// out. Each candidate is this source built with a tag that switches one
// constant of aggregate/schedule (candidate_*_on.go), as pebble switches
// its invariants: a refactoring of the code around it cannot silently
// build the unchanged code instead.
package candidate

import (
	"fmt"
	"os/exec"
	"path/filepath"
)

// Tag is the build tag of a candidate.
type Tag string

// Build builds the commands (./cmd/<name>) of the module at root with
// tag into dir/bin, which it returns.
func Build(root, dir string, tag Tag, commands ...string) (string, error) {
	bin, err := filepath.Abs(filepath.Join(dir, "bin"))
	if err != nil {
		return "", err
	}
	args := []string{"build", "-tags", string(tag), "-o", bin + string(filepath.Separator)}
	for _, c := range commands {
		args = append(args, "./cmd/"+c)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("candidate: go build -tags %s: %v\n%s", tag, err, out)
	}
	return bin, nil
}

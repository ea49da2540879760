package aggregate_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsOnlyStandardLibrary keeps the kernel and the domain pure: no
// Kafka, no Pebble, nothing outside the standard library but the kernel
// and encoding/json/v2. That one comes as github.com/go-json-experiment/json,
// the module the Go team mirrors it in until Go 1.27 makes it standard;
// it is then the same code under the import path encoding/json/v2.
func TestImportsOnlyStandardLibrary(t *testing.T) {
	for _, pkg := range []string{".", "./schedule"} {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if !strings.HasPrefix(dep, "github.com/rewind/rewind/aggregate") && !strings.HasPrefix(dep, "github.com/go-json-experiment/json") {
				t.Errorf("%s depends on %s; the domain must import only the standard library", pkg, dep)
			}
		}
	}
}

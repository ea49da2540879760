//go:build e2e

package e2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rewind/rewind/internal/dev/catalog"
	"github.com/rewind/rewind/internal/testing/testkit"
)

// checkScript parses an AsyncAPI document with @asyncapi/parser and fails
// on any error diagnostic; warnings and hints are printed.
const checkScript = `import { Parser } from '@asyncapi/parser';
import fs from 'fs';
const { document, diagnostics } = await new Parser().parse(fs.readFileSync(process.argv[2], 'utf8'));
let errors = 0;
for (const d of diagnostics) {
  console.log(d.severity === 0 ? 'error' : 'note', d.code, (d.path || []).join('/'), d.message);
  if (d.severity === 0) errors++;
}
process.exit(document && errors === 0 ? 0 : 1);
`

// TestAsyncAPIValidates: docs/asyncapi.json is a valid AsyncAPI document
// for the AsyncAPI project's own parser, which the code generators of
// upstream and downstream teams use (make e2e installs it from npm).
func TestAsyncAPIValidates(t *testing.T) {
	root := testkit.Root(t)
	npm := filepath.Join(root, ".cache", "npm")
	if _, err := os.Stat(filepath.Join(npm, "node_modules", "@asyncapi", "parser")); err != nil {
		t.Fatalf("@asyncapi/parser is not installed under %s: run make e2e", npm)
	}
	// Node resolves the import from the script's directory.
	script := filepath.Join(npm, "check-asyncapi.mjs")
	if err := os.WriteFile(script, []byte(checkScript), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("node", script, filepath.Join(root, catalog.AsyncAPIPath)).CombinedOutput()
	if err != nil {
		t.Fatalf("%s is not valid AsyncAPI: %v\n%s", catalog.AsyncAPIPath, err, out)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Logf("parser notes:\n%s", s)
	}
}

package catalog_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rewind/rewind/internal/dev/catalog"
	"github.com/rewind/rewind/internal/testing/testkit"
)

// TestFilesMatchTheCode: the catalogue files are what the registry
// generates today. A change to a command or an event fails here until
// `make catalog` has written them again.
func TestFilesMatchTheCode(t *testing.T) {
	root := testkit.Root(t)
	c := catalog.Schedule()
	read := func(p string) []byte {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	openapi := read(catalog.OpenAPIPath)
	spliced, err := c.SpliceOpenAPI(openapi)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]byte{
		catalog.MarkdownPath: c.Markdown(),
		catalog.AsyncAPIPath: c.AsyncAPI(),
		catalog.OpenAPIPath:  spliced,
	} {
		if !bytes.Equal(read(path), want) {
			t.Errorf("%s differs from what the code generates: run make catalog", path)
		}
	}
}

// TestAsyncAPIReferences: every $ref of asyncapi.json names something the
// document has, and every command and event has a message.
func TestAsyncAPIReferences(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(catalog.Schedule().AsyncAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	refs := 0
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				refs++
				var at any = doc
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, ok := at.(map[string]any)
					if !ok || m[part] == nil {
						t.Errorf("$ref %s does not resolve", ref)
						return
					}
					at = m[part]
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	messages := doc["components"].(map[string]any)["messages"].(map[string]any)
	for _, t2 := range append(catalog.Schedule().Commands, catalog.Schedule().Events...) {
		if messages[t2.Name] == nil {
			t.Errorf("no message for %s", t2.Name)
		}
	}
	if refs < 60 {
		t.Errorf("only %d references: the document lost its structure", refs)
	}
}

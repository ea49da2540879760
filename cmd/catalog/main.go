// Command catalog writes the command and event catalogue generated from
// the Schedule definition: docs/commands.md, docs/asyncapi.json and the
// command schemas of ingest/openapi.yaml. Run it from the repository's
// root (make catalog) after changing a command or an event; a test fails
// until the files match the code.
package main

import (
	"fmt"
	"os"

	"github.com/rewind/rewind/internal/dev/catalog"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "catalog:", err)
		os.Exit(1)
	}
}

func run() error {
	c := catalog.Schedule()
	doc, err := os.ReadFile(catalog.OpenAPIPath)
	if err != nil {
		return fmt.Errorf("%w (run it from the repository's root)", err)
	}
	spliced, err := c.SpliceOpenAPI(doc)
	if err != nil {
		return err
	}
	for path, content := range map[string][]byte{
		catalog.MarkdownPath: c.Markdown(),
		catalog.AsyncAPIPath: c.AsyncAPI(),
		catalog.OpenAPIPath:  spliced,
	} {
		if err := os.WriteFile(path, content, 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", path)
	}
	return nil
}

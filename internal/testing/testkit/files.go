package testkit

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/rewind/rewind/internal/api"
)

// WriteFile writes content to path through a rename, as rotation tooling
// (and a Kubernetes secret) does: a service that re-reads the file never
// sees half of it.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Tokens writes a tokens file (lines as api.LoadTokens reads them) at
// path and loads it.
func Tokens(t testing.TB, path, content string) *api.Tokens {
	t.Helper()
	WriteFile(t, path, content)
	tokens, err := api.LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

// Files reads every file under dir, by path: what a test searches for a
// value that must not be on disk.
func Files(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		files[path] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

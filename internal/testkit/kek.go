package testkit

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rewind/rewind/shred"
)

var (
	kekOnce sync.Once
	kekPath string
	kekErr  error
)

// KEKFile is the path of the test process's KEK file, written once: the
// processes tests start get it as REWIND_KEK_FILE, in-process services
// its Keyring. Every service of one test shares it, as a deployment's
// share theirs.
func KEKFile(t testing.TB) string {
	t.Helper()
	kekOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rewind-kek-")
		if err != nil {
			kekErr = err
			return
		}
		kekPath = filepath.Join(dir, "kek")
		kekErr = os.WriteFile(kekPath, []byte(shred.NewKEKLine("test-1")), 0o600)
	})
	if kekErr != nil {
		t.Fatal(kekErr)
	}
	return kekPath
}

// Keyring is the keyring of KEKFile.
func Keyring(t testing.TB) *shred.FileKeyring {
	t.Helper()
	ring, err := shred.LoadKeyring(KEKFile(t))
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

package testkit

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/shred"
	"github.com/rewind/rewind/topics"
)

var (
	keysOnce sync.Once
	keysDir  string
	keysErr  error
)

// keyFile is the path of one of the test process's key files, written
// once with a new key each: "kek" and "erase-keys". Every service of one
// test shares them, as a deployment's share theirs.
func keyFile(t testing.TB, name string) string {
	t.Helper()
	keysOnce.Do(func() {
		keysDir, keysErr = os.MkdirTemp("", "rewind-keys-")
		if keysErr != nil {
			return
		}
		keysErr = os.WriteFile(filepath.Join(keysDir, "kek"), []byte(shred.NewKEKLine("test-1")), 0o600)
		if keysErr == nil {
			keysErr = os.WriteFile(filepath.Join(keysDir, "erase-keys"), []byte(shred.NewKEKLine("test-erase-1")), 0o600)
		}
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return filepath.Join(keysDir, name)
}

// KEKFile is the path of the test process's KEK file: the processes tests
// start get it as REWIND_KEK_FILE, in-process services its Keyring.
func KEKFile(t testing.TB) string { return keyFile(t, "kek") }

// EraseKeyFile is the path of the test process's erasure key file: the
// processes tests start get it as REWIND_ERASE_KEY_FILE, in-process
// services its Signer.
func EraseKeyFile(t testing.TB) string { return keyFile(t, "erase-keys") }

// Keyring is the keyring of KEKFile.
func Keyring(t testing.TB) *shred.FileKeyring {
	t.Helper()
	ring, err := shred.LoadKeyring(KEKFile(t))
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

// Signer is the signer of EraseKeyFile.
func Signer(t testing.TB) *shred.Signer {
	t.Helper()
	s, err := shred.LoadSigner(EraseKeyFile(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Erasure is an erasure's records, one per partition, signed with the
// test's erasure key as ingest signs them.
func Erasure(t testing.TB, m aggregate.Meta, reason string, partitions int32) []*kgo.Record {
	t.Helper()
	recs := topics.EraseRecords(m, reason, partitions)
	s := Signer(t)
	for _, r := range recs {
		topics.SignErasure(r, s)
	}
	return recs
}

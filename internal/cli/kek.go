package cli

import (
	"errors"
	"flag"
	"fmt"

	"github.com/rewind/rewind/shred"
)

// RegisterKEK adds -kek-file (REWIND_KEK_FILE) to fs, and returns the
// keyring loader to call after parsing: the processor and query need the
// KEK, and stop at start without it (docs/privacy.md).
func RegisterKEK(fs *flag.FlagSet) func() (*shred.FileKeyring, error) {
	path := fs.String("kek-file", "", `the key-encryption keys that wrap the data subjects' keys, one "<id> <base64 of 32 bytes>" a line, the first wrapping new keys (required; docs/privacy.md)`)
	return func() (*shred.FileKeyring, error) {
		if *path == "" {
			return nil, errors.New("-kek-file is required: personal data is sealed under keys it wraps (docs/privacy.md)")
		}
		ring, err := shred.LoadKeyring(*path)
		if err != nil {
			return nil, fmt.Errorf("-kek-file: %w", err)
		}
		return ring, nil
	}
}

// RegisterEraseKey adds -erase-key-file (REWIND_ERASE_KEY_FILE) to fs,
// and returns the loader to call after parsing: ingest signs erasures
// with its first key, the processor carries out only erasures signed
// with one of its keys. Without the file, ingest answers erasures 503
// and the processor rejects them (docs/privacy.md#who-may-erase).
func RegisterEraseKey(fs *flag.FlagSet) func() (*shred.Signer, error) {
	path := fs.String("erase-key-file", "", `the keys that sign erasures, one "<id> <base64 of 32 bytes>" a line, the first signing (ingest and the processors; without it, no erasure is carried out)`)
	return func() (*shred.Signer, error) {
		if *path == "" {
			return nil, nil
		}
		s, err := shred.LoadSigner(*path)
		if err != nil {
			return nil, fmt.Errorf("-erase-key-file: %w", err)
		}
		return s, nil
	}
}

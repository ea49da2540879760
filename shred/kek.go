package shred

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Keyring wraps and unwraps data keys with key-encryption keys. Wrap uses
// the current KEK and names it; Unwrap takes the name, so that a KEK can
// be rotated: a new one wraps new keys while the old ones still unwrap
// theirs. A KMS implements it by sending the key to be wrapped, never
// the KEK.
type Keyring interface {
	// Wrap seals dek under the current KEK with aad, and returns its id.
	Wrap(dek, aad []byte) (kekID string, wrapped []byte, err error)
	// Unwrap opens what Wrap sealed under kekID with the same aad.
	Unwrap(kekID string, wrapped, aad []byte) ([]byte, error)
}

// ErrUnknownKEK is Unwrap's error for a KEK id the keyring does not
// hold.
var ErrUnknownKEK = errors.New("shred: unknown KEK id")

// ErrWrongKEK is Unwrap's error for a wrapped key that does not open
// under the KEK of its id: the wrong KEK file, or a forged record.
var ErrWrongKEK = errors.New("shred: a data key does not open under its KEK (wrong KEK file, or a forged key record)")

// FileKeyring is a Keyring of KEKs read from a file.
type FileKeyring struct {
	current string
	keks    map[string]cipher.AEAD
}

// kekSize is a KEK's size: AES-256.
const kekSize = 32

// LoadKeyring reads a KEK file: one KEK a line, "<id> <base64 of 32
// bytes>", blank lines and lines starting with # ignored. The first KEK
// wraps new keys; every one unwraps. Ids match [A-Za-z0-9._-]{1,32}.
func LoadKeyring(path string) (*FileKeyring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("shred: KEK file: %w", err)
	}
	k, err := ParseKeyring(b)
	if err != nil {
		return nil, fmt.Errorf("shred: KEK file %s: %w", path, err)
	}
	return k, nil
}

// ParseKeyring parses the contents of a KEK file (LoadKeyring).
func ParseKeyring(b []byte) (*FileKeyring, error) {
	k := &FileKeyring{keks: map[string]cipher.AEAD{}}
	err := parseKeyLines(b, "KEK", func(id string, raw []byte) {
		k.keks[id] = newAEAD(raw)
		if k.current == "" {
			k.current = id
		}
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// parseKeyLines reads a key file, KEKs or erasure keys: one key a line,
// "<id> <base64 of 32 bytes>", blank lines and lines starting with #
// ignored, and at least one key. It calls add in the file's order; what
// names the keys in errors.
func parseKeyLines(b []byte, what string, add func(id string, raw []byte)) error {
	seen := map[string]bool{}
	lines := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; lines.Scan(); n++ {
		line := strings.TrimSpace(lines.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, secret, ok := strings.Cut(line, " ")
		if !ok || !validKEKID(id) {
			return fmt.Errorf("line %d: want \"<id> <base64 of %d bytes>\", with an id of letters, digits, '.', '_' or '-'", n, kekSize)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(secret))
		if err != nil || len(raw) != kekSize {
			return fmt.Errorf("line %d: %s %s is not the base64 of %d bytes", n, what, id, kekSize)
		}
		if seen[id] {
			return fmt.Errorf("line %d: %s %s appears twice", n, what, id)
		}
		seen[id] = true
		add(id, raw)
	}
	if len(seen) == 0 {
		return fmt.Errorf("no %s in it", what)
	}
	return nil
}

// NewKEKLine returns a key file line with a new random key named id, a
// KEK or an erasure key, for `make run` and operators' tooling.
func NewKEKLine(id string) string {
	raw := make([]byte, kekSize)
	_, _ = rand.Read(raw) // crypto/rand.Read never fails
	return id + " " + base64.StdEncoding.EncodeToString(raw) + "\n"
}

func validKEKID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// Current is the id of the KEK that wraps new keys.
func (k *FileKeyring) Current() string { return k.current }

// Wrap implements Keyring.
func (k *FileKeyring) Wrap(dek, aad []byte) (string, []byte, error) {
	return k.current, seal(k.keks[k.current], dek, aad), nil
}

// Unwrap implements Keyring.
func (k *FileKeyring) Unwrap(kekID string, wrapped, aad []byte) ([]byte, error) {
	aead, ok := k.keks[kekID]
	if !ok {
		return nil, fmt.Errorf("%w %q: add it to the KEK file", ErrUnknownKEK, kekID)
	}
	dek, err := open(aead, wrapped, aad)
	if err != nil {
		return nil, ErrWrongKEK
	}
	return dek, nil
}

// newAEAD is AES-256-GCM under key, which is 32 bytes.
func newAEAD(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("shred: " + err.Error()) // only a wrong key size, which callers rule out
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("shred: " + err.Error())
	}
	return aead
}

// seal encrypts plain with a random nonce, which leads the result.
func seal(aead cipher.AEAD, plain, aad []byte) []byte {
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	_, _ = rand.Read(out)
	return aead.Seal(out, out, plain, aad)
}

// open decrypts what seal returned.
func open(aead cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("shred: sealed value too short")
	}
	n := aead.NonceSize()
	return aead.Open(nil, sealed[:n], sealed[n:], aad)
}

package shred

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
)

// Signer signs erasures and checks their signatures. An erasure destroys
// keys for good, and the commands topic is written by every upstream
// producer: so the processor erases only on a signature made with an
// erasure key, which ingest holds and signs with after it has checked
// the caller's erase scope. A producer without the key can send an
// erasure, but it is rejected.
//
// Its file has the KEK file's form, "<id> <base64 of 32 bytes>" a line;
// the first key signs and every one verifies, so a key can be rotated.
// It is a key of its own, not the KEK: ingest, the front door, never
// holds the KEK.
type Signer struct {
	current string
	keys    map[string][]byte
}

// LoadSigner reads an erasure key file.
func LoadSigner(path string) (*Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("shred: erasure key file: %w", err)
	}
	s, err := ParseSigner(b)
	if err != nil {
		return nil, fmt.Errorf("shred: erasure key file %s: %w", path, err)
	}
	return s, nil
}

// ParseSigner parses the contents of an erasure key file (LoadSigner).
func ParseSigner(b []byte) (*Signer, error) {
	s := &Signer{keys: map[string][]byte{}}
	err := parseKeyLines(b, "erasure key", func(id string, raw []byte) {
		s.keys[id] = raw
		if s.current == "" {
			s.current = id
		}
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Sign returns the signature of msg: "<key id>:<base64url of its
// HMAC-SHA256>".
func (s *Signer) Sign(msg []byte) string {
	return s.current + ":" + base64.RawURLEncoding.EncodeToString(mac(s.keys[s.current], msg))
}

// Verify reports whether sig is a signature of msg by one of the keys.
func (s *Signer) Verify(msg []byte, sig string) bool {
	id, body, ok := strings.Cut(sig, ":")
	key, known := s.keys[id]
	if !ok || !known {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(body)
	return err == nil && hmac.Equal(got, mac(key, msg))
}

func mac(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("rewind-erasure/v1\x00"))
	h.Write(msg)
	return h.Sum(nil)
}

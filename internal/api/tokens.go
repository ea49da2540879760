package api

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/rewind/rewind/aggregate"
)

// Principal is who a token speaks for.
type Principal struct {
	Tenant  string
	Subject string
}

// Tokens maps token hashes to principals. Only SHA-256 hashes are kept.
type Tokens struct {
	entries []tokenEntry
}

type tokenEntry struct {
	hash [sha256.Size]byte
	who  Principal
}

// LoadTokens reads a tokens file: one "<sha256 hex> <tenant> <subject>"
// per line; blank lines and lines starting with # are ignored.
func LoadTokens(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	defer f.Close()
	t := &Tokens{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			return nil, fmt.Errorf("tokens %s:%d: want <sha256> <tenant> <subject>", path, n)
		}
		raw, err := hex.DecodeString(fields[0])
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("tokens %s:%d: not a SHA-256 hex digest", path, n)
		}
		if !aggregate.ValidID(fields[1]) || !aggregate.ValidID(fields[2]) {
			return nil, fmt.Errorf("tokens %s:%d: tenant and subject must match %s", path, n, aggregate.IDPattern)
		}
		var e tokenEntry
		copy(e.hash[:], raw)
		e.who = Principal{Tenant: fields[1], Subject: fields[2]}
		t.entries = append(t.entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	return t, nil
}

// HashToken is the form a token is stored in.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Lookup returns the principal of a bearer token. Every entry is compared
// in constant time, so the time taken says nothing about which matched.
func (t *Tokens) Lookup(token string) (Principal, bool) {
	sum := sha256.Sum256([]byte(token))
	var who Principal
	found := 0
	for _, e := range t.entries {
		if subtle.ConstantTimeCompare(sum[:], e.hash[:]) == 1 {
			who, found = e.who, 1
		}
	}
	return who, found == 1
}

package api

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/internal/reload"
)

// Scope is what a token may do, as a bit set: read (the query service),
// write (commands through ingest), erase (a data subject's personal data,
// through ingest) and audit (the activity and access lists of query).
type Scope uint8

// The scopes.
const (
	ScopeRead Scope = 1 << iota
	ScopeWrite
	ScopeErase
	ScopeAudit
	// ScopeAll is what a token without a scope column may do: today's
	// tokens files keep working. Erase and audit are never implied: they
	// are given by name.
	ScopeAll = ScopeRead | ScopeWrite
)

// scopeName names one scope.
type scopeName struct {
	s    Scope
	name string
}

// scopeNames are the scopes' names, in the order String writes them.
var scopeNames = []scopeName{{ScopeRead, "read"}, {ScopeWrite, "write"}, {ScopeErase, "erase"}, {ScopeAudit, "audit"}}

func (s Scope) String() string {
	var names []string
	for _, n := range scopeNames {
		if s&n.s != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

// ParseScope reads a scope column: read, write, erase and audit, comma
// separated, in any order.
func ParseScope(s string) (Scope, error) {
	var out Scope
	for part := range strings.SplitSeq(s, ",") {
		i := slices.IndexFunc(scopeNames, func(n scopeName) bool { return n.name == part })
		if i < 0 {
			return 0, fmt.Errorf("api: unknown scope %q (want read, write, erase or audit, comma separated)", part)
		}
		out |= scopeNames[i].s
	}
	return out, nil
}

// Principal is who a token speaks for, and what it may do.
type Principal struct {
	Tenant  string
	Subject string
	Scopes  Scope
	// TokenID names the token without being it: the first 12 hex digits
	// of its SHA-256, the start of its line in the tokens file. The
	// access log records it, so a leaked token's reads can be found.
	TokenID string
}

// tokenIDLen is the length of a TokenID: 48 bits, enough to tell a
// tenant's tokens apart, and no help in guessing one.
const tokenIDLen = 12

// Can reports whether the principal holds every scope of s.
func (p Principal) Can(s Scope) bool { return p.Scopes&s == s }

// Tokens maps token hashes to principals. Only SHA-256 hashes are kept.
// The file is re-read by Reload (see package reload): a revoked token
// stops working without a restart.
type Tokens struct{ entries *reload.Value[[]tokenEntry] }

type tokenEntry struct {
	hash [sha256.Size]byte
	who  Principal
}

// LoadTokens reads a tokens file. Its format, one token per line:
//
//	<sha256 hex of the token> <tenant> <subject> [<scope>]
//
// scope is a comma-separated list of read, write, erase and audit; a line
// without it may read and write, so files written before scopes existed
// keep their meaning. Blank lines and
// lines starting with # are ignored. The file holds digests only, yet
// names every tenant and subject: keep it readable by the service alone
// (0600).
func LoadTokens(path string) (*Tokens, error) {
	entries, err := reload.Open("tokens", func() ([]tokenEntry, error) { return readTokens(path) }, path)
	if err != nil {
		return nil, err
	}
	return &Tokens{entries}, nil
}

// Reload re-reads the file when it changed (or when force is set) and
// reports whether it did. On error the previous tokens stay in force, so
// a half-edited file locks nobody out; the error names the line.
func (t *Tokens) Reload(force bool) (bool, error) { return t.entries.Reload(force) }

func readTokens(path string) ([]tokenEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := parseTokens(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return entries, nil
}

// parseTokens parses the lines of a tokens file (format at LoadTokens).
// Errors name the line, never its digest. A digest given twice is an
// error: which principal it speaks for would be a guess.
func parseTokens(r io.Reader) ([]tokenEntry, error) {
	var entries []tokenEntry
	lineOf := map[[sha256.Size]byte]int{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, err := parseTokenLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if first, dup := lineOf[e.hash]; dup {
			return nil, fmt.Errorf("line %d: the same token digest as line %d", n, first)
		}
		lineOf[e.hash] = n
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return entries, nil
}

func parseTokenLine(line string) (tokenEntry, error) {
	var e tokenEntry
	fields := strings.Fields(line)
	if len(fields) != 3 && len(fields) != 4 {
		return e, errors.New("want <sha256> <tenant> <subject> [read,write,erase,audit]")
	}
	raw, err := hex.DecodeString(fields[0])
	if err != nil || len(raw) != sha256.Size {
		return e, errors.New("not a SHA-256 hex digest")
	}
	if !aggregate.ValidID(fields[1]) || !aggregate.ValidID(fields[2]) {
		return e, fmt.Errorf("tenant and subject must match %s", aggregate.IDPattern)
	}
	scopes := ScopeAll
	if len(fields) == 4 {
		if scopes, err = ParseScope(fields[3]); err != nil {
			return e, err
		}
	}
	copy(e.hash[:], raw)
	e.who = Principal{Tenant: fields[1], Subject: fields[2], Scopes: scopes, TokenID: strings.ToLower(fields[0][:tokenIDLen])}
	return e, nil
}

// Len is the number of tokens in force.
func (t *Tokens) Len() int { return len(*t.entries.Load()) }

// HashToken is the form a token is stored in.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// TokenID is the id of token that Principal.TokenID holds.
func TokenID(token string) string { return HashToken(token)[:tokenIDLen] }

// TokenLine is the line of a tokens file that grants token to subject of
// tenant with scopes: the one writer of the format that LoadTokens reads.
// It holds the token's digest, never the token.
func TokenLine(token, tenant, subject string, scopes Scope) string {
	return HashToken(token) + " " + tenant + " " + subject + " " + scopes.String() + "\n"
}

// Lookup returns the principal of a bearer token. Every entry is compared
// in constant time, so the time taken says nothing about which matched.
func (t *Tokens) Lookup(token string) (Principal, bool) {
	sum := sha256.Sum256([]byte(token))
	var who Principal
	found := 0
	for _, e := range *t.entries.Load() {
		if subtle.ConstantTimeCompare(sum[:], e.hash[:]) == 1 {
			who, found = e.who, 1
		}
	}
	return who, found == 1
}

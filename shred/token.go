package shred

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
)

// KeyID names a data key inside the tokens sealed under it. It is
// random: ids are unique without coordination.
type KeyID [8]byte

// String is the id in hex, for records and errors.
func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// Key is one data key. It holds the secret, not a cipher built from it:
// a table holds a key for every subject of its partitions, and an
// AES-GCM cipher is some hundreds of bytes where the secret is 32; a
// cipher costs well under a microsecond to build per use.
type Key struct {
	ID     KeyID
	secret *[keySize]byte
}

func (k Key) aead() cipher.AEAD { return newAEAD(k.secret[:]) }

// keySize is a data key's size: AES-256.
const keySize = 32

// newKey makes a random data key and returns it with its secret, to be
// wrapped.
func newKey() (Key, []byte) {
	secret := new([keySize]byte)
	_, _ = rand.Read(secret[:])
	var id KeyID
	_, _ = rand.Read(id[:])
	return Key{ID: id, secret: secret}, secret[:]
}

// tokenPrefix starts every sealed value. '~' is not in the id alphabet,
// so no id, and no value a rule checks, is ever taken for a token.
const tokenPrefix = "~pd1:"

// Erased is what an API shows for a sealed value whose key was
// destroyed: the fact that something was there stays, its content does
// not.
const Erased = "[erased]"

// Unreadable is what an API shows for a value that looks sealed but does
// not open: a token moved to another stream or field, or damaged.
const Unreadable = "[unreadable]"

// ErrNotToken is Open's error for a string that is not a sealed value.
var ErrNotToken = errors.New("shred: not a sealed value")

// IsToken reports whether s is a sealed value.
func IsToken(s string) bool { return strings.HasPrefix(s, tokenPrefix) }

// Seal seals plain as the field of stream (its key, "<tenant>/<id>").
func (k Key) Seal(stream, field, plain string) string { return k.Sealer().Seal(stream, field, plain) }

// Sealer seals values under one key with a cipher built once: a command
// with several personal fields builds one, not one per field.
type Sealer struct {
	id   KeyID
	aead cipher.AEAD
}

// Sealer returns a Sealer of k.
func (k Key) Sealer() Sealer { return Sealer{id: k.ID, aead: k.aead()} }

// Seal is Key.Seal.
func (s Sealer) Seal(stream, field, plain string) string {
	sealed := seal(s.aead, []byte(plain), tokenAAD(stream, field))
	raw := make([]byte, 0, len(s.id)+len(sealed))
	raw = append(append(raw, s.id[:]...), sealed...)
	return tokenPrefix + field + ":" + base64.RawURLEncoding.EncodeToString(raw)
}

// Open opens a token that k sealed for stream.
func (k Key) Open(stream, token string) (string, error) {
	id, field, sealed, err := parseToken(token)
	if err != nil {
		return "", err
	}
	if id != k.ID {
		return "", errors.New("shred: sealed under another key")
	}
	plain, err := open(k.aead(), sealed, tokenAAD(stream, field))
	if err != nil {
		return "", errors.New("shred: the sealed value does not open for this stream and field")
	}
	return string(plain), nil
}

// TokenKey returns the id of the key a token was sealed under.
func TokenKey(token string) (KeyID, bool) {
	id, _, _, err := parseToken(token)
	return id, err == nil
}

func parseToken(token string) (id KeyID, field string, sealed []byte, err error) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return id, "", nil, ErrNotToken
	}
	field, body, ok := strings.Cut(rest, ":")
	if !ok {
		return id, "", nil, ErrNotToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(raw) < len(id) {
		return id, "", nil, ErrNotToken
	}
	copy(id[:], raw)
	return id, field, raw[len(id):], nil
}

// tokenAAD binds a token to its stream and field.
func tokenAAD(stream, field string) []byte {
	return []byte("rewind-pd/v1\x00" + stream + "\x00" + field)
}

// Package reload re-reads the files an operator rotates while a service
// runs — TLS key pairs and the tokens file — when they change, and on
// SIGHUP, without a restart. A file that fails to parse is reported and
// the previous version stays in use: a half-written file never locks
// everyone out.
package reload

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// stamp identifies one version of a file by its modification time and
// size, as os.Stat sees it through symlinks (a Kubernetes secret swaps a
// symlink; the target's stamp changes).
type stamp struct {
	mod  time.Time
	size int64
}

// stampOf stats path.
func stampOf(path string) (stamp, error) {
	st, err := os.Stat(path)
	if err != nil {
		return stamp{}, err
	}
	return stamp{mod: st.ModTime(), size: st.Size()}, nil
}

// File is one reloadable file for Watch: Reload re-reads it when it
// changed, or always when force is set, and reports whether it did.
type File struct {
	// Name says what it is in logs ("tokens", "tls certificate"); never
	// its content.
	Name   string
	Reload func(force bool) (bool, error)
}

// Watch calls every file's Reload each interval and, forced, whenever
// trigger receives (SIGHUP), until ctx ends. It logs each reload and
// each failure; a failed reload keeps the previous version in use.
func Watch(ctx context.Context, log *slog.Logger, every time.Duration, trigger <-chan os.Signal, files ...File) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		force := false
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-trigger:
			force = true
		}
		for _, f := range files {
			changed, err := f.Reload(force)
			switch {
			case err != nil:
				log.Error("reload failed; the previous version stays in use", "file", f.Name, "err", err)
			case changed:
				log.Info("reloaded", "file", f.Name, "forced", force)
			}
		}
	}
}

// Value is what one or more files say, as parse reads them: read by
// Open, and read again by Reload once any of the files has changed. A
// parse that fails leaves the previous value in force.
type Value[T any] struct {
	name  string
	paths []string
	parse func() (T, error)

	mu     sync.Mutex // serialises reloads
	stamps []stamp
	cur    atomic.Pointer[T]
}

// Open reads the files with parse; it fails as a stat of any of them or
// parse does. Errors start with name ("tokens", "reload"); they never
// hold a file's content.
func Open[T any](name string, parse func() (T, error), paths ...string) (*Value[T], error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("%s: no file to watch", name)
	}
	v := &Value[T]{name: name, paths: paths, parse: parse}
	if _, err := v.Reload(true); err != nil {
		return nil, err
	}
	return v, nil
}

// Reload parses the files again when any of them changed (or when force
// is set) and reports whether it did. On error the previous value stays.
func (v *Value[T]) Reload(force bool) (bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := make([]stamp, len(v.paths))
	for i, path := range v.paths {
		var err error
		if now[i], err = stampOf(path); err != nil {
			return false, fmt.Errorf("%s: %w", v.name, err)
		}
	}
	if !force && slices.Equal(now, v.stamps) {
		return false, nil
	}
	x, err := v.parse()
	if err != nil {
		return false, fmt.Errorf("%s: %w", v.name, err)
	}
	v.cur.Store(&x)
	v.stamps = now
	return true, nil
}

// Load is the value in force; it never waits for a reload.
func (v *Value[T]) Load() *T { return v.cur.Load() }

// KeyPair is a certificate and its private key, read from two PEM files
// and re-read when either changes.
type KeyPair struct{ pair *Value[tls.Certificate] }

// LoadKeyPair reads a key pair; it fails when the files are unreadable or
// do not match.
func LoadKeyPair(certFile, keyFile string) (*KeyPair, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("reload: a certificate needs both its certificate and its key file")
	}
	// A rotation writes two files: the certificate may be new while the
	// key is still the old one. The mismatch fails the parse, and the
	// next poll, once both are written, succeeds.
	v, err := Open("reload", func() (tls.Certificate, error) {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return c, fmt.Errorf("key pair %s, %s: %w", certFile, keyFile, err)
		}
		return c, nil
	}, certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &KeyPair{v}, nil
}

// Reload re-reads the pair when either file changed (or when force is
// set). On error the previous pair stays.
func (k *KeyPair) Reload(force bool) (bool, error) { return k.pair.Reload(force) }

// Certificate is the current pair.
func (k *KeyPair) Certificate() *tls.Certificate { return k.pair.Load() }

// GetCertificate serves the current pair (tls.Config.GetCertificate).
func (k *KeyPair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return k.pair.Load(), nil
}

// GetClientCertificate re-reads the pair if it changed and presents it
// (tls.Config.GetClientCertificate): a client dials seldom, so a stat per
// handshake costs nothing and needs no watcher.
func (k *KeyPair) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	// On a failed re-read the previous pair is presented; the broker
	// decides whether it still holds.
	_, _ = k.Reload(false)
	return k.pair.Load(), nil
}

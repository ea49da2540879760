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
	"sync"
	"sync/atomic"
	"time"
)

// Stamp identifies one version of a file by its modification time and
// size, as os.Stat sees it through symlinks (a Kubernetes secret swaps a
// symlink; the target's stamp changes).
type Stamp struct {
	mod  time.Time
	size int64
}

// StampOf stats path.
func StampOf(path string) (Stamp, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Stamp{}, err
	}
	return Stamp{mod: st.ModTime(), size: st.Size()}, nil
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

// KeyPair is a certificate and its private key, read from two PEM files
// and re-read when either changes.
type KeyPair struct {
	certFile, keyFile string

	mu    sync.Mutex // serialises reloads
	stamp [2]Stamp
	cur   atomic.Pointer[tls.Certificate]
}

// LoadKeyPair reads a key pair; it fails when the files are unreadable or
// do not match.
func LoadKeyPair(certFile, keyFile string) (*KeyPair, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("reload: a certificate needs both its certificate and its key file")
	}
	k := &KeyPair{certFile: certFile, keyFile: keyFile}
	if _, err := k.Reload(true); err != nil {
		return nil, err
	}
	return k, nil
}

// Reload re-reads the pair when either file changed (or when force is
// set). On error the previous pair stays.
func (k *KeyPair) Reload(force bool) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var now [2]Stamp
	var err error
	for i, path := range []string{k.certFile, k.keyFile} {
		if now[i], err = StampOf(path); err != nil {
			return false, fmt.Errorf("reload: %w", err)
		}
	}
	if !force && now == k.stamp && k.cur.Load() != nil {
		return false, nil
	}
	// A rotation writes two files: the certificate may be new while the
	// key is still the old one. The mismatch fails here, and the next
	// poll, once both are written, succeeds.
	c, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		return false, fmt.Errorf("reload: key pair %s, %s: %w", k.certFile, k.keyFile, err)
	}
	k.cur.Store(&c)
	k.stamp = now
	return true, nil
}

// Certificate is the current pair.
func (k *KeyPair) Certificate() *tls.Certificate { return k.cur.Load() }

// GetCertificate serves the current pair (tls.Config.GetCertificate).
func (k *KeyPair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return k.cur.Load(), nil
}

// GetClientCertificate re-reads the pair if it changed and presents it
// (tls.Config.GetClientCertificate): a client dials seldom, so a stat per
// handshake costs nothing and needs no watcher.
func (k *KeyPair) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	// On a failed re-read the previous pair is presented; the broker
	// decides whether it still holds.
	_, _ = k.Reload(false)
	return k.cur.Load(), nil
}

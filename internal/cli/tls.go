package cli

import (
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/rewind/rewind/internal/reload"
)

// TLSFlags are -tls-cert and -tls-key: the HTTPS certificate of a service.
type TLSFlags struct {
	cert, key string
}

// RegisterTLS adds -tls-cert and -tls-key to fs.
func RegisterTLS(fs *flag.FlagSet) *TLSFlags {
	f := &TLSFlags{}
	fs.StringVar(&f.cert, "tls-cert", "", "serve HTTPS with this PEM certificate (chain); re-read when it changes and on SIGHUP")
	fs.StringVar(&f.key, "tls-key", "", "the PEM private key of -tls-cert (keep it 0600)")
	return f
}

// Load reads the key pair; it returns nil (plain HTTP) when neither flag
// is set.
func (f *TLSFlags) Load() (*reload.KeyPair, error) {
	if f.cert == "" && f.key == "" {
		return nil, nil
	}
	if f.cert == "" || f.key == "" {
		return nil, errors.New("cli: -tls-cert and -tls-key go together")
	}
	return reload.LoadKeyPair(f.cert, f.key)
}

// CertPool reads a PEM file of CA certificates to trust; a file without
// one is an error, not an empty pool that would refuse every peer.
func CertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

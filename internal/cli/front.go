package cli

import (
	"context"
	"flag"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/reload"
)

// FrontFlags are the flags of the services people call over HTTP, ingest
// and query: -http, -tls-cert, -tls-key, -tokens and -log-level.
type FrontFlags struct {
	addr, tokens, logLevel *string
	tls                    *TLSFlags
}

// RegisterFront adds the front flags to fs, with -http at addr.
func RegisterFront(fs *flag.FlagSet, addr, addrUsage string) *FrontFlags {
	return &FrontFlags{
		addr:     fs.String("http", addr, addrUsage),
		tls:      RegisterTLS(fs),
		tokens:   fs.String("tokens", "data/tokens", "tokens file: <sha256 hex> <tenant> <subject> [read,write,erase,audit] per line; re-read when it changes and on SIGHUP"),
		logLevel: fs.String("log-level", "info", "debug, info, warn or error"),
	}
}

// Front is what ingest and query set up alike from their front flags.
type Front struct {
	Addr     string
	Log      *slog.Logger
	Tokens   *api.Tokens
	Cert     *reload.KeyPair // nil: plain HTTP
	Registry *prometheus.Registry
}

// Load reads the tokens and the key pair, once the flags are parsed.
func (f *FrontFlags) Load() (*Front, error) {
	tokens, err := api.LoadTokens(*f.tokens)
	if err != nil {
		return nil, err
	}
	cert, err := f.tls.Load()
	if err != nil {
		return nil, err
	}
	return &Front{Addr: *f.addr, Log: Logger(*f.logLevel), Tokens: tokens, Cert: cert, Registry: Registry()}, nil
}

// Watch re-reads the tokens and the key pair when they change and on
// SIGHUP, until ctx ends.
func (f *Front) Watch(ctx context.Context) {
	WatchFiles(ctx, f.Log, f.Cert, reload.File{Name: "tokens", Reload: f.Tokens.Reload})
}

// Serve serves mux with the ops endpoints until ctx ends, then drains
// requests for up to drain (0: the server's default).
func (f *Front) Serve(ctx context.Context, mux *http.ServeMux, ready func() bool, drain time.Duration) error {
	return Server{Addr: f.Addr, Registry: f.Registry, Ready: ready, Mux: mux, Drain: drain, TLS: f.Cert, Log: f.Log}.Run(ctx)
}

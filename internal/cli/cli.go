// Package cli holds what the thin mains share: flags with REWIND_*
// environment fallbacks, logging, and the HTTP server of every service
// (its API, /metrics, /healthz, /readyz; HTTPS with a certificate that is
// re-read when it changes; timeouts, header limits and security headers).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// EnvName is the environment variable that backs a flag: REWIND_ and the
// flag name upper-cased with '-' as '_' (-instance-id → REWIND_INSTANCE_ID).
func EnvName(flagName string) string {
	return "REWIND_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse parses args into fs; a flag not given on the command line takes
// its REWIND_* environment variable when set.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		if v, ok := os.LookupEnv(EnvName(f.Name)); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", EnvName(f.Name), err))
			}
		}
	})
	return errors.Join(errs...)
}

// Logger is the JSON slog logger the services write to stderr.
// Durations read as Go writes them ("1.5s"), not as slog's JSON writes
// them (nanoseconds), in every service's lines alike.
func Logger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Value.Kind() == slog.KindDuration {
				a.Value = slog.StringValue(a.Value.Duration().String())
			}
			return a
		}}))
}

// Registry returns a registry with the Go and process collectors.
func Registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Serve runs the ops endpoints, profiles included, on addr until ctx is
// done: for a port that is not public (the processor's). ready reports
// readiness for /readyz. extra routes may be added to mux before calling.
// On ctx's end it drains in-flight requests for up to 5 s.
func Serve(ctx context.Context, addr string, reg *prometheus.Registry, ready func() bool, mux *http.ServeMux) error {
	return Server{Addr: addr, Registry: reg, Ready: ready, Mux: mux, Profiles: true}.Run(ctx)
}

// Main runs a command: run gets a context that ends on SIGINT or SIGTERM
// (the command's cue to stop cleanly) and args, and an error it returns
// is printed after the command's name and exits 1. Every binary's main
// calls it, so that they stop and fail alike.
func Main(name string, run func(ctx context.Context, args []string) error, args []string) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, args)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// ServiceMain is Main for a service, which also answers `healthcheck URL`
// (Healthcheck), for container images without a shell.
func ServiceMain(name string, run func(ctx context.Context, args []string) error) {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(Healthcheck(os.Args[2:]))
	}
	Main(name, run, os.Args[1:])
}

// RegisterMemoryLimit adds -memory-limit-mib, the Go heap's soft limit
// (GOMEMLIMIT) in MiB with default def, to fs. The function it returns
// applies it once the flags are parsed: not at 0, and not when GOMEMLIMIT
// is set, which wins.
func RegisterMemoryLimit(fs *flag.FlagSet, def int, usage string) (apply func()) {
	mib := fs.Int("memory-limit-mib", def, usage+"; 0 means none")
	return func() {
		if *mib > 0 && os.Getenv("GOMEMLIMIT") == "" {
			debug.SetMemoryLimit(int64(*mib) << 20)
		}
	}
}

// IsTerminal reports whether w is a terminal: a command draws progress
// there, and keeps it out of logs and pipes.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

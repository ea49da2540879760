package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/reload"
)

// The limits of every service's HTTP server. WriteTimeout bounds a whole
// answer, so it must exceed the longest wait a request may ask for: 30 s
// for ingest's ?wait= and query's ?minVersion=…&wait=, plus ingest's 10 s
// for Kafka's acknowledgement.
const (
	ReadHeaderTimeout = 5 * time.Second
	// ReadTimeout bounds reading a request with its body: an NDJSON batch
	// must arrive within it.
	ReadTimeout    = 60 * time.Second
	WriteTimeout   = 60 * time.Second
	IdleTimeout    = 120 * time.Second
	MaxHeaderBytes = 32 << 10
)

// Server is a service's HTTP server: its API (routes already in Mux, if
// any), /metrics, /healthz, /readyz and, if Profiles, /debug/pprof/, over
// HTTP or HTTPS.
type Server struct {
	Addr     string
	Registry *prometheus.Registry
	// Ready reports readiness for /readyz.
	Ready func() bool
	// Mux holds the service's routes; nil serves the ops endpoints alone.
	Mux *http.ServeMux
	// Drain bounds the graceful shutdown; zero means 5 s. Run returns only
	// once the drain is over, so what requests still need can be stopped
	// after it.
	Drain time.Duration
	// TLS, when set, serves HTTPS with the pair's current certificate: a
	// rotated one (see WatchFiles) is served from the next handshake.
	TLS *reload.KeyPair
	// Listening, when set, is called with the bound address once the
	// server accepts connections.
	Listening func(net.Addr)
	// Profiles serves /debug/pprof/. Only on a port that is not public:
	// profiles are unauthenticated, and a CPU profile costs the service
	// for as long as the caller asks. The processor's ops port
	// (loopback by default) has them; ingest's and query's API ports
	// do not.
	Profiles bool
	// Log receives net/http's own errors (failed TLS handshakes, broken
	// requests) at info level; nil leaves them on stderr.
	Log *slog.Logger
}

// Run serves until ctx is done, then drains.
func (s Server) Run(ctx context.Context) error {
	mux := s.Mux
	if mux == nil {
		mux = http.NewServeMux()
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{Registry: s.Registry}))
	if s.Profiles {
		// How the numbers in docs/performance.md were explained, and how
		// an operator explains theirs.
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.Addr, err)
	}
	srv := &http.Server{
		Handler:           secureHeaders(problemsForUnrouted(mux), s.TLS != nil),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
	if s.Log != nil {
		// Failed handshakes are the client's problem, yet worth seeing
		// (a client that does not trust the certificate): structured,
		// like every other line.
		srv.ErrorLog = slog.NewLogLogger(s.Log.Handler(), slog.LevelInfo)
	}
	if s.TLS != nil {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.TLS.GetCertificate}
	}
	drain := s.Drain
	if drain == 0 {
		drain = 5 * time.Second
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), drain)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if s.Listening != nil {
		s.Listening(ln.Addr())
	}
	if s.TLS != nil {
		err = srv.ServeTLS(ln, "", "") // the certificate comes from TLSConfig
	} else {
		err = srv.Serve(ln)
	}
	// Serve returns as soon as Shutdown starts; the drain goes on.
	if !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-drained
	return nil
}

// problemsForUnrouted answers a request no route takes with a problem
// document, like every other error, instead of the mux's plain text. The
// mux still decides 404 or 405 and sets Allow.
func problemsForUnrouted(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &statusOnly{ResponseWriter: w}
		mux.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusNotFound:
			api.WriteProblem(w, api.CodeNotFound, "no route for "+r.URL.Path)
		case http.StatusMethodNotAllowed:
			api.WriteProblem(w, api.CodeMethodNotAllowed, r.Method+" is not allowed here; Allow lists the methods that are")
		default: // a redirect, say: as the mux answered it
			if rec.status != 0 {
				w.WriteHeader(rec.status)
			}
		}
	})
}

// statusOnly keeps the status a handler writes and drops its body.
type statusOnly struct {
	http.ResponseWriter
	status int
}

func (s *statusOnly) WriteHeader(status int) { s.status = status }

func (s *statusOnly) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return len(b), nil
}

// secureHeaders adds the headers every answer carries: no MIME sniffing
// (an answer is what its Content-Type says, never script), and under
// HTTPS, HSTS so that a browser never falls back to plain HTTP.
func secureHeaders(h http.Handler, https bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if https {
			w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		}
		h.ServeHTTP(w, r)
	})
}

// WatchFiles re-reads the HTTPS key pair (when not nil) and files every
// second when they change, and at once on SIGHUP, until ctx ends
// (package reload).
func WatchFiles(ctx context.Context, log *slog.Logger, cert *reload.KeyPair, files ...reload.File) {
	if cert != nil {
		files = append(files, reload.File{Name: "tls certificate", Reload: cert.Reload})
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload.Watch(ctx, log, time.Second, hup, files...)
}

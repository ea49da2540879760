// Package kafkaconf is the one place where a Rewind binary learns how to
// reach Kafka: the seed brokers, TLS (with a private CA and client
// certificates for mTLS) and SASL (PLAIN, SCRAM-SHA-256/512,
// OAUTHBEARER), as the same flags — and REWIND_* variables — in every
// binary. It turns them into franz-go client options, and probes the
// connection at startup so that a wrong password or an untrusted
// certificate stops a service at once with an error that names the cause,
// instead of being retried quietly forever.
//
// Secrets never leave it: a password is not shown by -h, not logged, and
// a password or token file is re-read at each SASL authentication, so a
// rotated secret is used from the next connection.
package kafkaconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/plugin/kprom"
	"github.com/twmb/franz-go/plugin/kslog"

	"github.com/rewind/rewind/internal/cli"
	"github.com/rewind/rewind/internal/reload"
)

// The SASL mechanisms of -kafka-sasl.
const (
	Plain        = "plain"
	ScramSHA256  = "scram-sha-256"
	ScramSHA512  = "scram-sha-512"
	OAuthBearer  = "oauthbearer"
	mechanismSet = Plain + ", " + ScramSHA256 + ", " + ScramSHA512 + " or " + OAuthBearer
)

// Flags are the connection settings, registered on a flag set by
// Register.
type Flags struct {
	Brokers        string
	TLS            bool
	CAFile         string
	CertFile       string
	KeyFile        string
	SASL           string
	User           string
	Password       Secret
	PasswordFile   string
	OAuthTokenFile string
}

// Secret is a flag value that never shows itself: -h prints no default;
// fmt (also inside a printed struct), encoding/json and slog get only
// whether it is set.
type Secret struct{ value string }

// Set implements flag.Value.
func (s *Secret) Set(v string) error { s.value = v; return nil }

// String implements flag.Value without the secret.
func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return "[redacted]"
}

// Reveal is the secret itself, for the one place that needs it.
func (s Secret) Reveal() string { return s.value }

// MarshalText keeps the secret out of JSON (and so out of slog's JSON
// handler).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Register adds -brokers and the -kafka-* flags to fs.
func Register(fs *flag.FlagSet) *Flags {
	return RegisterDefault(fs, "127.0.0.1:9092", "Kafka seed brokers, comma separated")
}

// RegisterDefault is Register with another default and usage of -brokers
// (bench: empty starts its own devkafka).
func RegisterDefault(fs *flag.FlagSet, brokers, usage string) *Flags {
	f := &Flags{}
	fs.StringVar(&f.Brokers, "brokers", brokers, usage)
	fs.BoolVar(&f.TLS, "kafka-tls", false, "connect to Kafka over TLS (implied by -kafka-tls-ca and -kafka-tls-cert)")
	fs.StringVar(&f.CAFile, "kafka-tls-ca", "", "PEM file of the CAs that sign the brokers' certificates (default: the system's)")
	fs.StringVar(&f.CertFile, "kafka-tls-cert", "", "PEM client certificate for mTLS (with -kafka-tls-key); re-read when it changes")
	fs.StringVar(&f.KeyFile, "kafka-tls-key", "", "PEM private key of -kafka-tls-cert")
	fs.StringVar(&f.SASL, "kafka-sasl", "", "SASL mechanism: "+mechanismSet+"; empty for none")
	fs.StringVar(&f.User, "kafka-user", "", "SASL user (plain and scram): an API key, a SCRAM user")
	fs.Var(&f.Password, "kafka-password", "SASL `password` (plain and scram); prefer -kafka-password-file or REWIND_KAFKA_PASSWORD: arguments are visible to ps")
	fs.StringVar(&f.PasswordFile, "kafka-password-file", "", "file holding the SASL password, re-read at each authentication")
	fs.StringVar(&f.OAuthTokenFile, "kafka-oauth-token-file", "", "file holding the OAUTHBEARER token, re-read at each authentication (refresh it in place)")
	return f
}

// Environ is the -kafka-* flags that are set, as REWIND_* variables for
// child processes: through the environment a password is not visible to
// ps. -brokers is not among them; a child gets it as a flag.
func (f *Flags) Environ() []string {
	var env []string
	set := func(name, value string) {
		if value != "" {
			env = append(env, cli.EnvName(name)+"="+value)
		}
	}
	if f.TLS {
		set("kafka-tls", "true")
	}
	set("kafka-tls-ca", f.CAFile)
	set("kafka-tls-cert", f.CertFile)
	set("kafka-tls-key", f.KeyFile)
	set("kafka-sasl", f.SASL)
	set("kafka-user", f.User)
	set("kafka-password", f.Password.value)
	set("kafka-password-file", f.PasswordFile)
	set("kafka-oauth-token-file", f.OAuthTokenFile)
	return env
}

// UsesTLS reports whether the connection is over TLS.
func (f *Flags) UsesTLS() bool { return f.TLS || f.CAFile != "" || f.CertFile != "" }

// SeedBrokers are the brokers of -brokers.
func (f *Flags) SeedBrokers() []string {
	var out []string
	for b := range strings.SplitSeq(f.Brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// Validate checks that the flags make one coherent setting; it names
// every problem at once.
func (f *Flags) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("kafkaconf: "+format, args...)) }
	if len(f.SeedBrokers()) == 0 {
		bad("-brokers is empty")
	}
	if (f.CertFile == "") != (f.KeyFile == "") {
		bad("-kafka-tls-cert and -kafka-tls-key go together")
	}
	hasPassword := f.Password.value != "" || f.PasswordFile != ""
	// Kafka's own configs spell mechanisms in capitals (SCRAM-SHA-512).
	f.SASL = strings.ToLower(f.SASL)
	switch f.SASL {
	case "":
		if f.User != "" || hasPassword || f.OAuthTokenFile != "" {
			bad("-kafka-user, -kafka-password, -kafka-password-file and -kafka-oauth-token-file need -kafka-sasl")
		}
	case Plain, ScramSHA256, ScramSHA512:
		if f.User == "" {
			bad("-kafka-sasl %s needs -kafka-user", f.SASL)
		}
		if f.Password.value != "" && f.PasswordFile != "" {
			bad("give -kafka-password or -kafka-password-file, not both")
		} else if !hasPassword {
			bad("-kafka-sasl %s needs -kafka-password or -kafka-password-file", f.SASL)
		}
		if f.OAuthTokenFile != "" {
			bad("-kafka-oauth-token-file is for -kafka-sasl %s", OAuthBearer)
		}
	case OAuthBearer:
		if f.OAuthTokenFile == "" {
			bad("-kafka-sasl %s needs -kafka-oauth-token-file", OAuthBearer)
		}
		if hasPassword || f.User != "" {
			bad("-kafka-sasl %s takes a token file, not a user and password", OAuthBearer)
		}
	default:
		bad("-kafka-sasl %q: want %s", f.SASL, mechanismSet)
	}
	return errors.Join(errs...)
}

// Opts validates the flags, reads the files they name (so that a missing
// or broken file fails at startup), and returns the client options: seed
// brokers, TLS and SASL. Callers add their logger, metrics hooks and
// client-specific options after them.
func (f *Flags) Opts() ([]kgo.Opt, error) {
	opts, _, err := f.opts()
	return opts, err
}

// opts builds the options; the SASL mechanism is returned wrapped, for
// Check to see how far an exchange went.
func (f *Flags) opts() ([]kgo.Opt, *trackedMechanism, error) {
	if err := f.Validate(); err != nil {
		return nil, nil, err
	}
	opts := []kgo.Opt{kgo.SeedBrokers(f.SeedBrokers()...)}
	if f.UsesTLS() {
		cfg, err := f.tlsConfig()
		if err != nil {
			return nil, nil, err
		}
		// franz-go sets each broker's host as ServerName on a clone.
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	var tracked *trackedMechanism
	if f.SASL != "" {
		m, err := f.mechanism()
		if err != nil {
			return nil, nil, err
		}
		tracked = &trackedMechanism{Mechanism: m}
		opts = append(opts, kgo.SASL(tracked))
	}
	// Clipped: callers append their own options, and two appends to one
	// slice with spare room would overwrite each other.
	return slices.Clip(opts), tracked, nil
}

func (f *Flags) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CAFile != "" {
		pool, err := cli.CertPool(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafkaconf: -kafka-tls-ca: %w", err)
		}
		cfg.RootCAs = pool
	}
	if f.CertFile != "" {
		kp, err := reload.LoadKeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafkaconf: -kafka-tls-cert: %w", err)
		}
		cfg.GetClientCertificate = kp.GetClientCertificate
	}
	return cfg, nil
}

func (f *Flags) mechanism() (sasl.Mechanism, error) {
	if f.SASL == OAuthBearer {
		if _, err := readSecret(f.OAuthTokenFile); err != nil {
			return nil, err
		}
		return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
			token, err := readSecret(f.OAuthTokenFile)
			return oauth.Auth{Token: token}, err
		}), nil
	}
	if _, err := f.password(); err != nil {
		return nil, err
	}
	switch f.SASL {
	case Plain:
		return plain.Plain(func(context.Context) (plain.Auth, error) {
			pass, err := f.password()
			return plain.Auth{User: f.User, Pass: pass}, err
		}), nil
	case ScramSHA256, ScramSHA512:
		auth := func(context.Context) (scram.Auth, error) {
			pass, err := f.password()
			return scram.Auth{User: f.User, Pass: pass}, err
		}
		if f.SASL == ScramSHA256 {
			return scram.Sha256(auth), nil
		}
		return scram.Sha512(auth), nil
	}
	return nil, fmt.Errorf("kafkaconf: unknown mechanism %q", f.SASL)
}

// password reads the password file on each call: a rotated password is
// used from the next authentication.
func (f *Flags) password() (string, error) {
	if f.PasswordFile == "" {
		return f.Password.value, nil
	}
	return readSecret(f.PasswordFile)
}

// readSecret reads a one-line secret file; the trailing newline an
// editor or `echo` adds is not part of it.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("kafkaconf: %w", err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("kafkaconf: %s is empty", path)
	}
	return s, nil
}

// LogAttrs describe the connection for a startup log line: brokers, TLS,
// mechanism and user — never a secret or a file's content.
func (f *Flags) LogAttrs() []any {
	return []any{"brokers", f.Brokers, "tls", f.UsesTLS(), "mtls", f.CertFile != "", "sasl", f.SASL, "user", f.User}
}

// Warnings are settings that work but expose a secret: PLAIN and
// OAUTHBEARER without TLS send the password or the token in clear.
func (f *Flags) Warnings() []string {
	if !f.UsesTLS() && (f.SASL == Plain || f.SASL == OAuthBearer) {
		return []string{"-kafka-sasl " + f.SASL + " without -kafka-tls sends the secret in clear"}
	}
	return nil
}

// Connect is what a main does at startup: it logs how it connects (no
// secret), warns about a secret sent in clear, probes the brokers
// (Check), and returns the client options.
func (f *Flags) Connect(ctx context.Context, log *slog.Logger) ([]kgo.Opt, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts, err := f.Opts()
	if err != nil {
		return nil, err
	}
	log.Info("kafka", f.LogAttrs()...)
	for _, w := range f.Warnings() {
		log.Warn("kafka: " + w)
	}
	if err := f.Check(ctx, log); err != nil {
		return nil, err
	}
	return opts, nil
}

// ProbeTimeout bounds the startup probe.
const ProbeTimeout = 10 * time.Second

// Check probes the brokers once, within ProbeTimeout, with the options of
// Opts. A TLS or SASL failure is returned as an error naming its cause:
// retrying cannot fix a wrong password or an untrusted certificate, and a
// service that retried it silently would look merely slow. Any other
// failure (Kafka not up yet) is logged and nil is returned: the services
// wait for Kafka.
func (f *Flags) Check(ctx context.Context, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts, probe, err := f.opts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	err = cl.Ping(ctx)
	if err == nil {
		return nil
	}
	if fatal := classify(err, probe != nil && probe.began.Load() && !probe.done.Load()); fatal != nil {
		return fatal
	}
	log.Warn("kafka not reachable yet; waiting for it", "err", err)
	return nil
}

// classify returns err described by its cause when retrying cannot help
// (TLS verification or handshake, SASL authentication, a broker that
// closes the connection at once because TLS or SASL does not match), and
// nil otherwise. saslCut says that a SASL exchange began and never
// finished: a broker that refuses credentials may just hang up (kfake
// does), and that is no network failure.
func classify(err error, saslCut bool) error {
	var (
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		record  tls.RecordHeaderError
		first   *kgo.ErrFirstReadEOF
	)
	switch {
	case errors.As(err, &verify), errors.As(err, &unknown), errors.As(err, &host), errors.As(err, &invalid),
		errors.As(err, &record), strings.Contains(err.Error(), "remote error: tls: "):
		// The last: the broker's alert refusing our certificate, which
		// crypto/tls reports without an exported type.
		return fmt.Errorf("kafka: TLS: %w", err)
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.IllegalSaslState),
		errors.Is(err, kerr.UnsupportedSaslMechanism):
		return fmt.Errorf("kafka: SASL authentication failed: %w", err)
	case saslCut:
		return fmt.Errorf("kafka: SASL authentication failed: the broker ended the exchange (wrong user, password or mechanism?): %w", err)
	case errors.As(err, &first):
		return fmt.Errorf("kafka: the broker closed the connection at once (do -kafka-tls and -kafka-sasl match the broker's listener?): %w", err)
	}
	return nil
}

// trackedMechanism records whether a SASL exchange began and whether our
// side of it finished, for classify. Every client carries one: it costs
// two atomic stores per authentication.
type trackedMechanism struct {
	sasl.Mechanism
	began, done atomic.Bool
}

func (m *trackedMechanism) Authenticate(ctx context.Context, host string) (sasl.Session, []byte, error) {
	m.began.Store(true)
	s, first, err := m.Mechanism.Authenticate(ctx, host)
	if err != nil {
		return nil, nil, err
	}
	return &trackedSession{Session: s, m: m}, first, nil
}

type trackedSession struct {
	sasl.Session
	m *trackedMechanism
}

func (s *trackedSession) Challenge(c []byte) (bool, []byte, error) {
	done, out, err := s.Session.Challenge(c)
	if done && err == nil {
		s.m.done.Store(true)
	}
	return done, out, err
}

// ClientOpts are the options of one Kafka client of a service: the
// connection's (conn, from Connect), franz-go's logs through log (Logger)
// and, when reg is not nil, kprom's metrics under namespace (Metrics).
// Every service builds its clients' options here.
func ClientOpts(conn []kgo.Opt, log *slog.Logger, reg prometheus.Registerer, namespace string) []kgo.Opt {
	opts := append(slices.Clip(conn), Logger(log))
	if reg != nil {
		opts = append(opts, kgo.WithHooks(Metrics(reg, namespace)))
	}
	return opts
}

// Metrics is kprom's hook that exports a client's metrics under
// namespace in reg. A hook belongs to one client: one namespace each.
func Metrics(reg prometheus.Registerer, namespace string) *kprom.Metrics {
	return kprom.NewMetrics(namespace, kprom.Registerer(reg))
}

// Logger is the client option that sends franz-go's logs to log. The
// client logs every transaction and rebalance at INFO, thousands of lines
// for a short demo, so they pass at WARN and above unless log has DEBUG
// enabled (-log-level debug).
func Logger(log *slog.Logger) kgo.Opt {
	return kgo.WithLogger(kslog.New(slog.New(warnFloor{log.Handler()})))
}

// warnFloor drops records below WARN unless its handler takes DEBUG.
type warnFloor struct{ slog.Handler }

func (w warnFloor) Enabled(ctx context.Context, l slog.Level) bool {
	if l < slog.LevelWarn && !w.Handler.Enabled(ctx, slog.LevelDebug) {
		return false
	}
	return w.Handler.Enabled(ctx, l)
}

func (w warnFloor) WithAttrs(as []slog.Attr) slog.Handler { return warnFloor{w.Handler.WithAttrs(as)} }
func (w warnFloor) WithGroup(name string) slog.Handler    { return warnFloor{w.Handler.WithGroup(name)} }

// Package devstack runs Rewind on one machine: devkafka (unless an
// external Kafka is given), the processor, ingest and query, as child
// processes with their logs in files. `make run` and `make demo` use it.
//
// The children run in their own process group, so a Ctrl-C in the
// terminal reaches only the supervisor, which then stops them in order:
// ingest (draining its requests) and query first, then the processor
// (ending its transaction and leaving the group), then the broker.
package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/dev/proc"
	"github.com/rewind/rewind/shred"
)

// Tenant is the tenant of the development tokens.
const Tenant = "clinic-dev"

// Staff are the subjects that get a development token besides dev-user:
// the people and devices of a clinic, so that audit trails say who acted.
var Staff = []string{"front-desk", "kiosk", "counselor-choi", "dr-kim", "dr-lee", "dr-park", "nurse-han"}

// Auditor is the subject of a development token that may read and audit:
// it sees every schedule and audit trail through query, and ingest
// answers its commands 403 insufficient_scope.
const Auditor = "auditor"

// PrivacyOfficer is the subject of the development token that may erase a
// visitor's personal data through ingest, and nothing else.
const PrivacyOfficer = "privacy-officer"

// Scope is the scope column of a development token: the kiosk checks
// patients in but reads nobody's schedule, the auditor reads and audits,
// the privacy officer only erases, everyone else reads and writes.
func Scope(subject string) api.Scope {
	switch subject {
	case Auditor:
		return api.ScopeRead | api.ScopeAudit
	case PrivacyOfficer:
		return api.ScopeErase
	case "kiosk":
		return api.ScopeWrite
	}
	return api.ScopeAll
}

// Config says where things are.
type Config struct {
	// Bin is the directory with the binaries.
	Bin string
	// Data is the data directory; each service gets a folder in it.
	Data string
	// Brokers is an external Kafka; empty starts devkafka.
	Brokers string
	// Listen addresses.
	Kafka, Processor, Ingest, Query string
}

// Defaults are the addresses in docs/architecture.md (Processes).
func Defaults() Config {
	return Config{Bin: "bin", Data: "data", Kafka: "127.0.0.1:9092", Processor: "127.0.0.1:8081",
		Ingest: "127.0.0.1:8080", Query: "127.0.0.1:8082"}
}

// Stack is a running set of services.
type Stack struct {
	Config
	// Token is the dev-user token; Tokens has every subject's.
	Token   string
	Tokens  map[string]string
	procs   []*proc.Process
	exited  chan string
	brokers string
}

// Start starts the services and waits until each is ready. On error,
// whatever started is stopped again.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	s, err := StartKafka(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := s.StartServices(ctx, cfg.Bin); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// StartKafka prepares the data directory and the development tokens and
// starts devkafka (unless cfg.Brokers names a Kafka): a stack without
// services yet, for StartServices.
func StartKafka(ctx context.Context, cfg Config) (*Stack, error) {
	if err := os.MkdirAll(filepath.Join(cfg.Data, "logs"), 0o755); err != nil {
		return nil, err
	}
	token, tokens, err := EnsureTokens(cfg.Data)
	if err != nil {
		return nil, err
	}
	if err := EnsureKeys(cfg.Data); err != nil {
		return nil, err
	}
	// A service already on one of the addresses (a second make run,
	// most often) would answer the readiness checks for this one.
	addrs := []string{cfg.Processor, cfg.Ingest, cfg.Query}
	if cfg.Brokers == "" {
		addrs = append(addrs, cfg.Kafka)
	}
	for _, addr := range addrs {
		if proc.Listening(addr) {
			return nil, fmt.Errorf("%s is already in use: is Rewind already running (another make run)? Stop it, or choose other addresses (-kafka-addr, -processor-addr, -ingest-addr, -query-addr)", addr)
		}
	}
	s := &Stack{Config: cfg, Token: token, Tokens: tokens, exited: make(chan string, 8), brokers: cfg.Brokers}
	if s.brokers == "" {
		s.brokers = cfg.Kafka
		p, err := s.spawn(cfg.Bin, "devkafka", "-addr", cfg.Kafka, "-data-dir", filepath.Join(cfg.Data, "kafka"))
		if err != nil {
			return nil, err
		}
		if err := p.WaitFor(ctx, readyTimeout, func() bool { return proc.Listening(cfg.Kafka) }); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

// readyTimeout bounds the wait for a service to be ready: the processor
// restores its state first.
const readyTimeout = 90 * time.Second

// StartServices starts the processor, ingest and query from the binaries
// in bin and waits until each is ready. On error, those it started are
// stopped again. After StopServices it starts them again, on the same
// data: a rollout of another build.
func (s *Stack) StartServices(ctx context.Context, bin string) error {
	steps := []struct {
		name string
		args []string
		addr string
	}{
		{"processor", []string{"-brokers", s.brokers, "-http", s.Processor, "-instance-id", "local-1",
			"-data-dir", filepath.Join(s.Data, "processor"), "-kek-file", KEKFile(s.Data), "-erase-key-file", EraseKeyFile(s.Data)}, s.Processor},
		{"ingest", []string{"-brokers", s.brokers, "-http", s.Ingest, "-tokens", filepath.Join(s.Data, "tokens"),
			"-data-dir", filepath.Join(s.Data, "ingest"), "-erase-key-file", EraseKeyFile(s.Data)}, s.Ingest},
		{"query", []string{"-brokers", s.brokers, "-http", s.Query, "-tokens", filepath.Join(s.Data, "tokens"),
			"-data-dir", filepath.Join(s.Data, "query"), "-kek-file", KEKFile(s.Data)}, s.Query},
	}
	started := make([]*proc.Process, len(steps))
	for i, st := range steps {
		p, err := s.spawn(bin, st.name, st.args...)
		if err != nil {
			s.StopServices()
			return err
		}
		started[i] = p
	}
	for i, st := range steps {
		if err := started[i].WaitFor(ctx, readyTimeout, func() bool { return proc.Ready(st.addr) }); err != nil {
			s.StopServices()
			return err
		}
	}
	return nil
}

// Exited receives the name of a service that stopped by itself.
func (s *Stack) Exited() <-chan string { return s.exited }

func (s *Stack) spawn(bin, name string, args ...string) (*proc.Process, error) {
	p, err := proc.Start(proc.Spec{Path: filepath.Join(bin, name), Args: args,
		Log: filepath.Join(s.Data, "logs", name+".log"), OwnGroup: true})
	if err != nil {
		return nil, fmt.Errorf("%w (run `make build` first)", err)
	}
	go func() {
		<-p.Done()
		select {
		case s.exited <- name:
		default: // nobody listens (services stopped and started again)
		}
	}()
	s.procs = append(s.procs, p)
	return p, nil
}

// Stop stops the services and devkafka in order, each with SIGTERM and,
// if it has not gone after 40 s (ingest drains for up to 35 s), SIGKILL.
// It returns the first failure to stop cleanly.
func (s *Stack) Stop() error {
	return errors.Join(s.StopServices(), s.stop("devkafka"))
}

// StopServices stops ingest, query and the processor, and leaves devkafka
// running.
func (s *Stack) StopServices() error {
	return errors.Join(s.stop("ingest"), s.stop("query"), s.stop("processor"))
}

func (s *Stack) stop(name string) error {
	var errs []error
	kept := s.procs[:0]
	for _, p := range s.procs {
		if p.Name != name {
			kept = append(kept, p)
			continue
		}
		errs = append(errs, p.Stop(40*time.Second))
	}
	s.procs = kept
	return errors.Join(errs...)
}

// KEKFile is the development KEK file in data: the key-encryption key of
// make run's personal data, kept beside it and never in Kafka.
func KEKFile(data string) string { return filepath.Join(data, "kek") }

// EraseKeyFile is the development erasure key file in data: ingest signs
// erasures with it, and the processor carries out only signed ones.
func EraseKeyFile(data string) string { return filepath.Join(data, "erase-keys") }

// EnsureKeys writes a new KEK file and a new erasure key file in data
// unless they are there: a second run must find the keys the first one
// wrapped. A real deployment keeps both in a secret store
// (docs/privacy.md).
func EnsureKeys(data string) error {
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	for path, content := range map[string]string{
		KEKFile(data):      "# make run's KEK: lose it and the personal data on ./data is unreadable\n" + shred.NewKEKLine("dev-1"),
		EraseKeyFile(data): "# make run's erasure key: ingest signs erasures with it, the processor checks them\n" + shred.NewKEKLine("dev-erase-1"),
	} {
		if _, err := os.Stat(path); err == nil || !errors.Is(err, os.ErrNotExist) {
			if err != nil {
				return err
			}
			continue
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// EnsureTokens returns the development tokens, creating them on first use:
// data/tokens holds their SHA-256 digests and scopes (what ingest and
// query read),
// data/dev-token the dev-user token, data/dev-tokens "<subject> <token>"
// for every subject. Existing tokens are kept, so a second run works with
// the same token.
func EnsureTokens(data string) (string, map[string]string, error) {
	rawPath := filepath.Join(data, "dev-tokens")
	tokens := map[string]string{}
	if b, err := os.ReadFile(rawPath); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if subject, token, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
				tokens[subject] = token
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", nil, err
	}
	if b, err := os.ReadFile(filepath.Join(data, "dev-token")); err == nil && tokens["dev-user"] == "" {
		tokens["dev-user"] = strings.TrimSpace(string(b)) // written by an older make run
	}
	var added []string
	subjects := append(append([]string{"dev-user"}, Staff...), Auditor, PrivacyOfficer)
	for _, subject := range subjects {
		if tokens[subject] == "" {
			tokens[subject] = newToken()
			added = append(added, subject)
		}
	}
	if len(added) > 0 {
		if err := os.MkdirAll(data, 0o755); err != nil {
			return "", nil, err
		}
		var raw strings.Builder
		for _, subject := range subjects {
			fmt.Fprintf(&raw, "%s %s\n", subject, tokens[subject])
		}
		if err := os.WriteFile(rawPath, []byte(raw.String()), 0o600); err != nil {
			return "", nil, err
		}
		if err := os.WriteFile(filepath.Join(data, "dev-token"), []byte(tokens["dev-user"]+"\n"), 0o600); err != nil {
			return "", nil, err
		}
		// Digests only, so readable by all: a container's non-root user
		// reads it through a bind mount.
		f, err := os.OpenFile(filepath.Join(data, "tokens"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return "", nil, err
		}
		defer f.Close()
		fmt.Fprintf(f, "# development tokens of tenant %s; the tokens themselves are in dev-tokens\n", Tenant)
		// Lines of an earlier run have no scope column and keep both
		// scopes; new lines say what their subject may do.
		for _, subject := range added {
			fmt.Fprint(f, api.TokenLine(tokens[subject], Tenant, subject, Scope(subject)))
		}
	}
	return tokens["dev-user"], tokens, nil
}

func newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

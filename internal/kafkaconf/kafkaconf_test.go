package kafkaconf_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/rewind/rewind/internal/cli"
	"github.com/rewind/rewind/internal/kafkaconf"
	"github.com/rewind/rewind/internal/testing/testcerts"
)

func parse(t *testing.T, args ...string) (*kafkaconf.Flags, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(new(bytes.Buffer))
	f := kafkaconf.Register(fs)
	if err := cli.Parse(fs, args); err != nil {
		return nil, err
	}
	return f, f.Validate()
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []string // substrings of the error; none: valid
	}{
		{nil, nil},
		{[]string{"-kafka-tls"}, nil},
		{[]string{"-kafka-sasl", "scram-sha-512", "-kafka-user", "u", "-kafka-password", "p"}, nil},
		{[]string{"-kafka-sasl", "plain", "-kafka-user", "u", "-kafka-password-file", "/f"}, nil},
		{[]string{"-kafka-sasl", "oauthbearer", "-kafka-oauth-token-file", "/f"}, nil},
		{[]string{"-kafka-tls-cert", "c.pem", "-kafka-tls-key", "k.pem"}, nil},
		{[]string{"-brokers", " , "}, []string{"-brokers is empty"}},
		{[]string{"-kafka-tls-cert", "c.pem"}, []string{"-kafka-tls-cert and -kafka-tls-key go together"}},
		{[]string{"-kafka-tls-key", "k.pem"}, []string{"go together"}},
		{[]string{"-kafka-sasl", "scram-sha-512"}, []string{"needs -kafka-user", "needs -kafka-password"}},
		{[]string{"-kafka-sasl", "plain", "-kafka-user", "u", "-kafka-password", "p", "-kafka-password-file", "/f"}, []string{"not both"}},
		{[]string{"-kafka-sasl", "gssapi"}, []string{`"gssapi"`, "scram-sha-512"}},
		{[]string{"-kafka-user", "u"}, []string{"need -kafka-sasl"}},
		{[]string{"-kafka-password", "p"}, []string{"need -kafka-sasl"}},
		{[]string{"-kafka-sasl", "oauthbearer"}, []string{"needs -kafka-oauth-token-file"}},
		{[]string{"-kafka-sasl", "SCRAM-SHA-512", "-kafka-user", "u", "-kafka-password", "p"}, nil},
		{[]string{"-kafka-sasl", "oauthbearer", "-kafka-oauth-token-file", "/f", "-kafka-password", "p"}, []string{"not a user and password"}},
		{[]string{"-kafka-sasl", "oauthbearer", "-kafka-oauth-token-file", "/f", "-kafka-user", "u"}, []string{"not a user and password"}},
		{[]string{"-kafka-sasl", "scram-sha-256", "-kafka-user", "u", "-kafka-password", "p", "-kafka-oauth-token-file", "/f"}, []string{"is for -kafka-sasl oauthbearer"}},
		// Every problem at once.
		{[]string{"-kafka-tls-cert", "c", "-kafka-sasl", "plain"}, []string{"go together", "needs -kafka-user"}},
	} {
		_, err := parse(t, tt.args...)
		if len(tt.want) == 0 {
			if err != nil {
				t.Errorf("%v: %v", tt.args, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%v: valid, want %v", tt.args, tt.want)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %v, want it to say %q", tt.args, err, w)
			}
		}
	}
}

// TestPasswordNeverShown: -h, fmt, JSON, slog and the log attributes
// never carry the password, given as a flag or as REWIND_KAFKA_PASSWORD.
func TestPasswordNeverShown(t *testing.T) {
	const password = "hunter2-very-secret"
	t.Setenv("REWIND_KAFKA_PASSWORD", password)
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var help bytes.Buffer
	fs.SetOutput(&help)
	f := kafkaconf.Register(fs)
	if err := cli.Parse(fs, []string{"-kafka-sasl", "scram-sha-512", "-kafka-user", "svc"}); err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatalf("the password from the environment was not taken: %v", err)
	}
	fs.PrintDefaults()
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("kafka", append(f.LogAttrs(), "flags", f, "password", f.Password)...)
	text := slog.New(slog.NewTextHandler(&logged, nil))
	text.Info("kafka", "flags", *f)
	js, _ := json.Marshal(f)
	for what, out := range map[string]string{"-h": help.String(), "log": logged.String(), "fmt %+v": fmt.Sprintf("%+v %v", *f, f),
		"json": string(js)} {
		if strings.Contains(out, password) {
			t.Errorf("%s shows the password:\n%s", what, out)
		}
	}
	if !strings.Contains(help.String(), "-kafka-password") {
		t.Fatalf("-h does not list -kafka-password:\n%s", help.String())
	}
}

// TestEnviron: the flags handed to a child through REWIND_* variables
// read back the same.
func TestEnviron(t *testing.T) {
	f, err := parse(t, "-brokers", "b:9093", "-kafka-tls-ca", "/ca.pem", "-kafka-tls-cert", "/c.pem", "-kafka-tls-key", "/k.pem",
		"-kafka-sasl", "scram-sha-256", "-kafka-user", "svc", "-kafka-password", "pw")
	if err != nil {
		t.Fatal(err)
	}
	env := f.Environ()
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		t.Setenv(name, value)
	}
	g, err := parse(t, "-brokers", "b:9093")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", *f) != fmt.Sprintf("%+v", *g) || g.Password != f.Password {
		t.Fatalf("through the environment %+v became %+v (%v)", *f, *g, env)
	}
}

// broker is an in-process kfake broker demanding TLS with a client
// certificate, and SASL.
type broker struct {
	addr              string
	ca                *testcerts.CA
	clientCert, clKey string
}

func startBroker(t *testing.T, mechanism, user, pass string) *broker {
	t.Helper()
	ca := testcerts.NewCA(t, "kafka")
	cert, key, _ := ca.Issue(t, "broker", true)
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool}),
		kfake.EnableSASL(), kfake.Superuser(mechanism, user, pass))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	b := &broker{addr: c.ListenAddrs()[0], ca: ca}
	b.clientCert, b.clKey, _ = ca.Issue(t, "client", false)
	return b
}

func (b *broker) args(extra ...string) []string {
	return append([]string{"-brokers", b.addr, "-kafka-tls-ca", b.ca.File, "-kafka-tls-cert", b.clientCert, "-kafka-tls-key", b.clKey}, extra...)
}

func check(t *testing.T, args ...string) (time.Duration, error) {
	t.Helper()
	f, err := parse(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = f.Check(context.Background(), nil)
	return time.Since(start), err
}

// TestCheck: the probe passes with the right settings, and fails fast
// with an error that names the cause for a wrong password, a wrong
// mechanism, an untrusted broker, a missing or untrusted client
// certificate, and missing TLS or SASL. A broker that is not there yet is
// no failure: the services wait for it.
func TestCheck(t *testing.T) {
	b := startBroker(t, "SCRAM-SHA-512", "rewind", "s3cret")
	if _, err := check(t, b.args("-kafka-sasl", "scram-sha-512", "-kafka-user", "rewind", "-kafka-password", "s3cret")...); err != nil {
		t.Fatalf("right settings: %v", err)
	}
	other := testcerts.NewCA(t, "other")
	strangerCert, strangerKey, _ := other.Issue(t, "stranger", false)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"wrong password", b.args("-kafka-sasl", "scram-sha-512", "-kafka-user", "rewind", "-kafka-password", "guess"), "kafka: SASL authentication failed"},
		{"wrong user", b.args("-kafka-sasl", "scram-sha-512", "-kafka-user", "nobody", "-kafka-password", "s3cret"), "kafka: SASL authentication failed"},
		{"wrong mechanism", b.args("-kafka-sasl", "scram-sha-256", "-kafka-user", "rewind", "-kafka-password", "s3cret"), "kafka: SASL authentication failed"},
		{"no SASL", b.args(), "kafka: "},
		{"untrusted broker", []string{"-brokers", b.addr, "-kafka-tls-ca", other.File, "-kafka-tls-cert", b.clientCert, "-kafka-tls-key", b.clKey,
			"-kafka-sasl", "scram-sha-512", "-kafka-user", "rewind", "-kafka-password", "s3cret"}, "kafka: TLS: unable to dial: tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{"no client certificate", []string{"-brokers", b.addr, "-kafka-tls-ca", b.ca.File,
			"-kafka-sasl", "scram-sha-512", "-kafka-user", "rewind", "-kafka-password", "s3cret"}, "kafka: TLS: remote error: tls: certificate required"},
		{"untrusted client certificate", []string{"-brokers", b.addr, "-kafka-tls-ca", b.ca.File, "-kafka-tls-cert", strangerCert, "-kafka-tls-key", strangerKey,
			"-kafka-sasl", "scram-sha-512", "-kafka-user", "rewind", "-kafka-password", "s3cret"}, "kafka: TLS: remote error: tls: unknown certificate authority"},
		{"no TLS", []string{"-brokers", b.addr, "-kafka-sasl", "scram-sha-512", "-kafka-user", "rewind", "-kafka-password", "s3cret"}, "kafka: the broker closed the connection at once"},
	} {
		took, err := check(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
		if took > 5*time.Second {
			t.Errorf("%s: took %s to fail", tt.name, took)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the password: %v", tt.name, err)
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := ln.Addr().String()
	ln.Close()
	if took, err := check(t, "-brokers", gone); err != nil || took > 5*time.Second {
		t.Fatalf("a broker not up yet: %v after %s, want nil (the services wait)", err, took)
	}
}

// TestPasswordFileRotation: the password file is read at each
// authentication, so a rotated password works without a restart.
func TestPasswordFileRotation(t *testing.T) {
	b := startBroker(t, "PLAIN", "rewind", "new-password")
	file := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(file, []byte("old-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := parse(t, b.args("-kafka-sasl", "plain", "-kafka-user", "rewind", "-kafka-password-file", file)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Check(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "SASL authentication failed") {
		t.Fatalf("old password: %v", err)
	}
	if err := os.WriteFile(file, []byte("new-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.Check(context.Background(), nil); err != nil {
		t.Fatalf("rotated password: %v", err)
	}
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Opts(); err == nil {
		t.Fatal("an empty password file was accepted")
	}
}

// TestOAuthTokenFile: the OAUTHBEARER token is read from its file at each
// authentication (kfake has no OAUTHBEARER, so the client's first
// message is read directly).
func TestOAuthTokenFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("token-one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := parse(t, "-kafka-tls", "-kafka-sasl", "oauthbearer", "-kafka-oauth-token-file", file)
	if err != nil {
		t.Fatal(err)
	}
	m, err := kafkaconf.Mechanism(f)
	if err != nil {
		t.Fatal(err)
	}
	first := func() string {
		_, msg, err := m.Authenticate(context.Background(), "broker:9093")
		if err != nil {
			t.Fatal(err)
		}
		return string(msg)
	}
	if msg := first(); !strings.Contains(msg, "auth=Bearer token-one\x01") || m.Name() != "OAUTHBEARER" {
		t.Fatalf("%s first message %q", m.Name(), msg)
	}
	if err := os.WriteFile(file, []byte("token-two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if msg := first(); !strings.Contains(msg, "auth=Bearer token-two\x01") {
		t.Fatalf("after the refresh: %q", msg)
	}
	f.SASL = kafkaconf.Plain
	f.OAuthTokenFile = ""
	if w := f.Warnings(); len(w) != 0 {
		t.Fatalf("warnings with TLS: %v", w)
	}
	f.TLS = false
	if w := f.Warnings(); len(w) != 1 || !strings.Contains(w[0], "in clear") {
		t.Fatalf("PLAIN without TLS: %v", w)
	}
}

// Command devkafka is a single-node Kafka-protocol broker for local runs
// and tests, built on franz-go's kfake: transactions, consumer groups,
// compaction, and persistence in a data directory (which survives SIGKILL:
// kfake appends every batch to its segment files as it arrives).
//
// It can demand what a managed Kafka demands, to try the -kafka-* flags
// of the services against it: TLS (-tls-cert, -tls-key), client
// certificates (-tls-client-ca), and SASL (-sasl plain, scram-sha-256 or
// scram-sha-512 with -sasl-user and -sasl-password).
//
// Compacted topics are cleaned every -compact-every, and at once on
// SIGUSR1.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/rewind/rewind/internal/cli"
	"github.com/rewind/rewind/internal/kafkaconf"
)

func main() { cli.Main("devkafka", run, os.Args[1:]) }

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("devkafka", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:9092", "listen address")
	dataDir := fs.String("data-dir", "data/kafka", "where the broker keeps its log; empty keeps it in memory")
	compactEvery := fs.Duration("compact-every", 10*time.Minute, "how often compacted topics are cleaned; 0 never")
	tlsCert := fs.String("tls-cert", "", "serve TLS with this PEM certificate (with -tls-key)")
	tlsKey := fs.String("tls-key", "", "the PEM private key of -tls-cert")
	clientCA := fs.String("tls-client-ca", "", "demand client certificates signed by the CAs of this PEM file (mTLS; needs -tls-cert)")
	mechanism := fs.String("sasl", "", "demand SASL: plain, scram-sha-256 or scram-sha-512 (with -sasl-user and -sasl-password)")
	user := fs.String("sasl-user", "", "the SASL user (a superuser)")
	var password kafkaconf.Secret
	fs.Var(&password, "sasl-password", "the SASL user's `password`")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, *addr) }),
		kfake.GroupMinSessionTimeout(time.Second),
	}
	if *dataDir != "" {
		opts = append(opts, kfake.DataDir(*dataDir))
	}
	security, err := securityOpts(*tlsCert, *tlsKey, *clientCA, *mechanism, *user, password)
	if err != nil {
		return err
	}
	opts = append(opts, security...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return err
	}
	listener := "PLAINTEXT"
	switch {
	case *tlsCert != "" && *mechanism != "":
		listener = "SASL_SSL"
	case *tlsCert != "":
		listener = "SSL"
	case *mechanism != "":
		listener = "SASL_PLAINTEXT"
	}
	fmt.Printf("devkafka listening on %s, %s (data dir %q)\n", c.ListenAddrs()[0], listener, *dataDir)

	// SIGUSR1 compacts now, and says when it is done: what a benchmark of
	// restores from a compacted topic waits for.
	now := make(chan os.Signal, 1)
	signal.Notify(now, syscall.SIGUSR1)
	// kfake's own compaction timer does not restart after a reload from
	// the data dir, so devkafka drives it.
	var tick <-chan time.Time
	if *compactEvery > 0 {
		t := time.NewTicker(*compactEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			c.Close()
			fmt.Println("devkafka stopped")
			return nil
		case <-tick:
			c.Compact()
		case <-now:
			start := time.Now()
			c.Compact()
			fmt.Printf("devkafka compacted in %v\n", time.Since(start).Round(time.Millisecond))
		}
	}
}

// securityOpts are the options that make the broker demand TLS, client
// certificates and SASL.
func securityOpts(certFile, keyFile, clientCA, mechanism, user string, password kafkaconf.Secret) ([]kfake.Opt, error) {
	var opts []kfake.Opt
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("devkafka: -tls-cert and -tls-key go together")
	}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("devkafka: %w", err)
		}
		cfg := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
		if clientCA != "" {
			pool, err := cli.CertPool(clientCA)
			if err != nil {
				return nil, fmt.Errorf("devkafka: -tls-client-ca: %w", err)
			}
			cfg.ClientCAs = pool
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
		opts = append(opts, kfake.TLS(cfg))
	} else if clientCA != "" {
		return nil, errors.New("devkafka: -tls-client-ca needs -tls-cert")
	}
	switch mechanism {
	case "":
		if user != "" || password.String() != "" {
			return nil, errors.New("devkafka: -sasl-user and -sasl-password need -sasl")
		}
	case kafkaconf.Plain, kafkaconf.ScramSHA256, kafkaconf.ScramSHA512:
		if user == "" || password.String() == "" {
			return nil, fmt.Errorf("devkafka: -sasl %s needs -sasl-user and -sasl-password", mechanism)
		}
		// kfake names mechanisms as Kafka does: PLAIN, SCRAM-SHA-512.
		opts = append(opts, kfake.EnableSASL(), kfake.Superuser(strings.ToUpper(mechanism), user, password.Reveal()))
	default:
		return nil, fmt.Errorf("devkafka: -sasl %q: want plain, scram-sha-256 or scram-sha-512", mechanism)
	}
	return opts, nil
}

// Command devrun is `make run`: it starts devkafka (unless -brokers or
// REWIND_BROKERS names a Kafka), the processor, ingest and query on a data
// directory, prints where they are with a dev token and commands to try,
// and stops them all, in order, on Ctrl-C. A second run keeps the data.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/rewind/rewind/internal/cli"
	"github.com/rewind/rewind/internal/dev/devstack"
)

func main() { cli.Main("devrun", run, os.Args[1:]) }

func run(ctx context.Context, args []string) error {
	d := devstack.Defaults()
	fs := flag.NewFlagSet("devrun", flag.ContinueOnError)
	fs.StringVar(&d.Bin, "bin", d.Bin, "directory with the binaries")
	fs.StringVar(&d.Data, "data-dir", d.Data, "data directory (kafka, processor, query, tokens, logs)")
	fs.StringVar(&d.Brokers, "brokers", "", "an external Kafka; empty starts devkafka")
	fs.StringVar(&d.Kafka, "kafka-addr", d.Kafka, "devkafka's address")
	fs.StringVar(&d.Processor, "processor-addr", d.Processor, "the processor's ops address")
	fs.StringVar(&d.Ingest, "ingest-addr", d.Ingest, "ingest's address")
	fs.StringVar(&d.Query, "query-addr", d.Query, "query's address")
	tokensOnly := fs.Bool("tokens-only", false, "create the dev tokens, the KEK and the erasure key in the data directory, print the dev token and exit (for docker compose)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *tokensOnly {
		token, _, err := devstack.EnsureTokens(d.Data)
		if err != nil {
			return err
		}
		if err := devstack.EnsureKeys(d.Data); err != nil {
			return err
		}
		fmt.Printf("%s/tokens holds the digests, %s the KEK, %s the erasure key; dev token (tenant %s, in %s/dev-token):\n%s\n",
			d.Data, devstack.KEKFile(d.Data), devstack.EraseKeyFile(d.Data), devstack.Tenant, d.Data, token)
		return nil
	}
	fmt.Println("starting Rewind…")
	s, err := devstack.Start(ctx, d)
	if err != nil {
		return err
	}
	banner(s)
	select {
	case <-ctx.Done():
		fmt.Println("\nstopping: ingest and query, then the processor, then the broker…")
	case name := <-s.Exited():
		fmt.Printf("\n%s stopped by itself (see %s/logs/%s.log); stopping the rest…\n", name, d.Data, name)
	}
	if err := s.Stop(); err != nil {
		return err
	}
	fmt.Println("stopped; the data stays in", d.Data)
	return nil
}

func banner(s *devstack.Stack) {
	kafka := s.Kafka + " (devkafka, data in " + s.Data + "/kafka)"
	if s.Brokers != "" {
		kafka = s.Brokers + " (external)"
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	visit := "visit-" + hex.EncodeToString(b)
	auth := "-H 'Authorization: Bearer " + s.Token + "'"
	start := time.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	fmt.Printf(`
Rewind is running.

  ingest     http://%[1]s        commands
  query      http://%[2]s        schedules, time travel, audit
  UI         http://%[2]s/ui/    (paste the token)
  processor  http://%[3]s/metrics
  kafka      %[4]s
  logs       %[5]s/logs/

Dev token (tenant %[6]s, subject dev-user, scopes read and write; kept in %[5]s/dev-token):
  %[7]s
The staff's tokens, an auditor's (read, audit) and a privacy officer's (erase) are in %[5]s/dev-tokens.

Try it:
  # 1. reserve a visit in the next hour (-i shows the status and the new version as ETag)
  curl -i -XPOST %[8]s http://%[1]s/v1/schedules/%[9]s/commands/Reserve \
    -d '{"visitorId":"v-1","visitor":{"name":"Kim Minji"},"start":"%[10]s","end":"%[11]s","procedures":["botox"]}'
  # 2. check in
  curl -i -XPOST %[8]s http://%[1]s/v1/schedules/%[9]s/commands/CheckIn -d '{"channel":"kiosk"}'
  # 3. travel back in time: the visit as it was at version 1, before check-in
  curl -s %[8]s 'http://%[2]s/v1/schedules/%[9]s?version=1&minVersion=2'

make demo drives a whole clinic day through it. Ctrl-C stops everything.
`, s.Ingest, s.Query, s.Processor, kafka, s.Data, devstack.Tenant, s.Token, auth, visit,
		start.Format(time.RFC3339), start.Add(time.Hour).Format(time.RFC3339))
}

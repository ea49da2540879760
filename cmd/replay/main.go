// Command replay previews a logic change before it ships. Built from the
// candidate code, it folds every stream of schedule-events with this
// build's handlers and upcasters and compares each state with the one the
// deployed processors hold on schedule-state; with -commands it also
// decides the retained commands again. It reads only (read_committed, no
// consumer group) and writes report.json and report.html to -out. Its
// last line is "replay: N streams, M would change, F failed"; with
// -fail-on-change it exits 3 when M or F is above 0, so a deploy pipeline
// can gate on it. With -check-access it checks the hash chains of the
// access log instead (docs/audit.md), prints each break, and exits 3 when
// there is one. Flags may also be set as REWIND_* environment variables.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/access"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/cli"
	"github.com/rewind/rewind/internal/kafkaconf"
	"github.com/rewind/rewind/replay"
)

// exitChanged is the exit status of -fail-on-change when something would
// change or failed.
const exitChanged = 3

func main() {
	code, err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "replay:", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(max(code, 1))
	}
	os.Exit(code)
}

func run(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kafka := kafkaconf.Register(fs) // -brokers, -kafka-tls…, -kafka-sasl…
	out := fs.String("out", "replay-report", "directory to write report.json and report.html to")
	tenant := fs.String("tenant", "", "replay this tenant's schedules only")
	commands := fs.Bool("commands", false, "also decide the commands still on schedule-commands again, and list those whose outcome would differ")
	failOnChange := fs.Bool("fail-on-change", false, "exit 3 when a schedule would change or failed")
	examples := fs.Int("examples", 5, "examples kept per changed field and per changed decision")
	parallel := fs.Int("parallel", 2, "partitions replayed at once (each holds its states in memory)")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the replay to this file")
	checkAccess := fs.Bool("check-access", false, "check the hash chains of schedule-access instead, print each break, and exit 3 when there is one")
	if err := cli.Parse(fs, args); err != nil {
		return 2, err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return 1, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return 1, err
		}
		defer pprof.StopCPUProfile()
	}
	if fs.NArg() > 0 {
		return 2, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := cli.Logger(*logLevel)
	opts, err := kafka.Connect(ctx, log)
	if err != nil {
		return 1, err
	}
	if *checkAccess {
		return checkChains(ctx, kafkaconf.ClientOpts(opts, log, nil, ""), stdout)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return 1, err
	}
	cfg := replay.Config{ClientOpts: kafkaconf.ClientOpts(opts, log, nil, ""), Kind: schedule.Kind, Tenant: *tenant,
		Commands: *commands, Examples: *examples, Parallel: *parallel}
	if cli.IsTerminal(stderr) {
		start := time.Now()
		cfg.Progress = func(p replay.Progress) {
			rate := float64(p.Records) / max(time.Since(start).Seconds(), 0.001)
			fmt.Fprintf(stderr, "\r\033[Kreplay: %d of %d records, %.0f/s, %d of %d partitions", p.Records, p.Total, rate, p.Done, p.Partitions)
		}
	}
	report, err := replay.Run(ctx, cfg)
	if cfg.Progress != nil {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return 1, err
	}
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{{replay.JSONFile, report.WriteJSON}, {replay.HTMLFile, report.WriteHTML}} {
		if err := writeFile(filepath.Join(*out, f.name), f.write); err != nil {
			return 1, err
		}
	}
	fmt.Fprintf(stdout, "wrote %s and %s (%d events in %.1f s)\n", filepath.Join(*out, replay.JSONFile), filepath.Join(*out, replay.HTMLFile), report.Events, report.Seconds)
	if c := report.Commands; c != nil {
		fmt.Fprintf(stdout, "commands: %d decided again, %d would differ\n", c.Decided, c.Differ)
	}
	fmt.Fprintln(stdout, report.Summary())
	if *failOnChange && (report.Changed > 0 || report.Failed > 0 || (report.Commands != nil && report.Commands.Differ > 0)) {
		return exitChanged, nil
	}
	return 0, nil
}

// checkChains checks the access log's chains: exitChanged when one is
// broken.
func checkChains(ctx context.Context, opts []kgo.Opt, stdout io.Writer) (int, error) {
	c, err := access.Check(ctx, opts)
	if err != nil {
		return 1, err
	}
	for _, b := range c.Breaks {
		fmt.Fprintln(stdout, "break:", b)
	}
	fmt.Fprintf(stdout, "access log: %d records in %d chains, %d breaks\n", c.Records, c.Chains, len(c.Breaks))
	if len(c.Breaks) > 0 {
		return exitChanged, nil
	}
	return 0, nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

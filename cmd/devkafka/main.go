// Command devkafka is a single-node Kafka-protocol broker for local runs
// and tests, built on franz-go's kfake: transactions, consumer groups,
// compaction, and persistence in a data directory (which survives SIGKILL:
// kfake appends every batch to its segment files as it arrives).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/rewind/rewind/internal/cli"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "devkafka:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("devkafka", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:9092", "listen address")
	dataDir := fs.String("data-dir", "data/kafka", "where the broker keeps its log; empty keeps it in memory")
	compactEvery := fs.Duration("compact-every", 10*time.Minute, "how often compacted topics are cleaned; 0 never")
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
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return err
	}
	fmt.Printf("devkafka listening on %s (data dir %q)\n", c.ListenAddrs()[0], *dataDir)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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
		}
	}
}

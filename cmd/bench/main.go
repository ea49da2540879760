// Command bench is `make bench`: it prints Rewind's performance numbers
// on this machine (package internal/dev/bench), each against a baseline
// measured in the same run.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/rewind/rewind/internal/cli"
	"github.com/rewind/rewind/internal/dev/bench"
)

func main() {
	var b bench.Bench
	b.Register(flag.CommandLine)
	// REWIND_* variables fill flags not given: how the load generator
	// gets the security settings of -brokers.
	if err := cli.Parse(flag.CommandLine, os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if err := b.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if err := b.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

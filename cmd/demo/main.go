// Command demo is `make demo`: a clinic day driven through ingest, then
// its audit trail, time travel and day list (package internal/dev/demo).
package main

import (
	"os"

	"github.com/rewind/rewind/internal/cli"
	"github.com/rewind/rewind/internal/dev/demo"
)

func main() { cli.Main("demo", demo.Run, os.Args[1:]) }

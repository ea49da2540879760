// Command replaydemo is `make replay-demo`: a logic change walked through
// on one machine, from the released bug to the fix's rollout (package
// internal/dev/replaydemo).
package main

import (
	"os"

	"github.com/rewind/rewind/internal/cli"
	"github.com/rewind/rewind/internal/dev/replaydemo"
)

func main() { cli.Main("replay-demo", replaydemo.Run, os.Args[1:]) }

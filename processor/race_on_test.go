//go:build race

package processor_test

// raceEnabled: the race detector slows the code several times over, so
// wall-clock goals are not asserted under it; the runs without it do.
const raceEnabled = true

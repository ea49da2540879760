package bench

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/rewind/rewind/internal/testing/testkit"
)

func TestFlags(t *testing.T) {
	var b Bench
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	b.Register(fs)
	if err := fs.Parse([]string{"-bin", "x", "-only-mix", "-mix-schedules", "7", "-mix-variants", "durable,naive", "-loadgen-rate", "2.5",
		"-cpuprofile-after", "3s", "-brokers", "k:9092"}); err != nil {
		t.Fatal(err)
	}
	if b.binDir != "x" || !b.onlyMix || b.mixStreams != 7 || b.mixWhich != "durable,naive" || b.loadRate != 2.5 ||
		b.profileAfter != 3*time.Second || b.kafkaFlags.Brokers != "k:9092" || b.backlog != 500000 {
		t.Errorf("flags parsed into %+v", b)
	}
	if err := b.Validate(); err != nil {
		t.Error(err)
	}
	// A variant that does not exist is refused before anything starts.
	b.mixWhich = "durable,fast"
	if err := b.Validate(); err == nil || err.Error() != `-mix-variants: no variant "fast"` {
		t.Errorf("an unknown variant: %v", err)
	}
	if err := b.Run(); err == nil || err.Error() != `-mix-variants: no variant "fast"` {
		t.Errorf("an unknown variant: %v", err)
	}
}

func TestPercentiles(t *testing.T) {
	xs := make([]float64, 200)
	for i := range xs {
		xs[i] = float64(200 - i) // unsorted: p50p99 sorts
	}
	if p50, p99 := p50p99(xs); p50 != 101 || p99 != 199 {
		t.Errorf("p50p99 of 1..200: %v, %v", p50, p99)
	}
	ds := []time.Duration{5, 1, 3}
	if m := median(ds); m != 3 || ds[0] != 5 {
		t.Errorf("median %v (of %v, which it must not sort)", m, ds)
	}
}

// TestMixSmoke runs bench as `make bench` does, on a small many-schedules
// case with its naive baseline: devkafka, the processor and the naive
// map processor as processes, and a ratio measured in the same run.
func TestMixSmoke(t *testing.T) {
	bin := testkit.Binaries(t)
	out := filepath.Join(t.TempDir(), "bench.out")
	p := testkit.Start(t, "bench", out, "-bin", bin, "-only-mix", "-raw", "5000", "-mix-schedules", "2000", "-mix-variants", "durable,naive")
	if err, exited := p.Wait(3 * time.Minute); !exited || err != nil {
		b, _ := os.ReadFile(out)
		t.Fatalf("bench: exited %v, %v\n%s", exited, err, b)
	}
	b, _ := os.ReadFile(out)
	for _, re := range []string{
		`raw produce rate \(200 B values\) +(\d+) records/s`,
		`many schedules \(2k, \d+ commands\) +(\d+) commands/s`,
		`the same, naive map processor +(\d+) commands/s \(durable ÷ this (\d+\.\d+)`,
		`bytes written per command: events (\d+), results (\d+), state (\d+), keys (\d+); (\d+) in all`,
	} {
		m := regexp.MustCompile(re).FindSubmatch(b)
		if m == nil {
			t.Errorf("no line %s in\n%s", re, b)
			continue
		}
		for _, n := range m[1:] {
			if v, err := strconv.ParseFloat(string(n), 64); err != nil || v <= 0 {
				t.Errorf("%s: %s is not a positive number", re, n)
			}
		}
	}
}

// TestKernel: the kernel case's commands are all accepted, each with one
// event, so its figure is the cost of a decided command.
func TestKernel(t *testing.T) {
	k := newKernel()
	for i := range 200 {
		if err := k.command(i); err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
	}
	if k.version != 200 {
		t.Fatalf("200 commands left the stream at version %d, want 200: not one event each", k.version)
	}
}

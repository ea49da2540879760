package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/internal/testing/promsample"
	"github.com/rewind/rewind/topics"
)

// visits are the command sequences of the many-schedules case, one per
// kind of visit; schedule i follows visits[i%len(visits)]. Every command
// is accepted, so each one writes an event, a result and a state.
var visits = [][][2]string{
	{ // booked, consulted, checked out
		{"Reserve", `{"visitorId":"v","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z","procedures":["botox"],"channel":"app"}`},
		{"CheckIn", `{"channel":"kiosk"}`},
		{"StartConsultation", `{"counselorId":"c-1"}`},
		{"CompleteConsultation", `{"procedures":["filler"]}`},
		{"CheckOut", `{}`},
	},
	{ // a procedure
		{"Reserve", `{"visitorId":"v","start":"2026-03-02T12:00:00Z","end":"2026-03-02T13:00:00Z","procedures":["botox"]}`},
		{"CheckIn", `{"channel":"desk"}`},
		{"StartProcedure", `{"procedureId":"botox","doctorId":"dr-kim"}`},
		{"CompleteProcedure", `{"procedureId":"botox"}`},
		{"TakePhotos", `{"kind":"after","count":3}`},
	},
	{ // moved twice, then canceled
		{"Reserve", `{"visitorId":"v","start":"2026-03-03T09:00:00Z","end":"2026-03-03T09:30:00Z"}`},
		{"Reschedule", `{"start":"2026-03-03T10:00:00Z","end":"2026-03-03T10:30:00Z"}`},
		{"Reschedule", `{"start":"2026-03-04T10:00:00Z","end":"2026-03-04T10:30:00Z"}`},
		{"CancelReservation", `{"reason":"sick"}`},
	},
	{ // a walk-in with photos and after-care
		{"CheckIn", `{"channel":"desk","visitorId":"v"}`},
		{"TakePhotos", `{"kind":"before","count":2}`},
		{"StartAftercare", `{}`},
		{"CompleteAftercare", `{}`},
		{"CheckOut", `{}`},
	},
}

// mixVariants are the processors of the many-schedules case, by name:
// durable (the defaults), the same loop with its state in memory,
// durable with two members in the process, an earlier build, and the
// naive map processor (runNaive).
type mixVariant struct {
	name, what string
	naive      bool
	flags      []string
	// build is the directory under -bin of the processor to run, "" for
	// -bin itself.
	build string
	// personal puts a visitor's name and phone on every reservation and
	// walk-in, and notes on every consultation: sealed by the processor.
	personal bool
}

var mixVariants = []mixVariant{
	{name: "durable"},
	// The codecs besides the default (gzip): the bytes each writes, and
	// what it costs the processor and the broker.
	{name: "uncompressed", what: "durable, -compression none", flags: []string{"-compression", "none"}},
	{name: "zstd", what: "durable, -compression zstd", flags: []string{"-compression", "zstd"}},
	{name: "personal", what: "durable, personal data sealed", personal: true},
	// Pebble's files then live on the Go heap: a heap limit sized for the
	// durable store would make the GC run back to back.
	{name: "memory", what: "state in memory", flags: []string{"-in-memory", "-memory-limit-mib", "0"}},
	{name: "members", what: "durable, -members 2", flags: []string{"-members", "2"}},
	// The processor of an earlier commit (make bench builds BENCH_BEFORE
	// into bin/before), with its own defaults: what a change to the
	// command path gained, measured in the same run.
	{name: "before", what: "the build of BENCH_BEFORE", build: "before"},
	{name: "naive", what: "naive map processor", naive: true},
}

// mixCase prints the many-schedules case, each variant of -mix-variants
// on a broker of its own, with its ratios to the raw rate and of the
// durable rate to it.
func (b *Bench) mixCase(dir string, raw float64) error {
	which := strings.Split(b.mixWhich, ",")
	var durable float64
	for _, v := range mixVariants {
		if !slices.Contains(which, v.name) {
			continue
		}
		produce := func(ctx context.Context, cl *kgo.Client) (int, error) {
			return produceMix(ctx, cl, b.mixStreams, v.personal)
		}
		if v.build != "" && !b.hasBuild(v.build) {
			fmt.Printf("  (variant %s skipped: no processor in %s)\n", v.name, filepath.Join(b.binDir, v.build))
			continue
		}
		rate, n, stats, err := b.drainAlone(filepath.Join(dir, "mix-"+v.name), produce, "mix-"+v.name, v)
		if err != nil {
			return err
		}
		switch {
		case v.name == "durable":
			durable = rate
			fmt.Printf("many schedules (%dk, %d commands)   %9.0f commands/s (ratio to raw %.3f)\n", b.mixStreams/1000, n, rate, rate/raw)
		case durable > 0:
			fmt.Printf("  the same, %-28s %9.0f commands/s (durable ÷ this %.2f, ratio to raw %.3f)\n", v.what, rate, durable/rate, rate/raw)
		default:
			fmt.Printf("  the same, %-28s %9.0f commands/s (ratio to raw %.3f)\n", v.what, rate, rate/raw)
		}
		fmt.Println(stats)
	}
	return nil
}

// drainAlone drains the backlog produce writes on a broker and processor
// of their own: Rewind's with the extra flags, or the naive map
// processor. It returns commands per second from the first commit to the
// last, and lines on the processor's GC, CPU and memory and on the bytes
// written per command. A -cpuprofile-phase of the variant's name
// profiles it.
func (b *Bench) drainAlone(dir string, produce func(context.Context, *kgo.Client) (int, error), variant string, v mixVariant) (rate float64, n int, stats string, err error) {
	e, done, err := b.newEnv(dir, nil)
	if err != nil {
		return 0, 0, "", err
	}
	defer done()
	ctx := context.Background()
	n, err = produce(ctx, e.cl)
	if err != nil {
		return 0, 0, "", err
	}
	switch {
	case v.naive:
		e.startNaive()
	case v.build != "":
		e.startBuild(v.build, v.flags...)
	default:
		e.startProcessor(v.flags...)
	}
	profiled := b.phase == variant
	if b.profile != "" && profiled {
		go e.cpuProfile(b.profile)
	}
	defer func() { stop(e.proc) }()
	brokerCPU := e.brokerCPU()
	rate, err = e.drain(ctx, n)
	brokerCPU = e.brokerCPU() - brokerCPU
	if b.heapProf != "" && profiled {
		e.fetchProfile("heap", b.heapProf)
	}
	if err == nil {
		perCommand, berr := e.bytesPerCommand(ctx, n)
		if berr != nil {
			return 0, 0, "", berr
		}
		// The GC's share, to see that the soft memory limit does not make
		// it run back to back.
		metrics := "http://" + e.procHTTP + "/metrics"
		m := promsample.Scrape(metrics)
		cpu := m["process_cpu_seconds_total"]
		stats = fmt.Sprintf("    (processor: %.0f GC cycles, %.1f CPU seconds (%.1f µs per command), RSS %.0f MiB, %.0f transactions, %.0f%% cache hits; devkafka: %.1f CPU seconds in the drain (%.1f µs per command))",
			m["go_gc_duration_seconds_count"], cpu, cpu/float64(n)*1e6, rss(e.proc.Pid(), "VmRSS"),
			m.Sum("rewind_processor_transactions_total"),
			100*m.Sum(`rewind_processor_state_cache_total{result="hit"}`)/m.Sum("rewind_processor_state_cache_total"), brokerCPU, brokerCPU/float64(n)*1e6) +
			"\n    (" + perCommand + ")"
	}
	return rate, n, stats, err
}

// bytesPerCommand says how many bytes per command of n the broker holds
// on each topic the processor writes, and in all: what it wrote, as long
// as nothing compacted them (devkafka compacts every 10 minutes).
func (e *env) bytesPerCommand(ctx context.Context, n int) (string, error) {
	dirs, err := e.adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		return "", err
	}
	size := map[string]int64{}
	for _, d := range dirs {
		d.EachPartition(func(p kadm.DescribedLogDirPartition) { size[p.Topic] += p.Size })
	}
	var parts []string
	var all int64
	for _, t := range []string{topics.Events, topics.Results, topics.State, topics.Keys} {
		all += size[t]
		parts = append(parts, fmt.Sprintf("%s %.0f", strings.TrimPrefix(t, "schedule-"), float64(size[t])/float64(n)))
	}
	return fmt.Sprintf("bytes written per command: %s; %.0f in all", strings.Join(parts, ", "), float64(all)/float64(n)), nil
}

// produceMix writes the visits of schedules schedules, interleaved: every
// schedule's first command, then every schedule's second, and so on, so
// consecutive commands of one schedule are a whole round apart.
func produceMix(ctx context.Context, cl *kgo.Client, schedules int, personal bool) (int, error) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	n := 0
	for round := range 5 {
		for s := range schedules {
			visit := visits[s%len(visits)]
			if round >= len(visit) {
				continue
			}
			m := aggregate.Meta{ID: "mix-" + strconv.Itoa(s) + "-" + strconv.Itoa(round), Tenant: "clinic-" + strconv.Itoa(s%50),
				Stream: "visit-" + strconv.Itoa(s), Initiator: "front-desk", Time: at.Add(time.Duration(round) * 15 * time.Minute)}
			data := strings.Replace(visit[round][1], `"visitorId":"v"`, `"visitorId":"v-`+strconv.Itoa(s)+`"`, 1)
			if personal {
				data = withPersonal(visit[round][0], data, s)
			}
			cl.Produce(ctx, topics.CommandRecord(visit[round][0], m, []byte(data)), func(_ *kgo.Record, err error) {
				if err != nil {
					fmt.Fprintln(os.Stderr, "bench: produce:", err)
				}
			})
			n++
		}
	}
	return n, cl.Flush(ctx)
}

// withPersonal adds personal data to a command of the mix: a name and a
// phone to a reservation or walk-in, notes to a consultation's end.
func withPersonal(typ, data string, s int) string {
	switch {
	case typ == "Reserve" || typ == "CheckIn" && strings.Contains(data, "visitorId"):
		return `{"visitor":{"name":"Visitor ` + strconv.Itoa(s) + `","phone":"010-5555-` + strconv.Itoa(1000+s%9000) + `"},` + data[1:]
	case typ == "CompleteConsultation":
		return `{"notes":"sensitive skin; asked about filler prices; allergic to lidocaine",` + data[1:]
	}
	return data
}

// Validate refuses flags the run cannot use: a -mix-variants name no
// variant has.
func (b *Bench) Validate() error {
	for _, name := range strings.Split(b.mixWhich, ",") {
		if !slices.ContainsFunc(mixVariants, func(v mixVariant) bool { return v.name == name }) {
			return fmt.Errorf("-mix-variants: no variant %q", name)
		}
	}
	return nil
}

// aloneProfiled reports whether -cpuprofile-phase names a drain on a
// broker of its own (drainAlone), which also takes the heap profile.
func (b *Bench) aloneProfiled() bool {
	return strings.HasPrefix(b.phase, "mix-") || b.phase == "hot-naive"
}

// Package replaydemo is `make replay-demo`: it walks through a logic
// change on one machine, as a team would live it: a released build with a
// handler bug runs and takes visits; a preview of the same build reports
// nothing; a preview of the fix (this build) reports exactly which
// schedules and fields it changes; the fix rolls out and the services
// rebuild; a preview then reports nothing; and a wrong upcaster is caught
// the same way. It builds the candidates from this source with a build tag
// each (internal/dev/candidate) and leaves each preview's report.html
// under -data-dir. `make replay-demo` runs it.
package replaydemo

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/apiclient"
	"github.com/rewind/rewind/internal/cli"
	"github.com/rewind/rewind/internal/dev/candidate"
	"github.com/rewind/rewind/internal/dev/devstack"
	"github.com/rewind/rewind/internal/dev/proc"
	"github.com/rewind/rewind/internal/testing/promsample"
	"github.com/rewind/rewind/replay"
	"github.com/rewind/rewind/topics"
)

const partitions = 6

type demo struct {
	ctx             context.Context
	data, bin, root string
	kafka           string
	stack           *devstack.Stack
}

// Run is the command replaydemo: args are its flags.
func Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("replaydemo", flag.ContinueOnError)
	bin := fs.String("bin", "bin", "directory with this build's binaries (the fix)")
	data := fs.String("data-dir", "data/replay-demo", "directory for the demo's services, builds and reports (emptied first)")
	visits := fs.Int("visits", 200, "today's visits; a tenth have photo sessions")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return fmt.Errorf("run it from the repository's root (make replay-demo): it builds candidates from this source")
	}
	if err := os.RemoveAll(*data); err != nil {
		return err
	}
	d := &demo{ctx: ctx, data: *data, bin: *bin, root: root}
	defer func() {
		if d.stack != nil {
			if err := d.stack.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "replay-demo:", err)
			}
		}
	}()
	return d.walk(*visits)
}

func (d *demo) walk(visits int) error {
	released, err := d.release(visits)
	if err != nil {
		return err
	}
	step(2, "preview the released build against itself")
	if _, err := d.preview(filepath.Join(released, "replay"), "same"); err != nil {
		return err
	}
	say("An unchanged build changes nothing: the preview compares like with like.")

	step(3, "preview the fix")
	r, err := d.preview(filepath.Join(d.bin, "replay"), "fix")
	if err != nil {
		return err
	}
	sayPaths(r)
	say("Exactly the photo counts of the visits with photos, and nothing else. Open %s.", filepath.Join(d.data, "fix", replay.HTMLFile))

	if err := d.rollOut(); err != nil {
		return err
	}
	return d.wrongUpcaster()
}

// release is step 1: the released build with the bug, on its own
// services, with last year's events and today's visits. It returns the
// build's directory.
func (d *demo) release(visits int) (string, error) {
	step(1, "the released version")
	say("Building it from this source with the tag %s: its PhotosTaken handler multiplies", candidate.PhotoCountBug)
	say("the count by ten. It is logic version %d; this build, its fix, is logic version %d.", schedule.LogicVersion-1, schedule.LogicVersion)
	released, err := candidate.Build(d.root, filepath.Join(d.data, "released"), candidate.PhotoCountBug, "devkafka", "processor", "ingest", "query", "replay")
	if err != nil {
		return "", err
	}
	if err := d.startKafka(); err != nil {
		return "", err
	}
	fixture, err := candidate.Version1Events(d.root, devstack.Tenant, partitions)
	if err != nil {
		return "", err
	}
	if err := candidate.CommitEvents(d.ctx, d.kafka, fixture); err != nil {
		return "", err
	}
	say("Last year's visits are in the log as last year's code wrote them (%d events, two cancellations", len(fixture))
	say("in schema version 1, before the clinic asked who canceled).")
	if err := d.startStack(released); err != nil {
		return "", err
	}
	n, err := d.sendVisits(visits)
	if err != nil {
		return "", err
	}
	say("Sent %d commands of %d visits; every one has its outcome.", n, visits)
	counts, err := d.photoCounts("photo-000")
	if err != nil {
		return "", err
	}
	say("The query service shows photo-000 with photo counts %v: the clinic took 3 and 2.", counts)
	return released, nil
}

// rollOut is step 4: this build's services on the same data.
func (d *demo) rollOut() error {
	step(4, "roll the fix out")
	say("Stopping the released services and starting this build's on the same data: the processor")
	say("folds the events again (a new logic version), the query service rebuilds its read model and")
	say("answers 503 rebuilding until it has caught up. (Blue/green, with no downtime: docs/logic-changes.md.)")
	d.stopStack()
	start := time.Now()
	if err := d.startStack(d.bin); err != nil {
		return err
	}
	counts, err := d.photoCounts("photo-000")
	if err != nil {
		return err
	}
	say("Both ready after %.1f s; photo-000 now has photo counts %v.", time.Since(start).Seconds(), counts)
	if err := d.waitStateComplete(); err != nil {
		return err
	}
	if _, err := d.preview(filepath.Join(d.bin, "replay"), "after"); err != nil {
		return err
	}
	say("The deployed states are the fix's now.")
	return nil
}

// wrongUpcaster is step 5: a candidate whose upcaster is wrong, caught
// by its preview.
func (d *demo) wrongUpcaster() error {
	step(5, "preview a wrong upcaster")
	say("A candidate whose upcaster records last year's cancellations as canceled by the patient:")
	wrong, err := candidate.Build(d.root, filepath.Join(d.data, "upcast"), candidate.WrongUpcaster, "replay")
	if err != nil {
		return err
	}
	r, err := d.preview(filepath.Join(wrong, "replay"), "upcast")
	if err != nil {
		return err
	}
	sayPaths(r)
	say("Caught before it met a patient. Every preview's report.html is in %s/<step>/.", d.data)
	return nil
}

// sayPaths prints each changed path of a preview with its first example.
func sayPaths(r *replay.Report) {
	for _, p := range r.Paths {
		ex := p.Examples[0]
		say("  %-24s changes in %d schedules, e.g. %s: %v → %v", p.Path, p.Count, ex.ScheduleID, ex.Before, ex.After)
	}
}

func step(n int, title string) { fmt.Printf("\n%d. %s\n", n, strings.ToUpper(title[:1])+title[1:]) }

func say(format string, args ...any) { fmt.Printf("   "+format+"\n", args...) }

// preview runs a replay binary with -commands and prints what it prints.
func (d *demo) preview(bin, name string) (*replay.Report, error) {
	out := filepath.Join(d.data, name)
	cmd := exec.CommandContext(d.ctx, bin, "-brokers", d.kafka, "-out", out, "-commands")
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w", bin, err)
	}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		fmt.Println("   $", line)
	}
	return replay.ReadReport(out)
}

func (d *demo) startKafka() error {
	var addrs [4]string
	for i := range addrs {
		var err error
		if addrs[i], err = proc.FreeAddr(); err != nil {
			return err
		}
	}
	d.kafka = addrs[0]
	cfg := devstack.Config{Bin: d.bin, Data: filepath.Join(d.data, "services"), Kafka: d.kafka,
		Processor: addrs[1], Ingest: addrs[2], Query: addrs[3]}
	s, err := devstack.StartKafka(d.ctx, cfg)
	if err != nil {
		return err
	}
	d.stack = s
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.kafka))
	if err != nil {
		return err
	}
	defer cl.Close()
	_, err = topics.Ensure(d.ctx, cl, topics.Layout{Partitions: partitions})
	return err
}

// startStack starts the processor, ingest and query of a build beside
// the running devkafka.
func (d *demo) startStack(bin string) error {
	return d.stack.StartServices(d.ctx, bin)
}

func (d *demo) stopStack() {
	if d.stack != nil {
		if err := d.stack.StopServices(); err != nil {
			fmt.Fprintln(os.Stderr, "replay-demo:", err)
		}
	}
}

// sendVisits produces today's visits (a tenth with photo sessions) and
// waits until the processor has handled every command.
func (d *demo) sendVisits(n int) (int, error) {
	at := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
	var recs []*kgo.Record
	cmd := func(stream, id, typ, data string, t time.Time) {
		recs = append(recs, topics.CommandRecord(typ, aggregate.Meta{ID: id, Tenant: devstack.Tenant, Stream: stream,
			Initiator: "front-desk", Time: t}, []byte(data)))
	}
	for i := range n {
		t := at.Add(time.Duration(i) * time.Second)
		if i%10 == 0 {
			recs = append(recs, candidate.PhotoVisit(devstack.Tenant, fmt.Sprintf("photo-%03d", i/10), t)...)
			continue
		}
		s := fmt.Sprintf("visit-%03d", i)
		ts := func(d time.Duration) string { return t.Add(d).UTC().Format(time.RFC3339) }
		cmd(s, s+"-1", "Reserve", fmt.Sprintf(`{"visitorId":"p-%s","start":%q,"end":%q,"procedures":["botox"]}`, s, ts(time.Hour), ts(2*time.Hour)), t)
		cmd(s, s+"-2", "CheckIn", `{"channel":"kiosk"}`, t.Add(time.Minute))
		cmd(s, s+"-3", "StartProcedure", `{"procedureId":"botox","doctorId":"dr-kim"}`, t.Add(2*time.Minute))
		cmd(s, s+"-4", "CompleteProcedure", `{"procedureId":"botox"}`, t.Add(3*time.Minute))
		cmd(s, s+"-5", "CheckOut", `{}`, t.Add(4*time.Minute))
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.kafka))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	if err := cl.ProduceSync(d.ctx, recs...).FirstErr(); err != nil {
		return 0, err
	}
	metrics := "http://" + d.stack.Processor + "/metrics"
	return len(recs), d.until("every command handled", func() bool {
		return promsample.Scrape(metrics).Sum("rewind_processor_commands_total") >= float64(len(recs))
	})
}

// photoCounts reads a schedule's photo counts from the query service.
func (d *demo) photoCounts(id string) ([]int, error) {
	var counts []int
	err := d.until(id+" in the read model", func() bool {
		client := &apiclient.Client{Query: "http://" + d.stack.Query, Token: d.stack.Token}
		answer, err := client.State(d.ctx, id, nil)
		if err != nil {
			return false
		}
		var state schedule.State
		if json.Unmarshal(answer.State, &state) != nil {
			return false
		}
		counts = counts[:0]
		for _, p := range state.Photos.All() {
			counts = append(counts, p.Count)
		}
		return true
	})
	return counts, err
}

// waitStateComplete waits until the processor has copied its refold to
// the state topic: every partition's completeness marker names this
// build's logic version. The preview compares with what is there.
func (d *demo) waitStateComplete() error {
	metrics := "http://" + d.stack.Processor + "/metrics"
	return d.until("the state topic rewritten", func() bool {
		m := promsample.Scrape(metrics)
		return m.Sum("rewind_processor_partitions_owned") == partitions && m.Sum("rewind_processor_restoring_partitions") == 0 && m.Sum("rewind_processor_state_rewrites") == 0
	})
}

func (d *demo) until(what string, ok func() bool) error {
	deadline := time.Now().Add(2 * time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not after 2 minutes (logs in %s)", what, filepath.Join(d.data, "services", "logs"))
		}
		select {
		case <-d.ctx.Done():
			return d.ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

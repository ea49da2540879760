package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/testing/promsample"
	"github.com/rewind/rewind/processor"
	"github.com/rewind/rewind/replay"
	"github.com/rewind/rewind/shred"
	"github.com/rewind/rewind/topics"
)

// restoreEvents is the events of each of the restore case's schedules
// (-restore-schedules) at 1× history.
const restoreEvents = 10

// restoreResult is what one history of the restore case measured.
type restoreResult struct {
	events int64
	plain  time.Duration // a read_committed read of events and results
	cold   time.Duration // a lost disk: start to the first new commit
	fold   time.Duration // no state topic: start to the first new commit
	// logicFold: a processor of the next logic version, start to the
	// first new commit.
	logicFold time.Duration
	takeover  time.Duration // SIGKILL of one of two members with standbys
}

// restoreCase prints the restore case: the same schedules with 1× and 3×
// the history. History is what accumulates over months: at 3× the first
// two thirds of the commands are 30 days older than the last third, past
// the dedup window, so each stream remembers the same recent ids at 1×
// and 3× and only the history grows. A third run keeps all 3× within the
// window (every stream remembers 3× the ids), for reference. Each
// history prints its lines as they are measured.
func (b *Bench) restoreCase(dir string) error {
	var base restoreResult
	for _, h := range []struct {
		k      int
		recent bool
		name   string
	}{{1, true, "1×"}, {3, false, "3× (older commands past the dedup window)"}, {3, true, "3×, all within the dedup window"}} {
		fmt.Printf("restore, %dk schedules, %s history\n", b.restoreSchedules/1000, h.name)
		r, err := b.restoreHistory(filepath.Join(dir, fmt.Sprintf("restore-%d-%v", h.k, h.recent)), b.restoreSchedules, h.k, h.recent, base)
		if err != nil {
			return err
		}
		if h.k == 1 {
			base = r
		}
	}
	return nil
}

// restoreHistory builds a history on a broker of its own and times its
// restores.
func (b *Bench) restoreHistory(dir string, schedules, k int, recent bool, base restoreResult) (r restoreResult, err error) {
	brokerOut, compacted := watchCompactions()
	e, done, err := b.newEnv(dir, brokerOut, "-compact-every", "0")
	if err != nil {
		return r, err
	}
	defer done()
	ctx := context.Background()
	n, err := e.produceHistory(ctx, schedules, k, recent)
	if err != nil {
		return r, err
	}
	e.startProcessor()
	// Only the drained state matters here, not its rate.
	_, err = e.drain(ctx, n)
	stop(e.proc)
	if err != nil && !errors.Is(err, errUntimed) {
		return r, err
	}
	// Compaction keeps one record per stream of the state topic, as a
	// real Kafka's cleaner does in the background.
	e.broker.Signal(syscall.SIGUSR1)
	select {
	case <-compacted:
	case <-e.broker.Done():
		return r, fmt.Errorf("devkafka exited while compacting: %v", e.broker.Err())
	}
	if r.events, err = e.sumEnds(ctx, topics.Events); err != nil {
		return r, err
	}
	if r.plain, _, _, err = e.plainRead(ctx, topics.Events, topics.Results); err != nil {
		return r, err
	}
	fmt.Printf("  %.2fM events; plain read of events and results %6.2f s\n", float64(r.events)/1e6, r.plain.Seconds())
	stateRead, records, markers, err := e.plainRead(ctx, topics.State)
	if err != nil {
		return r, err
	}
	fmt.Printf("  plain read of the compacted state topic %7.2f s (%d records, %d transaction markers)\n", stateRead.Seconds(), records, markers)
	return e.timeRestores(ctx, k, base, r)
}

// watchCompactions returns the writer for devkafka's output, and a
// channel that gets a value when devkafka says a compaction is done. The
// output is read all along, so that devkafka never waits for a reader.
func watchCompactions() (io.Writer, <-chan struct{}) {
	out, brokerOut := io.Pipe()
	compacted := make(chan struct{}, 1)
	go func() {
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			if strings.HasPrefix(lines.Text(), "devkafka compacted") {
				select {
				case compacted <- struct{}{}:
				default: // one is enough to wake the wait
				}
			}
		}
	}()
	return brokerOut, compacted
}

// produceHistory produces the restore case's commands and returns how
// many.
func (e *env) produceHistory(ctx context.Context, schedules, k int, recent bool) (n int, err error) {
	// The history: each schedule reserved, then moved again and again,
	// round by round; every command is accepted with one event. The last
	// restoreEvents rounds are recent enough for their results to be
	// within the 7-day retention, which the broker applies when it
	// compacts: a fold reads them too. Unless recent, the rounds before
	// are a month older: history past the dedup window (and the results'
	// retention).
	at := time.Now().Add(-24 * time.Hour)
	old := restoreEvents * (k - 1)
	for round := range restoreEvents * k {
		for s := range schedules {
			typ, data := "Reschedule", slot(round)
			if round == 0 {
				typ, data = "Reserve", `{"visitorId":"v`+strconv.Itoa(s)+`","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z","procedures":["botox"]}`
			}
			t := at.Add(time.Duration(round) * time.Minute)
			if !recent && round < old {
				t = t.Add(-30 * 24 * time.Hour)
			}
			m := aggregate.Meta{ID: "r" + strconv.Itoa(s) + "-" + strconv.Itoa(round), Tenant: "clinic-" + strconv.Itoa(s%50),
				Stream: "visit-" + strconv.Itoa(s), Initiator: "front-desk", Time: t}
			e.cl.Produce(ctx, topics.CommandRecord(typ, m, []byte(data)), nil)
			n++
		}
	}
	return n, e.cl.Flush(ctx)
}

// timeRestores times the restores of the drained and compacted history
// into r: from the state topic, a fold after a logic change, the replay
// preview, a fold without a state topic, and (at 1×) a standby takeover.
func (e *env) timeRestores(ctx context.Context, k int, base restoreResult, r restoreResult) (_ restoreResult, err error) {
	stopProc := func() { stop(e.proc) }
	// A lost disk: the state topic's records, not the history.
	if r.cold, err = e.timeToCommit(ctx, "cold"); err != nil {
		return r, err
	}
	fmt.Printf("  cold restore (lost disk), to a commit %9.2f s (%.2f s per 1M events; %.2f× the plain read; the restore itself %.2f s)\n",
		r.cold.Seconds(), r.cold.Seconds()/(float64(r.events)/1e6), r.cold.Seconds()/r.plain.Seconds(), e.restoreSeconds("state"))
	if base.cold > 0 {
		fmt.Printf("  cold restore, this history ÷ 1×         %9.2f\n", r.cold.Seconds()/base.cold.Seconds())
	}
	stopProc()
	// A logic change: the state topic's records are of the old version,
	// so the events are folded (the remembered ids come from the old
	// records). The binary has one logic version: a processor of the
	// next one runs in this process.
	if r.logicFold, err = e.timeToCommitBumped(ctx); err != nil {
		return r, err
	}
	fmt.Printf("  fold after a logic change               %7.2f s (%.0f events/s)\n", r.logicFold.Seconds(), float64(r.events)/r.logicFold.Seconds())
	// The replay preview of an unchanged build: the same events folded,
	// compared with the state topic, nothing written.
	pv, err := e.preview(ctx)
	if err != nil {
		return r, err
	}
	fmt.Printf("  replay preview, unchanged build          %7.2f s (%.0f events/s, %.2f× the fold after a logic change; %d of %d streams would change)\n",
		pv.Seconds, float64(pv.Events)/pv.Seconds, (float64(pv.Events)/pv.Seconds)/(float64(r.events)/r.logicFold.Seconds()), pv.Changed, pv.Streams)
	// No state topic (as before it existed): the events and the results
	// are folded, then copied to a new state topic.
	if _, err := e.adm.DeleteTopics(ctx, topics.State); err != nil {
		return r, err
	}
	if r.fold, err = e.timeToCommit(ctx, "fold"); err != nil {
		return r, err
	}
	fmt.Printf("  fold of events and results (no state topic) %5.2f s (%.0f events/s; the restore itself %.2f s)\n",
		r.fold.Seconds(), float64(r.events)/r.fold.Seconds(), e.restoreSeconds("events"))
	if k > 1 {
		stopProc()
		return r, nil
	}
	if r.takeover, err = e.takeover(ctx); err != nil {
		return r, err
	}
	fmt.Printf("  standby takeover (SIGKILL, 6 s session) %7.2f s\n", r.takeover.Seconds())
	return r, nil
}

// timeToCommit deletes the processor's store, starts it and times until
// the group commits a new command.
func (e *env) timeToCommit(ctx context.Context, id string) (time.Duration, error) {
	os.RemoveAll(filepath.Join(e.dir, "processor"))
	before, _ := e.committed(ctx)
	if err := e.cl.ProduceSync(ctx, checkIn("probe-"+id)).FirstErr(); err != nil {
		return 0, err
	}
	start := time.Now()
	e.startProcessor()
	if e.profile != "" && e.phase == id {
		go e.cpuProfile(e.profile)
	}
	return e.untilCommitted(ctx, before+1, start, 10*time.Minute)
}

// bumped is the Schedule kind under the next logic version.
type bumped struct{ aggregate.Kind }

func (bumped) LogicVersion() int { return schedule.LogicVersion + 1 }

// timeToCommitBumped runs a processor of the next logic version in this
// process on an empty store, and times until the group commits a new
// command.
func (e *env) timeToCommitBumped(ctx context.Context) (time.Duration, error) {
	dir := filepath.Join(e.dir, "bumped")
	before, _ := e.committed(ctx)
	if err := e.cl.ProduceSync(ctx, checkIn("probe-bumped")).FirstErr(); err != nil {
		return 0, err
	}
	// The KEK the processes of the run seal under (Run set it up).
	ring, err := shred.LoadKeyring(os.Getenv("REWIND_KEK_FILE"))
	if err != nil {
		return 0, err
	}
	start := time.Now()
	p, err := processor.New(processor.Config{ClientOpts: []kgo.Opt{kgo.SeedBrokers(e.kafka)}, InstanceID: "bench-bumped", DataDir: dir,
		Kind: bumped{schedule.Kind}, Keyring: ring})
	if err != nil {
		return 0, err
	}
	defer p.Close()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	return e.untilCommitted(ctx, before+1, start, 10*time.Minute)
}

// preview runs bin/replay against the history and returns its report.
func (e *env) preview(ctx context.Context) (*replay.Report, error) {
	out := filepath.Join(e.dir, "preview")
	args := []string{"-brokers", e.kafka, "-out", out}
	if e.profile != "" && e.phase == "preview" {
		args = append(args, "-cpuprofile", e.profile) // its own process: profiled there
	}
	cmd := exec.CommandContext(ctx, filepath.Join(e.binDir, "replay"), args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	return replay.ReadReport(out)
}

// takeover runs two members with a standby each on the warm store of the
// running one, SIGKILLs the first, and times until every partition
// commits again.
func (e *env) takeover(ctx context.Context) (time.Duration, error) {
	// The running member stops and comes back with standbys; a second
	// member joins with an empty disk and copies the first's partitions.
	stop(e.proc)
	args := []string{"-standby-replicas", "1", "-session-timeout", "6s"}
	e.startProcessor(args...)
	a, aHTTP := e.proc, e.procHTTP
	second := &env{Bench: e.Bench, dir: filepath.Join(e.dir, "b"), kafka: e.kafka, adm: e.adm, cl: e.cl}
	second.startProcessor(append(args, "-instance-id", "bench-2")...)
	defer func() { stop(second.proc) }()
	// Both own half the partitions, the second's copies of a's half are caught up.
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		ma, mb := promsample.Scrape("http://"+aHTTP+"/metrics"), promsample.Scrape("http://"+second.procHTTP+"/metrics")
		if ma["rewind_processor_partitions_owned"] == 6 && mb["rewind_processor_partitions_owned"] == 6 &&
			mb.Count("rewind_processor_standby_lag{") == 6 && mb.Sum("rewind_processor_standby_lag{") == 0 {
			break
		}
		if time.Now().After(deadline) {
			return 0, errors.New("standby copies did not catch up in 5 minutes")
		}
	}
	a.Kill()
	killed := time.Now()
	// A command on every partition; all of them committed means the
	// survivor serves every partition.
	before, _ := e.committed(ctx)
	for i := range 120 {
		e.cl.Produce(ctx, checkIn("to-"+strconv.Itoa(i)), nil)
	}
	if err := e.cl.Flush(ctx); err != nil {
		return 0, err
	}
	took, err := e.untilCommitted(ctx, before+120, killed, time.Minute)
	if err != nil {
		return 0, fmt.Errorf("the survivor did not take over: %w", err)
	}
	return took, nil
}

// restoreSeconds is the longest restore of a partition from source by the
// running processor (every partition of one assignment restores together).
func (e *env) restoreSeconds(source string) float64 {
	m := promsample.Scrape("http://" + e.procHTTP + "/metrics")
	label := `{source="` + source + `"}`
	if n := m["rewind_processor_restore_seconds_count"+label]; n > 0 {
		return m["rewind_processor_restore_seconds_sum"+label] / n
	}
	return 0
}

// sumEnds is the sum of a topic's end offsets.
func (e *env) sumEnds(ctx context.Context, topic string) (int64, error) {
	ends, err := e.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n, nil
}

// plainRead times a read_committed consumer, with no group and no
// processing, reading the topics from their start to their ends: the
// floor of any restore that folds them.
func (e *env) plainRead(ctx context.Context, names ...string) (took time.Duration, records, markers int, err error) {
	ends, err := e.adm.ListEndOffsets(ctx, names...)
	if err != nil {
		return 0, 0, 0, err
	}
	left := map[topicPartition]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[topicPartition{o.Topic, o.Partition}] = o.Offset
		}
	})
	start := time.Now()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.kafka), kgo.ConsumeTopics(names...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return 0, 0, 0, err
	}
	defer cl.Close()
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return 0, 0, 0, err
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Attrs.IsControl() {
				markers++
			} else {
				records++
			}
			tp := topicPartition{r.Topic, r.Partition}
			if end, ok := left[tp]; ok && r.Offset+1 >= end {
				delete(left, tp)
			}
		})
	}
	return time.Since(start), records, markers, nil
}

type topicPartition struct {
	topic string
	part  int32
}

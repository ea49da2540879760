package processor_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/testing/inproc"
	"github.com/rewind/rewind/internal/testing/logcheck"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/processor"
	"github.com/rewind/rewind/topics"
)

// TestMembersJoinAndLeave runs up to three processors in one group while
// members join and leave under load.
func TestMembersJoinAndLeave(t *testing.T) {
	brokers := testkit.Kafka(t, testPartitions)
	base := t.TempDir()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	prod := testkit.Producer(t, brokers)
	recs := testkit.Interleave("clinic-1", 3000, at)
	chunk := len(recs) / 6
	dirs := map[string]string{}
	procs := map[string]*inproc.Processor{}
	launch := func(name string) {
		dirs[name] = filepath.Join(base, name)
		procs[name] = start(t, brokers, name, dirs[name])
	}
	launch("p1")
	steps := []func(){
		func() { launch("p2") },
		func() { launch("p3") },
		func() { procs["p1"].Stop(t); delete(procs, "p1") },
		func() { launch("p1") },
		func() { procs["p2"].Stop(t); delete(procs, "p2") },
		func() {},
	}
	for i, step := range steps {
		testkit.Send(t, prod, recs[i*chunk:(i+1)*chunk])
		step()
		time.Sleep(300 * time.Millisecond)
	}
	testkit.Send(t, prod, recs[len(steps)*chunk:])
	testkit.WaitResults(t, brokers, len(recs), 2*time.Minute, nil)
	for name, p := range procs {
		if err := p.Stop(t); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	log := logcheck.ReadAll(t, brokers)
	logcheck.Invariants(t, log)
	if len(log.Events) != 3000*7 {
		t.Fatalf("want %d events, got %d", 3000*7, len(log.Events))
	}
	logcheck.StateMatches(t, schedule.Kind, log)
}

// bumped is the Schedule kind under a new logic version.
type bumped struct{ aggregate.Kind }

func (bumped) LogicVersion() int { return schedule.LogicVersion + 1 }

// TestLogicVersionBump rebuilds the store when the logic version changes:
// the state topic's records are of the old version, so the restore folds
// the events, and the fold is copied to the state topic. The state after
// the rebuild equals the state before, and equals the fold; a cold member
// of the new version then restores from the state topic.
func TestLogicVersionBump(t *testing.T) {
	brokers := testkit.Kafka(t, testPartitions)
	dir := filepath.Join(t.TempDir(), "p1")
	recs := testkit.Interleave("clinic-1", 500, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	testkit.Send(t, testkit.Producer(t, brokers), recs)
	p := start(t, brokers, "p1", dir)
	testkit.WaitResults(t, brokers, len(recs), time.Minute, p.Alive(t))
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	log := logcheck.ReadAll(t, brokers)
	logcheck.StoreMatches(t, schedule.Kind, log, dir)

	r, reg := startReady(t, brokers, "p1", dir, withKind(bumped{schedule.Kind}))
	if n := restoredFrom(t, reg, "events"); n != testPartitions {
		t.Fatalf("%d partitions folded the events after a logic bump, want %d", n, testPartitions)
	}
	// One more command after the rebuild proves the rebuilt state is used;
	// a retry of the first command, that the ids survived the rebuild
	// (taken from the old version's state records, not the results).
	retry := &kgo.Record{Topic: recs[0].Topic, Key: recs[0].Key, Value: recs[0].Value, Headers: recs[0].Headers}
	testkit.Send(t, testkit.Producer(t, brokers), []*kgo.Record{testkit.Cmd{Tenant: "clinic-1", Stream: "s000001",
		Type: "CheckIn", Data: `{"channel":"desk"}`, ID: "after-bump"}.Record(), retry})
	testkit.WaitResults(t, brokers, len(recs)+2, time.Minute, r.Alive(t))
	if err := r.Stop(t); err != nil {
		t.Fatal(err)
	}
	log = logcheck.ReadAll(t, brokers)
	results := logcheck.Invariants(t, log)
	if rs := results["after-bump"]; len(rs) != 1 || rs[0].Code != schedule.CodeClosed {
		t.Fatalf("after the rebuild a checked-out visit must reject with closed, got %+v", rs)
	}
	if rs := results[topics.CommandID(recs[0])]; len(rs) != 2 || rs[1].Status != topics.StatusDuplicate || rs[1].FirstStatus != rs[0].Status {
		t.Fatalf("a retry after the rebuild must be a duplicate of the first outcome, got %+v", rs)
	}
	logcheck.StoreMatches(t, schedule.Kind, log, dir)
	logcheck.StateMatches(t, bumped{schedule.Kind}, log)

	cold, coldReg := startReady(t, brokers, "p2", filepath.Join(t.TempDir(), "p2"), withKind(bumped{schedule.Kind}))
	if n := restoredFrom(t, coldReg, "state"); n != testPartitions {
		t.Fatalf("%d partitions of the new version restored from the rewritten state topic, want %d", n, testPartitions)
	}
	if err := cold.Stop(t); err != nil {
		t.Fatal(err)
	}
}

// TestRestoreProgressExported: while a cold member restores, the records
// left per partition are exported, and the series are gone once it is
// ready.
func TestRestoreProgressExported(t *testing.T) {
	brokers := testkit.Kafka(t, testPartitions)
	recs := testkit.Interleave("clinic-1", 3000, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	testkit.Send(t, testkit.Producer(t, brokers), recs)
	p := start(t, brokers, "p1", filepath.Join(t.TempDir(), "p1"))
	testkit.WaitResults(t, brokers, len(recs), 2*time.Minute, p.Alive(t))
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}

	// The restore of 24000 records can take less time than a poll of the
	// registry, so the first export holds the restore until the test has
	// read it.
	reg := prometheus.NewRegistry()
	exported, read := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hold := processor.Hooks{RestoreProgress: func(ctx context.Context) {
		once.Do(func() {
			close(exported)
			select {
			case <-read:
			case <-ctx.Done():
			}
		})
	}}
	r := start(t, brokers, "p1", filepath.Join(t.TempDir(), "cold"), func(c *processor.Config) {
		c.Registerer = reg
		c.Logger = testkit.Logger(t, slog.LevelInfo)
		processor.SetHooks(c, hold)
	})
	defer r.Stop(t)
	select {
	case <-exported:
	case <-time.After(time.Minute):
		t.Fatal("the restore exported no progress in a minute")
	}
	left := restoreRemaining(t, reg)
	close(read)
	seen := 0.0
	for _, n := range left {
		seen = max(seen, n)
	}
	if seen == 0 {
		t.Fatalf("no records left exported at the start of a cold restore of %d commands: %v", len(recs), left)
	}
	// Ready says this member's assignment is restored; owned says the
	// assignment was every partition. Owned first: it is set after the
	// partitions are marked restoring, so a Ready read after it is not
	// one from before the assignment.
	testkit.Await(t, time.Minute, "the restore to finish", func() bool {
		return testkit.Metric(t, reg, "rewind_processor_partitions_owned") == testPartitions && r.Ready()
	})
	if left := restoreRemaining(t, reg); len(left) != 0 {
		t.Fatalf("restore progress still exported after the restore: %v", left)
	}
	t.Logf("saw up to %.0f records left, on %d partitions", seen, len(left))
}

// restoreRemaining is the records left per partition being restored.
func restoreRemaining(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for k, v := range testkit.Samples(t, reg) {
		if part, ok := strings.CutPrefix(k, `rewind_processor_restore_remaining{partition="`); ok {
			out[strings.TrimSuffix(part, `"}`)] = v
		}
	}
	return out
}

// TestPartialRevokeDuringRestore: a member restoring four partitions
// loses two of them to a member that joins meanwhile. The revoke cancels
// the restore of all four; the two it keeps must be restored again and
// handle their commands.
func TestPartialRevokeDuringRestore(t *testing.T) {
	brokers := testkit.Kafka(t, testPartitions)
	recs := testkit.Interleave("clinic-1", 400, time.Now().Add(-time.Hour))
	testkit.Send(t, testkit.Producer(t, brokers), recs)
	// The first restore of p1 holds until it is canceled, which only a
	// revoke does; the ones after go through.
	var first atomic.Bool
	hold := processor.Hooks{BeforeRestore: func(ctx context.Context, parts []int32) error {
		if first.CompareAndSwap(false, true) {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}}
	reg := prometheus.NewRegistry()
	p1 := start(t, brokers, "p1", filepath.Join(t.TempDir(), "p1"), withHooks(hold), withRegistry(reg))
	restoring := func() bool { return testkit.Metric(t, reg, "rewind_processor_restoring_partitions") == testPartitions }
	if !testkit.Eventually(time.Minute, restoring) {
		t.Fatal("p1 did not start restoring")
	}
	p2 := start(t, brokers, "p2", filepath.Join(t.TempDir(), "p2"))
	testkit.WaitResults(t, brokers, len(recs), time.Minute, func() { p1.Alive(t)(); p2.Alive(t)() })
	for _, p := range []*inproc.Processor{p1, p2} {
		if err := p.Stop(t); err != nil {
			t.Fatal(err)
		}
	}
	logcheck.Invariants(t, logcheck.ReadAll(t, brokers))
}

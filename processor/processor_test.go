package processor_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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

const testPartitions = 4

// start runs a processor in-process with test settings; options adjust
// the config before it is used.
func start(t *testing.T, brokers, instance, dir string, options ...func(*processor.Config)) *inproc.Processor {
	t.Helper()
	return inproc.Run(t, brokers, testPartitions, instance, dir, options...)
}

func TestSteadyLoad(t *testing.T) {
	_, brokers := testkit.Cluster(t)
	dir := filepath.Join(t.TempDir(), "p1")
	p := start(t, brokers, "p1", dir)
	recs := testkit.Interleave("clinic-1", 2000, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	testkit.Send(t, testkit.Producer(t, brokers), recs)
	testkit.WaitResults(t, brokers, len(recs), 2*time.Minute, p.Alive(t))
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	log := logcheck.ReadAll(t, brokers)
	results := logcheck.Invariants(t, log)
	if len(log.Events) != 2000*7 {
		t.Fatalf("want %d events, got %d", 2000*7, len(log.Events))
	}
	if codes := logcheck.Codes(results); codes["procedure_in_progress"] != 2000 || len(codes) != 1 {
		t.Fatalf("unexpected rejections %v", codes)
	}
	logcheck.StoreMatches(t, schedule.Kind, log, dir)
	// By default everything is gzipped: the one codec every client reads.
	// A batch that gzip would not make smaller (a lone small record)
	// franz-go sends as it is; those are few.
	for _, recs := range [][]*kgo.Record{log.Events, log.Results, log.State, log.Keys} {
		gzipped := 0
		for _, r := range recs {
			switch r.Attrs.CompressionType() {
			case 1:
				gzipped++
			case 0:
			default:
				t.Fatalf("%s record compressed with codec %d, want gzip (1)", r.Topic, r.Attrs.CompressionType())
			}
		}
		if gzipped < len(recs)*9/10 {
			t.Fatalf("%d of %d %s records gzipped, want nearly all", gzipped, len(recs), recs[0].Topic)
		}
	}
}

// TestMetricsBeforeTheFirstCommand: the series of known labels exist at
// zero from the start, so rate() alerts and dashboards work at once.
func TestMetricsBeforeTheFirstCommand(t *testing.T) {
	reg := prometheus.NewRegistry()
	p, err := processor.New(processor.Config{ClientOpts: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}, InstanceID: "p1",
		DataDir: t.TempDir(), Kind: schedule.Kind, Keyring: testkit.Keyring(t), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	series := testkit.Samples(t, reg)
	if n := series.Count("rewind_processor_commands_total{"); n != 3*(len(schedule.Kind.CommandTypes())+1) {
		t.Errorf("rewind_processor_commands_total: %d series at start", n)
	}
	if n := series.Count("rewind_processor_transactions_total{"); n != 3 {
		t.Errorf("rewind_processor_transactions_total: %d series at start", n)
	}
}

var errCrash = errors.New("injected crash")

// TestCrashPoints crashes the processor after produce and before commit,
// and after the Kafka commit and before the Pebble write, then restarts it
// on the same data dir; the invariants must hold.
func TestCrashPoints(t *testing.T) {
	for _, point := range []string{"before-commit", "after-commit"} {
		t.Run(point, func(t *testing.T) {
			_, brokers := testkit.Cluster(t)
			dir := filepath.Join(t.TempDir(), "p1")
			testkit.Topics(t, brokers, testPartitions)
			recs := testkit.Interleave("clinic-1", 500, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
			testkit.Send(t, testkit.Producer(t, brokers), recs)
			for crash := range 4 {
				var batches atomic.Int32
				hook := func() error {
					if batches.Add(1) == 3 {
						return errCrash
					}
					return nil
				}
				hooks := processor.Hooks{BeforeCommit: hook}
				if point == "after-commit" {
					hooks = processor.Hooks{AfterCommit: hook}
				}
				p := start(t, brokers, "p1", dir, withHooks(hooks))
				select {
				case err := <-p.Exited():
					if !errors.Is(err, errCrash) {
						t.Fatalf("crash %d: %v", crash, err)
					}
					p.Close()
				case <-time.After(time.Minute):
					t.Fatalf("crash %d did not happen", crash)
				}
			}
			p := start(t, brokers, "p1", dir)
			testkit.WaitResults(t, brokers, len(recs), 2*time.Minute, p.Alive(t))
			if err := p.Stop(t); err != nil {
				t.Fatal(err)
			}
			log := logcheck.ReadAll(t, brokers)
			logcheck.Invariants(t, log)
			if len(log.Events) != 500*7 {
				t.Fatalf("want %d events, got %d", 500*7, len(log.Events))
			}
			logcheck.StoreMatches(t, schedule.Kind, log, dir)
			logcheck.StateMatches(t, schedule.Kind, log)
		})
	}
}

// withHooks sets crash hooks.
func withHooks(h processor.Hooks) func(*processor.Config) {
	return func(c *processor.Config) { processor.SetHooks(c, h) }
}

// withKind sets the aggregate kind.
func withRegistry(reg *prometheus.Registry) func(*processor.Config) {
	return func(c *processor.Config) { c.Registerer = reg }
}

func withKind(k aggregate.Kind) func(*processor.Config) {
	return func(c *processor.Config) { c.Kind = k }
}

// TestDuplicatesAndExpectedVersion sends command ids twice — within one
// batch, across batches, and across a cold restore (the index rebuilt
// from schedule-results) — and commands with a stale expected version.
func TestDuplicatesAndExpectedVersion(t *testing.T) {
	brokers := testkit.Kafka(t, testPartitions)
	dir := filepath.Join(t.TempDir(), "p1")
	prod := testkit.Producer(t, brokers)
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	cmd := func(id, typ, data string) testkit.Cmd {
		return testkit.Cmd{Tenant: "t1", Stream: "s1", Type: typ, Data: data, ID: id, Time: at}
	}
	reserve := cmd("r1", "Reserve", `{"visitorId":"v1","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`)
	badCheckIn := cmd("c1", "CheckIn", `{"channel":"fax"}`)
	stale := cmd("c2", "CheckIn", `{"channel":"desk"}`)
	// s2 has no events at all: its only command is rejected, so its dedup
	// entry is all the store knows of it.
	lonely := testkit.Cmd{Tenant: "t1", Stream: "s2", Type: "Reschedule", ID: "x1", Time: at,
		Data: `{"start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`}
	first := []*kgo.Record{reserve.Record(), reserve.Record(), badCheckIn.Record(), badCheckIn.Record(),
		withExpected(stale.Record(), 0), lonely.Record()}
	testkit.Send(t, prod, first)
	p := start(t, brokers, "p1", dir)
	testkit.WaitResults(t, brokers, len(first), time.Minute, p.Alive(t))
	// Once more in a later batch, on the warm store and cache.
	testkit.Send(t, prod, []*kgo.Record{lonely.Record()})
	testkit.WaitResults(t, brokers, len(first)+1, time.Minute, p.Alive(t))
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	// A cold restart: the dedup index must come back from the results.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	second := []*kgo.Record{reserve.Record(), badCheckIn.Record(), withExpected(cmd("c3", "CheckIn", `{"channel":"desk"}`).Record(), 1), lonely.Record()}
	testkit.Send(t, prod, second)
	p = start(t, brokers, "p1", dir)
	testkit.WaitResults(t, brokers, len(first)+len(second)+1, time.Minute, p.Alive(t))
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	log := logcheck.ReadAll(t, brokers)
	results := logcheck.Invariants(t, log)
	statuses := func(id string) (out []string) {
		for _, r := range results[id] {
			out = append(out, r.Status+"/"+r.FirstStatus+"/"+r.Code)
		}
		return out
	}
	for id, want := range map[string][]string{
		"r1": {"accepted//", "duplicate/accepted/", "duplicate/accepted/"},
		"c1": {"rejected//invalid_field", "duplicate/rejected/invalid_field", "duplicate/rejected/invalid_field"},
		"c2": {"rejected//version_conflict"},
		"c3": {"accepted//"},
		"x1": {"rejected//not_reserved", "duplicate/rejected/not_reserved", "duplicate/rejected/not_reserved"},
	} {
		if got := statuses(id); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", id, got, want)
		}
	}
	if rs := results["c2"]; len(rs) == 1 && rs[0].Version != 1 {
		t.Errorf("a version conflict must report the stream's version 1, got %d", rs[0].Version)
	}
	if len(log.Events) != 2 {
		t.Fatalf("want 2 events (Reserved, CheckedIn), got %d", len(log.Events))
	}
}

func withExpected(r *kgo.Record, v uint64) *kgo.Record {
	return testkit.AddHeader(r, topics.HeaderExpectedVersion, strconv.FormatUint(v, 10))
}

// TestCommandIDReuse sends a command id again with another command (it is
// refused with idempotency_key_reused and changes nothing), as an exact
// retry (a duplicate), and after the dedup window (a new command), then
// does the same after a cold restore, when all the processor knows of the
// first outcomes comes from schedule-results.
func TestCommandIDReuse(t *testing.T) {
	brokers := testkit.Kafka(t, testPartitions)
	dir := filepath.Join(t.TempDir(), "p1")
	prod := testkit.Producer(t, brokers)
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	cmd := func(id, typ, data string, at time.Time) *kgo.Record {
		return testkit.Cmd{Tenant: "t1", Stream: "s1", Type: typ, Data: data, ID: id, Time: at}.Record()
	}
	reserve := func(at time.Time) *kgo.Record {
		return cmd("r1", "Reserve", `{"visitorId":"v1","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`, at)
	}
	// The window is measured on the stream's own clock, its commands'
	// times: s2 lives past it, s1 does not.
	const window = time.Hour
	withWindow := func(c *processor.Config) { c.DedupWindow = window }
	walkIn := func(at time.Time) *kgo.Record {
		return testkit.Cmd{Tenant: "t1", Stream: "s2", Type: "CheckIn", Data: `{"channel":"desk","visitorId":"v2"}`, ID: "n1", Time: at}.Record()
	}
	first := []*kgo.Record{
		reserve(at),
		cmd("r1", "CheckIn", `{"channel":"desk"}`, at), // another command under r1's id
		reserve(at.Add(time.Minute)),                   // an exact retry
		withExpected(reserve(at.Add(time.Minute)), 0),  // the same, but with an expected version
		walkIn(at),                             // accepted
		walkIn(at.Add(2 * window)),             // the window is over: a new command (rejected: already checked in)
		walkIn(at.Add(2*window + time.Minute)), // a retry of that one
	}
	testkit.Send(t, prod, first)
	p := start(t, brokers, "p1", dir, withWindow)
	testkit.WaitResults(t, brokers, len(first), time.Minute, p.Alive(t))
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	second := []*kgo.Record{
		cmd("r1", "CheckIn", `{"channel":"desk"}`, at.Add(2*time.Minute)),
		reserve(at.Add(2 * time.Minute)),
		walkIn(at.Add(2*window + 2*time.Minute)),
	}
	testkit.Send(t, prod, second)
	p = start(t, brokers, "p1", dir, withWindow)
	testkit.WaitResults(t, brokers, len(first)+len(second), time.Minute, p.Alive(t))
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	log := logcheck.ReadAll(t, brokers)
	var got []string
	for _, rec := range log.Results {
		r, err := topics.DecodeResult(rec.Value)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.CommandID+" "+r.Status+"/"+r.FirstStatus+"/"+r.Code+" v"+strconv.FormatUint(r.Version, 10))
	}
	slices.Sort(got) // two streams, maybe two partitions: compare as sets
	want := []string{
		"r1 accepted// v1",
		"r1 rejected//idempotency_key_reused v1",
		"r1 duplicate/accepted/ v1",
		"r1 rejected//idempotency_key_reused v1",
		"n1 accepted// v1",
		"n1 rejected//already_checked_in v1",
		"n1 duplicate/rejected/already_checked_in v1",
		// After the cold restore.
		"r1 rejected//idempotency_key_reused v1",
		"r1 duplicate/accepted/ v1",
		"n1 duplicate/rejected/already_checked_in v1",
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("results:\n got %q\nwant %q", got, want)
	}
	if len(log.Events) != 2 {
		t.Fatalf("want 2 events (Reserved, CheckedIn), got %d", len(log.Events))
	}
}

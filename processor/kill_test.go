package processor_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/testing/logcheck"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/processor"
	"github.com/rewind/rewind/topics"
)

// TestKillProcesses runs devkafka and the processor as OS processes, sends
// load, and SIGKILLs the processor again and again in the middle of its
// work (sometimes deleting its data dir, forcing a cold restore; once
// stopping it with SIGTERM instead), and stops devkafka once (SIGTERM;
// why not SIGKILL is said at i == 4), restarting each on its data dir. The invariants must hold
// from the topics, and the final Pebble state must equal the fold of the
// events. With two members in the process, each has a transaction of its
// own in flight when the process dies.
func TestKillProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: builds the binaries and starts devkafka and processor processes")
	}
	for _, members := range []int{1, 2} {
		t.Run(fmt.Sprintf("members=%d", members), func(t *testing.T) { testKillProcesses(t, members) })
	}
}

func testKillProcesses(t *testing.T, members int) {
	base := t.TempDir()
	kafkaAddr := testkit.FreeAddr(t)
	kafkaDir, procDir := filepath.Join(base, "kafka"), filepath.Join(base, "processor")
	logFile := testkit.LogFile(t, base)
	startKafka := func() *testkit.Process { return testkit.StartKafka(t, logFile, kafkaAddr, kafkaDir) }
	startProc := func() *testkit.Process {
		return testkit.Start(t, "processor", logFile, "-brokers", kafkaAddr, "-instance-id", "p1",
			"-data-dir", procDir, "-http", testkit.FreeAddr(t), "-partitions", fmt.Sprint(testPartitions), "-max-batch", "300", "-members", fmt.Sprint(members))
	}
	kafka := startKafka()
	testkit.Topics(t, kafkaAddr, testPartitions)
	proc := startProc()

	recs := testkit.Interleave("clinic-1", 1500, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	// Load flows all along (about 5k commands/s), across every kill and
	// the broker's restart: the producer retries until Kafka is back.
	sent := testkit.Trickle(testkit.Producer(t, kafkaAddr), recs, 50, 10*time.Millisecond, 3*time.Minute)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 8 {
		time.Sleep(time.Duration(150+r.IntN(200)) * time.Millisecond)
		if i == 6 {
			// A graceful stop under load: the batch in flight finishes.
			testkit.StopCleanly(t, proc, syscall.SIGTERM, 30*time.Second)
		}
		proc.Kill()
		if i%3 == 2 {
			if err := os.RemoveAll(procDir); err != nil {
				t.Fatal(err)
			}
		}
		if i == 4 {
			// SIGTERM, not SIGKILL: kfake, killed while a transaction is
			// live, can come back having aborted records of a transaction
			// whose offsets it then commits (docs/operations.md, the
			// development broker). TestRestoreAfterBrokerCrashInTransaction
			// covers SIGKILL.
			testkit.StopCleanly(t, kafka, syscall.SIGTERM, 30*time.Second)
			kafka = startKafka()
		}
		proc = startProc()
	}
	if err := <-sent; err != nil {
		t.Fatalf("producing the load: %v", err)
	}
	testkit.WaitResults(t, kafkaAddr, len(recs), 3*time.Minute, nil)
	testkit.StopCleanly(t, proc, syscall.SIGTERM, 30*time.Second)
	log := logcheck.ReadAll(t, kafkaAddr)
	logcheck.Invariants(t, log)
	if len(log.Events) != 1500*7 {
		t.Fatalf("want %d events, got %d", 1500*7, len(log.Events))
	}
	logcheck.StoreMatches(t, schedule.Kind, log, processor.MemberDirs(procDir, members)...)
	logcheck.StateMatches(t, schedule.Kind, log)
}

// TestRestoreAfterBrokerCrashInTransaction kills devkafka while a
// transaction is open. kfake then aborts it without writing a marker, so
// a read-committed consumer never reaches the partition's end; restore
// must still finish (and must not fold the aborted records).
func TestRestoreAfterBrokerCrashInTransaction(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: starts a devkafka process")
	}
	base := t.TempDir()
	kafkaAddr := testkit.FreeAddr(t)
	kafkaDir := filepath.Join(base, "kafka")
	logFile := testkit.LogFile(t, base)
	startKafka := func() *testkit.Process { return testkit.StartKafka(t, logFile, kafkaAddr, kafkaDir) }
	kafka := startKafka()
	testkit.Topics(t, kafkaAddr, testPartitions)
	recs := testkit.Interleave("clinic-1", 50, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	testkit.Send(t, testkit.Producer(t, kafkaAddr), recs)
	p := start(t, kafkaAddr, "p1", filepath.Join(base, "p1"))
	testkit.WaitResults(t, kafkaAddr, len(recs), time.Minute, p.Alive(t))
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}

	// A zombie transaction: an event that would break I1 if folded.
	zombie, err := kgo.NewClient(kgo.SeedBrokers(kafkaAddr), kgo.TransactionalID("zombie"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	key := "clinic-1/s000000"
	part := topics.PartitionFor(key, testPartitions)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bogus := &kgo.Record{Topic: topics.Events, Partition: part, Key: []byte(key + "/99"), Value: []byte(`{}`),
		Headers: []kgo.RecordHeader{{Key: topics.HeaderType, Value: []byte("CheckedOut")}}}
	if err := zombie.ProduceSync(ctx, bogus).FirstErr(); err != nil {
		t.Fatal(err)
	}
	kafka.Kill()
	zombie.Close()
	startKafka() // stopped by the test's cleanup

	// A cold restore over the unmarked aborted tail, then more work.
	dir := filepath.Join(base, "p2")
	p = start(t, kafkaAddr, "p1", dir)
	if !testkit.Eventually(time.Minute, p.Ready) {
		t.Fatal("restore did not finish over an aborted tail")
	}
	more := testkit.Cmd{Tenant: "clinic-1", Stream: "s000000", Type: "CheckIn", Data: `{"channel":"desk"}`, ID: "after-crash"}
	// An accepted command on the same partition puts a commit marker after
	// the aborted tail, so readers of the log see its end again.
	neighbour := ""
	for i := 0; neighbour == ""; i++ {
		if id := fmt.Sprint("n", i); topics.PartitionFor("clinic-1/"+id, testPartitions) == part {
			neighbour = id
		}
	}
	walkIn := testkit.Cmd{Tenant: "clinic-1", Stream: neighbour, Type: "CheckIn", Data: `{"channel":"desk","visitorId":"v1"}`, ID: "walk-in"}
	testkit.Send(t, testkit.Producer(t, kafkaAddr), []*kgo.Record{more.Record(), walkIn.Record()})
	testkit.WaitResults(t, kafkaAddr, len(recs)+2, time.Minute, p.Alive(t))
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	log := logcheck.ReadAll(t, kafkaAddr)
	results := logcheck.Invariants(t, log)
	if rs := results["after-crash"]; len(rs) != 1 || rs[0].Code != "closed" {
		t.Fatalf("want the checked-out visit to reject with closed, got %+v", rs)
	}
	if rs := results["walk-in"]; len(rs) != 1 || rs[0].Status != topics.StatusAccepted || rs[0].Version != 1 {
		t.Fatalf("want the walk-in accepted at version 1, got %+v", rs)
	}
	logcheck.StoreMatches(t, schedule.Kind, log, dir)
	logcheck.StateMatches(t, schedule.Kind, log)
}

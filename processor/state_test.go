package processor_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/testing/inproc"
	"github.com/rewind/rewind/internal/testing/logcheck"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/processor"
	"github.com/rewind/rewind/store"
	"github.com/rewind/rewind/topics"
)

// TestColdRestoreFromStateTopic: a member with an empty disk restores
// every partition from the state topic, reading no event; its store then
// equals the fold of the events, and duplicates of commands handled by
// the lost member are still answered with their first outcome. The state
// topic keeps all of that through a compaction.
func TestColdRestoreFromStateTopic(t *testing.T) {
	cluster, brokers := testkit.Cluster(t)
	testkit.Topics(t, brokers, testPartitions)
	// Recent commands: compaction applies retention to the commands and
	// results topics as well.
	recs := testkit.Interleave("clinic-1", 600, time.Now().Add(-time.Hour))
	prod := testkit.Producer(t, brokers)
	testkit.Send(t, prod, recs)
	p := start(t, brokers, "p1", filepath.Join(t.TempDir(), "p1"))
	testkit.WaitResults(t, brokers, len(recs), 2*time.Minute, p.Alive(t))
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	before := logcheck.ReadAll(t, brokers)
	logcheck.StateMatches(t, schedule.Kind, before)

	cluster.Compact()
	log := logcheck.ReadAll(t, brokers)
	logcheck.StateMatches(t, schedule.Kind, log)
	if len(log.State) >= len(before.State) {
		t.Fatalf("compaction removed nothing from the state topic (%d records)", len(log.State))
	}
	t.Logf("state topic: %d records, %d after compaction, for %d events", len(before.State), len(log.State), len(log.Events))

	dir := filepath.Join(t.TempDir(), "cold")
	r, reg := startReady(t, brokers, "p2", dir)
	if n := testkit.Metric(t, reg, "rewind_processor_restore_events_total"); n != 0 {
		t.Fatalf("a cold restore with a state topic folded %v events", n)
	}
	if n := restoredFrom(t, reg, "state"); n != testPartitions {
		t.Fatalf("%d partitions restored from the state topic, want %d", n, testPartitions)
	}
	// Retries of commands the lost member handled: new records with the
	// same key, value and headers.
	var retries []*kgo.Record
	for _, rec := range recs[:50] {
		retries = append(retries, &kgo.Record{Topic: rec.Topic, Key: rec.Key, Value: rec.Value, Headers: rec.Headers})
	}
	testkit.Send(t, prod, retries)
	testkit.WaitResults(t, brokers, len(recs)+len(retries), time.Minute, r.Alive(t))
	if err := r.Stop(t); err != nil {
		t.Fatal(err)
	}
	log = logcheck.ReadAll(t, brokers)
	results := logcheck.Invariants(t, log)
	for _, rec := range retries {
		id := topics.CommandID(rec)
		rs := results[id]
		if len(rs) != 2 || rs[1].Status != topics.StatusDuplicate || rs[1].FirstStatus != rs[0].Status ||
			rs[1].Version != rs[0].Version || rs[1].Code != rs[0].Code || len(rs[1].Events) != len(rs[0].Events) {
			t.Fatalf("retry of %s after a cold restore: %+v", id, rs)
		}
	}
	logcheck.StoreMatches(t, schedule.Kind, log, dir)
}

// startReady starts a processor with a registry of its own and waits
// until it owns every partition and is ready. Owned first: it is set
// after the partitions are marked restoring, so a Ready read after it is
// not one from before the assignment.
func startReady(t *testing.T, brokers, instance, dir string, options ...func(*processor.Config)) (*inproc.Processor, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	r := start(t, brokers, instance, dir, append(options, withRegistry(reg))...)
	restored := testkit.Eventually(time.Minute, func() bool {
		r.Alive(t)()
		return testkit.Metric(t, reg, "rewind_processor_partitions_owned") == testPartitions && r.Ready()
	})
	if !restored {
		t.Fatal("restore did not finish in a minute")
	}
	return r, reg
}

// restoredFrom is how many partitions were restored from source: "state"
// (the whole state topic), "state-tail" (since the checkpoint) or "events"
// (a fold).
func restoredFrom(t *testing.T, reg *prometheus.Registry, source string) uint64 {
	t.Helper()
	return uint64(testkit.Samples(t, reg)[`rewind_processor_restore_seconds_count{source="`+source+`"}`])
}

// TestOversizedStreamRecord: a stream whose record outgrows a Kafka
// record (photo sessions by the thousand) gets the oversized marker on
// the state topic instead; a cold restore then folds that partition's
// events, and the store still equals the fold.
func TestOversizedStreamRecord(t *testing.T) {
	brokers := testkit.Kafka(t, testPartitions)
	at := time.Now().Add(-time.Hour)
	recs := []*kgo.Record{testkit.Cmd{Tenant: "clinic-1", Stream: "photos", Type: "CheckIn",
		Data: `{"channel":"desk","visitorId":"v1"}`, ID: "photos-0", Time: at}.Record()}
	for i := 1; i < 15000; i++ {
		recs = append(recs, testkit.Cmd{Tenant: "clinic-1", Stream: "photos", Type: "TakePhotos",
			Data: `{"kind":"after","count":1}`, ID: fmt.Sprint("photos-", i), Time: at.Add(time.Duration(i) * time.Millisecond)}.Record())
	}
	recs = append(recs, testkit.Interleave("clinic-1", 200, at)...)
	testkit.Send(t, testkit.Producer(t, brokers), recs)
	p := start(t, brokers, "p1", filepath.Join(t.TempDir(), "p1"))
	testkit.WaitResults(t, brokers, len(recs), 2*time.Minute, p.Alive(t))
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	log := logcheck.ReadAll(t, brokers)
	var last []byte
	for _, r := range log.State {
		if string(r.Key) == "clinic-1/photos" {
			last = r.Value
		}
	}
	if len(last) > topics.MaxStateValue || len(last) == 0 {
		t.Fatalf("the photo stream's latest state record has %d bytes", len(last))
	}
	if _, err := store.RecordLogic(last); err == nil {
		t.Fatalf("the photo stream's record (%d bytes) fits a Kafka record: the test needs a larger state", len(last))
	}

	dir := filepath.Join(t.TempDir(), "cold")
	r, reg := startReady(t, brokers, "p2", dir)
	if n := restoredFrom(t, reg, "events"); n != 1 {
		t.Fatalf("%d partitions folded the events, want the photo stream's only", n)
	}
	if err := r.Stop(t); err != nil {
		t.Fatal(err)
	}
	logcheck.StoreMatches(t, schedule.Kind, logcheck.ReadAll(t, brokers), dir)
}

// TestLogicChangeKeepsIDsWithoutResults: after a logic change the fold
// takes the remembered ids, with their first outcomes, from the old
// version's state records, not from schedule-results. With the results
// gone (past their retention), a retry is still answered as a duplicate.
func TestLogicChangeKeepsIDsWithoutResults(t *testing.T) {
	brokers := testkit.Kafka(t, testPartitions)
	dir := filepath.Join(t.TempDir(), "p1")
	recs := testkit.Interleave("clinic-1", 100, time.Now().Add(-time.Hour))
	prod := testkit.Producer(t, brokers)
	testkit.Send(t, prod, recs)
	p := start(t, brokers, "p1", dir)
	testkit.WaitResults(t, brokers, len(recs), time.Minute, p.Alive(t))
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	first := logcheck.Invariants(t, logcheck.ReadAll(t, brokers))[topics.CommandID(recs[0])]

	adm := kadm.NewClient(testkit.Producer(t, brokers))
	ends, err := adm.ListEndOffsets(context.Background(), topics.Results)
	if err != nil {
		t.Fatal(err)
	}
	deleted, err := adm.DeleteRecords(context.Background(), ends.Offsets())
	if err != nil || deleted.Error() != nil {
		t.Fatalf("delete the results: %v %v", err, deleted.Error())
	}

	r, _ := startReady(t, brokers, "p1", dir, withKind(bumped{schedule.Kind}))
	retry := &kgo.Record{Topic: recs[0].Topic, Key: recs[0].Key, Value: recs[0].Value, Headers: recs[0].Headers}
	testkit.Send(t, prod, []*kgo.Record{retry})
	testkit.WaitResults(t, brokers, 1, time.Minute, r.Alive(t))
	if err := r.Stop(t); err != nil {
		t.Fatal(err)
	}
	log := logcheck.ReadAll(t, brokers)
	if len(log.Results) != 1 {
		t.Fatalf("%d results after the deletion, want the retry's", len(log.Results))
	}
	res, err := topics.DecodeResult(log.Results[0].Value)
	if err != nil || res.Status != topics.StatusDuplicate || len(first) != 1 || res.FirstStatus != first[0].Status || res.Version != first[0].Version {
		t.Fatalf("the retry after a logic change without results: %+v (%v), first outcome %+v", res, err, first)
	}
	logcheck.StoreMatches(t, schedule.Kind, log, dir)
	logcheck.StateMatches(t, bumped{schedule.Kind}, log)
}

// TestFoldAfterResultsExpired: a fold whose results partitions hold no
// record any more (all past their retention) finishes; it used to wait
// forever for a last record that no longer exists.
func TestFoldAfterResultsExpired(t *testing.T) {
	brokers := testkit.Kafka(t, testPartitions)
	recs := testkit.Interleave("clinic-1", 100, time.Now().Add(-time.Hour))
	testkit.Send(t, testkit.Producer(t, brokers), recs)
	p := start(t, brokers, "p1", filepath.Join(t.TempDir(), "p1"))
	testkit.WaitResults(t, brokers, len(recs), time.Minute, p.Alive(t))
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	// No results, and no state topic to restore from: a fold of the
	// events alone.
	adm := kadm.NewClient(testkit.Producer(t, brokers))
	ends, err := adm.ListEndOffsets(context.Background(), topics.Results)
	if err != nil {
		t.Fatal(err)
	}
	if deleted, err := adm.DeleteRecords(context.Background(), ends.Offsets()); err != nil || deleted.Error() != nil {
		t.Fatalf("delete the results: %v %v", err, deleted.Error())
	}
	if _, err := adm.DeleteTopics(context.Background(), topics.State); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "cold")
	r, reg := startReady(t, brokers, "p2", dir)
	if n := restoredFrom(t, reg, "events"); n != testPartitions {
		t.Fatalf("%d partitions folded the events, want %d", n, testPartitions)
	}
	if err := r.Stop(t); err != nil {
		t.Fatal(err)
	}
	logcheck.StoreMatches(t, schedule.Kind, logcheck.ReadAll(t, brokers), dir)
}

// TestVersion1EventsRestore: a processor with no state folds events in
// schema version 1, written by the code of logic version 1, upcast: its
// store and the state topic it rewrites hold who canceled, unrecorded.
func TestVersion1EventsRestore(t *testing.T) {
	brokers := testkit.Kafka(t, testPartitions)
	testkit.CommitEvents(t, brokers, testkit.Version1Events(t, "", testPartitions))

	dir := filepath.Join(t.TempDir(), "p1")
	p, reg := startReady(t, brokers, "p1", dir)
	if n := restoredFrom(t, reg, "events"); n != testPartitions {
		t.Fatalf("%d partitions folded from the events, want %d", n, testPartitions)
	}
	// Closed visits stay closed: the fold happened.
	cmds := []testkit.Cmd{{Tenant: "clinic-1", Stream: "visit-canceled", Type: "CheckIn", Data: `{"channel":"desk"}`, ID: "late-1"}}
	testkit.Send(t, testkit.Producer(t, brokers), []*kgo.Record{cmds[0].Record()})
	testkit.WaitResults(t, brokers, 1, time.Minute, p.Alive(t))
	// The loop copies the folded partitions to the state topic.
	logcheck.WaitStateComplete(t, brokers, schedule.LogicVersion, time.Minute)
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	log := logcheck.ReadAll(t, brokers)
	results := logcheck.Invariants(t, log)
	if rs := results["late-1"]; len(rs) != 1 || rs[0].Code != schedule.CodeClosed {
		t.Fatalf("check-in on a canceled visit: %+v", rs)
	}
	logcheck.StateMatches(t, schedule.Kind, log)
	logcheck.StoreMatches(t, schedule.Kind, log, dir)
	for _, r := range log.State {
		if string(r.Key) != "clinic-1/visit-canceled" {
			continue
		}
		rec, err := store.DecodeStream(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		s, err := schedule.Kind.DecodeState(rec.State)
		if err != nil || s.(schedule.State).Reservation.CanceledBy != schedule.CanceledByUnrecorded {
			t.Fatalf("visit-canceled on the state topic: %+v %v", s, err)
		}
	}
}

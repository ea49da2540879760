package processor_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/testing/logcheck"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/kv"
	"github.com/rewind/rewind/processor"
	"github.com/rewind/rewind/shred"
	"github.com/rewind/rewind/store"
	"github.com/rewind/rewind/topics"
)

// The personal values of TestPersonalData: none may reach a topic other
// than the commands', nor a Pebble file, in clear.
var plaintexts = []string{"Kim Minji", "010-5555-1234", "allergic to lidocaine", "moving to Busan", "Lee Seojun"}

// TestPersonalData sends personal data, checks that only sealed values
// reach the topics and the store, erases one visitor, and checks what an
// erasure leaves: every version, a refusal of new personal data of the
// visitor, the other visitor's data, and all of it through a cold restore
// and a logic-version refold.
func TestPersonalData(t *testing.T) {
	_, brokers := testkit.Cluster(t)
	dir := filepath.Join(t.TempDir(), "p1")
	p := start(t, brokers, "p1", dir)
	first := []*kgo.Record{
		personalCmd("s1", "Reserve", `{"visitorId":"v-1","visitor":{"name":"Kim Minji","phone":"010-5555-1234"},"start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`, "a1"),
		personalCmd("s1", "CheckIn", `{"channel":"desk"}`, "a2"),
		personalCmd("s1", "StartConsultation", `{"counselorId":"c1"}`, "a3"),
		personalCmd("s1", "CompleteConsultation", `{"notes":"allergic to lidocaine"}`, "a4"),
		personalCmd("s2", "Reserve", `{"visitorId":"v-1","start":"2026-03-09T10:00:00Z","end":"2026-03-09T11:00:00Z"}`, "b1"),
		personalCmd("s2", "CancelReservation", `{"by":"patient","reason":"moving to Busan"}`, "b2"),
		personalCmd("s3", "Reserve", `{"visitorId":"v-2","visitor":{"name":"Lee Seojun"},"start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`, "c1"),
	}
	testkit.Send(t, testkit.Producer(t, brokers), first)
	testkit.WaitResults(t, brokers, len(first), time.Minute, p.Alive(t))
	erase := erasures(t)
	manual, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer manual.Close()
	testkit.Send(t, manual, erase)
	after := []*kgo.Record{
		personalCmd("s4", "Reserve", `{"visitorId":"v-1","visitor":{"name":"Kim Minji"},"start":"2026-03-09T10:00:00Z","end":"2026-03-09T11:00:00Z"}`, "d1"),
		personalCmd("s5", "Reserve", `{"visitorId":"v-1","start":"2026-03-09T10:00:00Z","end":"2026-03-09T11:00:00Z"}`, "e1"),
		personalCmd("s1", "CheckOut", `{}`, "a5"),
	}
	testkit.Send(t, testkit.Producer(t, brokers), after)
	total := len(first) + len(erase) + len(after)
	testkit.WaitResults(t, brokers, total, time.Minute, p.Alive(t))
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	log := logcheck.ReadAll(t, brokers)
	checkErasures(t, logcheck.Invariants(t, log))
	sealedAtRest(t, brokers, dir, log)
	// Read back through the keys: v-2's values open, v-1's are erased, and
	// so after a cold restore, which must still refuse v-1's new data.
	keysOpen(t, brokers, log)
	erasedThroughRestores(t, brokers, total)
}

// personalAt is the time of TestPersonalData's commands.
var personalAt = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func personalCmd(stream, typ, data, id string) *kgo.Record {
	return testkit.Cmd{Tenant: "clinic-1", Stream: stream, Type: typ, Data: data, ID: id, Time: personalAt}.Record()
}

// erasures are the erasure records of TestPersonalData: v-1's on every
// partition, as ingest sends it, after erasures of v-2 that ingest did
// not sign: one unsigned, one signed with another key, and one whose
// reason was changed after signing. Those are rejected, and v-2's data
// stays.
func erasures(t *testing.T) []*kgo.Record {
	at := personalAt
	erase := testkit.Erasure(t, aggregate.Meta{ID: "e1", Tenant: "clinic-1", Stream: "v-1", Initiator: "dpo", Time: at.Add(time.Hour)},
		"the patient asked", testPartitions)
	unsigned := topics.EraseRecords(aggregate.Meta{ID: "x1", Tenant: "clinic-1", Stream: "v-2", Initiator: "rogue", Time: at}, "", testPartitions)
	other, err := shred.ParseSigner([]byte(shred.NewKEKLine("test-erase-1")))
	if err != nil {
		t.Fatal(err)
	}
	forged := topics.EraseRecords(aggregate.Meta{ID: "x2", Tenant: "clinic-1", Stream: "v-2", Initiator: "rogue", Time: at}, "", testPartitions)
	for _, r := range forged {
		topics.SignErasure(r, other)
	}
	tampered := testkit.Erasure(t, aggregate.Meta{ID: "x3", Tenant: "clinic-1", Stream: "v-2", Initiator: "dpo", Time: at}, "asked", testPartitions)
	for _, r := range tampered {
		r.Value = []byte(`{"reason":"asked twice"}`)
	}
	return append(append(append(unsigned, forged...), tampered...), erase...)
}

// checkErasures: v-1's erasure is accepted on every partition and
// counts its two schedules, the erasures ingest did not sign are
// rejected, and v-1's new personal data is refused, not its new
// reservation without any.
func checkErasures(t *testing.T, results map[string][]topics.Result) {
	schedules := 0
	for i := range int32(testPartitions) {
		rs := results[topics.EraseID("e1", i)]
		if len(rs) != 1 || rs[0].Status != topics.StatusAccepted {
			t.Fatalf("erasure on partition %d: %+v", i, rs)
		}
		schedules += rs[0].Schedules
	}
	if schedules != 2 {
		t.Errorf("the erasure counted %d schedules of v-1, want 2", schedules)
	}
	for _, id := range []string{"x1", "x2", "x3"} {
		for i := range int32(testPartitions) {
			if rs := results[topics.EraseID(id, i)]; len(rs) != 1 || rs[0].Code != topics.CodeErasureUnsigned {
				t.Fatalf("an erasure ingest did not sign (%s, partition %d): want %s, got %+v", id, i, topics.CodeErasureUnsigned, rs)
			}
		}
	}
	if rs := results["d1"]; len(rs) != 1 || rs[0].Code != processor.CodePersonalDataErased {
		t.Errorf("new personal data of an erased visitor: want %s, got %+v", processor.CodePersonalDataErased, rs)
	}
	for _, id := range []string{"e1", "a5"} {
		if rs := results[id]; len(rs) != 1 || rs[0].Status != topics.StatusAccepted {
			t.Errorf("%s after the erasure: want accepted, got %+v", id, rs)
		}
	}
}

// sealedAtRest: no personal value is in clear on the topics, in the
// store's files or in its stream records, and the states keep none.
func sealedAtRest(t *testing.T, brokers, dir string, log *logcheck.Log) {
	noPlaintext(t, "the broker's topics", rawTopics(t, brokers, topics.Events, topics.Results, topics.State, topics.Keys))
	for file, data := range testkit.Files(t, dir) {
		noPlaintext(t, file, data)
	}
	noPlaintext(t, "the processor's stream records", storedStreams(t, dir))
	// The processor's rules never read a personal value: its states keep
	// none, not even sealed.
	for where, data := range map[string][]byte{"schedule-state": rawTopics(t, brokers, topics.State), "the processor's stream records": storedStreams(t, dir)} {
		if n := bytes.Count(data, []byte("~pd1:")); n > 0 {
			t.Errorf("%s: %d sealed values; states keep none", where, n)
		}
	}
	logcheck.StoreMatches(t, schedule.Kind, log, dir)
	logcheck.StateMatches(t, schedule.Kind, log)
}

// keysOpen opens every sealed value of the events with the keys of
// schedule-keys: only v-2's open, v-1's four are erased.
func keysOpen(t *testing.T, brokers string, log *logcheck.Log) {
	tab := keyTable(t, brokers)
	opened := map[string]string{}
	var erased int
	for _, e := range log.Events {
		for _, tok := range tokens(e.Value) {
			plain, err := tab.Open(string(e.Key[:bytes.LastIndexByte(e.Key, '/')]), tok)
			switch {
			case errors.Is(err, shred.ErrErased):
				erased++
			case err != nil:
				t.Errorf("a sealed value of %s does not open: %v", e.Key, err)
			default:
				opened[plain] = string(e.Key)
			}
		}
	}
	if _, ok := opened["Lee Seojun"]; !ok || len(opened) != 1 || erased != 4 {
		t.Errorf("opened %v and %d erased, want only Lee Seojun open and v-1's 4 values erased", opened, erased)
	}
}

// erasedThroughRestores: after a cold restore, and after a logic change
// that refolds every stream, v-1's new personal data is still refused
// and v-2's accepted, and the refolded states keep no sealed value.
func erasedThroughRestores(t *testing.T, brokers string, total int) {
	p := start(t, brokers, "p1", filepath.Join(t.TempDir(), "cold"))
	again := []*kgo.Record{
		personalCmd("s6", "Reserve", `{"visitorId":"v-1","visitor":{"phone":"010-0000-0000"},"start":"2026-03-09T10:00:00Z","end":"2026-03-09T11:00:00Z"}`, "f1"),
		personalCmd("s7", "Reserve", `{"visitorId":"v-2","visitor":{"phone":"010-1111-2222"},"start":"2026-03-09T10:00:00Z","end":"2026-03-09T11:00:00Z"}`, "f2"),
	}
	testkit.Send(t, testkit.Producer(t, brokers), again)
	testkit.WaitResults(t, brokers, total+len(again), time.Minute, p.Alive(t))
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	results := logcheck.Invariants(t, logcheck.ReadAll(t, brokers))
	if rs := results["f1"]; len(rs) != 1 || rs[0].Code != processor.CodePersonalDataErased {
		t.Errorf("after a cold restore, new personal data of the erased visitor: %+v", rs)
	}
	if rs := results["f2"]; len(rs) != 1 || rs[0].Status != topics.StatusAccepted {
		t.Errorf("after a cold restore, the other visitor's new personal data: %+v", rs)
	}

	// A logic change refolds every stream from the events, erased tokens
	// and all: the states come out without personal values, and the
	// erasure still holds.
	bump := []*kgo.Record{
		personalCmd("s8", "Reserve", `{"visitorId":"v-1","visitor":{"name":"Kim Minji"},"start":"2026-03-09T10:00:00Z","end":"2026-03-09T11:00:00Z"}`, "g1"),
		personalCmd("s3", "CheckIn", `{"channel":"desk"}`, "g2"),
	}
	p = start(t, brokers, "p1", filepath.Join(t.TempDir(), "cold"), withKind(bumped{schedule.Kind}))
	testkit.Send(t, testkit.Producer(t, brokers), bump)
	testkit.WaitResults(t, brokers, total+len(again)+len(bump), time.Minute, p.Alive(t))
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	log := logcheck.ReadAll(t, brokers)
	results = logcheck.Invariants(t, log)
	if rs := results["g1"]; len(rs) != 1 || rs[0].Code != processor.CodePersonalDataErased {
		t.Errorf("after a refold, new personal data of the erased visitor: %+v", rs)
	}
	if rs := results["g2"]; len(rs) != 1 || rs[0].Status != topics.StatusAccepted {
		t.Errorf("after a refold, the other visitor's check-in: %+v", rs)
	}
	if n := bytes.Count(rawTopics(t, brokers, topics.State), []byte("~pd1:")); n > 0 {
		t.Errorf("schedule-state after a refold: %d sealed values", n)
	}
	logcheck.StateMatches(t, bumped{schedule.Kind}, log)
}

// noPlaintext fails when any of the personal values is in data.
func noPlaintext(t *testing.T, where string, data []byte) {
	t.Helper()
	for _, p := range plaintexts {
		if bytes.Contains(data, []byte(p)) {
			t.Errorf("%s: %q in clear", where, p)
		}
	}
}

// rawTopics is every key, value and header of the topics, read
// uncommitted: aborted records count too.
func rawTopics(t *testing.T, brokers string, names ...string) []byte {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(names...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var all bytes.Buffer
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		if fs.NumRecords() == 0 {
			return all.Bytes()
		}
		fs.EachRecord(func(r *kgo.Record) {
			all.Write(r.Key)
			all.Write(r.Value)
			for _, h := range r.Headers {
				all.WriteString(h.Key)
				all.Write(h.Value)
			}
		})
	}
}

// keyTable reads the key topic into a table, as a reader of the events
// would.
func keyTable(t *testing.T, brokers string) *shred.Table {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topics.Keys),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	tab := shred.NewTable(testkit.Keyring(t))
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		if fs.NumRecords() == 0 {
			return tab
		}
		fs.EachRecord(func(r *kgo.Record) {
			rec, err := shred.DecodeRecord(r.Key, r.Value, r.Partition)
			if err == nil {
				err = tab.Apply(rec)
			}
			if err != nil {
				t.Errorf("key record at %d/%d: %v", r.Partition, r.Offset, err)
			}
		})
	}
}

// tokens are the sealed values in an event's JSON.
func tokens(value []byte) []string {
	var out []string
	for _, part := range strings.Split(string(value), `"`) {
		if shred.IsToken(part) {
			out = append(out, part)
		}
	}
	return out
}

// storedStreams is every stream record of the store in dir, read through
// Pebble: its files may be compressed, and a grep of them could miss a
// value.
func storedStreams(t *testing.T, dir string) []byte {
	t.Helper()
	st, err := store.Open(dir, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var all bytes.Buffer
	for part := range int32(testPartitions) {
		if _, err := st.PartitionStreams(part, "", 1<<30, func(stream string, rec []byte) error {
			all.WriteString(stream)
			all.Write(rec)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return all.Bytes()
}

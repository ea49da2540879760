// Package logcheck reads what the topics hold and checks Rewind's
// invariants I1–I5 (docs/processor.md) on it, from the topics themselves,
// never from a processor's own view; and that the processor's store and
// the state topic hold what folding the events gives.
package logcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/kv"
	"github.com/rewind/rewind/shred"
	"github.com/rewind/rewind/store"
	"github.com/rewind/rewind/topics"
)

// Log is what the topics hold, read committed, from start to end.
type Log struct {
	// Partitions is the partition count of the topics.
	Partitions int32
	Commands   []*kgo.Record
	Events     []*kgo.Record
	Results    []*kgo.Record
	State      []*kgo.Record
	Keys       []*kgo.Record
}

// ReadAll reads the topics the processors write, and the commands, to
// their current ends.
func ReadAll(t testing.TB, brokers string) *Log {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adm, err := kadm.NewOptClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ends, err := adm.ListCommittedOffsets(ctx, topics.All()...)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topics.All()...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	starts, err := adm.ListStartOffsets(ctx, topics.All()...)
	if err != nil {
		t.Fatal(err)
	}
	remaining := map[string]map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		// A partition whose records were all deleted (retention,
		// DeleteRecords) has nothing to read up to its end.
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok && s.Offset >= o.Offset {
			return
		}
		if o.Offset > 0 {
			if remaining[o.Topic] == nil {
				remaining[o.Topic] = map[int32]int64{}
			}
			remaining[o.Topic][o.Partition] = o.Offset
		}
	})
	count := func() (n int) {
		for _, m := range remaining {
			n += len(m)
		}
		return n
	}
	details, err := adm.ListTopics(ctx, topics.Commands)
	if err != nil {
		t.Fatal(err)
	}
	log := &Log{Partitions: int32(len(details[topics.Commands].Partitions))}
	for count() > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading topics: %v (left %v)", ctx.Err(), remaining)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := remaining[r.Topic][r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if r.Offset+1 >= end {
				delete(remaining[r.Topic], r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			log.add(r)
		})
	}
	return log
}

// add files r under its topic.
func (l *Log) add(r *kgo.Record) {
	switch r.Topic {
	case topics.Commands:
		l.Commands = append(l.Commands, r)
	case topics.Events:
		l.Events = append(l.Events, r)
	case topics.Results:
		l.Results = append(l.Results, r)
	case topics.State:
		l.State = append(l.State, r)
	case topics.Keys:
		l.Keys = append(l.Keys, r)
	}
}

// Invariants checks I1, I2 and I3 on the log and returns the results by
// command record ("topic/partition/offset" of the command, via commandId
// when the command had one) for further checks.
func Invariants(t testing.TB, log *Log) map[string][]topics.Result {
	t.Helper()
	// I1: versions 1..n per stream, contiguous, no duplicate.
	versions := map[string][]uint64{}
	byPredecessor := map[string]map[string]bool{}
	for _, r := range log.Events {
		e, err := topics.DecodeEvent(r)
		if err != nil {
			t.Fatalf("undecodable event at %d/%d: %v", r.Partition, r.Offset, err)
		}
		key := topics.StreamKey(e.Tenant, e.Stream)
		versions[key] = append(versions[key], e.Version)
		if topics.PartitionFor(key, log.Partitions) != r.Partition {
			t.Errorf("I1: event of %s on partition %d", key, r.Partition)
		}
		if byPredecessor[e.PredecessorID] == nil {
			byPredecessor[e.PredecessorID] = map[string]bool{}
		}
		byPredecessor[e.PredecessorID][fmt.Sprint(e.Version)] = true
	}
	for key, vs := range versions {
		for i, v := range vs {
			if v != uint64(i+1) {
				t.Fatalf("I1: stream %s has versions %v", key, head(vs))
			}
		}
	}
	// I2: every command record gets exactly one result. Results are
	// matched to records by command id; ids repeat only for deliberate
	// duplicates, so count records and results per id.
	records := map[string]int{}
	for _, r := range log.Commands {
		records[topics.CommandID(r)]++
	}
	results := map[string][]topics.Result{}
	for _, r := range log.Results {
		res, err := topics.DecodeResult(r.Value)
		if err != nil {
			t.Fatalf("undecodable result: %v", err)
		}
		results[res.CommandID] = append(results[res.CommandID], res)
	}
	for id, n := range records {
		if got := len(results[id]); got != n {
			t.Fatalf("I2: command %q: %d records, %d results", id, n, got)
		}
	}
	for id := range results {
		if records[id] == 0 {
			t.Fatalf("I2: result for command %q that was never sent", id)
		}
	}
	// I3: a command id produces events at most once.
	for id, rs := range results {
		accepted := 0
		for _, r := range rs {
			if r.Status == topics.StatusAccepted {
				accepted++
			}
		}
		if accepted > 1 {
			t.Fatalf("I3: command %q accepted %d times", id, accepted)
		}
		if accepted == 0 && len(byPredecessor[id]) > 0 {
			t.Fatalf("I3: command %q has events but no accepted result", id)
		}
	}
	return results
}

// processorState is a folded state as the processor keeps it: without
// personal values, which its rules never read.
func processorState(s any) any {
	s, _ = aggregate.DropPersonal(s)
	return s
}

func head(vs []uint64) []uint64 {
	if len(vs) > 20 {
		return vs[:20]
	}
	return vs
}

// Fold rebuilds every stream's state from the events in the log.
func Fold(t testing.TB, kind aggregate.Kind, log *Log) map[string]struct {
	Version uint64
	State   any
} {
	t.Helper()
	out := map[string]struct {
		Version uint64
		State   any
	}{}
	for _, r := range log.Events {
		e, err := topics.DecodeEvent(r)
		if err != nil {
			t.Fatal(err)
		}
		key := topics.StreamKey(e.Tenant, e.Stream)
		s, ok := out[key]
		if !ok {
			s.State = kind.Seed()
		}
		data, err := kind.DecodeEvent(e.Type, e.Schema, e.Raw)
		if err != nil {
			t.Fatal(err)
		}
		e.Data = data
		s.State = kind.Apply(s.State, &e.Envelope)
		s.Version = e.Version
		out[key] = s
	}
	return out
}

// StoreMatches checks I4: the Pebble stores in dirs (one per member of a
// process) hold, for every stream in the log, the fold of its committed
// events. A store may also hold an older copy of a partition another
// member owns now; the newest version of a stream among them is checked.
// The stores must be closed by their processors first.
func StoreMatches(t testing.TB, kind aggregate.Kind, log *Log, dirs ...string) {
	t.Helper()
	var stores []*store.Store
	for _, dir := range dirs {
		st, err := store.Open(dir, kv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		stores = append(stores, st)
	}
	want := Fold(t, kind, log)
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	n := log.Partitions
	for _, key := range keys {
		w := want[key]
		var rec store.Stream
		found := false
		for _, st := range stores {
			r, ok, err := st.Stream(topics.PartitionFor(key, n), key)
			if err != nil {
				t.Fatalf("I4: stream %s: %v", key, err)
			}
			if ok && (!found || r.Version > rec.Version) {
				rec, found = r, true
			}
		}
		if !found {
			t.Fatalf("I4: stream %s missing from the store", key)
		}
		got, err := kind.DecodeState(rec.State)
		if err != nil {
			t.Fatal(err)
		}
		// Compared as JSON: what the state means, whatever the codec.
		wantData, _ := json.Marshal(processorState(w.State))
		gotData, _ := json.Marshal(got)
		if rec.Version != w.Version || !reflect.DeepEqual(wantData, gotData) {
			t.Fatalf("I4: stream %s: store v%d %s\nfold v%d %s", key, rec.Version, gotData, w.Version, wantData)
		}
	}
}

// StateMatches checks the state topic: every stream's latest record holds
// the fold of its committed events, computed under kind's logic version,
// and every partition with events ends in a completeness marker of that
// version.
func StateMatches(t testing.TB, kind aggregate.Kind, log *Log) {
	t.Helper()
	latest := map[string][]byte{}
	markers := map[int32]string{}
	for _, r := range log.State {
		if string(r.Key) == topics.CompleteKey {
			markers[r.Partition] = string(r.Value)
			continue
		}
		latest[string(r.Key)] = r.Value
	}
	logic := uint64(kind.LogicVersion())
	for key, w := range Fold(t, kind, log) {
		v, ok := latest[key]
		if !ok {
			t.Fatalf("state topic: stream %s has no record", key)
		}
		rec, err := store.DecodeStream(v)
		if err != nil {
			t.Fatalf("state topic: stream %s: %v", key, err)
		}
		got, err := kind.DecodeState(rec.State)
		if err != nil {
			t.Fatal(err)
		}
		wantData, _ := json.Marshal(processorState(w.State))
		gotData, _ := json.Marshal(got)
		if rec.Logic != logic || rec.Version != w.Version || string(wantData) != string(gotData) {
			t.Fatalf("state topic: stream %s: logic %d v%d %s\nfold: logic %d v%d %s", key, rec.Logic, rec.Version, gotData, logic, w.Version, wantData)
		}
	}
	for _, e := range log.Events {
		m, ok := markers[e.Partition]
		if !ok {
			t.Fatalf("state topic: partition %d has no completeness marker", e.Partition)
		}
		if got, err := topics.ParseComplete([]byte(m)); err != nil || got != logic {
			t.Fatalf("state topic: partition %d is complete for logic %d (%v), want %d", e.Partition, got, err, logic)
		}
	}
}

// Codes counts the rejection codes in results.
func Codes(results map[string][]topics.Result) map[string]int {
	out := map[string]int{}
	for _, rs := range results {
		for _, r := range rs {
			if r.Status == topics.StatusRejected {
				out[r.Code]++
			}
		}
	}
	return out
}

// WaitStateComplete waits until every partition with events ends in a
// completeness marker of the logic version on the state topic: the
// processors have copied their folds there.
func WaitStateComplete(t testing.TB, brokers string, logic int, timeout time.Duration) {
	t.Helper()
	var markers map[int32]uint64
	complete := testkit.Eventually(timeout, func() bool {
		log := ReadAll(t, brokers)
		markers = map[int32]uint64{}
		for _, r := range log.State {
			if string(r.Key) == topics.CompleteKey {
				markers[r.Partition], _ = topics.ParseComplete(r.Value)
			}
		}
		complete := len(log.Events) > 0
		for _, e := range log.Events {
			complete = complete && markers[e.Partition] == uint64(logic)
		}
		return complete
	})
	if !complete {
		t.Fatalf("the state topic is not complete for logic version %d after %s: markers %v", logic, timeout, markers)
	}
}

// OneKeyPerSubject checks that no subject was given a second key on a
// partition: every key record of a subject and partition names the same
// key. An owner that took a partition over without its keys would mint a
// new one, and the values sealed under the first would be lost with it
// at compaction.
func OneKeyPerSubject(t testing.TB, log *Log) {
	t.Helper()
	type slot struct {
		subject string
		part    int32
	}
	first := map[slot]shred.KeyID{}
	for _, r := range log.Keys {
		kr, err := shred.DecodeRecord(r.Key, r.Value, r.Partition)
		if err != nil {
			t.Errorf("key record %d/%d: %v", r.Partition, r.Offset, err)
			continue
		}
		s := slot{string(r.Key), r.Partition}
		if id, ok := first[s]; !ok {
			first[s] = kr.KeyID
		} else if kr.KeyID != id {
			t.Errorf("partition %d: a subject was given a second key at offset %d", r.Partition, r.Offset)
		}
	}
}

package processor

import (
	"maps"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/store"
	"github.com/rewind/rewind/topics"
)

func TestStandbyParts(t *testing.T) {
	// Two processes of two members each; 8 partitions, 2 per member.
	twoByTwo := []ringMember{
		{id: "a-0", process: "a", parts: []int32{0, 1}},
		{id: "a-1", process: "a", parts: []int32{2, 3}},
		{id: "b-0", process: "b", parts: []int32{4, 5}},
		{id: "b-1", process: "b", parts: []int32{6, 7}},
	}
	tests := []struct {
		name    string
		members []ringMember
		me      string
		n       int
		want    []int32
	}{{
		name: "one member per process: the next member on the ring",
		members: []ringMember{
			{id: "p1", process: "p1", parts: []int32{0, 1}},
			{id: "p2", process: "p2", parts: []int32{2, 3}},
			{id: "p3", process: "p3", parts: []int32{4, 5}},
		},
		me: "p2", n: 1, want: []int32{0, 1},
	}, {
		name: "one member per process, two copies",
		members: []ringMember{
			{id: "p1", process: "p1", parts: []int32{0, 1}},
			{id: "p2", process: "p2", parts: []int32{2, 3}},
			{id: "p3", process: "p3", parts: []int32{4, 5}},
		},
		me: "p2", n: 2, want: []int32{0, 1, 4, 5},
	}, {
		name: "more copies than other processes",
		members: []ringMember{
			{id: "p1", process: "p1", parts: []int32{0}},
			{id: "p2", process: "p2", parts: []int32{1}},
		},
		me: "p1", n: 3, want: []int32{1},
	}, {
		name:    "members of a process: never a sibling's partition, shared by partition number (even)",
		members: twoByTwo, me: "b-0", n: 1, want: []int32{0, 2},
	}, {
		name:    "members of a process: the odd partitions go to the other member",
		members: twoByTwo, me: "a-1", n: 1, want: []int32{5, 7},
	}, {
		name: "a single process keeps no copies",
		members: []ringMember{
			{id: "a-0", process: "a", parts: []int32{0}},
			{id: "a-1", process: "a", parts: []int32{1}},
		},
		me: "a-1", n: 1, want: nil,
	}, {
		name:    "not in the group",
		members: twoByTwo, me: "c-0", n: 1, want: nil,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := slices.Sorted(maps.Keys(standbyParts(tt.members, tt.me, tt.n)))
			if !slices.Equal(got, tt.want) {
				t.Errorf("standbyParts(%s, n=%d) = %v, want %v", tt.me, tt.n, got, tt.want)
			}
		})
	}
	// Every partition of the two-by-two group has exactly one copy, in
	// the other process.
	kept := map[int32][]string{}
	for _, m := range twoByTwo {
		for part := range standbyParts(twoByTwo, m.id, 1) {
			kept[part] = append(kept[part], m.process)
		}
	}
	for part := int32(0); part < 8; part++ {
		owner := "a"
		if part >= 4 {
			owner = "b"
		}
		if len(kept[part]) != 1 || kept[part][0] == owner {
			t.Errorf("partition %d (owned in %s): copies in %v, want one in the other process", part, owner, kept[part])
		}
	}
}

// TestTakenCopyExportsNoLag: a copy the member takes over while a tail
// of it is under way (held after the tail's poll, released after its
// write) exports no lag afterwards. Its position, left behind, made the
// failover bench see the new owner's copies fall further behind forever.
func TestTakenCopyExportsNoLag(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := newStandbys(&Processor{metrics: newMetrics(reg, 1)}, 1)
	s.tails[3] = newStatePart(store.Checkpoint{State: 10}, true, &restoreStats{})
	s.pos[3] = 10
	lso := func(end int64) kadm.ListedOffsets {
		return kadm.ListedOffsets{topics.State: {3: {Topic: topics.State, Partition: 3, Offset: end}},
			topics.Keys: {3: {Topic: topics.Keys, Partition: 3, Offset: 0}}}
	}
	s.exportLag(lso(12))
	if got := testkit.Samples(t, reg).Count("rewind_processor_standby_lag{"); got != 1 {
		t.Fatalf("a copy 2 records behind exports %d lag series, want 1", got)
	}

	s.hold([]int32{3})                                // the group gives this member partition 3
	if failed := s.advance(false); len(failed) != 0 { // the tail that polled before
		t.Fatalf("no copy failed, advance says %v", failed)
	}
	s.work.Lock()
	s.drop([]int32{3}) // the restore releases the copy
	s.work.Unlock()
	s.exportLag(lso(500))
	if got := testkit.Samples(t, reg).Count("rewind_processor_standby_lag{"); got != 0 {
		t.Fatalf("a partition the member owns exports %d standby lag series, want none", got)
	}
}

// TestCopyLagCountsKeys: a copy whose state is caught up but whose keys
// are not is not warm: a takeover would read the keys it lacks. Its lag
// says so. The failover bench waited only for the state's, and a
// restarted member's copies cost a takeover 1.4-1.6 s of key records.
func TestCopyLagCountsKeys(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := newStandbys(&Processor{metrics: newMetrics(reg, 1)}, 1)
	s.tails[3] = newStatePart(store.Checkpoint{State: 10}, true, &restoreStats{})
	s.pos[3], s.keysAt[3] = 10, 0
	lso := func(state, keys int64) kadm.ListedOffsets {
		return kadm.ListedOffsets{topics.State: {3: {Topic: topics.State, Partition: 3, Offset: state}},
			topics.Keys: {3: {Topic: topics.Keys, Partition: 3, Offset: keys}}}
	}
	s.exportLag(lso(10, 18000))
	if got := testkit.Metric(t, reg, "rewind_processor_standby_lag"); got != 18000 {
		t.Fatalf("a copy 18000 key records behind exports lag %v", got)
	}
	s.keyPos[3] = 18000 // the tail applied them
	if failed := s.advance(false); len(failed) != 0 {
		t.Fatalf("no copy failed, advance says %v", failed)
	}
	s.exportLag(lso(12, 18000))
	if got := testkit.Metric(t, reg, "rewind_processor_standby_lag"); got != 2 {
		t.Fatalf("a copy 2 state records behind, keys caught up, exports lag %v", got)
	}
}

package processor

import (
	"maps"
	"slices"
	"testing"
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

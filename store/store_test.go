package store_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/rewind/rewind/kv"
	"github.com/rewind/rewind/store"
)

func TestStore(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(dir, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	old, recent := time.Unix(100, 0), time.Unix(200, 0)
	cmds := store.Commands{}.Append(
		store.Command{ID: "c1", At: old.UnixNano(), Fingerprint: 11, Outcome: []byte("first")},
		store.Command{ID: "c2", At: recent.UnixNano(), Fingerprint: 22})
	b := s.NewBatch(0)
	must(t, b.SetStream(1, "t/a", store.EncodeStream(store.Stream{Logic: 4, Version: 7, State: []byte("state-a"), Commands: cmds})))
	must(t, b.SetStream(1, "t/c", store.EncodeStream(store.Stream{Logic: 4, Version: 1})))
	must(t, b.SetStream(2, "t/b", store.EncodeStream(store.Stream{Logic: 4, Version: 3, State: []byte("state-b")})))
	cp := store.Checkpoint{Events: 10, Results: 20, State: 30, Logic: 1, Synced: true}
	must(t, b.SetCheckpoint(1, cp))
	must(t, b.Commit())
	must(t, b.Close())

	// Everything survives a reopen.
	must(t, s.Close())
	if s, err = store.Open(dir, kv.Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec, found, err := s.Stream(1, "t/a")
	if err != nil || !found || rec.Logic != 4 || rec.Version != 7 || string(rec.State) != "state-a" {
		t.Fatalf("stream: %+v %v %v", rec, found, err)
	}
	if c, ok := rec.Commands.Find("c2"); !ok || c.Fingerprint != 22 || c.At != recent.UnixNano() || len(c.Outcome) != 0 {
		t.Fatalf("remembered c2: %+v %v", c, ok)
	}
	if c, ok := rec.Commands.Find("c1"); !ok || string(c.Outcome) != "first" {
		t.Fatalf("remembered c1: %+v %v", c, ok)
	}
	if _, ok := rec.Commands.Find("c3"); ok {
		t.Fatal("found a command never remembered")
	}
	if got, ok, err := s.Checkpoint(1); err != nil || !ok || got != cp {
		t.Fatalf("checkpoint: %+v %v %v", got, ok, err)
	}

	streamsAtOnce(t, s)
	pagesInKeyOrder(t, s)

	// Wiping partition 1 leaves partition 2 alone.
	must(t, s.WipePartition(1))
	if _, found, _ := s.Stream(1, "t/a"); found {
		t.Fatal("wiped stream still there")
	}
	if _, ok, _ := s.Checkpoint(1); ok {
		t.Fatal("wiped checkpoint still there")
	}
	if _, found, _ := s.Stream(2, "t/b"); !found {
		t.Fatal("wipe of partition 1 removed partition 2")
	}
}

// streamsAtOnce: Streams reads many at once and reports only the known
// ones.
func streamsAtOnce(t *testing.T, s *store.Store) {
	var got []int
	must(t, s.Streams([]store.Ref{{2, "t/b"}, {1, "t/x"}, {1, "t/a"}}, func(i int, record []byte) error {
		rec, err := store.DecodeStream(record)
		if err != nil {
			return err
		}
		if want := []uint64{3, 0, 7}[i]; rec.Version != want {
			t.Errorf("ref %d: version %d, want %d", i, rec.Version, want)
		}
		got = append(got, i)
		return nil
	}))
	if slices.Sort(got); !slices.Equal(got, []int{0, 2}) {
		t.Fatalf("found refs %v, want [0 2]", got)
	}
}

// pagesInKeyOrder: PartitionStreams pages through a partition in key
// order.
func pagesInKeyOrder(t *testing.T, s *store.Store) {
	var pages [][]string
	for after := ""; ; {
		var page []string
		last, err := s.PartitionStreams(1, after, 1, func(stream string, record []byte) error {
			page = append(page, stream)
			_, err := store.DecodeStream(record)
			return err
		})
		must(t, err)
		pages = append(pages, page)
		if last == "" {
			break
		}
		after = last
	}
	if fmt.Sprint(pages) != "[[t/a] [t/c] []]" {
		t.Fatalf("pages %v", pages)
	}
}

func TestCommandsKeep(t *testing.T) {
	var cmds store.Commands
	for i := range 5 {
		cmds = cmds.Append(store.Command{ID: string(rune('a' + i)), At: int64(i * 10), Fingerprint: uint64(i + 1)})
	}
	before := cmds.Len()
	kept := cmds.Keep(25)
	var ids []string
	for c := range kept.All() {
		ids = append(ids, c.ID)
	}
	if !slices.Equal(ids, []string{"d", "e"}) || cmds.Len() != before {
		t.Fatalf("kept %v; the original changed: %v", ids, cmds.Len() != before)
	}
	// Times out of order (commands carry their senders' times): what is
	// older than the cutoff goes, wherever it stands.
	var mixed store.Commands
	for i, at := range []int64{30, 5, 40, 1, 50, 2} {
		mixed = mixed.Append(store.Command{ID: string(rune('a' + i)), At: at})
	}
	ids = nil
	for c := range mixed.Keep(20).All() {
		ids = append(ids, c.ID)
	}
	if !slices.Equal(ids, []string{"a", "c", "e"}) {
		t.Fatalf("kept %v of times out of order, want [a c e]", ids)
	}
	// An id used again after its window: the latest one counts.
	again := kept.Append(store.Command{ID: "d", At: 99, Fingerprint: 7})
	if c, _ := again.Find("d"); c.At != 99 || c.Fingerprint != 7 {
		t.Fatalf("found %+v, want the latest", c)
	}
}

// TestCommandsFind: Find's skipping scan finds what a full walk finds,
// with ids, times and outcomes of one-byte and longer varints.
func TestCommandsFind(t *testing.T) {
	var cmds store.Commands
	want := map[string]store.Command{}
	for i := range 300 {
		c := store.Command{
			ID:          strings.Repeat("x", i%150) + strconv.Itoa(i%200), // some ids come twice
			At:          int64(i-150) * 1.3e16,                            // negative and positive, one to nine bytes
			Fingerprint: uint64(i),
			Outcome:     []byte(strings.Repeat("o", i%140)),
		}
		cmds = cmds.Append(c)
		want[c.ID] = c // the latest of an id counts
	}
	index := cmds.Index()
	for name, find := range map[string]func(string) (store.Command, bool){"Find": cmds.Find, "Index.Find": index.Find} {
		for id, w := range want {
			got, ok := find(id)
			if !ok || got.At != w.At || got.Fingerprint != w.Fingerprint || !bytes.Equal(got.Outcome, w.Outcome) {
				t.Fatalf("%s(%q) = %+v, %v; want %+v", name, id, got, ok, w)
			}
		}
		for _, id := range []string{"", "x", "1000", strings.Repeat("x", 149)} {
			if got, ok := find(id); ok {
				t.Fatalf("%s(%q) found %+v, never remembered", name, id, got)
			}
		}
	}
}

// BenchmarkFind looks up an id a hot stream does not remember among 500
// it does: what every new command on it costs.
func BenchmarkFind(b *testing.B) {
	cmds := hotCommands()
	for b.Loop() {
		if _, ok := cmds.Find("cmd-2000000"); ok {
			b.Fatal("found")
		}
	}
}

// hotCommands is what a hot stream remembers: 500 ids.
func hotCommands() store.Commands {
	var cmds store.Commands
	for i := range 500 {
		cmds = cmds.Append(store.Command{ID: "cmd-" + strconv.Itoa(1e6+i), At: time.Now().UnixNano(), Fingerprint: uint64(i), Outcome: []byte(`{"status":"accepted","version":12}`)})
	}
	return cmds
}

// BenchmarkIndexFind is BenchmarkFind through an Index, and
// BenchmarkIndex what building one costs: a hot stream's lookups in one
// batch share one build.
func BenchmarkIndexFind(b *testing.B) {
	index := hotCommands().Index()
	for b.Loop() {
		if _, ok := index.Find("cmd-2000000"); ok {
			b.Fatal("found")
		}
	}
}

func BenchmarkIndex(b *testing.B) {
	cmds := hotCommands()
	for b.Loop() {
		cmds.Index()
	}
}

// TestOldLayoutIsWiped opens a store written with the first layout (no
// layout key, dedup entries apart) and expects it empty, not misread.
func TestOldLayoutIsWiped(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "old")
	db, err := pebble.Open(dir, &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A checkpoint key of the first layout: 'p', partition 1, 'c'.
	must(t, db.Set([]byte{'p', 0, 0, 0, 1, 'c'}, make([]byte, 24), pebble.Sync))
	must(t, db.Close())
	s, err := store.Open(dir, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok, err := s.Checkpoint(1); ok || err != nil {
		t.Fatalf("a checkpoint of the old layout survived (err %v)", err)
	}
}

func TestCorruptRecords(t *testing.T) {
	good := store.EncodeStream(store.Stream{Logic: 2, Version: 3, State: []byte("x"),
		Commands: store.Commands{}.Append(store.Command{ID: "c1", At: 5, Fingerprint: 9, Outcome: []byte("o")})})
	if _, err := store.DecodeStream(good); err != nil {
		t.Fatal(err)
	}
	if logic, err := store.RecordLogic(good); err != nil || logic != 2 {
		t.Fatalf("logic %d, %v", logic, err)
	}
	if _, err := store.DecodeStream(append([]byte{9}, good[1:]...)); err == nil {
		t.Fatal("a record of another format decoded")
	}
	for n := range len(good) - 1 { // cut inside the header or the commands
		if _, err := store.DecodeStream(good[:n]); err == nil {
			t.Fatalf("a record cut at %d bytes decoded", n)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkKeep cuts a hot stream's ids to the window when none has left
// it: what every batch costs a stream it changes.
func BenchmarkKeep(b *testing.B) {
	cmds := hotCommands()
	for b.Loop() {
		if kept := cmds.Keep(0); kept.Len() != cmds.Len() {
			b.Fatal("dropped")
		}
	}
}

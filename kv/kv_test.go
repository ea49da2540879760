package kv_test

import (
	"strings"
	"testing"

	"github.com/rewind/rewind/kv"
)

// TestOffsets: an offset is read back as written, per prefix and
// partition; a missing one is 0 (the start); a value that is not 8 bytes
// is an error naming the partition, never a wrong offset.
func TestOffsets(t *testing.T) {
	db, err := kv.Open(t.TempDir(), kv.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustOK(t, kv.SetOffset(db, 'c', 3, 1<<40))
	mustOK(t, kv.SetOffset(db, 'd', 3, 7))
	for _, tt := range []struct {
		prefix byte
		p      int32
		want   int64
	}{{'c', 3, 1 << 40}, {'d', 3, 7}, {'c', 4, 0}} {
		if got, err := kv.GetOffset(db, tt.prefix, tt.p); got != tt.want || err != nil {
			t.Errorf("%c/%d: %d %v, want %d", tt.prefix, tt.p, got, err, tt.want)
		}
	}
	mustOK(t, db.Set(kv.OffsetKey('c', 5), []byte{1, 2, 3}, nil))
	if _, err := kv.GetOffset(db, 'c', 5); err == nil || !strings.Contains(err.Error(), "partition 5") {
		t.Fatalf("a 3-byte offset: %v", err)
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

package shred_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rewind/rewind/shred"
)

func ring(t *testing.T, lines ...string) *shred.FileKeyring {
	t.Helper()
	k, err := shred.ParseKeyring([]byte(strings.Join(lines, "")))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseKeyring(t *testing.T) {
	good := shred.NewKEKLine("k1")
	for _, tc := range []struct{ name, file, want string }{
		{name: "empty", file: "# nothing\n\n", want: "no KEK"},
		{name: "no secret", file: "k1\n", want: "line 1"},
		{name: "bad id", file: "k/1 " + strings.Fields(good)[1] + "\n", want: "line 1"},
		{name: "short", file: "k1 AAAA\n", want: "not the base64 of 32 bytes"},
		{name: "twice", file: good + good, want: "appears twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := shred.ParseKeyring([]byte(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error with %q, got %v", tc.want, err)
			}
		})
	}
	if _, err := shred.LoadKeyring(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "KEK file") {
		t.Fatalf("a missing file: want a KEK file error, got %v", err)
	}
	path := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(path, []byte("# rotated 2026-12\n"+shred.NewKEKLine("k2")+good), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := shred.LoadKeyring(path)
	if err != nil || k.Current() != "k2" {
		t.Fatalf("want k2 current, got %v %v", k, err)
	}
}

func TestSealAndOpen(t *testing.T) {
	r := ring(t, shred.NewKEKLine("k1"))
	rec, key, err := shred.NewRecord(r, "clinic-1", "v1", 3, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	token := key.Seal("clinic-1/s1", "name", "Kim Minji")
	if !shred.IsToken(token) || strings.Contains(token, "Kim") {
		t.Fatalf("not sealed: %s", token)
	}
	if got, err := key.Open("clinic-1/s1", token); err != nil || got != "Kim Minji" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := key.Open("clinic-1/s2", token); err == nil {
		t.Fatal("a token opened for another stream")
	}
	relabeled := strings.Replace(token, ":name:", ":notes:", 1)
	if _, err := key.Open("clinic-1/s1", relabeled); err == nil {
		t.Fatal("a token opened as another field")
	}
	if id, ok := shred.TokenKey(token); !ok || id != rec.KeyID {
		t.Fatalf("token key %v %v, want %v", id, ok, rec.KeyID)
	}
	if shred.IsToken("v1") {
		t.Fatal("an id taken for a token")
	}
}

func TestRecords(t *testing.T) {
	k1 := shred.NewKEKLine("k1")
	r := ring(t, k1)
	rec, key, err := shred.NewRecord(r, "clinic-1", "v1", 3, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	token := key.Seal("clinic-1/s1", "phone", "010-1234-5678")
	back, err := shred.DecodeRecord([]byte(shred.RecordKey("clinic-1", "v1")), rec.Value(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rec.Value()), "010") {
		t.Fatal("the record holds a plaintext")
	}
	got, err := back.Key(r)
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := got.Open("clinic-1/s1", token); err != nil || plain != "010-1234-5678" {
		t.Fatalf("open with the decoded record's key: %q %v", plain, err)
	}
	// A rotated keyring still unwraps the old key and wraps new ones under
	// the new KEK.
	rotated := ring(t, shred.NewKEKLine("k2"), k1)
	if _, err := back.Key(rotated); err != nil {
		t.Fatalf("after a rotation: %v", err)
	}
	if fresh, _, _ := shred.NewRecord(rotated, "clinic-1", "v2", 3, time.Now()); fresh.KEK != "k2" {
		t.Fatalf("new keys wrapped by %s, want k2", fresh.KEK)
	}
	for _, tc := range []struct {
		name string
		key  string
		part int32
		ring shred.Keyring
		want error
	}{
		{"wrong KEK", "clinic-1/v1", 3, ring(t, "k1 "+strings.Fields(shred.NewKEKLine("x"))[1]+"\n"), shred.ErrWrongKEK},
		{"unknown KEK", "clinic-1/v1", 3, ring(t, shred.NewKEKLine("k9")), shred.ErrUnknownKEK},
		{"copied to another subject", "clinic-1/v2", 3, r, shred.ErrWrongKEK},
		{"copied to another tenant", "clinic-2/v1", 3, r, shred.ErrWrongKEK},
		{"copied to another partition", "clinic-1/v1", 4, r, shred.ErrWrongKEK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			moved, err := shred.DecodeRecord([]byte(tc.key), rec.Value(), tc.part)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := moved.Key(tc.ring); !errors.Is(err, tc.want) {
				t.Fatalf("want %v, got %v", tc.want, err)
			}
		})
	}
	for _, bad := range []string{`{}`, `{"v":2,"keyId":"0011223344556677"}`, `{"v":1,"keyId":"00"}`, `{"v":1,"keyId":"0011223344556677"}`, `nope`} {
		if _, err := shred.DecodeRecord([]byte("clinic-1/v1"), []byte(bad), 0); err == nil {
			t.Errorf("decoded %s", bad)
		}
	}
	if _, err := shred.DecodeRecord([]byte("v1"), rec.Value(), 0); err == nil {
		t.Error("decoded a record whose key names no tenant")
	}
}

func TestTable(t *testing.T) {
	r := ring(t, shred.NewKEKLine("k1"))
	tab := shred.NewTable(r)
	rec, key, _ := shred.NewRecord(r, "clinic-1", "v1", 0, time.Now())
	other, otherKey, _ := shred.NewRecord(r, "clinic-2", "v1", 0, time.Now())
	for _, x := range []shred.Record{rec, other} {
		if err := tab.Apply(x); err != nil {
			t.Fatal(err)
		}
	}
	token := key.Seal("clinic-1/s1", "notes", "allergic to lidocaine")
	if got, err := tab.Open("clinic-1/s1", token); err != nil || got != "allergic to lidocaine" {
		t.Fatalf("open: %q %v", got, err)
	}
	// Another tenant's key is never used for this tenant's stream.
	theirs := otherKey.Seal("clinic-1/s1", "notes", "x")
	if _, err := tab.Open("clinic-1/s1", theirs); !errors.Is(err, shred.ErrUnknownKey) {
		t.Fatalf("another tenant's key: want ErrUnknownKey, got %v", err)
	}
	if r, k, ok := tab.Slot("clinic-1", "v1", 0); !ok || r.Destroyed != nil || k.ID != rec.KeyID {
		t.Fatalf("slot: %v %v %v", k.ID, ok, r.Destroyed)
	}

	// A forged record (a key wrapped by no KEK of ours) is refused.
	forged, _, _ := shred.NewRecord(ring(t, shred.NewKEKLine("k1")), "clinic-1", "v3", 0, time.Now())
	if err := tab.Apply(forged); !errors.Is(err, shred.ErrWrongKEK) {
		t.Fatalf("forged: want ErrWrongKEK, got %v", err)
	}

	// Destroyed: the key is gone, the value reads as erased, and the
	// record that held the key is refused if it comes again.
	rec.Schedules = 2 // the destruction counts the record's schedules
	gone := rec.Destroy(shred.Destruction{At: time.Now(), By: "dpo", Reason: "request"})
	if err := tab.Apply(gone); err != nil {
		t.Fatal(err)
	}
	if _, err := tab.Open("clinic-1/s1", token); !errors.Is(err, shred.ErrErased) {
		t.Fatalf("after destruction: want ErrErased, got %v", err)
	}
	if r, _, ok := tab.Slot("clinic-1", "v1", 0); !ok || r.Destroyed == nil || r.Destroyed.Schedules != 2 {
		t.Fatalf("after destruction: slot %v %+v", ok, r.Destroyed)
	}
	if err := tab.Apply(rec); err == nil {
		t.Fatal("the destroyed key's record was taken again")
	}
	again, _, _ := shred.NewRecord(r, "clinic-1", "v1", 0, time.Now())
	if err := tab.Apply(again); err == nil {
		t.Fatal("a new key after destruction was taken")
	}
	if _, err := tab.Open("clinic-1/s1", token); !errors.Is(err, shred.ErrErased) {
		t.Fatalf("after refused records: want ErrErased, got %v", err)
	}
	// A processor that loses the partition forgets its keys.
	tab.DropPartition(0)
	if _, err := tab.Open("clinic-2/s1", otherKey.Seal("clinic-2/s1", "name", "x")); !errors.Is(err, shred.ErrUnknownKey) {
		t.Fatalf("after the partition was dropped: %v", err)
	}
}

package shred

import (
	"errors"
	"fmt"
	"strings"
	"sync"
)

// ErrErased is Table.Open's error for a value whose key was destroyed.
var ErrErased = errors.New("shred: erased")

// ErrUnknownKey is Table.Open's error for a value whose key the table has
// not seen: its record is not read yet, or it belongs to another tenant.
var ErrUnknownKey = errors.New("shred: unknown key")

// Table holds the data keys a component has read from schedule-keys,
// unwrapped, in memory only: the processor those of its partitions,
// query all of them. A destroyed record drops its key at once. It is
// safe for concurrent use.
type Table struct {
	ring Keyring

	mu        sync.RWMutex
	live      map[KeyID]liveKey
	destroyed map[KeyID]bool
	slots     map[slot]slotState
}

type liveKey struct {
	key    Key
	tenant string
	slot   slot
}

// slot is a subject's place on one partition: one live key at most.
type slot struct {
	tenant, subject string
	part            int32
}

type slotState struct {
	id        KeyID
	destroyed *Destruction
	record    Record
}

// NewTable returns an empty table that unwraps keys with ring.
func NewTable(ring Keyring) *Table {
	return &Table{ring: ring, live: map[KeyID]liveKey{}, destroyed: map[KeyID]bool{}, slots: map[slot]slotState{}}
}

// Keyring is the keyring the table unwraps keys with.
func (t *Table) Keyring() Keyring { return t.ring }

// Apply takes a record, in the order of its partition. It refuses a
// record whose key does not unwrap (the wrong KEK, or a record forged or
// copied from another subject, partition or id), and a live record after
// a destroyed one of the same subject and partition: a destroyed key
// never comes back. A refused record changes nothing.
func (t *Table) Apply(r Record) error {
	s := slot{r.Tenant, r.Subject, r.Partition}
	t.mu.Lock()
	defer t.mu.Unlock()
	prev, seen := t.slots[s]
	if r.Destroyed != nil {
		if seen {
			delete(t.live, prev.id)
			t.destroyed[prev.id] = true
		}
		delete(t.live, r.KeyID)
		t.destroyed[r.KeyID] = true
		t.slots[s] = slotState{id: r.KeyID, destroyed: r.Destroyed, record: r}
		return nil
	}
	if seen && prev.destroyed != nil {
		return errors.New("shred: a key record after the subject's key was destroyed on the partition: refused")
	}
	if t.destroyed[r.KeyID] {
		return fmt.Errorf("shred: key %s was destroyed: its record is refused", r.KeyID)
	}
	key, err := r.Key(t.ring)
	if err != nil {
		return fmt.Errorf("shred: key record refused: %w", err)
	}
	t.put(s, prev, seen, r, key)
	return nil
}

// Put takes a live record with its key, which its caller made (NewRecord)
// and so need not unwrap; it is Apply without the checks.
func (t *Table) Put(r Record, key Key) {
	s := slot{r.Tenant, r.Subject, r.Partition}
	t.mu.Lock()
	defer t.mu.Unlock()
	prev, seen := t.slots[s]
	t.put(s, prev, seen, r, key)
}

func (t *Table) put(s slot, prev slotState, seen bool, r Record, key Key) {
	if seen && prev.id != r.KeyID {
		delete(t.live, prev.id)
	}
	t.live[r.KeyID] = liveKey{key: key, tenant: r.Tenant, slot: s}
	t.slots[s] = slotState{id: r.KeyID, record: r}
}

// Slot returns the latest record of a subject on a partition, with its
// key when the record is live.
func (t *Table) Slot(tenant, subject string, part int32) (r Record, key Key, ok bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	st, seen := t.slots[slot{tenant, subject, part}]
	if !seen {
		return Record{}, Key{}, false
	}
	return st.record, t.live[st.id].key, true
}

// Open opens a sealed value of stream ("<tenant>/<id>"). A key of
// another tenant is never used: to the caller it is unknown.
func (t *Table) Open(stream, token string) (string, error) {
	id, ok := TokenKey(token)
	if !ok {
		return "", ErrNotToken
	}
	t.mu.RLock()
	lk, live := t.live[id]
	erased := t.destroyed[id]
	t.mu.RUnlock()
	tenant, _, _ := strings.Cut(stream, "/")
	switch {
	case live && lk.tenant == tenant:
		return lk.key.Open(stream, token)
	case erased:
		return "", ErrErased
	default:
		return "", ErrUnknownKey
	}
}

// DropPartition forgets the keys of a partition (a processor that lost
// it). Destroyed ids are kept: they are a few bytes each, and they make
// a late value of an erased subject read as erased.
func (t *Table) DropPartition(part int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for s, st := range t.slots {
		if s.part == part {
			delete(t.live, st.id)
			delete(t.slots, s)
		}
	}
}

package shred

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Record is one value of schedule-keys, keyed "<tenant>/<subject>" on the
// partition of the streams whose fields its key seals: a subject with
// schedules on three partitions has a key on each, each written by the
// one owner of its partition. Compaction keeps the latest record of a
// subject on a partition, so a destroyed record, once written, is the
// only one left: it is never followed by another (Table refuses that).
type Record struct {
	Tenant, Subject string
	Partition       int32
	KeyID           KeyID
	// KEK names the key-encryption key that wrapped the key; Wrapped is
	// the key, sealed under it and bound to the record's tenant, subject,
	// partition and id. Both are empty in a destroyed record.
	KEK     string
	Wrapped []byte
	Created time.Time
	// Schedules counts the subject's schedules on the partition: an
	// erasure answers with it.
	Schedules int
	// Destroyed is set once the key is destroyed: when, by whom and why,
	// for the audit trail. Its reason is the privacy officer's words,
	// which must not hold personal data.
	Destroyed *Destruction
}

// Destruction records an erasure.
type Destruction struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Reason string    `json:"reason,omitempty"`
	// Schedules is how many of the subject's schedules the partition held.
	Schedules int `json:"schedules"`
}

// recordJSON is a Record's value on the topic.
type recordJSON struct {
	Version   int          `json:"v"`
	KeyID     string       `json:"keyId"`
	KEK       string       `json:"kek,omitempty"`
	Wrapped   []byte       `json:"wrapped,omitempty"`
	Created   time.Time    `json:"createdAt"`
	Schedules int          `json:"schedules,omitempty"`
	Destroyed *Destruction `json:"destroyed,omitempty"`
}

// NewRecord makes a new data key for a subject's streams on a partition,
// wrapped by ring, and returns its record with the key.
func NewRecord(ring Keyring, tenant, subject string, partition int32, at time.Time) (Record, Key, error) {
	key, secret := newKey()
	r := Record{Tenant: tenant, Subject: subject, Partition: partition, KeyID: key.ID, Created: at}
	kek, wrapped, err := ring.Wrap(secret, r.wrapAAD())
	if err != nil {
		return Record{}, Key{}, fmt.Errorf("shred: wrap a data key: %w", err)
	}
	r.KEK, r.Wrapped = kek, wrapped
	return r, key, nil
}

// Key unwraps the record's data key. It fails for a destroyed record,
// under the wrong KEK, and for a record copied to another tenant,
// subject, partition or id (ErrWrongKEK).
func (r Record) Key(ring Keyring) (Key, error) {
	if r.Destroyed != nil {
		return Key{}, errors.New("shred: the key was destroyed")
	}
	secret, err := ring.Unwrap(r.KEK, r.Wrapped, r.wrapAAD())
	if err != nil {
		return Key{}, err
	}
	if len(secret) != keySize {
		return Key{}, ErrWrongKEK
	}
	return Key{ID: r.KeyID, secret: (*[keySize]byte)(secret)}, nil
}

// Destroy returns the record that replaces r once its key is destroyed.
// The destruction counts r's schedules.
func (r Record) Destroy(d Destruction) Record {
	d.Schedules = r.Schedules
	r.KEK, r.Wrapped, r.Destroyed = "", nil, &d
	return r
}

// wrapAAD binds a wrapped key to where it belongs.
func (r Record) wrapAAD() []byte {
	return []byte("rewind-key/v1\x00" + r.Tenant + "/" + r.Subject + "\x00" + strconv.Itoa(int(r.Partition)) + "\x00" + r.KeyID.String())
}

// RecordKey is the record key of a subject's records.
func RecordKey(tenant, subject string) string { return tenant + "/" + subject }

// Value encodes the record's value.
func (r Record) Value() []byte {
	b, _ := json.Marshal(recordJSON{Version: 1, KeyID: r.KeyID.String(), KEK: r.KEK, Wrapped: r.Wrapped, Created: r.Created,
		Schedules: r.Schedules, Destroyed: r.Destroyed})
	return b
}

// DecodeRecord decodes a record of schedule-keys read from partition. Its
// errors never name the subject: they are logged.
func DecodeRecord(key, value []byte, partition int32) (Record, error) {
	tenant, subject, ok := strings.Cut(string(key), "/")
	if !ok || tenant == "" || subject == "" {
		return Record{}, errors.New("shred: a key record's key is not <tenant>/<subject>")
	}
	var v recordJSON
	if err := json.Unmarshal(value, &v); err != nil {
		return Record{}, fmt.Errorf("shred: key record: %w", err)
	}
	if v.Version != 1 {
		return Record{}, fmt.Errorf("shred: key record: version %d is not 1", v.Version)
	}
	r := Record{Tenant: tenant, Subject: subject, Partition: partition, KEK: v.KEK, Wrapped: v.Wrapped, Created: v.Created,
		Schedules: v.Schedules, Destroyed: v.Destroyed}
	id, err := hex.DecodeString(v.KeyID)
	if err != nil || len(id) != len(r.KeyID) {
		return Record{}, errors.New("shred: key record: bad key id")
	}
	copy(r.KeyID[:], id)
	if r.Destroyed == nil && (r.KEK == "" || len(r.Wrapped) == 0) {
		return Record{}, errors.New("shred: key record: neither a wrapped key nor destroyed")
	}
	return r, nil
}

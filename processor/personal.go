package processor

import (
	"encoding/json"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/shred"
	"github.com/rewind/rewind/topics"
)

// Personal data (docs/privacy.md). An accepted command's events are
// sealed before they are produced: every field the domain marks personal
// is replaced by a token sealed under its data subject's key on the
// stream's partition. The processor's rules never read a personal value,
// so its states keep none, sealed or not: a stream's state holds what
// decides, and the read model folds the sealed events for people. So
// the events hold personal values only sealed, and the results, the
// state topic, Pebble and the stream cache hold none.
//
// The owner of a partition is the only writer of its keys: a subject's
// key on a partition is created in the transaction of the first events
// that need it, and no other instance can create one at the same time,
// because a partition has one owner, fenced at each handover. A subject
// has a key on each partition where it has schedules; an erasure destroys
// them all (TypeErase on every partition).

// CodePersonalDataErased rejects a command that carries personal data of
// a subject whose keys were destroyed: an erasure is final, and a new key
// for the same subject would bring back what the patient asked to have
// forgotten. Commands without personal data still work.
const CodePersonalDataErased = "personal_data_erased"

// CodeNoDataSubject rejects a command whose events carry personal data on
// a stream with no data subject to seal it for.
const CodeNoDataSubject = "no_data_subject"

// slotRef names a subject on a partition.
type slotRef struct {
	tenant, subject string
	part            int32
}

// keySlot is a subject's key record as the batch changed it.
type keySlot struct {
	rec shred.Record
	key shred.Key
}

// slot returns the subject's key record on the partition, as the batch
// sees it: what the batch made, else the member's table.
func (b *batch) slot(ref slotRef) (*keySlot, bool) {
	if s, ok := b.keys[ref]; ok {
		return s, true
	}
	rec, key, ok := b.p.keys.Slot(ref.tenant, ref.subject, ref.part)
	if !ok {
		return nil, false
	}
	return &keySlot{rec: rec, key: key}, true
}

// changed records a slot the batch changed, to produce and keep.
func (b *batch) changed(ref slotRef, s *keySlot) {
	if b.keys == nil {
		b.keys = map[slotRef]*keySlot{}
	}
	b.keys[ref] = s
}

// liveKey returns the subject's key on the partition, creating it when
// the subject has none yet.
func (b *batch) liveKey(ref slotRef, at time.Time) (shred.Key, error) {
	s, ok := b.slot(ref)
	switch {
	case ok && s.rec.Destroyed != nil:
		return shred.Key{}, aggregate.Reject(CodePersonalDataErased,
			"the visitor's personal data was erased on request; send the command without personal data")
	case ok:
		return s.key, nil
	}
	rec, key, err := shred.NewRecord(b.p.cfg.Keyring, ref.tenant, ref.subject, ref.part, at)
	if err != nil {
		return shred.Key{}, err
	}
	b.changed(ref, &keySlot{rec: rec, key: key})
	return key, nil
}

// seal seals the personal fields of an accepted command's events and
// drops them from the stream's next state. It returns the events and the
// state to keep: the given ones when nothing was personal, which costs a
// look at each event's personal fields. A rejection (an erased subject,
// no subject) rejects the command.
func (b *batch) seal(st *stream, cmd topics.Command, c aggregate.Command, next any, events []aggregate.Envelope) (any, []aggregate.Envelope, error) {
	for i := range events {
		if aggregate.HoldsPersonal(events[i].Data) {
			return b.sealEvents(st, cmd, c, next, events)
		}
	}
	return next, events, nil
}

// sealEvents is seal for events that hold personal data. It is apart
// because the closure's variables live on the heap from the start of the
// function that declares them: every command paid for them.
func (b *batch) sealEvents(st *stream, cmd topics.Command, c aggregate.Command, next any, events []aggregate.Envelope) (any, []aggregate.Envelope, error) {
	var stream string
	var sealer shred.Sealer
	var keyErr error
	sealedAny := false
	for i := range events {
		data, sealed := aggregate.SealPersonal(events[i].Data, func(field, value string) string {
			if stream == "" {
				stream = topics.StreamKey(cmd.Meta.Tenant, cmd.Meta.Stream)
				var key shred.Key
				key, keyErr = b.subjectKey(st, cmd, c, next, field)
				if keyErr == nil {
					sealer = key.Sealer()
				}
			}
			if keyErr != nil {
				return ""
			}
			return sealer.Seal(stream, field, value)
		})
		if sealed {
			events[i].Data, sealedAny = data, true
		}
	}
	if keyErr != nil {
		return nil, nil, keyErr
	}
	if !sealedAny {
		return next, events, nil
	}
	next, _ = aggregate.DropPersonal(next)
	return next, events, nil
}

// subjectKey is the key that seals field of the command's data subject
// on the stream's partition.
func (b *batch) subjectKey(st *stream, cmd topics.Command, c aggregate.Command, next any, field string) (shred.Key, error) {
	subject := b.p.cfg.Kind.Subject(next, c)
	if subject == "" {
		return shred.Key{}, aggregate.Reject(CodeNoDataSubject, "personal data (%s) on a schedule with no visitor", field)
	}
	return b.liveKey(slotRef{tenant: cmd.Meta.Tenant, subject: subject, part: st.part}, cmd.Meta.Time)
}

// countSchedule counts a new stream of its subject on its partition, in
// the subject's key record, creating the key when it has none: an
// erasure answers with the count.
func (b *batch) countSchedule(ref slotRef, at time.Time) error {
	if ref.subject == "" {
		return nil
	}
	s, ok := b.slot(ref)
	if ok && s.rec.Destroyed != nil {
		return nil // an erased subject's new schedules hold no personal data
	}
	if !ok {
		if _, err := b.liveKey(ref, at); err != nil {
			return err
		}
		s, _ = b.slot(ref)
	}
	n := *s
	n.rec.Schedules++
	b.changed(ref, &n)
	return nil
}

// erase destroys the command's subject's key on its partition: every
// value sealed under it is unreadable from the commit on, and the record
// of the destruction stays for good. It answers with the subject's
// schedules on the partition. Erasing an unknown or erased subject is
// accepted too: the destruction record then keeps any later personal
// data of the subject from being stored on the partition.
func (b *batch) erase(rec *kgo.Record, cmd topics.Command, res *topics.Result) error {
	if !topics.ErasureSigned(rec, b.p.cfg.Erasures) {
		setRejection(res, aggregate.Reject(topics.CodeErasureUnsigned,
			"an erasure must come through ingest, signed with a key of the processors' -erase-key-file"))
		return b.finish(rec, cmd, res, nil, nil)
	}
	var data struct {
		Reason string `json:"reason"`
	}
	if len(cmd.Data) > 0 {
		if err := json.Unmarshal(cmd.Data, &data); err != nil {
			setRejection(res, aggregate.Reject(aggregate.CodeMalformed, "erasure data must be {\"reason\": \"...\"}"))
			return b.finish(rec, cmd, res, nil, nil)
		}
	}
	// The key's "stream" names the subject (topics.TypeErase).
	ref := slotRef{tenant: cmd.Meta.Tenant, subject: cmd.Meta.Stream, part: rec.Partition}
	s, ok := b.slot(ref)
	switch {
	case ok && s.rec.Destroyed != nil:
		res.Schedules = s.rec.Destroyed.Schedules
	default:
		r := shred.Record{Tenant: ref.tenant, Subject: ref.subject, Partition: ref.part}
		if ok {
			r = s.rec
		}
		r = r.Destroy(shred.Destruction{At: cmd.Meta.Time, By: cmd.Meta.Initiator, Reason: data.Reason})
		b.changed(ref, &keySlot{rec: r})
		res.Schedules = r.Destroyed.Schedules
	}
	res.ScheduleID = ""
	res.Status = topics.StatusAccepted
	return b.finish(rec, cmd, res, nil, nil)
}

// produceKeys produces the key records the batch changed, in the
// transaction.
func (b *batch) produceKeys() {
	for ref, s := range b.keys {
		b.produce(topics.KeyRecord(shred.RecordKey(ref.tenant, ref.subject), s.rec.Value(), ref.part))
	}
}

// keepKeys puts the key records the batch committed into the member's
// table, for the partitions it still owns in the generation the batch
// saw.
func (b *batch) keepKeys(keep func(int32) bool) {
	for ref, s := range b.keys {
		if !keep(ref.part) {
			continue
		}
		if s.rec.Destroyed != nil {
			_ = b.p.keys.Apply(s.rec) // a destroyed record always applies
			continue
		}
		b.p.keys.Put(s.rec, s.key)
	}
}

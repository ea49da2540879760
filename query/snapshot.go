package query

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/rewind/rewind/aggregate/schedule"
)

// Snapshots are in the aggregate's own state codec (the binary one its
// definition sets, which the processor's store uses too): the snapshot
// format belongs to the aggregate's side, and a time-travel answer
// decodes one without reflection. A change to State's fields comes with
// a logic-version bump or a new state format, which rebuilds or still
// reads every snapshot.
func encodeSnapshot(s *schedule.State) ([]byte, error) {
	b, err := schedule.Kind.AppendState(nil, *s)
	if err != nil {
		return nil, fmt.Errorf("query: encode snapshot: %w", err)
	}
	return b, nil
}

func decodeSnapshot(raw []byte, s *schedule.State) error {
	v, err := schedule.Kind.DecodeState(raw)
	if err != nil {
		return fmt.Errorf("%w: snapshot: %w", errCorrupt, err)
	}
	*s = v.(schedule.State)
	return nil
}

// storedEventFormat is the first byte of an encoded storedEvent.
// 2: the schema version after the time.
const storedEventFormat = 2

// encode writes the event compactly: every event of the topic passes
// through here during a catch-up, and JSON with embedded raw data was a
// sixth of the fold's time. Strings are length-prefixed; data comes last.
func (e *storedEvent) encode() []byte {
	b := make([]byte, 0, 32+len(e.Type)+len(e.Initiator)+len(e.ProcessID)+len(e.PredecessorID)+len(e.Data))
	b = append(b, storedEventFormat)
	for _, s := range []string{e.Type, e.Initiator, e.ProcessID, e.PredecessorID} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendVarint(b, e.Time.Unix())
	b = binary.AppendUvarint(b, uint64(e.Time.Nanosecond()))
	b = binary.AppendUvarint(b, uint64(e.Schema))
	return append(b, e.Data...)
}

func decodeStoredEvent(b []byte, e *storedEvent) error {
	if len(b) == 0 || b[0] != storedEventFormat {
		return fmt.Errorf("%w: event record of an unknown format", errCorrupt)
	}
	b = b[1:]
	for _, s := range []*string{&e.Type, &e.Initiator, &e.ProcessID, &e.PredecessorID} {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return fmt.Errorf("%w: truncated event record", errCorrupt)
		}
		*s, b = string(b[k:k+int(n)]), b[k+int(n):]
	}
	sec, k := binary.Varint(b)
	if k <= 0 {
		return fmt.Errorf("%w: truncated event record", errCorrupt)
	}
	b = b[k:]
	nsec, k := binary.Uvarint(b)
	if k <= 0 {
		return fmt.Errorf("%w: truncated event record", errCorrupt)
	}
	e.Time = time.Unix(sec, int64(nsec)).UTC()
	b = b[k:]
	schema, k := binary.Uvarint(b)
	if k <= 0 {
		return fmt.Errorf("%w: truncated event record", errCorrupt)
	}
	e.Schema = int(schema)
	e.Data = b[k:]
	return nil
}

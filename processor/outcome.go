package processor

import (
	"encoding/binary"
	"errors"

	"github.com/rewind/rewind/topics"
)

// A command's first outcome is remembered with its id, in the stream's
// record, so that a duplicate is answered without another read, and the
// state topic carries it to the next owner. It is kept small: what a
// duplicate's result repeats and nothing it can take from elsewhere (id,
// tenant and stream are the key's). An accepted command costs a few bytes
// plus its event types.
//
//	status byte ('a' or 'r') | version | event count | event types | code | message
//
// Strings are length-prefixed (uvarint); an accepted command's events
// have the consecutive versions ending at version.

const (
	outcomeAccepted = 'a'
	outcomeRejected = 'r'
)

// appendOutcome appends the encoding of res, an accepted or rejected
// result.
func appendOutcome(b []byte, res *topics.Result) []byte {
	status := byte(outcomeAccepted)
	if res.Status == topics.StatusRejected {
		status = outcomeRejected
	}
	b = append(b, status)
	b = binary.AppendUvarint(b, res.Version)
	b = binary.AppendUvarint(b, uint64(len(res.Events)))
	for _, e := range res.Events {
		b = appendString(b, e.Type)
	}
	b = appendString(b, res.Code)
	return appendString(b, res.Message)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

var errOutcome = errors.New("processor: malformed remembered outcome")

// decodeOutcome reads a first outcome into res: status, version,
// events, code and message.
func decodeOutcome(b []byte, res *topics.Result) error {
	if len(b) == 0 || (b[0] != outcomeAccepted && b[0] != outcomeRejected) {
		return errOutcome
	}
	res.Status = topics.StatusAccepted
	if b[0] == outcomeRejected {
		res.Status = topics.StatusRejected
	}
	b = b[1:]
	version, n := binary.Uvarint(b)
	if n <= 0 {
		return errOutcome
	}
	b = b[n:]
	count, n := binary.Uvarint(b)
	if n <= 0 || count > version || count > uint64(len(b)) {
		return errOutcome
	}
	b = b[n:]
	res.Version, res.Events = version, make([]topics.ResultEvent, count)
	for i := range res.Events {
		var typ string
		if typ, b, n = readString(b); n <= 0 {
			return errOutcome
		}
		res.Events[i] = topics.ResultEvent{Type: typ, Version: version - count + 1 + uint64(i)}
	}
	if len(res.Events) == 0 {
		res.Events = nil
	}
	if res.Code, b, n = readString(b); n <= 0 {
		return errOutcome
	}
	if res.Message, b, n = readString(b); n <= 0 || len(b) != 0 {
		return errOutcome
	}
	return nil
}

// readString reads a length-prefixed string; n <= 0 when malformed.
func readString(b []byte) (string, []byte, int) {
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return "", b, -1
	}
	return string(b[n : n+int(l)]), b[n+int(l):], n
}

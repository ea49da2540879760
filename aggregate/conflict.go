package aggregate

import "errors"

// CodeVersionConflict rejects a command whose expected version is not the
// stream's version (optimistic concurrency; HTTP 412).
const CodeVersionConflict = "version_conflict"

// CodeOf returns the stable code of a rejection anywhere in err's chain, or
// "" when err is not a rejection.
func CodeOf(err error) string {
	if r, ok := errors.AsType[*Rejection](err); ok {
		return r.Code
	}
	return ""
}

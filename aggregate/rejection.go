package aggregate

import "fmt"

// Codes of rejections raised by the kernel itself. Domains add their own;
// every code is a stable, lower-case, snake_case string that reaches API
// clients unchanged.
const (
	CodeMalformed     = "malformed"      // not valid JSON, or trailing data
	CodeUnknownType   = "unknown_type"   // no executor or handler for the type name
	CodeUnknownField  = "unknown_field"  // a field the type does not have
	CodeInvalidField  = "invalid_field"  // a field of the wrong JSON type or value
	CodeMissingField  = "missing_field"  // a required field is absent or empty
	CodeInvalidID     = "invalid_id"     // an id that does not match [ValidID]
	CodeExecutorPanic = "executor_panic" // the executor or a handler panicked
)

// Rejection is the error an executor returns when a command breaks a rule.
// Code is stable and machine-readable; Message is for humans and may change.
type Rejection struct {
	Code    string
	Message string
}

// Reject returns a rejection with the given code and a formatted message.
func Reject(code, format string, args ...any) *Rejection {
	return &Rejection{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (r *Rejection) Error() string { return r.Code + ": " + r.Message }

// Is reports whether target is a rejection with the same code, so that
// errors.Is(err, &aggregate.Rejection{Code: "closed"}) works.
func (r *Rejection) Is(target error) bool {
	t, ok := target.(*Rejection)
	return ok && t.Code == r.Code
}

package query

import (
	"bytes"
	"net/http"

	"github.com/rewind/rewind/access"
	"github.com/rewind/rewind/internal/api"
)

// auditUnavailable answers 503 audit_unavailable: the access record of
// the answer was not acknowledged, so no data leaves.
func auditUnavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", access.RetryAfter)
	api.WriteProblem(w, api.CodeAuditUnavailable, "the access log cannot be written now, and no patient data is given out unlogged; retry later")
}

// answer is a response held back until its access record is written:
// nothing a handler writes leaves before the record is acknowledged. A
// handler names what it answered (ScheduleID, VisitorID, Rows) in rec.
type answer struct {
	header http.Header
	status int
	body   bytes.Buffer
	rec    *access.Record
}

func (a *answer) Header() http.Header         { return a.header }
func (a *answer) Write(b []byte) (int, error) { return a.body.Write(b) }
func (a *answer) WriteHeader(status int) {
	if a.status == 0 {
		a.status = status
	}
}

// checkPurpose answers 400 when X-Purpose is not a short line of text.
func checkPurpose(w http.ResponseWriter, rec *access.Record) bool {
	if err := rec.CheckPurpose(); err != nil {
		api.WriteProblem(w, api.CodeBadParameter, err.Error())
		return false
	}
	return true
}

// logged runs h with its answer held back, then writes the access record
// and, only once it is acknowledged, the answer. A problem answer (4xx,
// 5xx) gives out no patient data and is not recorded.
func (v *View) logged(w http.ResponseWriter, r *http.Request, rec *access.Record, h func(http.ResponseWriter, *access.Record)) {
	a := &answer{header: http.Header{}, rec: rec}
	h(a, rec)
	status := a.status
	if status == 0 {
		status = http.StatusOK
	}
	if accessLogged && (status == http.StatusOK || status == http.StatusNotModified) {
		rec.Status = status
		// The logger logs when the log goes down and comes back, not each
		// refused read.
		if err := v.access.Log(r.Context(), rec); err != nil {
			auditUnavailable(w)
			return
		}
	}
	for k, vs := range a.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(status)
	_, _ = w.Write(a.body.Bytes())
}

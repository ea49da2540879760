package query

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/api"
)

// params parses and checks query parameters, collecting the first problem.
type params struct {
	r      *http.Request
	values map[string][]string
	err    string
}

// parseParams refuses parameters the route does not know: a typo such as
// ?verison=3 must not silently answer the current state.
func parseParams(w http.ResponseWriter, r *http.Request, known ...string) (*params, bool) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	q := &params{r: r, values: values}
	if err != nil {
		q.fail("query", "not a valid URL query string")
	}
	for name, vals := range q.values {
		if !slices.Contains(known, name) {
			q.fail(name, "unknown parameter")
		} else if len(vals) > 1 {
			q.fail(name, "given more than once")
		}
	}
	return q, q.ok(w)
}

func (q *params) fail(name, msg string) {
	if q.err == "" {
		q.err = name + ": " + msg
	}
}

func (q *params) ok(w http.ResponseWriter) bool {
	if q.err == "" {
		return true
	}
	code := api.CodeBadParameter
	if len(q.err) > 0 && q.err[0] == '!' {
		code, q.err = aggregate.CodeInvalidID, q.err[1:]
	}
	api.WriteProblem(w, code, q.err)
	return false
}

func (q *params) has(name string) bool { _, ok := q.values[name]; return ok }

func (q *params) get(name string) string {
	if vals := q.values[name]; len(vals) > 0 {
		return vals[0]
	}
	return ""
}

func (q *params) id(name string) string {
	id := q.r.PathValue(name)
	if !aggregate.ValidID(id) && q.err == "" {
		q.err = "!" + name + " must match " + aggregate.IDPattern
	}
	return id
}

// order reads ?order=: newest first (the default) or oldest.
func (q *params) order() (newestFirst bool) {
	switch q.get("order") {
	case "", "newest":
		return true
	case "oldest":
		return false
	}
	q.fail("order", "must be newest or oldest")
	return true
}

// format checks ?format=: fhir is the one format asked for by parameter
// (CSV and NDJSON are asked for by Accept).
func (q *params) format() {
	if q.has("format") && q.get("format") != formatFHIR {
		q.fail("format", "must be fhir (CSV and NDJSON: send Accept: text/csv or application/x-ndjson)")
	}
}

// window checks that an optional [from, to) is not empty.
func (q *params) window(from, to time.Time) {
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		q.fail("to", "must be after from")
	}
}

// optionalID is a query parameter that names an id: "" when absent.
func (q *params) optionalID(name string) string {
	if !q.has(name) {
		return ""
	}
	id := q.get(name)
	if !aggregate.ValidID(id) {
		q.fail(name, "must match "+aggregate.IDPattern)
	}
	return id
}

func (q *params) uint(name string, least uint64) uint64 {
	if !q.has(name) {
		return 0
	}
	n, err := strconv.ParseUint(q.get(name), 10, 64)
	if err != nil || n < least {
		q.fail(name, fmt.Sprintf("must be a whole number ≥ %d", least))
	}
	return n
}

func (q *params) time(name string) time.Time {
	if !q.has(name) {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, q.get(name))
	if err != nil {
		q.fail(name, "must be an RFC 3339 time, such as 2026-03-02T10:00:00Z")
	}
	return t.UTC()
}

func (q *params) duration(name string, def time.Duration) time.Duration {
	if !q.has(name) {
		return def
	}
	d, err := api.ParseWait(q.get(name), api.MaxWait)
	if err != nil {
		q.fail(name, err.Error())
	}
	return d
}

func (q *params) limit(def int) int {
	if !q.has("limit") {
		return def
	}
	n, err := strconv.Atoi(q.get("limit"))
	if err != nil || n < 1 || n > maxLimit {
		q.fail("limit", fmt.Sprintf("must be between 1 and %d", maxLimit))
	}
	return n
}

var statuses = []schedule.Status{schedule.StatusNew, schedule.StatusReserved, schedule.StatusCanceled,
	schedule.StatusNoShow, schedule.StatusCheckedIn, schedule.StatusCheckedOut}

func (q *params) status() schedule.Status {
	if !q.has("status") {
		return ""
	}
	if s := schedule.Status(q.get("status")); slices.Contains(statuses, s) {
		return s
	}
	q.fail("status", "must be one of new, reserved, canceled, no_show, checked_in, checked_out")
	return ""
}

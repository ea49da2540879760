package query

import (
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rewind/rewind/access"
	"github.com/rewind/rewind/internal/api"
)

// The export formats of the audit lists: the whole list, streamed.
const (
	formatCSV    = "csv"
	formatNDJSON = "ndjson"
	formatFHIR   = "fhir" // an R4 Bundle of AuditEvent resources
)

// exportFormat is the export a request asks for, "" for a page: ?format=fhir,
// or Accept: text/csv or application/x-ndjson.
func exportFormat(r *http.Request) string {
	if r.URL.Query().Get("format") == formatFHIR {
		return formatFHIR
	}
	accept := r.Header.Get("Accept")
	switch {
	case strings.Contains(accept, "text/csv"):
		return formatCSV
	case strings.Contains(accept, "application/x-ndjson"):
		return formatNDJSON
	}
	return ""
}

// exportPage is the page size an export reads the list in.
const exportPage = 1000

// exporter writes one list's items in the export formats.
type exporter[T any] struct {
	csvHeader []string
	csvRow    func(*T) []string
	fhir      func(*T) map[string]any
}

// export answers an export of the list that page reads (from one
// snapshot): it counts the rows, writes the access record with that
// count and the purpose the export must have, and only once it is
// acknowledged streams the list, page by page. The record is the
// handler's to write here, not logged()'s: an export is not held in
// memory.
func export[T any](v *View, w http.ResponseWriter, r *http.Request, rec *access.Record, format string,
	page func(cursor string, limit int) ([]T, string, error), ex exporter[T]) {
	if rec.Purpose == "" {
		api.WriteProblem(w, api.CodeBadParameter, "an export needs a purpose: send X-Purpose, such as \"monthly access review\"")
		return
	}
	rows := 0
	for cursor := ""; ; {
		items, next, err := page(cursor, exportPage)
		if err != nil {
			writePage(v, w, r, rec, []T(nil), "", err)
			return
		}
		rows += len(items)
		if cursor = next; cursor == "" {
			break
		}
	}
	rec.Action, rec.Query, rec.Rows, rec.Status = access.Export, r.URL.RawQuery, &rows, http.StatusOK
	if err := v.access.Log(r.Context(), rec); err != nil {
		auditUnavailable(w)
		return
	}
	name := "rewind-" + strings.TrimPrefix(strings.ReplaceAll(rec.Route, "/", "-"), "GET -v1-") + "-" + time.Now().UTC().Format("20060102T150405Z")
	cw := csv.NewWriter(w)
	enc := json.NewEncoder(w)
	switch format {
	case formatCSV:
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
		_ = cw.Write(ex.csvHeader)
	case formatNDJSON:
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.ndjson"`)
	case formatFHIR:
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.json"`)
		_, _ = w.Write([]byte(`{"resourceType":"Bundle","type":"collection","total":` + strconv.Itoa(rows) + `,"entry":[`))
	}
	first := true
	for cursor := ""; ; {
		items, next, err := page(cursor, exportPage)
		if err != nil {
			// The status is sent: the stream ends short, and the log
			// says why.
			v.log.Error("export", "route", rec.Route, "err", err)
			return
		}
		for i := range items {
			switch format {
			case formatCSV:
				_ = cw.Write(ex.csvRow(&items[i]))
			case formatNDJSON:
				_ = enc.Encode(&items[i])
			case formatFHIR:
				if !first {
					_, _ = w.Write([]byte{','})
				}
				_ = enc.Encode(map[string]any{"resource": ex.fhir(&items[i])})
			}
			first = false
		}
		cw.Flush()
		if cursor = next; cursor == "" {
			break
		}
	}
	if format == formatFHIR {
		_, _ = w.Write([]byte("]}\n"))
	}
}

// FHIR R4 AuditEvent codes (hl7.org/fhir/R4/auditevent.html), after the
// IHE Basic Audit Log Patterns where they fit: a RESTful operation by a
// user on a patient's data.
var (
	fhirRest       = map[string]any{"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest", "display": "RESTful Operation"}
	fhirPatient    = map[string]any{"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person"}
	fhirPatientRol = map[string]any{"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"}
	fhirDomainObj  = map[string]any{"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"}
)

// fhirAccessActions are the AuditEvent action and RESTful interaction of
// each access action.
var fhirAccessActions = map[access.Action][2]string{
	access.View: {"R", "read"}, access.List: {"E", "search-type"}, access.Export: {"E", "search-type"},
	access.Erase: {"D", "delete"}, access.Command: {"C", "create"},
}

func fhirEntities(scheduleID, visitorID string) []any {
	var out []any
	if visitorID != "" {
		out = append(out, map[string]any{"what": map[string]any{"identifier": map[string]any{"value": visitorID}},
			"type": fhirPatient, "role": fhirPatientRol})
	}
	if scheduleID != "" {
		out = append(out, map[string]any{"what": map[string]any{"identifier": map[string]any{"value": scheduleID}}, "type": fhirDomainObj})
	}
	return out
}

// accessExporter writes access records.
var accessExporter = exporter[access.Record]{
	csvHeader: []string{"time", "tenant", "subject", "tokenId", "client", "service", "action", "route", "status",
		"scheduleId", "visitorId", "commandType", "commandId", "query", "rows", "purpose", "writer", "seq"},
	csvRow: func(r *access.Record) []string {
		rows := ""
		if r.Rows != nil {
			rows = strconv.Itoa(*r.Rows)
		}
		return []string{r.Time.Format(time.RFC3339Nano), r.Tenant, r.Subject, r.TokenID, r.Client, r.Service, string(r.Action),
			r.Route, strconv.Itoa(r.Status), r.ScheduleID, r.VisitorID, r.CommandType, r.CommandID, r.Query, rows, r.Purpose,
			r.Writer, strconv.FormatUint(r.Seq, 10)}
	},
	fhir: func(r *access.Record) map[string]any {
		act := fhirAccessActions[r.Action]
		ev := map[string]any{"resourceType": "AuditEvent", "type": fhirRest,
			"subtype": []any{map[string]any{"system": "http://hl7.org/fhir/restful-interaction", "code": act[1]}},
			"action":  act[0], "recorded": r.Time.Format(time.RFC3339Nano), "outcome": "0",
			"agent": []any{map[string]any{"who": map[string]any{"identifier": map[string]any{"value": r.Subject}},
				"altId": r.TokenID, "requestor": true, "network": map[string]any{"address": r.Client, "type": "2"}}},
			"source": map[string]any{"site": r.Tenant, "observer": map[string]any{"display": "rewind " + r.Service + " (" + r.Writer + ")"}}}
		if r.Purpose != "" {
			ev["purposeOfEvent"] = []any{map[string]any{"text": r.Purpose}}
		}
		entities := fhirEntities(r.ScheduleID, r.VisitorID)
		if r.Query != "" {
			entities = append(entities, map[string]any{"type": fhirDomainObj, "query": base64.StdEncoding.EncodeToString([]byte(r.Query))})
		}
		if len(entities) > 0 {
			ev["entity"] = entities
		}
		return ev
	},
}

// activityExporter writes the activity trail: each event a change by its
// initiator.
var activityExporter = exporter[Activity]{
	csvHeader: []string{"time", "initiator", "type", "scheduleId", "visitorId", "version", "processId"},
	csvRow: func(a *Activity) []string {
		return []string{a.Time.Format(time.RFC3339Nano), a.Initiator, a.Type, a.ScheduleID, a.VisitorID,
			strconv.FormatUint(a.Version, 10), a.ProcessID}
	},
	fhir: func(a *Activity) map[string]any {
		ev := map[string]any{"resourceType": "AuditEvent", "type": fhirRest,
			"subtype": []any{map[string]any{"system": "urn:rewind:event-type", "code": a.Type}},
			"action":  "U", "recorded": a.Time.Format(time.RFC3339Nano), "outcome": "0",
			"agent":  []any{map[string]any{"who": map[string]any{"identifier": map[string]any{"value": a.Initiator}}, "requestor": true}},
			"source": map[string]any{"observer": map[string]any{"display": "rewind processor"}}}
		if entities := fhirEntities(a.ScheduleID, a.VisitorID); len(entities) > 0 {
			ev["entity"] = entities
		}
		return ev
	},
}

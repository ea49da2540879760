package query_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/access"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/query"
)

// TestExports: both audit lists export whole, past a page of the export's
// reads, as CSV, NDJSON and a FHIR R4 Bundle of AuditEvents; an export
// needs a purpose and is recorded as one, with its row count, before it
// is sent.
func TestExports(t *testing.T) {
	w := newWorld(t)
	var recs []*kgo.Record
	recs = append(recs, w.exec("clinic-a", "visit-1", "Reserve", reserve("v-1", t0, time.Hour), t0)...)
	recs = append(recs, w.exec("clinic-a", "visit-1", "CheckIn", `{"channel":"desk"}`, t0.Add(time.Minute))...)
	for i := range 1100 {
		recs = append(recs, w.exec("clinic-a", "visit-1", "TakePhotos", fmt.Sprintf(`{"kind":"before","count":%d}`, i+1), t0.Add(time.Duration(2+i)*time.Second))...)
	}
	recs = append(recs, w.exec("clinic-b", "visit-1", "Reserve", reserve("v-1", t0, time.Hour), t0)...)
	w.commit(recs)
	s := startView(t, w.brokers, t.TempDir())
	s.waitFolded(w.total())
	want := pages[query.Activity](s, tokenAuditA, "/v1/activity?limit=1000", 1000)
	if len(want) != w.total()-1 || len(want) <= 1000 {
		t.Fatalf("the trail has %d items, want %d, over a page of the export's reads", len(want), w.total()-1)
	}
	purpose := map[string]string{"X-Purpose": "monthly access review"}
	with := func(h map[string]string) map[string]string {
		h["X-Purpose"] = purpose["X-Purpose"]
		return h
	}

	// No purpose: refused, and nothing recorded.
	before := len(testkit.AccessLog(t, w.brokers))
	if code, _, body := s.fetch(tokenAuditA, "/v1/activity", map[string]string{"Accept": "text/csv"}); code != 400 || !bytes.Contains(body, []byte(api.CodeBadParameter)) {
		t.Fatalf("an export without a purpose: %d %s", code, body)
	}
	if n := len(testkit.AccessLog(t, w.brokers)); n != before {
		t.Fatalf("a refused export wrote %d records", n-before)
	}
	exported := func(rows int) {
		t.Helper()
		log := testkit.AccessLog(t, w.brokers)
		if len(log) != before+1 {
			t.Fatalf("an export wrote %d records, want 1", len(log)-before)
		}
		r := log[len(log)-1]
		if r.Action != access.Export || r.Rows == nil || *r.Rows != rows || r.Purpose != purpose["X-Purpose"] || r.Subject != "auditor" {
			t.Fatalf("the export's record: %+v, want export of %d rows", r, rows)
		}
		before = len(log)
	}

	// CSV: a header and a row per item, in the list's order.
	rows := csvRows(t, s, tokenAuditA, with(map[string]string{"Accept": "text/csv"}))
	if len(rows) != len(want)+1 || rows[0][0] != "time" || rows[1][2] != want[0].Type || rows[len(rows)-1][5] != "1" {
		t.Fatalf("CSV: %d rows, first %v, last %v", len(rows), rows[:2], rows[len(rows)-1])
	}
	exported(len(want))

	// NDJSON: the items themselves.
	code, _, body := s.fetch(tokenAuditA, "/v1/activity?order=oldest", with(map[string]string{"Accept": "application/x-ndjson"}))
	got := activityLines(t, body)
	slices.Reverse(got)
	if code != 200 || jsonOf(t, got) != jsonOf(t, want) {
		t.Fatalf("NDJSON: %d, %d items", code, len(got))
	}
	exported(len(want))

	// FHIR: a Bundle of AuditEvents with what R4 requires of each.
	for _, path := range []string{"/v1/activity?format=fhir", "/v1/access?format=fhir"} {
		code, h, body := s.fetch(tokenAuditA, path, purpose)
		if h.Get("Content-Type") != "application/fhir+json" {
			t.Fatalf("%s: %d %s", path, code, h.Get("Content-Type"))
		}
		exported(auditBundle(t, path, code, body))
	}

	// Another tenant's export holds its own only.
	if rows := csvRows(t, s, tokenAuditB, with(map[string]string{"Accept": "text/csv"})); len(rows) != 2 {
		t.Fatalf("clinic-b's export: %d rows", len(rows))
	}
}

// csvRows exports the activity trail as CSV and parses it.
func csvRows(t *testing.T, s *service, token string, headers map[string]string) [][]string {
	t.Helper()
	code, h, body := s.fetch(token, "/v1/activity", headers)
	if code != 200 || h.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("CSV: %d %s", code, h.Get("Content-Type"))
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v", err)
	}
	return rows
}

// activityLines decodes an NDJSON export of the activity trail.
func activityLines(t *testing.T, body []byte) []query.Activity {
	t.Helper()
	var got []query.Activity
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		var a query.Activity
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("NDJSON line %d: %v", len(got)+1, err)
		}
		got = append(got, a)
	}
	return got
}

// auditBundle checks a FHIR export of path: a Bundle of AuditEvents, each
// with what R4 requires. It returns their count.
func auditBundle(t *testing.T, path string, code int, body []byte) int {
	t.Helper()
	var bundle struct {
		ResourceType, Type string
		Total              int
		Entry              []struct{ Resource map[string]any }
	}
	if err := json.Unmarshal(body, &bundle); err != nil || code != 200 {
		t.Fatalf("%s: %d %v", path, code, err)
	}
	if bundle.ResourceType != "Bundle" || bundle.Type != "collection" || bundle.Total != len(bundle.Entry) || bundle.Total == 0 {
		t.Fatalf("%s: a %s of type %s, total %d, %d entries", path, bundle.ResourceType, bundle.Type, bundle.Total, len(bundle.Entry))
	}
	for i, e := range bundle.Entry {
		if err := checkAuditEvent(e.Resource); err != nil {
			t.Fatalf("%s: entry %d: %v: %v", path, i, err, e.Resource)
		}
	}
	return bundle.Total
}

// checkAuditEvent checks what FHIR R4 requires of an AuditEvent: type,
// recorded (an instant), at least one agent with requestor, a source with
// an observer; action, when given, one of C R U D E; and an entity's
// query in base64.
func checkAuditEvent(r map[string]any) error {
	if r["resourceType"] != "AuditEvent" {
		return fmt.Errorf("resourceType %v", r["resourceType"])
	}
	if typ, ok := r["type"].(map[string]any); !ok || typ["code"] == nil || typ["system"] == nil {
		return fmt.Errorf("type %v", r["type"])
	}
	if s, ok := r["recorded"].(string); !ok {
		return fmt.Errorf("recorded %v", r["recorded"])
	} else if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
		return err
	}
	agents, _ := r["agent"].([]any)
	if len(agents) == 0 {
		return fmt.Errorf("no agent")
	}
	for _, a := range agents {
		if _, ok := a.(map[string]any)["requestor"].(bool); !ok {
			return fmt.Errorf("an agent without requestor")
		}
	}
	if src, ok := r["source"].(map[string]any); !ok || src["observer"] == nil {
		return fmt.Errorf("source %v", r["source"])
	}
	if a, ok := r["action"]; ok && !slices.Contains([]any{"C", "R", "U", "D", "E"}, a) {
		return fmt.Errorf("action %v", a)
	}
	entities, _ := r["entity"].([]any)
	for _, e := range entities {
		if q, ok := e.(map[string]any)["query"]; ok {
			if _, err := base64Decode(q); err != nil {
				return fmt.Errorf("entity query: %v", err)
			}
		}
	}
	return nil
}

func base64Decode(v any) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("not a string: %v", v)
	}
	return base64.StdEncoding.DecodeString(s)
}

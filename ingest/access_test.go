package ingest_test

import (
	"strings"
	"testing"

	"github.com/rewind/rewind/access"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/testing/testkit"
)

// TestAccessRecords: every command and erasure is recorded on
// schedule-access before it is sent, one record each, naming who, which
// schedule or visitor, and the command; a bad X-Purpose sends nothing.
func TestAccessRecords(t *testing.T) {
	e := setup(t)
	since := func(before int) []access.Record {
		t.Helper()
		return testkit.AccessLog(t, e.brokers)[before:]
	}
	n := len(testkit.AccessLog(t, e.brokers))
	r := e.do(t, "POST", "/v1/schedules/visit-1/commands/Reserve", tokenA, reserve, "Idempotency-Key", "cmd-1", "X-Purpose", "phone booking")
	if r.status != 200 {
		t.Fatalf("command: %d %v", r.status, r.body)
	}
	recs := since(n)
	if len(recs) != 1 {
		t.Fatalf("a command wrote %d access records", len(recs))
	}
	if g := recs[0]; g.Action != access.Command || g.Service != "ingest" || g.Tenant != "clinic-a" || g.Subject != "desk-1" ||
		g.TokenID != api.TokenID(tokenA) || g.ScheduleID != "visit-1" || g.CommandType != "Reserve" || g.CommandID != "cmd-1" ||
		g.Purpose != "phone booking" || g.Route != "POST /v1/schedules/{id}/commands/{type}" || g.Client != "127.0.0.1" {
		t.Errorf("the command's record: %+v", g)
	}

	n += len(recs)
	batch := `{"scheduleId":"visit-2","type":"Reserve","data":` + reserve + `}` + "\n" +
		`{"scheduleId":"visit-2","type":"Nope"}` + "\n" +
		`{"scheduleId":"visit-3","type":"Reserve","data":` + reserve + `}` + "\n"
	if r := e.do(t, "POST", "/v1/commands", tokenA, batch); r.status != 200 {
		t.Fatalf("batch: %d", r.status)
	}
	recs = since(n)
	if len(recs) != 2 || recs[0].ScheduleID == recs[1].ScheduleID {
		t.Fatalf("a batch of two commands and a refused line wrote %+v", recs)
	}

	n += len(recs)
	if r := e.do(t, "DELETE", "/v1/visitors/v1/personal-data", tokenOfficerA, `{"reason":"the patient asked\nby letter"}`); r.status != 200 {
		t.Fatalf("erasure: %d %v", r.status, r.body)
	}
	recs = since(n)
	if len(recs) != 1 || recs[0].Action != access.Erase || recs[0].VisitorID != "v1" || recs[0].Subject != "dpo-a" ||
		recs[0].Purpose != "the patient asked by letter" || recs[0].CommandID == "" {
		t.Fatalf("the erasure's records: %+v", recs)
	}

	n += len(recs)
	bad := strings.Repeat("x", access.MaxPurpose+1)
	if r := e.do(t, "POST", "/v1/schedules/visit-4/commands/Reserve", tokenA, reserve, "X-Purpose", bad); r.status != 400 {
		t.Errorf("a purpose over %d bytes: %d", access.MaxPurpose, r.status)
	}
	if r := e.do(t, "POST", "/v1/commands", tokenA, `{"scheduleId":"visit-4","type":"Reserve","data":`+reserve+`}`, "X-Purpose", bad); r.status != 400 {
		t.Errorf("a batch with a purpose over %d bytes: %d", access.MaxPurpose, r.status)
	}
	if recs := since(n); len(recs) != 0 {
		t.Errorf("refused requests wrote %+v", recs)
	}
}

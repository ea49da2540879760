package ingest_test

import (
	"net/http"
	"testing"

	"github.com/rewind/rewind/processor"
	"github.com/rewind/rewind/shred"
)

// TestErase: a privacy officer erases a visitor's personal data; the
// answer counts the visitor's schedules, comes again the same for a
// second call, says nothing of an unknown visitor or another tenant's,
// and new personal data of the visitor is refused while commands without
// it go on.
func TestErase(t *testing.T) { erasures(t, setup(t)) }

func erasures(t *testing.T, e *env) {
	reserve := func(id, body string) reply {
		return e.do(t, "POST", "/v1/schedules/"+id+"/commands/Reserve", tokenA, body)
	}
	slot := `"start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"`
	for _, id := range []string{"visit-1", "visit-2", "visit-3"} {
		if r := reserve(id, `{"visitorId":"v-1","visitor":{"name":"Kim Minji","phone":"010-5555-1234"},`+slot+`}`); r.status != http.StatusOK {
			t.Fatalf("reserve %s: %d %v", id, r.status, r.body)
		}
	}
	if r := reserve("visit-9", `{"visitorId":"v-2",`+slot+`}`); r.status != http.StatusOK {
		t.Fatalf("reserve another visitor's: %d %v", r.status, r.body)
	}
	const path = "/v1/visitors/v-1/personal-data"
	for _, token := range []string{tokenA, tokenAuditor} {
		if r := e.do(t, "DELETE", path, token, ""); r.status != http.StatusForbidden || r.body["code"] != "insufficient_scope" {
			t.Errorf("erasure without the erase scope: %d %v", r.status, r.body)
		}
	}
	if r := e.do(t, "DELETE", path, tokenOfficerA, `{"reason":"the patient asked","by":"x"}`); r.status != http.StatusBadRequest {
		t.Errorf("an erasure with an unknown field: %d %v", r.status, r.body)
	}
	// Another tenant's officer: 200 and nothing to count, and nothing is
	// touched (the reservation below still opens under clinic-a's keys).
	if r := e.do(t, "DELETE", path, tokenOfficerB, ""); r.status != http.StatusOK || r.body["schedules"] != 0.0 {
		t.Errorf("another tenant's erasure: %d %v", r.status, r.body)
	}
	if r := reserve("visit-4", `{"visitorId":"v-1","visitor":{"name":"Kim Minji"},`+slot+`}`); r.status != http.StatusOK {
		t.Fatalf("personal data after another tenant's erasure: %d %v", r.status, r.body)
	}
	for i := range 2 {
		r := e.do(t, "DELETE", path, tokenOfficerA, `{"reason":"the patient asked"}`)
		if r.status != http.StatusOK || r.body["schedules"] != 4.0 || r.body["visitorId"] != "v-1" {
			t.Fatalf("erasure %d: %d %v, want 200 counting 4 schedules", i+1, r.status, r.body)
		}
	}
	if r := e.do(t, "DELETE", "/v1/visitors/nobody/personal-data", tokenOfficerA, ""); r.status != http.StatusOK || r.body["schedules"] != 0.0 {
		t.Errorf("an unknown visitor's erasure: %d %v", r.status, r.body)
	}
	if r := e.do(t, "DELETE", "/v1/visitors/bad%20id/personal-data", tokenOfficerA, ""); r.status != http.StatusBadRequest || r.body["code"] != "invalid_id" {
		t.Errorf("a bad visitor id: %d %v", r.status, r.body)
	}
	if r := reserve("visit-5", `{"visitorId":"v-1","visitor":{"name":"Kim Minji"},`+slot+`}`); r.status != http.StatusConflict || r.body["code"] != "personal_data_erased" {
		t.Errorf("new personal data of an erased visitor: %d %v", r.status, r.body)
	}
	if r := reserve("visit-6", `{"visitorId":"v-1",`+slot+`}`); r.status != http.StatusOK {
		t.Errorf("a command without personal data of an erased visitor: %d %v", r.status, r.body)
	}
	if r := e.do(t, "POST", "/v1/schedules/visit-1/commands/CheckIn", tokenA, `{"channel":"desk"}`); r.status != http.StatusOK {
		t.Errorf("a check-in of an erased visitor's reservation: %d %v", r.status, r.body)
	}
}

// TestEraseKeysDiffer: when the processors hold other erasure keys than
// ingest, they refuse its erasures, and ingest says so with 503
// erasure_unavailable: nothing was destroyed, and the visitor's personal
// data is still accepted.
func TestEraseKeysDiffer(t *testing.T) {
	other, err := shred.ParseSigner([]byte(shred.NewKEKLine("other-1")))
	if err != nil {
		t.Fatal(err)
	}
	e := setupProcessor(t, func(c *processor.Config) { c.Erasures = other })
	if r := e.do(t, "DELETE", "/v1/visitors/v-1/personal-data", tokenOfficerA, ""); r.status != http.StatusServiceUnavailable || r.body["code"] != "erasure_unavailable" {
		t.Fatalf("an erasure the processors refuse: %d %v", r.status, r.body)
	}
	body := `{"visitorId":"v-1","visitor":{"name":"Kim Minji"},"start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`
	if r := e.do(t, "POST", "/v1/schedules/visit-1/commands/Reserve", tokenA, body); r.status != http.StatusOK {
		t.Fatalf("personal data after a refused erasure: %d %v", r.status, r.body)
	}
}

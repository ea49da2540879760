package ingest_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/ingest"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/processor"
	"github.com/rewind/rewind/topics"
)

// documented parses the paths, methods and response codes of openapi.yaml
// (the document is written in a fixed indentation style).
func documented(t *testing.T) (routes map[string]bool, statuses map[string]bool, codes map[string]bool) {
	t.Helper()
	routes, statuses, codes = map[string]bool{}, map[string]bool{}, map[string]bool{}
	pathRe := regexp.MustCompile(`^  (/\S+):$`)
	methodRe := regexp.MustCompile(`^    (get|post|delete):$`)
	statusRe := regexp.MustCompile(`^        '(\d{3})':`)
	codeRe := regexp.MustCompile(`^ {12}- ([a-z_]+)$`)
	var path, method string
	sc := bufio.NewScanner(bytes.NewReader(ingest.OpenAPI))
	for sc.Scan() {
		line := sc.Text()
		if m := pathRe.FindStringSubmatch(line); m != nil {
			path = m[1]
		} else if m := methodRe.FindStringSubmatch(line); m != nil {
			method = strings.ToUpper(m[1])
			routes[method+" "+path] = true
		} else if m := statusRe.FindStringSubmatch(line); m != nil {
			statuses[fmt.Sprintf("%s %s %s", method, path, m[1])] = true
		} else if m := codeRe.FindStringSubmatch(line); m != nil {
			codes[m[1]] = true
		}
	}
	return routes, statuses, codes
}

// TestOpenAPIMatchesHandlers drives the API through every scenario of the
// other tests and checks that each answer seen is documented, that each
// documented route exists, and that every problem code is listed.
func TestOpenAPIMatchesHandlers(t *testing.T) {
	statusCodes(t, setup(t))
	tenantIsolation(t, setup(t))
	batchLines(t, setup(t), 10)
	kafkaDown(t, setup(t))
	reusedKey(t, fakeEnv(t, 0))
	waitingBound(t, fakeEnv(t, 1))
	erasures(t, setup(t))
	e := setup(t)
	if r := e.do(t, "POST", "/v1/commands?wait=never", tokenA, "{}"); r.status != 400 {
		t.Fatalf("bad wait on batch: %d", r.status)
	}
	if r := e.do(t, "GET", "/v1/commands/x", "", ""); r.status != 401 {
		t.Fatalf("GET without token: %d", r.status)
	}
	if r := e.do(t, "GET", "/openapi.yaml", "", ""); r.status != 200 {
		t.Fatalf("GET /openapi.yaml: %d", r.status)
	}

	routes, statuses, codes := documented(t)
	if len(routes) != 4 {
		t.Fatalf("want 4 documented routes, got %v", routes)
	}
	seen.Lock()
	defer seen.Unlock()
	for answer := range seen.m {
		if strings.HasPrefix(answer, "GET /openapi.yaml") {
			continue
		}
		if !statuses[answer] {
			t.Errorf("handler answered %q, which openapi.yaml does not document", answer)
		}
	}
	for route := range routes {
		found := false
		for answer := range seen.m {
			found = found || strings.HasPrefix(answer, route+" ")
		}
		if !found {
			t.Errorf("documented route %q has no handler or was never exercised", route)
		}
	}
	if api.CodeIdempotencyKeyReused != topics.CodeIdempotencyKeyReused {
		t.Errorf("ingest answers %q with 422, the processor rejects with %q", api.CodeIdempotencyKeyReused, topics.CodeIdempotencyKeyReused)
	}
	for _, code := range []string{api.CodeUnauthorized, api.CodeForbidden, api.CodeTooLarge,
		api.CodeBadParameter, api.CodeKafkaUnavailable, api.CodeUnknownCommand,
		api.CodeInsufficientScope, api.CodeTooManyWaiting, api.CodeIdempotencyKeyReused,
		api.CodeNotFound, api.CodeMethodNotAllowed,
		"malformed", "unknown_type", "unknown_field", "invalid_field", "missing_field", "invalid_id"} {
		if !codes[code] {
			t.Errorf("problem code %q is not in openapi.yaml", code)
		}
	}
	// Every rejection code a 409 or 412 can carry.
	for _, code := range []string{aggregate.CodeVersionConflict, aggregate.CodeExecutorPanic,
		topics.CodeInvalidKey, topics.CodeMisrouted, topics.CodeTooLarge, topics.CodeTenantMismatch,
		topics.CodeSubjectMismatch, topics.CodeInvalidHeader, processor.CodeInternal, processor.CodeEncodeFailed,
		processor.CodePersonalDataErased, processor.CodeNoDataSubject,
		schedule.CodeAlreadyReserved, schedule.CodeAlreadyCheckedIn, schedule.CodeInvalidTimeRange,
		schedule.CodeNotReserved, schedule.CodeTooEarly, schedule.CodeNotCheckedIn, schedule.CodeBusy,
		schedule.CodeClosed, schedule.CodeNotInConsultation, schedule.CodeProcedureInProgress,
		schedule.CodeProcedureNotPlanned, schedule.CodeProcedureNotInProgress,
		schedule.CodeProcedureAlreadyPerformed, schedule.CodeNotInAftercare, schedule.CodeVisitorMismatch} {
		if !codes[code] {
			t.Errorf("rejection code %q is not in openapi.yaml", code)
		}
	}
	_ = http.StatusOK
}

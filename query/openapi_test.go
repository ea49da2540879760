package query_test

import (
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rewind/rewind/access"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/query"
)

// TestOpenAPIMatchesHandlers: every documented route is served and
// writes exactly one access record that names who read what, every
// problem code the handlers can answer is documented, and the document
// is served at /openapi.yaml.
func TestOpenAPIMatchesHandlers(t *testing.T) {
	var doc struct {
		Paths      map[string]map[string]any
		Components struct {
			Responses struct {
				Problem struct {
					Content map[string]struct {
						Schema struct {
							Properties struct {
								Code struct{ Enum []string }
							}
						}
					}
				} `yaml:"Problem"`
			}
		}
	}
	if err := yaml.Unmarshal(query.OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	w := newWorld(t)
	w.commit(w.exec("clinic-a", "visit-1", "Reserve", reserve("v-1", t0, time.Hour), t0))
	s := startView(t, w.brokers, t.TempDir())
	s.waitFolded(1)
	concrete := strings.NewReplacer("{id}", "visit-1", "{visitorId}", "v-1")
	for path, methods := range doc.Paths {
		for method := range methods {
			if method != "get" {
				t.Errorf("%s %s: the query API only reads", method, path)
			}
			p := concrete.Replace(path)
			switch path {
			case "/v1/schedules":
				p += "?from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z"
			case "/v1/activity":
				p += "?initiator=desk-1"
			case "/v1/access":
				p += "?subject=desk-1"
			}
			token := tokenA
			if strings.HasSuffix(path, "/erasures") || path == "/v1/activity" || path == "/v1/access" {
				token = tokenAuditA // scope audit
			}
			before := len(testkit.AccessLog(t, w.brokers))
			if code, pc := s.get(token, p, nil); code != 200 {
				t.Errorf("documented GET %s answers %d %s", path, code, pc)
			}
			log := testkit.AccessLog(t, w.brokers)
			if len(log) != before+1 {
				t.Errorf("GET %s wrote %d access records, want 1", path, len(log)-before)
				continue
			}
			checkRecord(t, log[len(log)-1], token, "GET "+path, p)
		}
	}
	if len(doc.Paths) != 8 {
		t.Errorf("openapi.yaml documents %d paths, the API has 8", len(doc.Paths))
	}
	src, err := os.ReadFile("server.go")
	if err != nil {
		t.Fatal(err)
	}
	enum := doc.Components.Responses.Problem.Content["application/problem+json"].Schema.Properties.Code.Enum
	for _, m := range regexp.MustCompile(`Code\w+ += "(\w+)"`).FindAllStringSubmatch(string(src), -1) {
		if !slices.Contains(enum, m[1]) {
			t.Errorf("problem code %s is not in openapi.yaml", m[1])
		}
	}
	for _, code := range []string{"invalid_id", api.CodeAuditUnavailable, api.CodeAccessNotIndexed, api.CodeUnauthorized, api.CodeInsufficientScope, api.CodeTooManyWaiting,
		api.CodeNotFound, api.CodeMethodNotAllowed} {
		if !slices.Contains(enum, code) {
			t.Errorf("problem code %s is not in openapi.yaml", code)
		}
	}
	resp, err := http.Get(s.url + "/openapi.yaml")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /openapi.yaml: %v %v", err, resp)
	}
	resp.Body.Close()
}

// checkRecord checks the access record of a GET of path on route with
// token: who (tenant, subject, token id), the action, and whose data.
func checkRecord(t *testing.T, r access.Record, token, route, path string) {
	t.Helper()
	subject := map[string]string{tokenA: "desk-1", tokenAuditA: "auditor"}[token]
	if r.Tenant != "clinic-a" || r.Subject != subject || r.TokenID != api.TokenID(token) || r.Route != route ||
		r.Service != "query" || r.Status != 200 || r.Client != "127.0.0.1" || r.Time.IsZero() {
		t.Errorf("%s: access record %+v: want clinic-a, %s, token %s, status 200 from 127.0.0.1", path, r, subject, api.TokenID(token))
	}
	switch {
	case strings.HasPrefix(route, "GET /v1/schedules/{id}"):
		if r.Action != access.View || r.ScheduleID != "visit-1" || r.VisitorID != "v-1" {
			t.Errorf("%s: access record %+v: want a view of visit-1 of v-1", path, r)
		}
	case strings.HasPrefix(route, "GET /v1/visitors/"):
		if r.Action != access.List || r.VisitorID != "v-1" || r.Rows == nil {
			t.Errorf("%s: access record %+v: want a list of v-1's, with its rows", path, r)
		}
	default:
		if r.Action != access.List || r.Rows == nil || r.Query == "" {
			t.Errorf("%s: access record %+v: want a list with its query and rows", path, r)
		}
	}
}

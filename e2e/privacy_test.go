package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/testkit"
)

// TestPersonalDataOnDisk runs devkafka, two processors with a standby
// each, ingest and query as processes. It sends personal data through
// ingest, erases one visitor, and then looks for the values in every file
// the processes wrote, the log included: only the commands topic may hold
// them. Then everything restarts, the query replica on an empty data dir
// (a rebuild) and a processor on an empty one (a cold restore): the erased
// values stay erased, the other visitor's still open, and new personal
// data of the erased visitor is refused.
func TestPersonalDataOnDisk(t *testing.T) {
	s := startStack(t)
	const officer = "e2e-privacy-officer"
	tokens := filepath.Join(s.dir, "tokens")
	testkit.WriteFile(t, tokens, api.TokenLine(s.token, "clinic-e2e", "desk-1", api.ScopeAll)+
		api.TokenLine(officer, "clinic-e2e", "dpo", api.ScopeErase))
	// ingest re-reads the file each second: the officer's token is known
	// once it is answered 403 (it may not write) instead of 401.
	known := testkit.Eventually(10*time.Second, func() bool {
		req, _ := http.NewRequest("GET", "http://"+s.ingestHTTP+"/v1/commands/x", nil)
		req.Header.Set("Authorization", "Bearer "+officer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusForbidden
	})
	if !known {
		t.Fatal("ingest did not take the officer's token within 10s")
	}
	queryHTTP := testkit.FreeAddr(t)
	startQuery := func() *testkit.Process {
		p := testkit.Start(t, "query", s.log, "-brokers", s.kafka, "-http", queryHTTP, "-tokens", tokens,
			"-data-dir", filepath.Join(s.dir, "query"))
		waitReady(t, queryHTTP)
		return p
	}
	query := startQuery()
	send := func(token, method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	command := func(stream, typ, body string) (int, map[string]any) {
		return send(s.token, "POST", fmt.Sprintf("http://%s/v1/schedules/%s/commands/%s", s.ingestHTTP, stream, typ), body)
	}
	slot := `"start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"`
	for _, c := range [][3]string{
		{"visit-1", "Reserve", `{"visitorId":"v-1","visitor":{"name":"Kim Minji","phone":"010-5555-1234"},` + slot + `}`},
		{"visit-1", "CheckIn", `{"channel":"desk"}`},
		{"visit-1", "StartConsultation", `{"counselorId":"c1"}`},
		{"visit-1", "CompleteConsultation", `{"notes":"allergic to lidocaine"}`},
		{"visit-2", "Reserve", `{"visitorId":"v-1","visitor":{"name":"Kim Minji"},` + slot + `}`},
		{"visit-2", "CancelReservation", `{"by":"patient","reason":"moving to Busan"}`},
		{"visit-3", "Reserve", `{"visitorId":"v-2","visitor":{"name":"Lee Seojun"},` + slot + `}`},
	} {
		if code, body := command(c[0], c[1], c[2]); code != http.StatusOK {
			t.Fatalf("%s %s: %d %v", c[0], c[1], code, body)
		}
	}
	state := func(stream string) string {
		t.Helper()
		code, body := send(s.token, "GET", fmt.Sprintf("http://%s/v1/schedules/%s?minVersion=1&wait=10s", queryHTTP, stream), "")
		if code != http.StatusOK {
			t.Fatalf("state of %s: %d %v", stream, code, body)
		}
		b, _ := json.Marshal(body["state"])
		return string(b)
	}
	if st := state("visit-1"); !strings.Contains(st, "Kim Minji") || !strings.Contains(st, "lidocaine") {
		t.Fatalf("visit-1 before the erasure: %s", st)
	}

	start := time.Now()
	code, erased := send(officer, "DELETE", "http://"+s.ingestHTTP+"/v1/visitors/v-1/personal-data", `{"reason":"the patient asked"}`)
	if code != http.StatusOK || erased["schedules"] != 2.0 {
		t.Fatalf("erasure: %d %v", code, erased)
	}
	t.Logf("the erasure answered in %v", time.Since(start).Round(time.Millisecond))
	if !testkit.Eventually(time.Second, func() bool { return strings.Contains(state("visit-1"), "[erased]") }) {
		t.Fatalf("visit-1 a second after the erasure: %s", state("visit-1"))
	}

	// Everything stops (devkafka with SIGTERM: its files must hold what it
	// committed); then every file is searched.
	for _, p := range append([]*testkit.Process{s.ingest, query}, s.procs...) {
		testkit.StopCleanly(t, p, syscall.SIGTERM, 30*time.Second)
	}
	testkit.StopCleanly(t, s.kafkaProc, syscall.SIGTERM, 30*time.Second)
	inCommands := false
	for file, data := range testkit.Files(t, s.dir) {
		if strings.Contains(file, "schedule-commands-") {
			// The commands topic: what producers sent, for 7 days
			// (docs/privacy.md). It proves the search reads the broker's files.
			inCommands = inCommands || bytes.Contains(data, []byte("Kim Minji"))
			continue
		}
		for _, p := range []string{"Kim Minji", "010-5555-1234", "lidocaine", "moving to Busan", "Lee Seojun"} {
			if bytes.Contains(data, []byte(p)) {
				t.Errorf("%s holds %q in clear", file, p)
			}
		}
	}

	if !inCommands {
		t.Fatal("the search found no command in the broker's files: it searched the wrong place")
	}

	// A restart: query rebuilds from nothing, p0 restores from nothing.
	for _, dir := range []string{"query", "p0"} {
		if err := os.RemoveAll(filepath.Join(s.dir, dir)); err != nil {
			t.Fatal(err)
		}
	}
	s.restart()
	startQuery()
	if st := state("visit-1"); strings.Contains(st, "Kim Minji") || strings.Contains(st, "lidocaine") || !strings.Contains(st, "[erased]") {
		t.Errorf("visit-1 after a rebuild: %s", st)
	}
	if st := state("visit-3"); !strings.Contains(st, "Lee Seojun") {
		t.Errorf("the other visitor after a rebuild: %s", st)
	}
	if code, body := command("visit-4", "Reserve", `{"visitorId":"v-1","visitor":{"name":"Kim Minji"},`+slot+`}`); code != http.StatusConflict || body["code"] != "personal_data_erased" {
		t.Errorf("new personal data of the erased visitor after the restarts: %d %v", code, body)
	}
	if code, body := command("visit-5", "Reserve", `{"visitorId":"v-1",`+slot+`}`); code != http.StatusOK {
		t.Errorf("a reservation without personal data for the erased visitor: %d %v", code, body)
	}
}

package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/access"
	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/shred"
	"github.com/rewind/rewind/topics"
)

// TestPersonalDataOnDisk runs devkafka, two processors with a standby
// each, ingest and query as processes. It sends personal data through
// ingest, erases one visitor, and then looks for the values in every file
// the processes wrote, the log included: only the commands topic may hold
// them. Then everything restarts, the query replica on an empty data dir
// (a rebuild) and a processor on an empty one (a cold restore): the erased
// values stay erased, the other visitor's still open, and new personal
// data of the erased visitor is refused, also after one processor is lost
// and the other takes its partitions over from its standby copies.
func TestPersonalDataOnDisk(t *testing.T) {
	p := startPrivacy(t)
	p.sendPersonalData()
	p.erase()
	forgeKeyRecords(t, p.kafka)
	// A reservation of v-9 with personal data: the copied record of v-9
	// was refused, so the processor makes v-9 a key of its own, and its
	// values open.
	if code, body := p.command("visit-6", "Reserve", `{"visitorId":"v-9","visitor":{"name":"Park Jiwoo"},`+e2eSlot+`}`); code != http.StatusOK {
		t.Fatalf("a reservation of a visitor whose key record was forged: %d %v", code, body)
	}
	if st := p.state("visit-6"); !strings.Contains(st, "Park Jiwoo") {
		t.Errorf("v-9 after a copied key record: %s", st)
	}
	if st := p.state("visit-3"); !strings.Contains(st, "Lee Seojun") {
		t.Errorf("v-2 after an unsigned erasure: %s", st)
	}
	p.checkAccessLog()
	p.searchFiles()
	p.afterRestart()
	p.afterLoss()
	// The processor restored from nothing and query rebuilt: both read
	// the forged records again, and refused them.
	logged, err := os.ReadFile(p.log)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(logged, []byte("key record refused")); n < 4 {
		t.Errorf("%d refusals of key records logged, want the forged ones refused by query and a processor, twice", n)
	}
	for _, id := range []string{"v-1", "v-2", "v-9"} {
		if bytes.Contains(logged, []byte(`"`+id+`"`)) || bytes.Contains(logged, []byte("=clinic-e2e/"+id)) {
			t.Errorf("the log names the visitor %s", id)
		}
	}
}

// e2eSlot is the slot of the end-to-end tests' reservations, to build
// their data with.
const e2eSlot = `"start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"`

// privacyOfficer is the token that may erase.
const privacyOfficer = "e2e-privacy-officer"

// privacy is TestPersonalDataOnDisk's stack, with a query replica and
// the calls it makes.
type privacy struct {
	*stack
	tokens, queryHTTP string
	query             *testkit.Process
}

func startPrivacy(t *testing.T) *privacy {
	p := &privacy{stack: startStack(t), queryHTTP: testkit.FreeAddr(t)}
	p.tokens = filepath.Join(p.dir, "tokens")
	testkit.WriteFile(t, p.tokens, api.TokenLine(p.token, "clinic-e2e", "desk-1", api.ScopeAll)+
		api.TokenLine(privacyOfficer, "clinic-e2e", "dpo", api.ScopeErase))
	// ingest re-reads the file each second: the officer's token is known
	// once it is answered 403 (it may not write) instead of 401.
	known := testkit.Eventually(10*time.Second, func() bool {
		req, _ := http.NewRequest("GET", "http://"+p.ingestHTTP+"/v1/commands/x", nil)
		req.Header.Set("Authorization", "Bearer "+privacyOfficer)
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
	p.startQuery()
	return p
}

func (p *privacy) startQuery() {
	p.query = testkit.Start(p.t, "query", p.log, "-brokers", p.kafka, "-http", p.queryHTTP, "-tokens", p.tokens,
		"-data-dir", filepath.Join(p.dir, "query"))
	waitReady(p.t, p.queryHTTP)
}

func (p *privacy) send(token, method, path, body string) (int, map[string]any) {
	p.t.Helper()
	req, _ := http.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func (p *privacy) command(stream, typ, body string) (int, map[string]any) {
	return p.send(p.token, "POST", fmt.Sprintf("http://%s/v1/schedules/%s/commands/%s", p.ingestHTTP, stream, typ), body)
}

// state is a schedule's state as query answers it, in JSON.
func (p *privacy) state(stream string) string {
	p.t.Helper()
	code, body := p.send(p.token, "GET", fmt.Sprintf("http://%s/v1/schedules/%s?minVersion=1&wait=10s", p.queryHTTP, stream), "")
	if code != http.StatusOK {
		p.t.Fatalf("state of %s: %d %v", stream, code, body)
	}
	b, _ := json.Marshal(body["state"])
	return string(b)
}

// sendPersonalData sends visits of v-1 (two) and v-2 with names, a
// phone, a consultation's notes and a cancellation's reason.
func (p *privacy) sendPersonalData() {
	t := p.t
	for _, c := range [][3]string{
		{"visit-1", "Reserve", `{"visitorId":"v-1","visitor":{"name":"Kim Minji","phone":"010-5555-1234"},` + e2eSlot + `}`},
		{"visit-1", "CheckIn", `{"channel":"desk"}`},
		{"visit-1", "StartConsultation", `{"counselorId":"c1"}`},
		{"visit-1", "CompleteConsultation", `{"notes":"allergic to lidocaine"}`},
		{"visit-2", "Reserve", `{"visitorId":"v-1","visitor":{"name":"Kim Minji"},` + e2eSlot + `}`},
		{"visit-2", "CancelReservation", `{"by":"patient","reason":"moving to Busan"}`},
		{"visit-3", "Reserve", `{"visitorId":"v-2","visitor":{"name":"Lee Seojun"},` + e2eSlot + `}`},
	} {
		if code, body := p.command(c[0], c[1], c[2]); code != http.StatusOK {
			t.Fatalf("%s %s: %d %v", c[0], c[1], code, body)
		}
	}
	if st := p.state("visit-1"); !strings.Contains(st, "Kim Minji") || !strings.Contains(st, "lidocaine") {
		t.Fatalf("visit-1 before the erasure: %s", st)
	}
}

// erase erases v-1 and waits until query shows it.
func (p *privacy) erase() {
	t := p.t
	start := time.Now()
	code, erased := p.send(privacyOfficer, "DELETE", "http://"+p.ingestHTTP+"/v1/visitors/v-1/personal-data", `{"reason":"the patient asked"}`)
	if code != http.StatusOK || erased["schedules"] != 2.0 {
		t.Fatalf("erasure: %d %v", code, erased)
	}
	t.Logf("the erasure answered in %v", time.Since(start).Round(time.Millisecond))
	if !testkit.Eventually(time.Second, func() bool { return strings.Contains(p.state("visit-1"), "[erased]") }) {
		t.Fatalf("visit-1 a second after the erasure: %s", p.state("visit-1"))
	}
}

// checkAccessLog: the access log holds the erasure and the reads, and
// its chains hold, until a record is forged into one. (The files
// searchFiles searches include its segments: no personal value is in a
// record.)
func (p *privacy) checkAccessLog() {
	t := p.t
	log := testkit.AccessLog(t, p.kafka)
	if !slices.ContainsFunc(log, func(r access.Record) bool {
		return r.Action == access.Erase && r.VisitorID == "v-1" && r.Subject == "dpo" && r.Service == "ingest"
	}) || !slices.ContainsFunc(log, func(r access.Record) bool {
		return r.Action == access.View && r.ScheduleID == "visit-1" && r.Subject == "desk-1" && r.Service == "query"
	}) {
		t.Errorf("the access log lacks the erasure or the reads of visit-1: %+v", log)
	}
	if code, out := checkAccess(t, p.kafka); code != 0 || !strings.Contains(out, " 0 breaks") {
		t.Errorf("replay -check-access on an intact log: exit %d\n%s", code, out)
	}
	forged := log[len(log)-1]
	forged.Seq, forged.Prev, forged.Subject = forged.Seq+1, strings.Repeat("0", 64), "nobody"
	prod := testkit.Producer(t, p.kafka)
	if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: topics.Access, Key: []byte(forged.Writer), Value: forged.Encode()}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if code, out := checkAccess(t, p.kafka); code != 3 || !strings.Contains(out, "break:") || !strings.Contains(out, forged.Writer) {
		t.Errorf("replay -check-access after a forged record: exit %d\n%s", code, out)
	}
}

// searchFiles stops everything (devkafka with SIGTERM: its files must
// hold what it committed) and searches every file for the personal
// values: only the commands topic may hold them.
func (p *privacy) searchFiles() {
	t := p.t
	for _, proc := range append([]*testkit.Process{p.ingest, p.query}, p.procs...) {
		testkit.StopCleanly(t, proc, syscall.SIGTERM, 30*time.Second)
	}
	testkit.StopCleanly(t, p.kafkaProc, syscall.SIGTERM, 30*time.Second)
	inCommands := false
	for file, data := range testkit.Files(t, p.dir) {
		if strings.Contains(file, "schedule-commands-") {
			// The commands topic: what producers sent, for 7 days
			// (docs/privacy.md). It proves the search reads the broker's files.
			inCommands = inCommands || bytes.Contains(data, []byte("Kim Minji"))
			continue
		}
		for _, v := range []string{"Kim Minji", "010-5555-1234", "lidocaine", "moving to Busan", "Lee Seojun"} {
			if bytes.Contains(data, []byte(v)) {
				t.Errorf("%s holds %q in clear", file, v)
			}
		}
	}
	if !inCommands {
		t.Fatal("the search found no command in the broker's files: it searched the wrong place")
	}
}

// afterRestart restarts everything, query on an empty data dir (a
// rebuild) and p0 on an empty one (a cold restore): the erased values
// stay erased, the others open, and v-1's new personal data is refused.
func (p *privacy) afterRestart() {
	t := p.t
	for _, dir := range []string{"query", "p0"} {
		if err := os.RemoveAll(filepath.Join(p.dir, dir)); err != nil {
			t.Fatal(err)
		}
	}
	p.restart()
	p.startQuery()
	if st := p.state("visit-1"); strings.Contains(st, "Kim Minji") || strings.Contains(st, "lidocaine") || !strings.Contains(st, "[erased]") {
		t.Errorf("visit-1 after a rebuild: %s", st)
	}
	if st := p.state("visit-3"); !strings.Contains(st, "Lee Seojun") {
		t.Errorf("the other visitor after a rebuild: %s", st)
	}
	if code, body := p.command("visit-4", "Reserve", `{"visitorId":"v-1","visitor":{"name":"Kim Minji"},`+e2eSlot+`}`); code != http.StatusConflict || body["code"] != "personal_data_erased" {
		t.Errorf("new personal data of the erased visitor after the restarts: %d %v", code, body)
	}
	if code, body := p.command("visit-5", "Reserve", `{"visitorId":"v-1",`+e2eSlot+`}`); code != http.StatusOK {
		t.Errorf("a reservation without personal data for the erased visitor: %d %v", code, body)
	}
	if st := p.state("visit-6"); !strings.Contains(st, "Park Jiwoo") {
		t.Errorf("v-9 after a rebuild: %s", st)
	}
}

// afterLoss: a standby takeover after the erasure. p1 is lost for good,
// and p0 takes its partitions from its standby copies and reads their
// keys. On every partition the erased visitor's new personal data is
// still refused, and the other visitor's accepted.
func (p *privacy) afterLoss() {
	p.procs[1].Kill()
	covered := map[int32]bool{}
	for i := 10; len(covered) < partitions; i++ {
		stream := fmt.Sprintf("visit-%d", i)
		part := topics.PartitionFor(topics.StreamKey("clinic-e2e", stream), partitions)
		if covered[part] {
			continue
		}
		covered[part] = true
		for _, c := range []struct {
			visitor, name string
			code          int
		}{{"v-1", "Kim Minji", http.StatusConflict}, {"v-2", "Lee Seojun", http.StatusOK}} {
			body := fmt.Sprintf(`{"visitorId":%q,"visitor":{"name":%q},`+e2eSlot+`}`, c.visitor, c.name)
			// The same schedule: v-1's reservation is rejected, so v-2's
			// is its first.
			code, answer := p.send(p.token, "POST", fmt.Sprintf("http://%s/v1/schedules/%s/commands/Reserve?wait=30s", p.ingestHTTP, stream), body)
			if code != c.code {
				p.t.Errorf("after p1's loss, %s's personal data on partition %d: %d %v, want %d", c.visitor, part, code, answer, c.code)
			}
		}
	}
}

// forgeKeyRecords writes what someone who may write schedule-keys and
// schedule-commands, but holds neither the KEK nor the erasure key, could
// write: a live key record of the erased v-1 on every partition, under a
// KEK of their own (an erased key brought back); v-2's record copied to
// v-9, a visitor with no key yet; and an erasure of v-2 without
// ingest's signature. Every reader refuses the records, and the
// processor rejects the erasure.
func forgeKeyRecords(t *testing.T, brokers string) {
	t.Helper()
	rd, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topics.Keys), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var v2 *kgo.Record
	for v2 == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		fs := rd.PollFetches(ctx)
		cancel()
		if fs.NumRecords() == 0 {
			t.Fatal("no key record of v-2 in schedule-keys")
		}
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Key) == "clinic-e2e/v-2" {
				v2 = r
			}
		})
	}
	ring, err := shred.ParseKeyring([]byte(shred.NewKEKLine("test-1"))) // the KEK's id, not its key
	if err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for p := range int32(partitions) {
		forged, _, err := shred.NewRecord(ring, "clinic-e2e", "v-1", p, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, topics.KeyRecord(shred.RecordKey("clinic-e2e", "v-1"), forged.Value(), p))
	}
	recs = append(recs, topics.KeyRecord(shred.RecordKey("clinic-e2e", "v-9"), v2.Value, v2.Partition))
	recs = append(recs, topics.EraseRecords(aggregate.Meta{ID: "rogue-1", Tenant: "clinic-e2e", Stream: "v-2", Initiator: "rogue", Time: time.Now()}, "", partitions)...)
	w, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	testkit.Send(t, w, recs)

	// The unsigned erasure's results: rejected on every partition.
	results, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topics.Results),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer results.Close()
	rejected := 0
	for rejected < partitions {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		fs := results.PollFetches(ctx)
		cancel()
		if fs.NumRecords() == 0 {
			t.Fatalf("%d of %d results of the unsigned erasure in 30s", rejected, partitions)
		}
		fs.EachRecord(func(r *kgo.Record) {
			res, err := topics.DecodeResult(r.Value)
			if err != nil || !strings.HasPrefix(res.CommandID, "rogue-1.") {
				return
			}
			if res.Code != topics.CodeErasureUnsigned {
				t.Fatalf("an unsigned erasure: %+v", res)
			}
			rejected++
		})
	}
}

// checkAccess runs the real replay -check-access and returns its exit
// status and output.
func checkAccess(t *testing.T, brokers string) (int, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(testkit.Binaries(t), "replay"), "-brokers", brokers, "-check-access")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

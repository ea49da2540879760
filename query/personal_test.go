package query_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/query"
	"github.com/rewind/rewind/shred"
	"github.com/rewind/rewind/topics"
)

// sealedVisit writes a visit whose personal fields are sealed as the
// processor seals them, with its subject's key record in the same
// transaction, and returns the key record.
func (w *world) sealedVisit(stream, visitor, name, notes string, at time.Time) shred.Record {
	w.t.Helper()
	p := topics.PartitionFor(topics.StreamKey("clinic-a", stream), partitions)
	rec, key, err := shred.NewRecord(testkit.Keyring(w.t), "clinic-a", visitor, p, at)
	if err != nil {
		w.t.Fatal(err)
	}
	seal := func(field, value string) string { return key.Seal(topics.StreamKey("clinic-a", stream), field, value) }
	recs := []*kgo.Record{topics.KeyRecord(shred.RecordKey("clinic-a", visitor), rec.Value(), p)}
	recs = append(recs, w.execSealed("clinic-a", stream, "Reserve",
		fmt.Sprintf(`{"visitorId":%q,"visitor":{"name":%q},"start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`, visitor, name), at, seal)...)
	recs = append(recs, w.execSealed("clinic-a", stream, "CheckIn", `{"channel":"desk"}`, at.Add(time.Minute), seal)...)
	recs = append(recs, w.execSealed("clinic-a", stream, "StartConsultation", `{"counselorId":"c1"}`, at.Add(2*time.Minute), seal)...)
	recs = append(recs, w.execSealed("clinic-a", stream, "CompleteConsultation", fmt.Sprintf(`{"notes":%q}`, notes), at.Add(3*time.Minute), seal)...)
	w.commit(recs)
	return rec
}

// execSealed is exec with the events' personal fields sealed, and the
// world's state folded from the sealed events, as the processor does.
func (w *world) execSealed(tenant, stream, typ, data string, at time.Time, seal func(field, value string) string) []*kgo.Record {
	w.t.Helper()
	recs := w.exec(tenant, stream, typ, data, at)
	key := tenant + "/" + stream
	evs := w.streams[key]
	first := len(evs) - len(recs)
	for i := range recs {
		env := &evs[first+i]
		if sealed, ok := aggregate.SealPersonal(env.Data, seal); ok {
			env.Data = sealed
		}
		data, err := json.Marshal(env.Data)
		if err != nil {
			w.t.Fatal(err)
		}
		recs[i] = topics.EventRecord(env, data, recs[i].Partition)
	}
	w.states[key], _ = schedule.Definition.Rehydrate(evs)
	return recs
}

// TestPersonalDataOpenAndErased: answers open sealed values with the keys
// of schedule-keys; after a key's destruction, within a second, every
// answer of the schedule shows its values as erased and keeps every
// version, while another visitor's values still open.
func TestPersonalDataOpenAndErased(t *testing.T) {
	w := newWorld(t)
	kim := w.sealedVisit("visit-1", "v-1", "Kim Minji", "allergic to lidocaine", t0)
	w.sealedVisit("visit-2", "v-2", "Lee Seojun", "prefers mornings", t0)
	dir := t.TempDir()
	s := startView(t, w.brokers, dir)
	s.waitFolded(w.total())
	s.waitReady()

	var st query.StateResponse
	s.get(tokenA, "/v1/schedules/visit-1", &st)
	if !strings.Contains(string(st.State), `"name":"Kim Minji"`) || !strings.Contains(string(st.State), `"notes":"allergic to lidocaine"`) {
		t.Fatalf("the state does not show the opened values: %s", st.State)
	}
	for _, path := range []string{"/v1/schedules/visit-1/events", "/v1/schedules/visit-1/timeline", "/v1/schedules/visit-1?version=1"} {
		if body := s.raw(tokenA, path); !strings.Contains(body, "Kim Minji") || strings.Contains(body, "~pd1:") {
			t.Fatalf("%s does not show the opened name: %s", path, body)
		}
	}
	etag := s.header(tokenA, "/v1/schedules/visit-1", "ETag")

	// The model's files hold the tokens only.
	s.stop()
	for file, data := range testkit.Files(t, dir) {
		if bytes.Contains(data, []byte("Kim Minji")) || bytes.Contains(data, []byte("lidocaine")) {
			t.Fatalf("%s holds a personal value in clear", file)
		}
	}
	s = startView(t, w.brokers, dir)
	s.waitReady()

	kim.Schedules = 1
	destroyed := kim.Destroy(shred.Destruction{At: t0.Add(time.Hour), By: "dpo", Reason: "asked"})
	w.commit([]*kgo.Record{topics.KeyRecord(shred.RecordKey("clinic-a", "v-1"), destroyed.Value(), kim.Partition)})
	erasedAt := time.Now()
	if !testkit.Eventually(time.Second, func() bool {
		return strings.Contains(s.raw(tokenA, "/v1/schedules/visit-1"), shred.Erased)
	}) {
		t.Fatalf("the state still shows the name a second after its key was destroyed: %s", s.raw(tokenA, "/v1/schedules/visit-1"))
	}
	t.Logf("erased in the answers %v after the destruction was committed", time.Since(erasedAt).Round(time.Millisecond))
	for _, path := range []string{"/v1/schedules/visit-1", "/v1/schedules/visit-1/events", "/v1/schedules/visit-1/timeline",
		"/v1/schedules/visit-1?version=1", "/v1/schedules/visit-1?at=2026-03-02T08:01:30Z"} {
		body := s.raw(tokenA, path)
		if strings.Contains(body, "Kim Minji") || strings.Contains(body, "lidocaine") || !strings.Contains(body, shred.Erased) {
			t.Errorf("%s after the erasure: %s", path, body)
		}
	}
	var after query.StateResponse
	s.get(tokenA, "/v1/schedules/visit-1", &after)
	if after.Version != st.Version || after.LatestVersion != st.LatestVersion {
		t.Errorf("versions changed with the erasure: %d/%d, were %d/%d", after.Version, after.LatestVersion, st.Version, st.LatestVersion)
	}
	if got := s.header(tokenA, "/v1/schedules/visit-1", "ETag"); got == etag {
		t.Errorf("the ETag %s did not change with the erasure", got)
	}
	if body := s.raw(tokenA, "/v1/schedules/visit-2"); !strings.Contains(body, "Lee Seojun") {
		t.Errorf("the other visitor's name no longer opens: %s", body)
	}
	// The erasure's audit trail: who, when, why, how many schedules.
	var erasures query.Page[query.Erasure]
	if code, pc := s.get(tokenAuditA, "/v1/visitors/v-1/erasures", &erasures); code != http.StatusOK || len(erasures.Items) != 1 ||
		erasures.Items[0].By != "dpo" || erasures.Items[0].Reason != "asked" || erasures.Items[0].Schedules != 1 ||
		!erasures.Items[0].ErasedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("the erasures of v-1: %d %s %+v", code, pc, erasures.Items)
	}
	if code, pc := s.get(tokenA, "/v1/visitors/v-1/erasures", nil); code != http.StatusForbidden || pc != "insufficient_scope" {
		t.Errorf("the erasures without the audit scope: %d %s", code, pc)
	}
	// Another tenant sees neither the schedule nor anything of the erasure.
	if code, _ := s.get(tokenB, "/v1/schedules/visit-1", nil); code != http.StatusNotFound {
		t.Errorf("another tenant got %d", code)
	}
	var theirs query.Page[query.Erasure]
	if s.get(tokenAuditB, "/v1/visitors/v-1/erasures", &theirs); len(theirs.Items) != 0 {
		t.Errorf("another tenant's auditor sees %+v", theirs.Items)
	}
}

// raw is a GET's body.
func (s *service) raw(token, path string) string {
	s.t.Helper()
	var body json.RawMessage
	s.get(token, path, &body)
	return string(body)
}

// header is a GET's response header.
func (s *service) header(token, path, name string) string {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get(name)
}

package topics_test

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/topics"
)

// Vectors computed with franz-go's default partitioner, which matches
// the Java client's murmur2.
func TestPartitionFor(t *testing.T) {
	for key, want := range map[string]int32{"a": 1, "b": 2, "key-1": 0, "hello": 0} {
		if got := topics.PartitionFor(key, 3); got != want {
			t.Errorf("PartitionFor(%q, 3) = %d, want %d", key, got, want)
		}
	}
}

func TestKeys(t *testing.T) {
	tenant, stream, version, ok := topics.ParseEventKey([]byte(topics.EventKey("t1", "s-1", 42)))
	if !ok || tenant != "t1" || stream != "s-1" || version != 42 {
		t.Fatalf("event key round trip: %q %q %d %v", tenant, stream, version, ok)
	}
	for _, bad := range []string{"t1", "t1/", "/s", "t1/../x", "t1/a/b", "t1/s\x00"} {
		if _, _, ok := topics.ParseStreamKey([]byte(bad)); ok {
			t.Errorf("ParseStreamKey(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"t1/s", "t1/s/0", "t1/s/x", "t1/s/-1"} {
		if _, _, _, ok := topics.ParseEventKey([]byte(bad)); ok {
			t.Errorf("ParseEventKey(%q) accepted", bad)
		}
	}
}

func TestCommandRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 123, time.UTC)
	m := aggregate.Meta{ID: "c1", Tenant: "t1", Stream: "s1", Initiator: "desk", ProcessID: "p9", Time: at,
		ExpectedVersion: 3, HasExpectedVersion: true}
	r := topics.CommandRecord("CheckIn", m, []byte(`{"channel":"desk"}`))
	r.Partition = topics.PartitionFor(string(r.Key), 12)
	c, err := topics.DecodeCommand(r, 12)
	if err != nil {
		t.Fatal(err)
	}
	if c.Meta != m || c.Type != "CheckIn" || !c.Routed || string(c.Data) != `{"channel":"desk"}` {
		t.Fatalf("round trip: %+v", c)
	}
}

func TestStructuredMode(t *testing.T) {
	value := `{"specversion":"1.0","id":"c7","type":"Reserve","source":"x","subject":"s1","time":"2026-03-02T09:00:00Z",
		"tenantid":"t1","initiator":"web","expectedversion":"0","data":{"visitorId":"v1"}}`
	r := &kgo.Record{Topic: topics.Commands, Key: []byte("t1/s1"), Value: []byte(value),
		Headers: []kgo.RecordHeader{{Key: topics.HeaderContentType, Value: []byte(topics.ContentTypeCloudEvent)}}}
	r.Partition = topics.PartitionFor("t1/s1", 12)
	c, err := topics.DecodeCommand(r, 12)
	if err != nil {
		t.Fatal(err)
	}
	if c.Meta.ID != "c7" || c.Type != "Reserve" || c.Meta.Initiator != "web" || !c.Meta.HasExpectedVersion ||
		string(c.Data) != `{"visitorId":"v1"}` {
		t.Fatalf("structured: %+v", c)
	}
}

func TestDecodeCommandRejections(t *testing.T) {
	good := func() *kgo.Record {
		r := topics.CommandRecord("CheckIn", aggregate.Meta{ID: "c1", Tenant: "t1", Stream: "s1", Time: time.Now()}, []byte(`{}`))
		r.Partition = topics.PartitionFor(string(r.Key), 12)
		return r
	}
	misrouted := good()
	misrouted.Partition = (misrouted.Partition + 1) % 12
	big := good()
	big.Value = []byte(strings.Repeat(" ", topics.MaxCommandBytes+1))
	for name, tt := range map[string]struct {
		r      *kgo.Record
		code   string
		routed bool
	}{
		"misrouted":       {misrouted, topics.CodeMisrouted, false},
		"too large":       {big, topics.CodeTooLarge, true},
		"tenant mismatch": {testkit.SetHeader(good(), topics.HeaderTenant, "t2"), topics.CodeTenantMismatch, true},
		"subject":         {testkit.SetHeader(good(), topics.HeaderSubject, "s2"), topics.CodeSubjectMismatch, true},
		"bad time":        {testkit.SetHeader(good(), topics.HeaderTime, "yesterday"), topics.CodeInvalidHeader, true},
		"bad version":     {testkit.AddHeader(good(), topics.HeaderExpectedVersion, "-1"), topics.CodeInvalidHeader, true},
		"no type":         {testkit.SetHeader(good(), topics.HeaderType, ""), aggregate.CodeMissingField, true},
		"long id":         {testkit.SetHeader(good(), topics.HeaderID, strings.Repeat("x", 300)), aggregate.CodeInvalidID, false},
	} {
		c, err := topics.DecodeCommand(tt.r, 12)
		if aggregate.CodeOf(err) != tt.code || c.Routed != tt.routed {
			t.Errorf("%s: got %v (routed %v), want %s (routed %v)", name, err, c.Routed, tt.code, tt.routed)
		}
	}
}

// TestEnsure creates the topics, verifies them, and refuses topics whose
// partition counts differ or whose events topic has time retention; the
// access log's retention follows the layout, also on an existing topic.
func TestEnsure(t *testing.T) {
	ctx := context.Background()
	_, brokers := testkit.Cluster(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n, err := topics.Ensure(ctx, cl, topics.Layout{Partitions: 6})
	if err != nil || n != 6 {
		t.Fatalf("ensure: %d %v", n, err)
	}
	adm := kadm.NewClient(cl)
	retention := func() string {
		t.Helper()
		rcs, err := adm.DescribeTopicConfigs(ctx, topics.Access)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := rcs.On(topics.Access, nil)
		if err != nil || rc.Err != nil {
			t.Fatal(err, rc.Err)
		}
		for _, c := range rc.Configs {
			if c.Key == "retention.ms" && c.Value != nil {
				return *c.Value
			}
		}
		return ""
	}
	if got := retention(); got != "63072000000" {
		t.Errorf("access retention %s, want two years (63072000000 ms)", got)
	}
	if n, err := topics.Ensure(ctx, cl, topics.Layout{Partitions: 12, AccessRetention: 6 * 365 * 24 * time.Hour}); err != nil || n != 6 {
		t.Fatalf("second ensure must keep the existing count: %d %v", n, err)
	}
	if got := retention(); got != "189216000000" {
		t.Errorf("access retention %s after a second ensure with six years, want 189216000000 ms", got)
	}
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("604800000")}}, topics.Events); err != nil {
		t.Fatal(err)
	}
	if _, err := topics.Verify(ctx, cl); err == nil || !strings.Contains(err.Error(), "retention.ms") {
		t.Fatalf("want a retention error, got %v", err)
	}

	_, brokers2 := testkit.Cluster(t)
	cl2, err := kgo.NewClient(kgo.SeedBrokers(brokers2))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	if _, err := kadm.NewClient(cl2).CreateTopic(ctx, 3, -1, nil, topics.Results); err != nil {
		t.Fatal(err)
	}
	if _, err := topics.Ensure(ctx, cl2, topics.Layout{Partitions: 6}); err == nil || !strings.Contains(err.Error(), "partition counts differ") {
		t.Fatalf("want a partition count error, got %v", err)
	}
}

// TestResultJSONMatchesEncodingJSON holds the hand-written result encoder
// to encoding/json's output on random results.
func TestResultJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 8))
	strs := []string{"", "c-1", "accepted", `quo"te`, "<&>", "é", "line\nbreak", "ctl\x02"}
	str := func() string { return strs[r.IntN(len(strs))] }
	for i := range 2000 {
		res := topics.Result{CommandID: str(), TenantID: str(), ScheduleID: str(), Status: str(), FirstStatus: str(),
			Code: str(), Message: str(), Version: r.Uint64N(1 << 40), Fingerprint: r.Uint64()}
		for range r.IntN(3) {
			res.Events = append(res.Events, topics.ResultEvent{Type: str(), Version: r.Uint64N(100)})
		}
		want, err := json.Marshal(&res)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.AppendJSON(nil); string(got) != string(want) {
			t.Fatalf("result %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// TestRecordsAreCloudEvents checks the attributes CloudEvents 1.0 requires
// (specversion, id, source, type) on event and result records, in Kafka
// binary mode: what the SDKs' validate() checks.
func TestRecordsAreCloudEvents(t *testing.T) {
	env := aggregate.Envelope{Type: "Reserved", Version: 1, Time: time.Now(), Tenant: "t1", Stream: "s1", Initiator: "u", PredecessorID: "c1"}
	results := []topics.Result{
		{CommandID: "c1", TenantID: "t1", ScheduleID: "s1", Status: topics.StatusAccepted, Version: 1, Fingerprint: 9},
		{CommandID: "c1", TenantID: "t1", ScheduleID: "s1", Status: topics.StatusDuplicate, FirstStatus: topics.StatusAccepted},
		{CommandID: "x", Status: topics.StatusRejected, Code: topics.CodeInvalidKey},
	}
	recs := []*kgo.Record{topics.EventRecord(&env, []byte(`{}`), 0)}
	for i := range results {
		recs = append(recs, topics.ResultRecord(&results[i], []byte("t1/s1"), 0))
	}
	for i, r := range recs {
		h := map[string]string{}
		for _, hd := range r.Headers {
			h[hd.Key] = string(hd.Value)
		}
		if h[topics.HeaderSpecVersion] != "1.0" {
			t.Errorf("record %d (%s): ce_specversion %q", i, r.Topic, h[topics.HeaderSpecVersion])
		}
		for _, k := range []string{topics.HeaderID, topics.HeaderSource, topics.HeaderType, topics.HeaderContentType} {
			if h[k] == "" {
				t.Errorf("record %d (%s): no %s", i, r.Topic, k)
			}
		}
	}
}

// TestFingerprint: FNV-1a of type, data and expected version, as
// documented; a retry matches, another command or version does not.
func TestFingerprint(t *testing.T) {
	c := topics.Command{Type: "Reserve", Data: []byte(`{"a":1}`)}
	c.Meta.HasExpectedVersion, c.Meta.ExpectedVersion = true, 12
	h := fnv.New64a()
	h.Write([]byte("Reserve\x00{\"a\":1}\x0012"))
	if got := c.Fingerprint(); got != h.Sum64() {
		t.Fatalf("fingerprint %x, want FNV-1a %x", got, h.Sum64())
	}
	other := c
	other.Meta.ExpectedVersion = 21
	if other.Fingerprint() == c.Fingerprint() {
		t.Fatal("another expected version has the same fingerprint")
	}
	other = c
	other.Type = "CheckIn"
	if other.Fingerprint() == c.Fingerprint() {
		t.Fatal("another type has the same fingerprint")
	}
}

// BenchmarkDecodeCommand reads a command as ingest writes it: ten
// CloudEvents headers, a key and a small JSON value.
func BenchmarkDecodeCommand(b *testing.B) {
	m := aggregate.Meta{ID: "01J9Z4K7Q8R2M5N6P3T0V1W2X3", Tenant: "clinic-a", Stream: "visit-123456",
		Initiator: "staff-7", ProcessID: "booking-42", Time: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	r := topics.CommandRecord("Reserve", m, []byte(`{"visitorId":"v-1","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`))
	r.Partition = topics.PartitionFor(string(r.Key), 12)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := topics.DecodeCommand(r, 12); err != nil {
			b.Fatal(err)
		}
	}
}

// TestResultOwn: only an accepted or rejected outcome is the command's
// own; a retry's answer and a refused reuse of the id are not, so they
// never replace the first outcome.
func TestResultOwn(t *testing.T) {
	for _, tt := range []struct {
		res  topics.Result
		want bool
	}{
		{topics.Result{Status: topics.StatusAccepted}, true},
		{topics.Result{Status: topics.StatusRejected, Code: "not_reserved"}, true},
		{topics.Result{Status: topics.StatusDuplicate, FirstStatus: topics.StatusAccepted}, false},
		{topics.Result{Status: topics.StatusRejected, Code: topics.CodeIdempotencyKeyReused}, false},
	} {
		if got := tt.res.Own(); got != tt.want {
			t.Errorf("%+v: Own() = %v, want %v", tt.res, got, tt.want)
		}
	}
}

// TestAwaitLastStable: a service started before the processor waits for
// the topic, telling of each try, and gets its ends once it exists; one
// stopped while waiting gets ctx's error and the listing's.
func TestAwaitLastStable(t *testing.T) {
	_, brokers := testkit.Cluster(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := topics.AwaitLastStable(ctx, adm, topics.Results, func(error) {}); !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(err.Error(), topics.Results) {
		t.Fatalf("stopped while waiting: %v", err)
	}

	tries := make(chan error, 100)
	type answer struct {
		listed kadm.ListedOffsets
		err    error
	}
	// Buffered, and the wait ends with the test: a failure before the
	// answer is read leaves no goroutine behind.
	done := make(chan answer, 1)
	go func() {
		listed, err := topics.AwaitLastStable(t.Context(), adm, topics.Results, func(err error) { tries <- err })
		done <- answer{listed, err}
	}()
	<-tries // it is waiting
	if _, err := topics.Ensure(context.Background(), cl, topics.Layout{Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-done:
		if n := len(a.listed[topics.Results]); a.err != nil || n != 3 {
			t.Fatalf("%d partitions listed (%v), want 3", n, a.err)
		}
	case <-time.After(time.Minute):
		t.Fatal("still waiting a minute after the topic was created")
	}
}

// TestCommandID: CommandID gives every record the id DecodeCommand does,
// whatever else is wrong with it: ce_id (the first of two), a structured
// envelope's id, or the record's position when ce_id is missing, empty,
// too long or holds NUL.
func TestCommandID(t *testing.T) {
	rec := func(value string, headers ...string) *kgo.Record {
		r := &kgo.Record{Topic: topics.Commands, Partition: 5, Offset: 42, Key: []byte("t1/s1"), Value: []byte(value)}
		for i := 0; i+1 < len(headers); i += 2 {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: headers[i], Value: []byte(headers[i+1])})
		}
		return r
	}
	pos := topics.Commands + "/5/42"
	for name, tt := range map[string]struct {
		r    *kgo.Record
		want string
	}{
		"ce_id":         {rec("{}", topics.HeaderID, "c1"), "c1"},
		"first ce_id":   {rec("{}", topics.HeaderID, "c1", topics.HeaderID, "c2"), "c1"},
		"no ce_id":      {rec("{}"), pos},
		"empty ce_id":   {rec("{}", topics.HeaderID, ""), pos},
		"too long":      {rec("{}", topics.HeaderID, strings.Repeat("x", 257)), pos},
		"NUL":           {rec("{}", topics.HeaderID, "c\x001"), pos},
		"structured id": {rec(`{"id":"c7","type":"Reserve"}`, topics.HeaderContentType, topics.ContentTypeCloudEvent), "c7"},
		"undecodable":   {rec("not json", topics.HeaderContentType, topics.ContentTypeCloudEvent), pos},
	} {
		if got := topics.CommandID(tt.r); got != tt.want {
			t.Errorf("%s: CommandID %q, want %q", name, got, tt.want)
		}
		if c, _ := topics.DecodeCommand(tt.r, 12); c.Meta.ID != tt.want {
			t.Errorf("%s: DecodeCommand's id %q, want %q", name, c.Meta.ID, tt.want)
		}
	}
}

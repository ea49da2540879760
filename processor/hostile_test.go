package processor_test

import (
	"bytes"
	"hash/crc32"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/testing/logcheck"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/processor"
	"github.com/rewind/rewind/topics"
)

// explosive is the Schedule kind plus a command "Explode" whose execution
// panics outside the kernel's own recovery.
type explosive struct{ aggregate.Kind }

func (k explosive) DecodeCommand(name string, data []byte) (aggregate.Command, error) {
	if name == "Explode" {
		return struct{}{}, nil
	}
	return k.Kind.DecodeCommand(name, data)
}

func (k explosive) Execute(s any, v uint64, name string, c aggregate.Command, m aggregate.Meta) (any, []aggregate.Envelope, error) {
	if name == "Explode" {
		panic("boom")
	}
	return k.Kind.Execute(s, v, name, c, m)
}

// TestHostileRecords sends records that must each get a rejected result
// with a code, followed by a good command on the same partition that must
// still be accepted (I5: no bad input stops a partition).
func TestHostileRecords(t *testing.T) {
	brokers := testkit.Kafka(t, testPartitions)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(2<<20), kgo.MaxBufferedBytes(8<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	cmd := func(id, stream, typ, data string) *kgo.Record {
		return testkit.Cmd{Tenant: "t1", Stream: stream, Type: typ, Data: data, ID: id, Time: at}.Record()
	}
	route := func(r *kgo.Record) *kgo.Record {
		r.Partition = topics.PartitionFor(string(r.Key), testPartitions)
		return r
	}
	reserve := `{"visitorId":"v1","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`
	misrouted := cmd("misrouted", "s1", "Reserve", reserve)
	misrouted.Partition = (topics.PartitionFor(string(misrouted.Key), testPartitions) + 1) % testPartitions
	// librdkafka's default partitioner (consistent_random) is a CRC32 of
	// the key: what confluent-kafka-go, Python and .NET clients do unless
	// told partitioner=murmur2_random.
	crcRouted := cmd("crc32", librdkafkaStream(), "Reserve", reserve)
	crcRouted.Partition = int32(crc32.ChecksumIEEE(crcRouted.Key) % testPartitions)
	badKey := cmd("traversal", "s1", "Reserve", reserve)
	badKey.Key = []byte("t1/../etc")
	slashKey := cmd("slash", "s1", "Reserve", reserve)
	slashKey.Key = []byte("t1/a/b")
	noID := route(testkit.DropHeader(cmd("", "s2", "Reserve", reserve), topics.HeaderID))
	hostile := []struct {
		rec  *kgo.Record
		code string
	}{
		{route(cmd("malformed", "s1", "Reserve", `{"visitorId":`)), aggregate.CodeMalformed},
		{route(cmd("unknown", "s1", "Teleport", `{}`)), aggregate.CodeUnknownType},
		{route(testkit.SetHeader(cmd("tenant", "s1", "Reserve", reserve), topics.HeaderTenant, "t2")), topics.CodeTenantMismatch},
		{misrouted, topics.CodeMisrouted},
		{crcRouted, topics.CodeMisrouted},
		{route(cmd("huge", "s1", "Reserve", `{"visitorId":"`+string(bytes.Repeat([]byte("a"), 900<<10))+`"}`)), topics.CodeTooLarge},
		{route(badKey), topics.CodeInvalidKey},
		{route(slashKey), topics.CodeInvalidKey},
		{route(cmd("explode", "s1", "Explode", `{}`)), processor.CodeInternal},
		{route(cmd("unknown-field", "s1", "Reserve", `{"visitorId":"v1","tenant":"t2"}`)), aggregate.CodeUnknownField},
	}
	var recs []*kgo.Record
	for _, h := range hostile {
		recs = append(recs, h.rec)
	}
	good := route(cmd("good", "s1", "Reserve", reserve))
	recs = append(recs, noID, good)
	testkit.Send(t, cl, recs)

	r := start(t, brokers, "p1", filepath.Join(t.TempDir(), "p1"), withKind(explosive{schedule.Kind}))
	testkit.WaitResults(t, brokers, len(recs), time.Minute, r.Alive(t))
	if err := r.Stop(t); err != nil {
		t.Fatal(err)
	}
	log := logcheck.ReadAll(t, brokers)
	results := logcheck.Invariants(t, log)
	for _, h := range hostile {
		id := topics.CommandID(h.rec)
		rs := results[id]
		if len(rs) != 1 || rs[0].Status != topics.StatusRejected || rs[0].Code != h.code {
			t.Errorf("%s: want one rejection %q, got %+v", id, h.code, rs)
		}
	}
	// The message tells a librdkafka user what to change.
	if rs := results["crc32"]; len(rs) != 1 || !strings.Contains(rs[0].Message, "partitioner=murmur2_random") {
		t.Errorf("misrouted by CRC32: the message does not name the fix: %+v", rs)
	}
	var noIDResult []topics.Result
	for id, rs := range results {
		if len(id) > len(topics.Commands) && id[:len(topics.Commands)] == topics.Commands {
			noIDResult = rs
		}
	}
	if len(noIDResult) != 1 || noIDResult[0].Status != topics.StatusAccepted {
		t.Errorf("command without ce_id: want one accepted result under <topic>/<partition>/<offset>, got %+v", noIDResult)
	}
	if rs := results["good"]; len(rs) != 1 || rs[0].Status != topics.StatusAccepted || rs[0].Version != 1 {
		t.Errorf("the partition did not move on: good command got %+v", rs)
	}
}

// librdkafkaStream returns a stream of tenant t1 whose key librdkafka's
// CRC32 partitioner places elsewhere than murmur2 does.
func librdkafkaStream() string {
	for i := 0; ; i++ {
		stream := "crc-" + strconv.Itoa(i)
		key := []byte("t1/" + stream)
		if int32(crc32.ChecksumIEEE(key)%testPartitions) != topics.PartitionFor(string(key), testPartitions) {
			return stream
		}
	}
}

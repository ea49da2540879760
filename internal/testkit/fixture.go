package testkit

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/topics"
)

// Version1Events reads the schedule package's fixture: event records as
// the code of logic version 1 wrote them to schedule-events (tenant
// clinic-1), placed for n partitions. tenant, when not empty, replaces
// clinic-1 in keys and headers.
func Version1Events(t testing.TB, tenant string, n int32) []*kgo.Record {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, "aggregate", "schedule", "testdata", "events-v1.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	retenant := func(s string) string { return s }
	if tenant != "" {
		retenant = strings.NewReplacer("clinic-1", tenant).Replace
	}
	var recs []*kgo.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var fe struct {
			Key       string          `json:"key"`
			Timestamp time.Time       `json:"timestamp"`
			Headers   [][2]string     `json:"headers"`
			Value     json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(sc.Bytes(), &fe); err != nil {
			t.Fatal(err)
		}
		r := &kgo.Record{Topic: topics.Events, Key: []byte(retenant(fe.Key)), Value: fe.Value, Timestamp: fe.Timestamp}
		for _, h := range fe.Headers {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: h[0], Value: []byte(retenant(h[1]))})
		}
		tn, stream, _, _ := topics.ParseEventKey(r.Key)
		r.Partition = topics.PartitionFor(topics.StreamKey(tn, stream), n)
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// CommitEvents writes event records in one transaction, as the processor
// does (read_committed readers see nothing else).
func CommitEvents(t testing.TB, brokers string, recs []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.TransactionalID("testkit-events"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
}

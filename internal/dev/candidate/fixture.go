package candidate

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/topics"
)

// FixturePath is where, under the module root, the event records written
// by the code of logic version 1 are kept (tenant clinic-1).
const FixturePath = "aggregate/schedule/testdata/events-v1.jsonl"

// Version1Events reads the fixture under root as records of
// schedule-events placed for n partitions, as that code wrote them:
// last year's facts in last year's shapes. tenant, when not empty,
// replaces clinic-1 in keys and headers.
func Version1Events(root, tenant string, n int32) ([]*kgo.Record, error) {
	f, err := os.Open(filepath.Join(root, FixturePath))
	if err != nil {
		return nil, err
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
			return nil, fmt.Errorf("%s: %w", FixturePath, err)
		}
		r := &kgo.Record{Topic: topics.Events, Key: []byte(retenant(fe.Key)), Value: fe.Value, Timestamp: fe.Timestamp}
		for _, h := range fe.Headers {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: h[0], Value: []byte(retenant(h[1]))})
		}
		tn, stream, _, ok := topics.ParseEventKey(r.Key)
		if !ok {
			return nil, fmt.Errorf("%s: bad key %q", FixturePath, fe.Key)
		}
		r.Partition = topics.PartitionFor(topics.StreamKey(tn, stream), n)
		recs = append(recs, r)
	}
	return recs, sc.Err()
}

// CommitEvents writes event records in one transaction, as a processor
// does: read_committed readers see them all or none.
func CommitEvents(ctx context.Context, brokers string, recs []*kgo.Record) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.TransactionalID("rewind-fixture"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		return err
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return err
	}
	return cl.EndTransaction(ctx, kgo.TryCommit)
}

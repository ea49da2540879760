package testkit

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/access"
	"github.com/rewind/rewind/topics"
)

// AccessLog reads schedule-access to its end: every access record so
// far, in the order each writer wrote them.
func AccessLog(t testing.TB, brokers string) []access.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm, err := kadm.NewOptClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ends, err := adm.ListEndOffsets(ctx, topics.Access)
	if err != nil {
		t.Fatal(err)
	}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topics.Access), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []access.Record
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("reading schedule-access: ", ctx.Err())
		}
		fs.EachRecord(func(rec *kgo.Record) {
			if rec.Offset >= left[rec.Partition] {
				return
			}
			r, err := access.Decode(rec.Value)
			if err != nil {
				t.Fatalf("offset %d of schedule-access: %v", rec.Offset, err)
			}
			out = append(out, r)
			if rec.Offset+1 == left[rec.Partition] {
				delete(left, rec.Partition)
			}
		})
	}
	slices.SortStableFunc(out, func(a, b access.Record) int {
		return cmp.Or(strings.Compare(a.Writer, b.Writer), cmp.Compare(a.Seq, b.Seq))
	})
	return out
}

// AccessLogger is an access log writer for service on brokers, closed
// when the test ends. Its timeout is 2 s: a test of a broker gone waits
// that long, not 10 s.
func AccessLogger(t testing.TB, brokers, service string) *access.Logger {
	t.Helper()
	l, err := access.New(access.Config{ClientOpts: []kgo.Opt{kgo.SeedBrokers(brokers)}, Service: service, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

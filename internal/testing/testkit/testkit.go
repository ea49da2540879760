// Package testkit starts real parts for tests: an in-process kfake broker
// over TCP, the binaries as processes, load that trickles in, the keys
// and tokens they need; and waits on conditions. The invariant checks are
// internal/testing/logcheck, a processor in the test's process
// internal/testing/inproc.
package testkit

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/topics"
)

// Cluster starts a one-broker kfake cluster on a free loopback port and
// returns its address. It is closed when the test ends.
func Cluster(t testing.TB, opts ...kfake.Opt) (*kfake.Cluster, string) {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()[0]
}

// Kafka is Cluster with Rewind's topics, of n partitions each: the start
// of most tests. It returns the broker's address.
func Kafka(t testing.TB, n int32) string {
	t.Helper()
	_, brokers := Cluster(t)
	Topics(t, brokers, n)
	return brokers
}

// Producer is an idempotent producer with Kafka's default partitioner.
func Producer(t testing.TB, brokers string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ProducerLinger(0), kgo.DefaultProduceTopic(topics.Commands))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Cmd is one command to send.
type Cmd struct {
	Tenant, Stream, Type, Data, ID string
	Time                           time.Time
}

// Record builds the command's record.
func (c Cmd) Record() *kgo.Record {
	at := c.Time
	if at.IsZero() {
		at = time.Now()
	}
	return topics.CommandRecord(c.Type, aggregate.Meta{ID: c.ID, Tenant: c.Tenant, Stream: c.Stream, Initiator: "test", Time: at}, []byte(c.Data))
}

// SetHeader sets every header k of r to v: a record whose header says
// something else than its key or payload, as a faulty producer sends it.
func SetHeader(r *kgo.Record, k, v string) *kgo.Record {
	for i := range r.Headers {
		if r.Headers[i].Key == k {
			r.Headers[i].Value = []byte(v)
		}
	}
	return r
}

// AddHeader appends the header k: v to r.
func AddHeader(r *kgo.Record, k, v string) *kgo.Record {
	r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	return r
}

// DropHeader removes every header k from r.
func DropHeader(r *kgo.Record, k string) *kgo.Record {
	r.Headers = slices.DeleteFunc(r.Headers, func(h kgo.RecordHeader) bool { return h.Key == k })
	return r
}

// Send produces records synchronously in batches.
func Send(t testing.TB, cl *kgo.Client, recs []*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := 0; i < len(recs); i += 5000 {
		if err := cl.ProduceSync(ctx, recs[i:min(i+5000, len(recs))]...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
}

// Trickle produces recs in the background, chunk records at a time with a
// pause after each, as load that flows all along a test; the producer
// retries through a broker's restart. The channel gets the first error,
// or nil once all are produced.
func Trickle(cl *kgo.Client, recs []*kgo.Record, chunk int, pause, timeout time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		for i := 0; i < len(recs); i += chunk {
			if err := cl.ProduceSync(ctx, recs[i:min(i+chunk, len(recs))]...).FirstErr(); err != nil {
				done <- err
				return
			}
			time.Sleep(pause)
		}
		done <- nil
	}()
	return done
}

// Visit returns the commands of one full visit on a stream, ids prefixed
// by the stream.
func Visit(tenant, stream string, at time.Time) []Cmd {
	ts := func(d time.Duration) string { return at.Add(d).UTC().Format(time.RFC3339) }
	steps := []struct{ typ, data string }{
		{"Reserve", fmt.Sprintf(`{"visitorId":"v-%s","start":%q,"end":%q,"procedures":["botox"]}`, stream, ts(time.Hour), ts(2*time.Hour))},
		{"CheckIn", `{"channel":"kiosk"}`},
		{"StartConsultation", `{"counselorId":"c1"}`},
		{"CompleteConsultation", `{"procedures":["laser"]}`},
		{"StartProcedure", `{"procedureId":"botox","doctorId":"d1"}`},
		{"StartProcedure", `{"procedureId":"laser","doctorId":"d2"}`}, // rejected: procedure_in_progress
		{"CompleteProcedure", `{"procedureId":"botox"}`},
		{"CheckOut", `{}`},
	}
	out := make([]Cmd, len(steps))
	for i, s := range steps {
		out[i] = Cmd{Tenant: tenant, Stream: stream, Type: s.typ, Data: s.data,
			ID: fmt.Sprintf("%s-%d", stream, i), Time: at.Add(time.Duration(i) * time.Minute)}
	}
	return out
}

// Interleave sends the visits of n streams, round-robin by step, so each
// batch mixes many streams while each stream keeps its order.
func Interleave(tenant string, n int, at time.Time) []*kgo.Record {
	visits := make([][]Cmd, n)
	for i := range visits {
		visits[i] = Visit(tenant, fmt.Sprintf("s%06d", i), at)
	}
	var recs []*kgo.Record
	for step := range len(visits[0]) {
		for _, v := range visits {
			recs = append(recs, v[step].Record())
		}
	}
	return recs
}

// Topics creates Rewind's topics with n partitions.
func Topics(t testing.TB, brokers string, n int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := topics.Ensure(ctx, cl, topics.Layout{Partitions: n}); err != nil {
		t.Fatal(err)
	}
}

package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/processor"
	"github.com/rewind/rewind/topics"
)

// runNaive is the baseline the durable processor is measured against:
// the throwaway exactly-once processor anyone would write first. One
// GroupTransactSession; every stream's state and every command id it
// has seen in Go maps, nothing on disk; encoding/json through the same
// kernel; at a start, the maps would be rebuilt by folding the topics
// (here they start empty: the bench drains from empty outputs). It writes
// the same events as Rewind and a result per command (without the
// fingerprints of remembered ids), without the state topic, the cache or
// the store.
func (b *Bench) runNaive() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Ready as soon as it serves: it restores nothing (the bench drains
	// into empty outputs, or sends streams it has never seen).
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.Handler())
	mux.HandleFunc("GET /readyz", func(http.ResponseWriter, *http.Request) {})
	// The profiles of -cpuprofile-phase mix-naive or hot-naive.
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/heap", pprof.Index)
	go func() { _ = http.ListenAndServe(b.naiveHTTP, mux) }()
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(b.naiveBrokers),
		kgo.ConsumerGroup(processor.DefaultGroup),
		kgo.ConsumeTopics(topics.Commands),
		kgo.TransactionalID("rewind-naive"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	)
	if err != nil {
		return err
	}
	defer sess.Close()
	m := &naiveMaps{states: map[string]*naiveStream{}, seen: map[string]bool{}}
	for ctx.Err() == nil {
		fetches := sess.PollRecords(ctx, 2000)
		if fetches.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			return err
		}
		// The batch's changes, applied to the maps only after the commit.
		changed := map[string]*naiveStream{}
		added := map[string]bool{}
		fetches.EachRecord(func(rec *kgo.Record) {
			res, events := m.decide(rec, changed, added)
			for i := range events {
				data, err := schedule.Kind.EncodeEvent(events[i].Data)
				if err != nil {
					continue
				}
				res.Events = append(res.Events, topics.ResultEvent{Type: events[i].Type, Version: events[i].Version})
				sess.Produce(ctx, topics.EventRecord(&events[i], data, rec.Partition), nil)
			}
			sess.Produce(ctx, topics.ResultRecord(res, rec.Key, rec.Partition), nil)
		})
		committed, err := sess.End(ctx, kgo.TryCommit)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return fmt.Errorf("end: %w", err)
		}
		if committed {
			maps.Copy(m.states, changed)
			maps.Copy(m.seen, added)
		}
	}
	return nil
}

// naiveMaps is the naive processor's memory: every stream's state, and
// every command id it has seen (tenant/stream/id).
type naiveMaps struct {
	states map[string]*naiveStream
	seen   map[string]bool
}

type naiveStream struct {
	state   any
	version uint64
}

// decide decides a command record against the maps and the batch's
// changes so far, which it adds to; it returns the result, without its
// events yet, and the events.
func (m *naiveMaps) decide(rec *kgo.Record, changed map[string]*naiveStream, added map[string]bool) (*topics.Result, []aggregate.Envelope) {
	kind := schedule.Kind
	res := &topics.Result{}
	cmd, rejection := topics.DecodeCommand(rec, topics.DefaultPartitions)
	res.CommandID, res.TenantID, res.ScheduleID = cmd.Meta.ID, cmd.Meta.Tenant, cmd.Meta.Stream
	key := cmd.Meta.Tenant + "/" + cmd.Meta.Stream
	id := key + "/" + cmd.Meta.ID
	switch {
	case rejection != nil:
		res.Status, res.Code = topics.StatusRejected, aggregate.CodeOf(rejection)
		return res, nil
	case !cmd.Routed:
		res.Status, res.Code = topics.StatusRejected, topics.CodeMisrouted
		return res, nil
	case m.seen[id] || added[id]:
		res.Status = topics.StatusDuplicate
		return res, nil
	}
	st := changed[key]
	if st == nil {
		st = m.states[key]
	}
	if st == nil {
		st = &naiveStream{state: kind.Seed()}
	}
	added[id] = true
	c, err := kind.DecodeCommand(cmd.Type, cmd.Data)
	if err != nil {
		res.Status, res.Code = topics.StatusRejected, aggregate.CodeOf(err)
		return res, nil
	}
	next, events, err := kind.Execute(st.state, st.version, cmd.Type, c, cmd.Meta)
	if err != nil {
		res.Status, res.Code = topics.StatusRejected, aggregate.CodeOf(err)
		return res, nil
	}
	st = &naiveStream{state: next, version: st.version + uint64(len(events))}
	changed[key] = st
	res.Status, res.Version = topics.StatusAccepted, st.version
	return res, events
}

// startNaive starts the naive map processor in a process of its own, as
// e.proc, on e's Kafka.
func (e *env) startNaive() {
	self, err := os.Executable()
	if err != nil {
		panic(err)
	}
	e.procHTTP = freeAddr()
	e.proc = e.start(self, "-naive", "-naive-brokers", e.kafka, "-naive-http", e.procHTTP)
}

package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/internal/apiclient"
	"github.com/rewind/rewind/internal/dev/proc"
	"github.com/rewind/rewind/topics"
)

// auditCase measures the audit trail and the access log on a broker of
// their own: the activity pages over -audit-events events, and what
// logging every read costs the state reads.
func (b *Bench) auditCase(dir string) error {
	e, done, err := b.newEnv(dir, nil)
	if err != nil {
		return err
	}
	defer done()
	return e.auditBench(context.Background())
}

// auditDays are the days the audit case's events span; auditPerSchedule
// the events of each schedule; auditInitiators the staff who send them.
const (
	auditDays        = 30
	auditPerSchedule = 10
	auditInitiators  = 20
)

var auditDay0 = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

// auditBench writes -audit-events events straight onto schedule-events (a
// clinic's month: schedules of 10 events, 20 staff, 30 days), starts the
// query service and, on the same events, its unlogged baseline build
// (bin/unlogged, make bench only), and measures: the first page of a
// day's activity, alone and by initiator; a state read's latency and
// throughput with the access log and without it, first on a replica that
// also indexes the access log (the one-replica default), then on the
// same replica restarted as one that only serves reads
// (-access-index=false), as a deployment of many runs most of them.
func (e *env) auditBench(ctx context.Context) error {
	if err := e.writeAuditEvents(ctx); err != nil {
		return err
	}
	tokens, err := e.tokensFile()
	if err != nil {
		return err
	}
	// start starts a build; on a model it folded before (restart), it
	// has nothing left to fold.
	start := func(name, bin string, restart bool, extra ...string) (*auditService, error) {
		s := &auditService{name: name, addr: freeAddr()}
		t0 := time.Now()
		s.p = e.start(bin, append([]string{"-brokers", e.kafka, "-http", s.addr, "-tokens", tokens,
			"-data-dir", filepath.Join(e.dir, "query-"+name), "-log-level", "warn"}, extra...)...)
		if err := s.p.WaitFor(ctx, 15*time.Minute, func() bool { return proc.Ready(s.addr) }); err != nil {
			stop(s.p)
			return nil, err
		}
		if applied := metricValue("http://"+s.addr+"/metrics", "rewind_query_events_applied_total"); !restart && applied != float64(e.auditEvents) {
			stop(s.p)
			return nil, fmt.Errorf("%s build: folded %.0f events of %d", name, applied, e.auditEvents)
		}
		s.took = time.Since(t0)
		return s, nil
	}
	logged, err := start("logged", filepath.Join(e.binDir, "query"), false)
	if err != nil {
		return err
	}
	defer func() {
		if logged != nil {
			stop(logged.p)
		}
	}()
	fmt.Printf("query catch-up with the activity indexes (%dk events) %9.0f events/s\n", e.auditEvents/1000,
		float64(e.auditEvents)/logged.took.Seconds())
	unlogged, err := start("unlogged", filepath.Join(e.binDir, "unlogged", "query"), false)
	if err != nil {
		return err
	}
	defer stop(unlogged.p)
	if err := e.activityLatency(ctx, logged.addr); err != nil {
		return err
	}
	if err := e.stateReads(ctx, "a replica that also indexes the access log", logged, unlogged); err != nil {
		return err
	}
	stop(logged.p)
	if logged, err = start("logged", filepath.Join(e.binDir, "query"), true, "-access-index=false"); err != nil {
		return err
	}
	return e.stateReads(ctx, "a replica that serves reads (-access-index=false)", logged, unlogged)
}

// auditService is a query service of the audit case.
type auditService struct {
	name, addr string
	p          *proc.Process
	took       time.Duration // to be ready
}

// activityLatency measures the first page of a day's activity at addr,
// alone and by initiator.
func (b *Bench) activityLatency(ctx context.Context, addr string) error {
	rng := rand.New(rand.NewPCG(3, 4))
	c := &apiclient.Client{Query: "http://" + addr, Token: auditToken}
	for _, filter := range []string{"", "&initiator=staff-7"} {
		var lat []float64
		for range 500 {
			day := auditDay0.Add(time.Duration(rng.IntN(auditDays)) * 24 * time.Hour)
			t0 := time.Now()
			if err := c.Get(ctx, "/v1/activity?limit=50&from="+day.Format(time.RFC3339)+"&to="+day.Add(24*time.Hour).Format(time.RFC3339)+filter, nil); err != nil {
				return err
			}
			lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
		}
		p50, p99 := p50p99(lat)
		what := "a day's activity"
		if filter != "" {
			what = "a day's activity of one initiator"
		}
		fmt.Printf("%s, first page of 50, over %dk events  p50 %.2f ms, p99 %.2f ms (≤ 50 ms)\n", what, b.auditEvents/1000, p50, p99)
	}
	return nil
}

// stateReads measures state reads on the logged build and the unlogged
// one, in rounds that alternate between them: 1000 in a row for latency,
// then -audit-clients at once for 3 s for throughput.
func (b *Bench) stateReads(ctx context.Context, what string, logged, unlogged *auditService) error {
	schedules := b.auditEvents / auditPerSchedule
	read := func(c *apiclient.Client, r *rand.Rand) (float64, error) {
		t0 := time.Now()
		err := c.Get(ctx, "/v1/schedules/s-"+strconv.Itoa(r.IntN(schedules)), nil)
		return float64(time.Since(t0).Microseconds()) / 1000, err
	}
	rng := rand.New(rand.NewPCG(5, 6))
	lat := map[string][]float64{}
	rate := map[string][]float64{}
	for round := range 3 {
		for _, s := range []*auditService{logged, unlogged} {
			c := &apiclient.Client{Query: "http://" + s.addr, Token: auditToken}
			for range 1000 {
				ms, err := read(c, rng)
				if err != nil {
					return fmt.Errorf("%s build: %w", s.name, err)
				}
				lat[s.name] = append(lat[s.name], ms)
			}
			var n atomic.Int64
			var wg sync.WaitGroup
			deadline := time.Now().Add(3 * time.Second)
			for k := range b.auditClients {
				r := rand.New(rand.NewPCG(uint64(round), uint64(k)))
				wg.Go(func() {
					for time.Now().Before(deadline) {
						if _, err := read(c, r); err == nil {
							n.Add(1)
						}
					}
				})
			}
			wg.Wait()
			rate[s.name] = append(rate[s.name], float64(n.Load())/3)
		}
	}
	fmt.Printf("state reads, %s:\n", what)
	l50, l99 := p50p99(lat[logged.name])
	u50, u99 := p50p99(lat[unlogged.name])
	fmt.Printf("  one at a time, with the access log      p50 %.2f ms, p99 %.2f ms; without: p50 %.2f ms, p99 %.2f ms (+%.2f ms, %.2f×)\n",
		l50, l99, u50, u99, l99-u99, l99/u99)
	lr, _ := p50p99(rate[logged.name])
	ur, _ := p50p99(rate[unlogged.name])
	fmt.Printf("  reads/s, %d clients, with the access log %.0f, without %.0f (%.2f×, median of 3 rounds)\n", b.auditClients, lr, ur, lr/ur)
	return nil
}

// auditToken reads and audits the audit case's tenant, auditTenant.
const (
	auditToken  = "bench-auditor"
	auditTenant = "clinic"
)

// writeAuditEvents produces the audit case's events in transactions, as
// the processor would: each schedule's first event a reservation, then
// photo sessions, an event every few minutes of its day.
func (e *env) writeAuditEvents(ctx context.Context) error {
	prod, err := kgo.NewClient(kgo.SeedBrokers(e.kafka), kgo.TransactionalID("bench-audit-events"),
		kgo.DefaultProduceTopic(topics.Events), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(200000))
	if err != nil {
		return err
	}
	defer prod.Close()
	schedules := e.auditEvents / auditPerSchedule
	parts := int32(topics.DefaultPartitions)
	for first := 0; first < schedules; first += 10000 {
		if err := prod.BeginTransaction(); err != nil {
			return err
		}
		for s := first; s < min(first+10000, schedules); s++ {
			stream := "s-" + strconv.Itoa(s)
			p := topics.PartitionFor(topics.StreamKey(auditTenant, stream), parts)
			day := auditDay0.Add(time.Duration(s%auditDays)*24*time.Hour + 8*time.Hour + time.Duration(s%480)*time.Minute)
			for v := 1; v <= auditPerSchedule; v++ {
				env := aggregate.Envelope{Type: "PhotosTaken", Version: uint64(v), Time: day.Add(time.Duration(v) * 3 * time.Minute),
					Tenant: auditTenant, Stream: stream, Initiator: "staff-" + strconv.Itoa((s+v)%auditInitiators),
					ProcessID: stream, PredecessorID: stream + "-" + strconv.Itoa(v)}
				data := `{"kind":"after","count":1}`
				if v == 1 {
					env.Type = "Reserved"
					data = `{"visitorId":"v-` + strconv.Itoa(s%20000) + `","start":"` + day.Format(time.RFC3339) + `","end":"` + day.Add(time.Hour).Format(time.RFC3339) + `"}`
				}
				prod.Produce(ctx, topics.EventRecord(&env, []byte(data), p), nil)
			}
		}
		if err := prod.Flush(ctx); err != nil {
			return err
		}
		if err := prod.EndTransaction(ctx, kgo.TryCommit); err != nil {
			return err
		}
	}
	return nil
}

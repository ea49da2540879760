package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/apiclient"
	"github.com/rewind/rewind/internal/dev/proc"
	"github.com/rewind/rewind/topics"
)

// benchToken is the bearer token of the bench tenant, for ingest and
// query; officerToken erases its visitors' personal data.
const (
	benchToken   = "bench-token"
	officerToken = "bench-privacy-officer"
)

func (e *env) tokensFile() (string, error) {
	tokens := filepath.Join(e.dir, "tokens")
	return tokens, os.WriteFile(tokens, []byte(api.TokenLine(benchToken, "bench", "bench", api.ScopeAll)+
		api.TokenLine(officerToken, "bench", "dpo", api.ScopeErase)+
		api.TokenLine(auditToken, auditTenant, "auditor", api.ScopeRead|api.ScopeAudit)), 0o600)
}

// The read side's history: two streams of readEvents events each, and
// readSchedules reservations over readDays days from readDay0.
const readEvents, readSchedules, readDays = 10000, 100000, 30

var (
	readDay0 = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	readAt   = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
)

// queryBench measures the read side: how fast a new query service folds
// everything the processor wrote, time travel on a 10,000-event stream,
// and day lists over 100,000 schedules.
func (e *env) queryBench(ctx context.Context) error {
	e.produceReadHistory(ctx)
	if err := e.cl.Flush(ctx); err != nil {
		return err
	}
	// Only the drained state matters here, not its rate.
	if _, err := e.drain(ctx, 2*readEvents+readSchedules); err != nil && !errors.Is(err, errUntimed) {
		return err
	}
	tokens, err := e.tokensFile()
	if err != nil {
		return err
	}
	addr := freeAddr()
	start := time.Now()
	q := e.start(filepath.Join(e.binDir, "query"), "-brokers", e.kafka, "-http", addr, "-tokens", tokens,
		"-data-dir", filepath.Join(e.dir, "query"), "-log-level", "warn")
	defer stop(q)
	if err := q.WaitFor(ctx, 15*time.Minute, func() bool { return proc.Ready(addr) }); err != nil {
		return err
	}
	took := time.Since(start)
	applied := metricValue("http://"+addr+"/metrics", "rewind_query_events_applied_total")
	fmt.Printf("query catch-up (cold, %.0f events)     %9.0f events/s\n", applied, applied/took.Seconds())
	fmt.Printf("query RSS after catch-up                %9.0f MiB (peak %.0f MiB)\n", rss(q.Pid(), "VmRSS"), rss(q.Pid(), "VmHWM"))

	return timeReads(ctx, &apiclient.Client{Query: "http://" + addr, Token: benchToken})
}

// produceReadHistory produces the read side's history; the caller
// flushes.
func (e *env) produceReadHistory(ctx context.Context) {
	// Two streams of 10,000 events, one second apart: a reservation
	// rescheduled 9,999 times (the state keeps its size), and a walk-in
	// with 9,999 photo sessions (the state grows by one each time).
	for i := range readEvents {
		typ, data := "Reschedule", slot(i)
		if i == 0 {
			typ, data = "Reserve", `{"visitorId":"v-long","start":"2026-04-01T10:00:00Z","end":"2026-04-01T11:00:00Z"}`
		}
		m := aggregate.Meta{ID: "long-" + strconv.Itoa(i), Tenant: "bench", Stream: "long-visit", Initiator: "bench",
			Time: readAt.Add(time.Duration(i) * time.Second)}
		e.cl.Produce(ctx, topics.CommandRecord(typ, m, []byte(data)), nil)
		typ, data = "TakePhotos", `{"kind":"after","count":1}`
		if i == 0 {
			typ, data = "CheckIn", `{"channel":"desk","visitorId":"v-photos"}`
		}
		m.ID, m.Stream = "photos-"+strconv.Itoa(i), "photo-visit"
		e.cl.Produce(ctx, topics.CommandRecord(typ, m, []byte(data)), nil)
	}
	// 100k reservations over 30 days, 8:00 to 18:00, 15 to 120 minutes.
	for i := range readSchedules {
		start := readDay0.Add(time.Duration(i%readDays)*24*time.Hour + 8*time.Hour + time.Duration((i*7919)%600)*time.Minute)
		end := start.Add(time.Duration(15+(i*31)%106) * time.Minute)
		data := `{"visitorId":"rv` + strconv.Itoa(i%20000) + `","start":"` + start.Format(time.RFC3339) + `","end":"` + end.Format(time.RFC3339) + `"}`
		m := aggregate.Meta{ID: "range-" + strconv.Itoa(i), Tenant: "bench", Stream: "range-" + strconv.Itoa(i), Initiator: "bench", Time: readAt}
		e.cl.Produce(ctx, topics.CommandRecord("Reserve", m, []byte(data)), nil)
	}
}

// timeReads times time travel on the two long streams and day lists
// through client.
func timeReads(ctx context.Context, client *apiclient.Client) error {
	get := func(path string) (float64, error) {
		t0 := time.Now()
		err := client.Get(ctx, path, nil)
		return float64(time.Since(t0).Microseconds()) / 1000, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, stream := range []string{"long-visit", "photo-visit"} {
		if _, err := get(fmt.Sprintf("/v1/schedules/%s?minVersion=%d&wait=30s", stream, readEvents)); err != nil {
			return err
		}
		var byVersion, byInstant []float64
		for range 2000 {
			ms, err := get(fmt.Sprintf("/v1/schedules/%s?version=%d", stream, 1+rng.IntN(readEvents)))
			if err != nil {
				return err
			}
			byVersion = append(byVersion, ms)
			t := readAt.Add(time.Duration(rng.Int64N(int64(readEvents) * int64(time.Second))))
			ms, err = get("/v1/schedules/" + stream + "?at=" + t.Format(time.RFC3339Nano))
			if err != nil {
				return err
			}
			byInstant = append(byInstant, ms)
		}
		what := "rescheduled 10k times, fixed-size state"
		if stream == "photo-visit" {
			what = "10k photo sessions, state grows to 700 KB"
		}
		v50, v99 := p50p99(byVersion)
		a50, a99 := p50p99(byInstant)
		fmt.Printf("time travel, %s:\n", what)
		fmt.Printf("  ?version= p50 %.2f ms, p99 %.2f ms; ?at= p50 %.2f ms, p99 %.2f ms\n", v50, v99, a50, a99)
	}
	var ranges []float64
	for range 1000 {
		from := readDay0.Add(time.Duration(rng.IntN(readDays)) * 24 * time.Hour)
		ms, err := get("/v1/schedules?limit=50&from=" + from.Format(time.RFC3339) + "&to=" + from.Add(24*time.Hour).Format(time.RFC3339))
		if err != nil {
			return err
		}
		ranges = append(ranges, ms)
	}
	a, b := p50p99(ranges)
	fmt.Printf("day list over 100k schedules (50/page)  p50 %.2f ms, p99 %.2f ms\n", a, b)
	return nil
}

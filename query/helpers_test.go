package query_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/query"
	"github.com/rewind/rewind/topics"
)

const (
	partitions = 4
	tokenA     = "token-clinic-a"
	tokenB     = "token-clinic-b"
	// tokenKiosk writes for clinic-a (ingest) and may not read.
	tokenKiosk = "token-clinic-a-kiosk"
	// tokenAuditA and tokenAuditB read and audit, each its clinic.
	tokenAuditA = "token-clinic-a-auditor"
	tokenAuditB = "token-clinic-b-auditor"
)

var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// world is what the test wrote to schedule-events: every stream's events,
// kept to fold independently of the read model.
type world struct {
	t       *testing.T
	brokers string
	prod    *kgo.Client
	streams map[string][]aggregate.Envelope // "<tenant>/<stream>" → events
	states  map[string]schedule.State
	// as is the initiator of the commands exec runs ("": desk-1).
	as string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldOn(t, testkit.Kafka(t, partitions))
}

// newWorldOn is newWorld on a broker of the caller's, with the topics.
func newWorldOn(t *testing.T, brokers string) *world {
	t.Helper()
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.TransactionalID("test-events"),
		kgo.DefaultProduceTopic(topics.Events), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	return &world{t: t, brokers: brokers, prod: prod, streams: map[string][]aggregate.Envelope{},
		states: map[string]schedule.State{}}
}

// exec runs a command against a stream's state as the processor would and
// returns its records, or nil when the rules reject it.
func (w *world) exec(tenant, stream, typ, data string, at time.Time) []*kgo.Record {
	w.t.Helper()
	d := schedule.Definition
	key := tenant + "/" + stream
	cmd, err := d.DecodeCommand(typ, []byte(data))
	if err != nil {
		return nil
	}
	evs := w.streams[key]
	m := aggregate.Meta{ID: fmt.Sprintf("cmd-%s-%d", stream, len(evs)), Tenant: tenant, Stream: stream,
		Initiator: cmp.Or(w.as, "desk-1"), ProcessID: "visit-" + stream, Time: at}
	next, out, err := d.Execute(w.states[key], uint64(len(evs)), typ, cmd, m)
	if err != nil {
		return nil
	}
	w.states[key] = next
	p := topics.PartitionFor(topics.StreamKey(tenant, stream), partitions)
	var recs []*kgo.Record
	for i := range out {
		data, err := schedule.Kind.EncodeEvent(out[i].Data)
		if err != nil {
			w.t.Fatal(err)
		}
		recs = append(recs, topics.EventRecord(&out[i], data, p))
	}
	w.streams[key] = append(evs, out...)
	return recs
}

// commit produces records in one transaction, as the processor does.
func (w *world) commit(recs []*kgo.Record) {
	w.t.Helper()
	ctx := context.Background()
	if err := w.prod.BeginTransaction(); err != nil {
		w.t.Fatal(err)
	}
	if err := w.prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		w.t.Fatal(err)
	}
	if err := w.prod.EndTransaction(ctx, kgo.TryCommit); err != nil {
		w.t.Fatal(err)
	}
}

// randomCommand draws a command that is often accepted, from small pools
// of ids so that the rules collide. Photos come often so that streams
// grow long enough to cross snapshots.
func randomCommand(r *rand.Rand, now time.Time) (string, string) {
	ids := []string{"botox", "laser", "peel"}
	id := func() string { return ids[r.IntN(len(ids))] }
	ts := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	switch r.IntN(16) {
	case 0, 1:
		return "Reserve", fmt.Sprintf(`{"visitorId":"v%d","start":%q,"end":%q,"procedures":[%q,%q]}`,
			r.IntN(5), ts(time.Duration(r.IntN(600)-60)*time.Minute), ts(time.Duration(r.IntN(600)+60)*time.Minute), id(), id())
	case 2:
		return "Reschedule", fmt.Sprintf(`{"start":%q,"end":%q}`, ts(time.Duration(r.IntN(48))*time.Hour), ts(time.Duration(r.IntN(48)+49)*time.Hour))
	case 3:
		if r.IntN(4) == 0 {
			return "CancelReservation", `{"reason":"patient called"}`
		}
		return "TakePhotos", `{"kind":"before","count":1}`
	case 4, 5:
		return "CheckIn", fmt.Sprintf(`{"channel":"desk","visitorId":"v%d"}`, r.IntN(5))
	case 6:
		return "StartConsultation", `{"counselorId":"c1"}`
	case 7:
		return "CompleteConsultation", fmt.Sprintf(`{"procedures":[%q]}`, id())
	case 8, 9:
		return "StartProcedure", fmt.Sprintf(`{"procedureId":%q,"doctorId":"d%d"}`, id(), r.IntN(3))
	case 10:
		return "CompleteProcedure", fmt.Sprintf(`{"procedureId":%q}`, id())
	case 11, 12, 13:
		return "TakePhotos", fmt.Sprintf(`{"kind":"after","count":%d}`, r.IntN(5)+1)
	case 14:
		if r.IntN(2) == 0 {
			return "StartAftercare", `{}`
		}
		return "CompleteAftercare", `{}`
	default:
		if r.IntN(6) == 0 {
			return "CheckOut", `{}`
		}
		return "TakePhotos", `{"kind":"after","count":1}`
	}
}

// fill writes n random commands' events spread over streams, committed
// in transactions of about perTxn commands. Times mostly advance, tie now
// and then, and sometimes step back (clients send their own clocks).
func (w *world) fill(r *rand.Rand, tenants, streams []string, n, perTxn int) {
	w.t.Helper()
	var recs []*kgo.Record
	now := map[string]time.Time{}
	for i := range n {
		tenant, stream := tenants[r.IntN(len(tenants))], streams[r.IntN(len(streams))]
		key := tenant + "/" + stream
		at, ok := now[key]
		if !ok {
			at = t0.Add(time.Duration(r.IntN(600)) * time.Minute)
		}
		switch r.IntN(10) {
		case 0:
		case 1:
			at = at.Add(-time.Duration(r.IntN(5)) * time.Minute)
		default:
			at = at.Add(time.Duration(r.IntN(600)+1) * time.Second)
		}
		now[key] = at
		typ, data := randomCommand(r, t0)
		recs = append(recs, w.exec(tenant, stream, typ, data, at)...)
		if (i+1)%perTxn == 0 && len(recs) > 0 {
			w.commit(recs)
			recs = nil
		}
	}
	if len(recs) > 0 {
		w.commit(recs)
	}
}

// total is how many events the world holds.
func (w *world) total() int {
	n := 0
	for _, evs := range w.streams {
		n += len(evs)
	}
	return n
}

// service is a query view running in-process behind a real HTTP server.
type service struct {
	t      *testing.T
	view   *query.View
	reg    *prometheus.Registry
	url    string
	cancel context.CancelFunc
	done   chan error
	srv    *httptest.Server
}

func tokensFile(t *testing.T) *api.Tokens {
	t.Helper()
	return testkit.Tokens(t, filepath.Join(t.TempDir(), "tokens"),
		api.HashToken(tokenA)+" clinic-a desk-1\n"+api.HashToken(tokenB)+" clinic-b desk-9 read\n"+
			api.HashToken(tokenKiosk)+" clinic-a kiosk write\n"+
			api.HashToken(tokenAuditA)+" clinic-a auditor read,audit\n"+api.HashToken(tokenAuditB)+" clinic-b auditor read,audit\n")
}

func startView(t *testing.T, brokers, dir string, options ...func(*query.Config)) *service {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := query.Config{DataDir: dir, ClientOpts: []kgo.Opt{kgo.SeedBrokers(brokers)}, SnapshotEvery: 8, Keyring: testkit.Keyring(t),
		Registerer: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range options {
		o(&cfg)
	}
	v, err := query.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	v.Routes(mux, tokensFile(t))
	srv := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	s := &service{t: t, view: v, reg: reg, url: srv.URL, cancel: cancel, done: make(chan error, 1), srv: srv}
	go func() { s.done <- v.Run(ctx) }()
	t.Cleanup(s.stop)
	return s
}

// stop stops the view and closes its model; it may be called twice.
func (s *service) stop() {
	if s.cancel == nil {
		return
	}
	s.srv.Close()
	s.cancel()
	if err := <-s.done; err != nil {
		s.t.Errorf("view run: %v", err)
	}
	if err := s.view.Close(); err != nil {
		s.t.Errorf("view close: %v", err)
	}
	s.cancel = nil
}

// waitFolded waits until the view has folded n events in all.
func (s *service) waitFolded(n int) {
	s.t.Helper()
	if !testkit.Eventually(30*time.Second, func() bool { return s.applied() >= float64(n) }) {
		s.t.Fatalf("view folded %v of %d events in 30s", s.applied(), n)
	}
}

// waitReady waits until the view reports ready (caught up).
func (s *service) waitReady() {
	s.t.Helper()
	if !testkit.Eventually(30*time.Second, s.view.Ready) {
		s.t.Fatal("view not ready in 30s")
	}
}

func (s *service) applied() float64 {
	return testkit.Metric(s.t, s.reg, "rewind_query_events_applied_total")
}

// get fetches a path with a token and decodes the JSON answer into out
// (when not nil); it returns the status and the problem code, if any.
func (s *service) get(token, path string, out any) (int, string) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		var p api.Problem
		if err := json.Unmarshal(body, &p); err != nil || resp.Header.Get("Content-Type") != "application/problem+json" {
			s.t.Fatalf("GET %s: %d without a problem document: %s", path, resp.StatusCode, body)
		}
		return resp.StatusCode, p.Code
	}
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, out); err != nil {
			s.t.Fatalf("GET %s: %v: %s", path, err, body)
		}
	}
	return resp.StatusCode, ""
}

// fetch GETs path with token and headers and returns the status and body.
func (s *service) fetch(token, path string, header map[string]string) (int, http.Header, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}

// pages follows a paged list from its first path to its end and returns
// all its items, failing on any answer but 200 and on a page of more
// than limit items (limit 0: any number).
func pages[T any](s *service, token, first string, limit int) []T {
	s.t.Helper()
	var all []T
	for next := first; next != ""; {
		var page query.Page[T]
		if code, pc := s.get(token, next, &page); code != 200 {
			s.t.Fatalf("%s: %d %s", next, code, pc)
		}
		if limit > 0 && len(page.Items) > limit {
			s.t.Fatalf("%s: page of %d items with limit %d", next, len(page.Items), limit)
		}
		all, next = append(all, page.Items...), page.Next
	}
	return all
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

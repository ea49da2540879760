package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/internal/apiclient"
	"github.com/rewind/rewind/internal/dev/proc"
	"github.com/rewind/rewind/topics"
)

// startIngest starts ingest on e's Kafka with the bench's tokens and
// returns its address. The caller MUST stop it.
func (e *env) startIngest() (*proc.Process, string, error) {
	tokens, err := e.tokensFile()
	if err != nil {
		return nil, "", err
	}
	addr := freeAddr()
	ing := e.start(filepath.Join(e.binDir, "ingest"), "-brokers", e.kafka, "-http", addr, "-tokens", tokens, "-log-level", "warn",
		"-data-dir", filepath.Join(e.dir, "ingest"))
	if err := ing.WaitFor(context.Background(), time.Minute, func() bool { return proc.Ready(addr) }); err != nil {
		stop(ing)
		return nil, "", err
	}
	return ing, addr, nil
}

// ingestLoad starts ingest and sends n Reserve requests from c concurrent
// clients on loopback, each waiting for its outcome; it returns
// requests/s and the latency quantiles in ms.
func (e *env) ingestLoad(n, c int) (rps, p50, p99 float64, err error) {
	const token = benchToken
	ing, addr, err := e.startIngest()
	if err != nil {
		return 0, 0, 0, err
	}
	defer stop(ing)
	client := &apiclient.Client{Ingest: "http://" + addr, Token: token, HTTP: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c}}}
	body := []byte(`{"visitorId":"v","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`)
	lat := make([][]float64, c)
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += c {
				t0 := time.Now()
				res, err := client.Send(context.Background(), apiclient.Command{Schedule: fmt.Sprintf("http-%d", i), Type: "Reserve", Data: body})
				if err != nil || res.Status != topics.StatusAccepted {
					failed.Add(1)
					continue
				}
				lat[w] = append(lat[w], float64(time.Since(t0).Microseconds())/1000)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	var all []float64
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) == 0 || failed.Load() > int64(n/100) {
		return 0, 0, 0, fmt.Errorf("ingest load: %d of %d requests failed", failed.Load(), n)
	}
	p50, p99 = p50p99(all)
	return float64(len(all)) / took.Seconds(), p50, p99, nil
}

// eraseLatency reserves 100 schedules for each of n visitors, with a name
// and a phone, and times each visitor's erasure through ingest, from the
// DELETE to its answer (every partition's destruction committed).
func (e *env) eraseLatency(ctx context.Context, n int) ([]float64, error) {
	ing, addr, err := e.startIngest()
	if err != nil {
		return nil, err
	}
	defer stop(ing)
	before, _ := e.committed(ctx)
	const schedules = 100
	for v := range n {
		for s := range schedules {
			m := aggregate.Meta{ID: fmt.Sprintf("erase-%d-%d", v, s), Tenant: "bench", Stream: fmt.Sprintf("erase-%d-%d", v, s),
				Initiator: "bench", Time: time.Now()}
			data := fmt.Sprintf(`{"visitorId":"ev-%d","visitor":{"name":"Visitor %d","phone":"010-5555-1234"},"start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`, v, v)
			e.cl.Produce(ctx, topics.CommandRecord("Reserve", m, []byte(data)), nil)
		}
	}
	if err := e.cl.Flush(ctx); err != nil {
		return nil, err
	}
	if _, err := e.untilCommitted(ctx, before+int64(n*schedules), time.Now(), time.Minute); err != nil {
		return nil, err
	}
	var took []float64
	for v := range n {
		req, _ := http.NewRequestWithContext(ctx, "DELETE", fmt.Sprintf("http://%s/v1/visitors/ev-%d/personal-data", addr, v), nil)
		req.Header.Set("Authorization", "Bearer "+officerToken)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		var body struct {
			Schedules    int
			Code, Detail string // a problem's
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || body.Schedules != schedules {
			return nil, fmt.Errorf("erasure of ev-%d: %d %s %s, %d schedules, %v", v, resp.StatusCode, body.Code, body.Detail, body.Schedules, err)
		}
		took = append(took, float64(time.Since(start).Microseconds())/1000)
	}
	return took, nil
}

// eraseCase prints the erasure's latency on a broker and processor of
// their own.
func (b *Bench) eraseCase(dir string) error {
	e, done, err := b.newEnv(dir, nil)
	if err != nil {
		return err
	}
	defer done()
	e.startProcessor()
	defer func() { stop(e.proc) }()
	took, err := e.eraseLatency(context.Background(), 10)
	if err != nil {
		return err
	}
	printErasures(took)
	return nil
}

func printErasures(took []float64) {
	p50, _ := p50p99(took)
	fmt.Printf("erasure of a visitor with 100 schedules median %.0f ms, max %.0f ms (10 visitors; ≤ 1 s)\n", p50, slices.Max(took))
}

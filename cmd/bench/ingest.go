package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rewind/rewind/internal/apiclient"
	"github.com/rewind/rewind/internal/proc"
	"github.com/rewind/rewind/topics"
)

// ingestLoad starts ingest and sends n Reserve requests from c concurrent
// clients on loopback, each waiting for its outcome; it returns
// requests/s and the latency quantiles in ms.
func (e *env) ingestLoad(n, c int) (rps, p50, p99 float64, err error) {
	const token = benchToken
	tokens, err := e.tokensFile()
	if err != nil {
		return 0, 0, 0, err
	}
	addr := freeAddr()
	ing := e.start(filepath.Join(*binDir, "ingest"), "-brokers", e.kafka, "-http", addr, "-tokens", tokens, "-log-level", "warn",
		"-data-dir", filepath.Join(e.dir, "ingest"))
	defer stop(ing)
	if err := ing.WaitFor(context.Background(), time.Minute, func() bool { return proc.Listening(addr) }); err != nil {
		return 0, 0, 0, err
	}
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

package access_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/access"
	"github.com/rewind/rewind/internal/testing/testkit"
)

func newLogger(t *testing.T, brokers string, timeout time.Duration) *access.Logger {
	t.Helper()
	l, err := access.New(access.Config{ClientOpts: []kgo.Opt{kgo.SeedBrokers(brokers)}, Service: "query", Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

func record(i int) *access.Record {
	rows := i
	return &access.Record{Tenant: "clinic-1", Subject: "dr-kim", TokenID: "0123456789ab", Client: "10.0.0.5",
		Action: access.List, Route: "GET /v1/schedules", Query: "from=2026-12-07T00:00:00Z", Rows: &rows}
}

func check(t *testing.T, brokers string) *access.Checker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := access.Check(ctx, []kgo.Opt{kgo.SeedBrokers(brokers)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestLogChains: records logged at once by many readers land as one
// unbroken chain, each acknowledged before Log returns.
func TestLogChains(t *testing.T) {
	brokers := testkit.Kafka(t, 3)
	l := newLogger(t, brokers, 5*time.Second)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			if err := l.Log(context.Background(), record(i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	c := check(t, brokers)
	if c.Records != 200 || c.Chains != 1 || len(c.Breaks) != 0 {
		t.Fatalf("checked %d records in %d chains, breaks %v; want 200 in 1, none", c.Records, c.Chains, c.Breaks)
	}
}

// TestCheckerFindsBreaks: an altered, a removed, a forged and a moved
// record each break the chain where they are, and nothing else does.
func TestCheckerFindsBreaks(t *testing.T) {
	// A chain of five, as a Logger writes it.
	var values [][]byte
	prev := ""
	for i := range 5 {
		r := record(i)
		r.Time = time.Date(2026, 12, 7, 9, 0, i, 0, time.UTC)
		r.Writer, r.Seq, r.Prev = "query-1", uint64(i+1), prev
		v := r.Encode()
		values = append(values, v)
		prev = access.Hash(v)
	}
	run := func(vs [][]byte, trimmed bool) *access.Checker {
		c := &access.Checker{}
		for i, v := range vs {
			c.Add(0, int64(i), v, trimmed)
		}
		return c
	}
	if c := run(values, false); len(c.Breaks) != 0 || c.Chains != 1 {
		t.Fatalf("an intact chain: %v", c.Breaks)
	}
	altered := append([][]byte(nil), values...)
	altered[2] = []byte(strings.Replace(string(values[2]), `"dr-kim"`, `"dr-lee"`, 1))
	removed := append(append([][]byte(nil), values[:2]...), values[3:]...)
	forged := append([][]byte(nil), values...)
	r, _ := access.Decode(values[4])
	r.Subject, r.Prev = "nobody", "ff"
	forged[4] = r.Encode()
	for name, tt := range map[string]struct {
		vs      [][]byte
		trimmed bool
		offset  int64
		problem string
	}{
		"altered":  {altered, false, 3, "altered or replaced"},
		"removed":  {removed, false, 2, "records are missing"},
		"forged":   {forged, false, 4, "altered or replaced"},
		"head cut": {values[2:], false, 0, "records 1 to 2 are missing"},
		"garbage":  {append(append([][]byte(nil), values...), []byte("{")), false, 5, "not a record"},
	} {
		c := run(tt.vs, tt.trimmed)
		if len(c.Breaks) != 1 || c.Breaks[0].Offset != tt.offset || !strings.Contains(c.Breaks[0].Problem, tt.problem) {
			t.Errorf("%s: breaks %v, want one at offset %d: %s", name, c.Breaks, tt.offset, tt.problem)
		}
	}
	// Retention deleted the partition's oldest records: a chain that
	// begins past seq 1 began before them.
	if c := run(values[2:], true); len(c.Breaks) != 0 {
		t.Errorf("a chain trimmed by retention: %v", c.Breaks)
	}
	// A writer writes one partition: its seq 2 on another is not its own.
	c := &access.Checker{}
	c.Add(0, 0, values[0], false)
	c.Add(1, 0, values[1], false)
	if len(c.Breaks) != 1 || !strings.Contains(c.Breaks[0].Problem, "one partition") {
		t.Errorf("a chain across partitions: %v", c.Breaks)
	}
}

// TestLogFailsClosed: while the broker is gone, Log fails, the first call
// within the timeout and the others at once; once records land again,
// Log succeeds, and the chain cut by the outage was ended, not broken.
func TestLogFailsClosed(t *testing.T) {
	port := freePort(t)
	start := func() *kfake.Cluster {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cluster := start()
	brokers := cluster.ListenAddrs()[0]
	testkit.Topics(t, brokers, 3)
	l := newLogger(t, brokers, time.Second)
	if err := l.Log(context.Background(), record(0)); err != nil {
		t.Fatal(err)
	}
	cluster.Close()

	began := time.Now()
	err := l.Log(context.Background(), record(1))
	if !errors.Is(err, access.ErrUnavailable) || time.Since(began) > 5*time.Second {
		t.Fatalf("with the broker gone: %v after %v, want ErrUnavailable within the timeout", err, time.Since(began))
	}
	if !l.Unavailable() {
		t.Fatal("not marked unavailable")
	}
	// While one call tries, the others fail at once.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var slow int
	for i := range 10 {
		wg.Go(func() {
			began := time.Now()
			err := l.Log(context.Background(), record(2+i))
			if !errors.Is(err, access.ErrUnavailable) {
				t.Errorf("with the broker gone: %v", err)
			}
			if time.Since(began) > 500*time.Millisecond {
				mu.Lock()
				slow++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if slow != 1 {
		t.Fatalf("%d of 10 calls waited for the broker, want the one that tried", slow)
	}

	cluster = start()
	defer cluster.Close()
	testkit.Topics(t, brokers, 3)
	if !testkit.Eventually(30*time.Second, func() bool { return l.Log(context.Background(), record(12)) == nil }) {
		t.Fatal("Log did not recover with the broker back")
	}
	if l.Unavailable() {
		t.Fatal("still marked unavailable")
	}
	for i := range 3 {
		if err := l.Log(context.Background(), record(13+i)); err != nil {
			t.Fatal(err)
		}
	}
	if c := check(t, brokers); len(c.Breaks) != 0 || c.Chains != 1 || c.Records < 4 {
		t.Fatalf("after the outage: %d records in %d chains, breaks %v; want one new chain of at least 4, unbroken", c.Records, c.Chains, c.Breaks)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(testkit.FreeAddr(t))
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(fmt.Errorf("free port: %w", err))
	}
	return n
}

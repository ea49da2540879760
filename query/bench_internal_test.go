package query

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/topics"
)

// BenchmarkStateAtLongStream times the read model's time travel on one
// stream of 10,000 events (no HTTP, no Kafka).
func BenchmarkStateAtLongStream(b *testing.B) {
	m, _, err := openModel(b.TempDir(), schedule.Definition, 1, 64)
	if err != nil {
		b.Fatal(err)
	}
	defer m.close()
	at := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	const n = 10000
	w, _ := m.newWriter(nil)
	for i := 1; i <= n; i++ {
		typ, data := "PhotosTaken", `{"kind":"after","count":1}`
		if i == 1 {
			typ, data = "CheckedIn", `{"channel":"desk","visitorId":"v","walkIn":true}`
		}
		e := topics.Event{Envelope: aggregate.Envelope{Type: typ, Version: uint64(i), Time: at.Add(time.Duration(i) * time.Second),
			Tenant: "t", Stream: "long", Initiator: "u", PredecessorID: "c" + strconv.Itoa(i)}, Raw: []byte(data)}
		if err := w.apply(&e); err != nil {
			b.Fatal(err)
		}
		if i%2000 == 0 {
			w.advance(0, int64(i))
			if err := w.commit(); err != nil {
				b.Fatal(err)
			}
			w, _ = m.newWriter(nil)
		}
	}
	h, _, _ := m.head(m.db, "t", "long")
	r := rand.New(rand.NewPCG(1, 2))
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, _, err := m.stateAt(m.db, "t", "long", &h, uint64(1+r.IntN(n))); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkCatchUp times folding events of 1,000 streams into the model
// in batches, as the consumer does (no Kafka).
func BenchmarkCatchUp(b *testing.B) {
	m, _, err := openModel(b.TempDir(), schedule.Definition, 1, 64)
	if err != nil {
		b.Fatal(err)
	}
	defer m.close()
	at := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	cache := newStreamCache(20000)
	w, _ := m.newWriter(cache)
	b.ResetTimer()
	for i := range b.N {
		s, v := i%1000, i/1000+1
		typ, data := "Rescheduled", `{"start":"2026-04-01T10:00:00Z","end":"2026-04-01T11:00:00Z"}`
		if v == 1 {
			typ, data = "Reserved", `{"visitorId":"v1","start":"2026-04-01T10:00:00Z","end":"2026-04-01T11:00:00Z","procedures":["botox"]}`
		}
		e := topics.Event{Envelope: aggregate.Envelope{Type: typ, Version: uint64(v), Time: at.Add(time.Duration(i) * time.Millisecond),
			Tenant: "t", Stream: "s" + strconv.Itoa(s), Initiator: "u", PredecessorID: "c" + strconv.Itoa(i)}, Raw: []byte(data)}
		if err := w.apply(&e); err != nil {
			b.Fatal(err)
		}
		w.advance(0, int64(i))
		if i%5000 == 4999 {
			if err := w.commit(); err != nil {
				b.Fatal(err)
			}
			w, _ = m.newWriter(cache)
		}
	}
}

// Package pause measures, from outside, the write pauses a failover
// causes: it polls the last stable offsets of schedule-results, the point
// up to which a client waiting for its outcome can read, and keeps per
// partition the longest time between two advances. The failover tests and
// the bench use it; it imports nothing of the processor.
//
// It polls offsets rather than reading the results: a reader that falls
// behind on a busy machine gets a backlog in one fetch, which makes a
// pause look shorter or longer than it was; each poll of the offsets is
// fresh.
package pause

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/topics"
)

// every is how often the offsets are polled: the resolution of a pause.
const every = 10 * time.Millisecond

// Watch polls the last stable offsets of schedule-results. Close stops it.
type Watch struct {
	adm    *kadm.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	offset  map[int32]int64         // the partition's last stable offset
	last    map[int32]time.Time     // when it last advanced
	longest map[int32]time.Duration // since the last Reset
	count   map[int32]int           // advances since the last Reset
}

// Start polls on brokers with opts (TLS, SASL).
func Start(brokers []string, opts ...kgo.Opt) (*Watch, error) {
	cl, err := kgo.NewClient(append(opts, kgo.SeedBrokers(brokers...))...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watch{adm: kadm.NewClient(cl), cancel: cancel, done: make(chan struct{}), offset: map[int32]int64{},
		last: map[int32]time.Time{}, longest: map[int32]time.Duration{}, count: map[int32]int{}}
	go w.run(ctx)
	return w, nil
}

func (w *Watch) run(ctx context.Context) {
	defer close(w.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for ; ctx.Err() == nil; <-tick.C {
		offsets, err := w.adm.ListCommittedOffsets(ctx, topics.Results)
		if err != nil {
			continue
		}
		now := time.Now()
		w.mu.Lock()
		offsets.Each(func(o kadm.ListedOffset) {
			if o.Err != nil {
				return
			}
			prev, seen := w.offset[o.Partition]
			switch {
			case !seen:
				w.last[o.Partition] = now
			case o.Offset > prev:
				w.longest[o.Partition] = max(w.longest[o.Partition], now.Sub(w.last[o.Partition]))
				w.last[o.Partition] = now
				w.count[o.Partition]++
			}
			w.offset[o.Partition] = o.Offset
		})
		w.mu.Unlock()
	}
}

// Reset forgets the pauses and counts so far, but not when each
// partition's latest result arrived: a pause that began before Reset is
// measured whole when it ends.
func (w *Watch) Reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	clear(w.longest)
	clear(w.count)
}

// Longest returns the longest pause since the last Reset over every
// partition, and the partition it was on; a partition whose results have
// not advanced since the last Reset counts as paused since they last did.
func (w *Watch) Longest() (part int32, took time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	for p, last := range w.last {
		d := w.longest[p]
		if w.count[p] == 0 {
			d = now.Sub(last)
		}
		if d > took {
			part, took = p, d
		}
	}
	return part, took
}

// Quiet returns, per partition, how long ago its results last advanced:
// at a loss, whether the lost owner's partitions had already stalled, or
// every partition had (the broker).
func (w *Watch) Quiet() map[int32]time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	out := make(map[int32]time.Duration, len(w.last))
	for p, last := range w.last {
		out[p] = now.Sub(last)
	}
	return out
}

// AnsweredSince reports whether the results of every one of n partitions
// have advanced after t. A failover is over when each has advanced after
// the survivors took every partition: an advance since the loss is not
// enough, since the commit of a batch that ended as the owner was lost
// shows in the next poll.
func (w *Watch) AnsweredSince(t time.Time, n int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	after := 0
	for _, last := range w.last {
		if last.After(t) {
			after++
		}
	}
	return after == n
}

// Close stops the tail.
func (w *Watch) Close() {
	w.cancel()
	<-w.done
	w.adm.Close()
}

package processor

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/rewind/rewind/store"
)

// ownership tracks which partitions are restoring or ready, and the
// checkpoint of each ready one. A generation number per ready partition
// lets the loop tell whether a partition it handled was revoked (and maybe
// reassigned and restored) while its batch was in flight.
type ownership struct {
	mu        sync.Mutex
	gen       uint64
	restoring map[int32]context.CancelFunc
	ready     map[int32]owned
	runs      map[int32]chan struct{} // closed when the last restore of a partition has returned
	// rewrites holds, per ready partition whose store the state topic
	// does not yet mirror (after a fold of the events), the last stream
	// copied to the state topic so far ("" before the first).
	rewrites map[int32]string
	// assigned holds the steps of each partition's takeover so far, from
	// its assignment until its first commit (takenOver).
	assigned map[int32]*takeover
}

// takeover is when each step of a partition's takeover ended, for the
// line its first commit logs: what a slow one waited for. Zero times are
// steps not reached (a restore restarted after a partial revoke keeps
// the first assignment's).
type takeover struct {
	part int32
	// assigned is when the group assigned the partition; fenced, when the
	// assignment's callback had fenced lost owners and found the offsets
	// stable (franz-go then fetches them); restoring, when its restore began to read
	// (after earlier restores of it and its standby copy had stopped);
	// ready, when it was restored and its commands' fetch resumed; done,
	// its first commit.
	assigned, fenced, restoring, ready, done time.Time
}

// steps are the takeover's step durations, for a log line.
func (t *takeover) steps() []any {
	since := func(a, b time.Time) time.Duration {
		if a.IsZero() || b.IsZero() {
			return 0
		}
		return b.Sub(a).Round(time.Millisecond)
	}
	return []any{"partition", t.part, "took", since(t.assigned, t.done),
		"fence", since(t.assigned, t.fenced), "wait", since(t.fenced, t.restoring),
		"restore", since(t.restoring, t.ready), "first_commit", since(t.ready, t.done)}
}

type owned struct {
	cp  store.Checkpoint
	gen uint64
}

func newOwnership() *ownership {
	return &ownership{restoring: map[int32]context.CancelFunc{}, ready: map[int32]owned{}, runs: map[int32]chan struct{}{}, rewrites: map[int32]string{},
		assigned: map[int32]*takeover{}}
}

// startRestore marks parts as restoring by the run that closes done, and
// returns the done channels of earlier runs over any of them.
func (o *ownership) startRestore(parts []int32, cancel context.CancelFunc, done chan struct{}) []chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	var previous []chan struct{}
	now := time.Now()
	for _, part := range parts {
		if _, ok := o.assigned[part]; !ok {
			o.assigned[part] = &takeover{part: part, assigned: now}
		}
		delete(o.ready, part)
		o.restoring[part] = cancel
		if prev, ok := o.runs[part]; ok {
			previous = append(previous, prev)
		}
		o.runs[part] = done
	}
	return previous
}

// restart hands the partitions of parts that the run closing done left
// restoring (assigned still, to no later run) to a new run, at once, so
// that a revoke cannot come in between.
func (o *ownership) restart(parts []int32, done chan struct{}, cancel context.CancelFunc, next chan struct{}) []int32 {
	o.mu.Lock()
	defer o.mu.Unlock()
	var left []int32
	for _, part := range parts {
		if _, ok := o.restoring[part]; ok && o.runs[part] == done {
			o.restoring[part], o.runs[part] = cancel, next
			left = append(left, part)
		}
	}
	return left
}

// finishRestore marks the partitions restored by the run closing run
// ready, unless they were revoked meanwhile (or handed to a later run),
// and returns the ones it marked. Those the state topic does not mirror
// are to be copied to it.
func (o *ownership) finishRestore(cps map[int32]store.Checkpoint, run chan struct{}) []int32 {
	o.mu.Lock()
	defer o.mu.Unlock()
	var done []int32
	for part, cp := range cps {
		if _, ok := o.restoring[part]; ok && o.runs[part] == run {
			delete(o.restoring, part)
			o.gen++
			o.ready[part] = owned{cp: cp, gen: o.gen}
			if t, ok := o.assigned[part]; ok {
				t.ready = time.Now() // its commands' fetch resumes next
			}
			if !cp.Synced {
				o.rewrites[part] = ""
			}
			done = append(done, part)
		}
	}
	return done
}

// lastRun returns the done channel of the last restore of part, or nil.
func (o *ownership) lastRun(part int32) chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.runs[part]
}

func (o *ownership) drop(parts []int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, part := range parts {
		if cancel, ok := o.restoring[part]; ok {
			cancel()
			delete(o.restoring, part)
		}
		delete(o.ready, part)
		delete(o.rewrites, part)
		delete(o.assigned, part)
	}
}

// step records, for the partitions of parts still taking over, that a
// step of their takeover ended now.
func (o *ownership) step(parts []int32, step func(*takeover) *time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	for _, part := range parts {
		if t, ok := o.assigned[part]; ok {
			*step(t) = now
		}
	}
}

// takenOver returns the takeovers of the ready partitions of parts (nil:
// every ready partition) not yet taken over, ended now, and marks them
// taken over.
func (o *ownership) takenOver(parts []int32) []*takeover {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.assigned) == 0 {
		return nil // the usual case, once per batch
	}
	var took []*takeover
	now := time.Now()
	for part, t := range o.assigned {
		if _, ready := o.ready[part]; ready && (parts == nil || slices.Contains(parts, part)) {
			t.done = now
			took = append(took, t)
			delete(o.assigned, part)
		}
	}
	return took
}

func (o *ownership) cancelAll() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, cancel := range o.restoring {
		cancel()
	}
}

// snapshot returns the ready partitions, with checkpoints and generations.
func (o *ownership) snapshot() map[int32]owned {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[int32]owned, len(o.ready))
	for k, v := range o.ready {
		out[k] = v
	}
	return out
}

// rewriting returns the cursors of the partitions of seen being copied to
// the state topic.
func (o *ownership) rewriting(seen map[int32]owned) map[int32]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.rewrites) == 0 {
		return nil // the usual case, once per batch
	}
	out := map[int32]string{}
	for part, after := range o.rewrites {
		if _, ok := seen[part]; ok {
			out[part] = after
		}
	}
	return out
}

// commit calls write with the partitions of seen that are still ready in
// the same generation, and records their new checkpoints and rewrite
// cursors ("" ends a rewrite). It holds the lock throughout, so a restore
// cannot read a checkpoint while a batch's states are half written.
func (o *ownership) commit(seen map[int32]owned, cps map[int32]store.Checkpoint, rewrites map[int32]string, write func(keep func(int32) bool) error) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	keep := func(part int32) bool {
		now, ok := o.ready[part]
		return ok && now.gen == seen[part].gen
	}
	if err := write(keep); err != nil {
		return err
	}
	for part, cp := range cps {
		if keep(part) {
			o.ready[part] = owned{cp: cp, gen: o.ready[part].gen}
		}
	}
	for part, last := range rewrites {
		if _, ok := o.rewrites[part]; ok && keep(part) {
			if last == "" {
				delete(o.rewrites, part)
			} else {
				o.rewrites[part] = last
			}
		}
	}
	return nil
}

func (o *ownership) rewritePending() bool { return o.rewriteCount() > 0 }

func (o *ownership) rewriteCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.rewrites)
}

func (o *ownership) ownedCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.ready) + len(o.restoring)
}

func (o *ownership) restoringCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.restoring)
}

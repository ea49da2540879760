package processor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// crashError wraps the error of a crash hook: Run then stops as a killed
// process would, without ending the transaction.
type crashError struct{ err error }

func (c *crashError) Error() string { return "processor: crash: " + c.err.Error() }

// loop is the batch of docs/processor.md: per polled batch, Begin; handle each command;
// End(TryCommit); after a commit, write the overlay to Pebble.
func (p *Processor) loop(ctx context.Context, sess *kgo.GroupTransactSession) error {
	for {
		select {
		case err := <-p.fatal:
			return err
		default:
		}
		// The poll is bounded so that copying a partition to the state
		// topic goes on while no command arrives.
		pctx, cancel := context.WithTimeout(ctx, idlePoll)
		fetches := sess.PollRecords(pctx, p.cfg.MaxBatch)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(t string, part int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				p.log.Warn("fetch", "topic", t, "partition", part, "err", err)
			}
		})
		if fetches.NumRecords() == 0 && !p.parts.rewritePending() {
			p.tookOver(nil) // nothing waits: every ready partition serves
			continue
		}
		if err := p.handleBatch(ctx, sess, fetches); err != nil {
			return err
		}
	}
}

// handleBatch runs one transaction over the polled records.
func (p *Processor) handleBatch(ctx context.Context, sess *kgo.GroupTransactSession, fetches kgo.Fetches) error {
	start := time.Now()
	// 1. Begin.
	if err := sess.Begin(); err != nil {
		return fmt.Errorf("processor: begin: %w", err)
	}
	// A batch in flight is finished even when ctx is canceled (SIGTERM):
	// its records are produced and End commits or aborts, within a bound.
	finish, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.TransactionTimeout)
	defer cancel()
	// 2. Handle the records and produce what they lead to.
	b := p.newBatch(finish, sess)
	failed := b.run(fetches.Records())
	if failed == nil && crashpoint != nil {
		crashpoint()
	}
	if failed == nil && p.cfg.hooks.BeforeCommit != nil {
		if err := p.cfg.hooks.BeforeCommit(); err != nil {
			return &crashError{err}
		}
	}
	// 3. End: events, results and offsets commit together, or none do.
	how := kgo.TryCommit
	if failed != nil {
		how = kgo.TryAbort
	}
	if how == kgo.TryCommit {
		p.holdAfterRebalance(finish)
	}
	committed, err := sess.End(finish, how)
	if err != nil {
		p.metrics.transactions.WithLabelValues("failed").Inc()
		return fmt.Errorf("processor: end transaction: %w", err)
	}
	if !committed {
		// 4b. After an abort the overlay is dropped; the session has
		// rewound to the committed offsets, so the records come again.
		p.metrics.transactions.WithLabelValues("aborted").Inc()
		if failed != nil && !errors.Is(failed, errNotReady) {
			return failed
		}
		return nil
	}
	p.metrics.transactions.WithLabelValues("committed").Inc()
	if p.cfg.hooks.AfterCommit != nil {
		if err := p.cfg.hooks.AfterCommit(); err != nil {
			return &crashError{err}
		}
	}
	// 4. Only after the commit: states, dedup and checkpoints in one batch.
	if err := b.persist(); err != nil {
		return err
	}
	b.count()
	p.tookOver(b.answered())
	p.metrics.cacheBytes.Set(float64(p.cache.bytes()))
	p.metrics.batch.Observe(time.Since(start).Seconds())
	return nil
}

// run handles the batch's records and produces what they lead to:
// the rewrites of partitions whose state records another logic version
// wrote, then events and results, then the states. It returns the
// batch's first error, once every produce callback has run.
func (b *batch) run(records []*kgo.Record) error {
	// failed is the batch's own first error; a failed produce is the
	// callbacks' (batch.produceErr), read once they have all run.
	var failed error
	if rewrites := b.p.parts.rewriting(b.parts); len(rewrites) > 0 {
		failed = b.produceRewrites(rewrites)
	}
	// Read the streams the batch needs that are not in memory, in one
	// pass in key order. Then handle each command in partition order. A
	// record of a partition that is not restored (assigned after this
	// poll began) aborts the batch: its fetch is paused, and End rewinds
	// the others.
	if failed == nil {
		failed = b.prefetchRecords(records)
	}
	for _, rec := range records {
		if failed != nil {
			break
		}
		if _, ok := b.parts[rec.Partition]; !ok {
			failed = errNotReady
			break
		}
		failed = b.handle(rec)
	}
	if failed == nil {
		failed = b.produceStates()
	}
	b.wait()
	if failed == nil {
		failed = b.produceErr()
	}
	return failed
}

var errNotReady = errors.New("processor: record of a partition still restoring")

// idlePoll bounds a poll of the loop.
const idlePoll = 200 * time.Millisecond

// offsetHold is how long after a rebalance a member holds its offset
// commits. The members given partitions fetch those partitions'
// committed offsets then, and a fetch answered UNSTABLE_OFFSET_COMMIT
// asks again only a second later (fence.go: awaitStableOffsets). Kafka
// answers so only for the partitions a transaction holds offsets of,
// never another member's, so on Kafka this hold is idle insurance; kfake
// answers so for every partition of the group while any transaction
// holds offsets of it, and a member's commit landing on a new owner's
// fetch cost a takeover that second, a few kills in forty in the
// failover bench. A member holds its commits while its assignment's
// callback runs and offsetHold after it returns: at most about a second
// and a tenth once per rebalance, and usually a few milliseconds more
// than offsetHold.
const offsetHold = 100 * time.Millisecond

// holdAfterRebalance waits until the hold after the last assignment
// (Processor.holdUntil) has passed, or ctx ends. It looks again every
// 10 ms: the end of a hold is brought forward when the callback returns.
func (p *Processor) holdAfterRebalance(ctx context.Context) {
	for {
		wait := time.Until(time.Unix(0, p.holdUntil.Load()))
		if wait <= 0 {
			return
		}
		t := time.NewTimer(min(wait, 10*time.Millisecond))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// tookOver observes the takeover time of the partitions of parts (nil:
// every ready one) that have not had their first commit since their
// assignment.
func (p *Processor) tookOver(parts []int32) {
	for _, t := range p.parts.takenOver(parts) {
		p.metrics.takeover.Observe(t.done.Sub(t.assigned).Seconds())
		p.log.Info("partition taken over", t.steps()...)
	}
}

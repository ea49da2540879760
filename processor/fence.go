package processor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/rewind/rewind/topics"
)

// A processor lost for good (its machine gone) leaves its transaction
// open. A restarted one fences its own at once, by loading the producer
// id of its stable transactional id; a lost one never comes back, so its
// transaction stays open until the broker's transaction timeout, and the
// last stable offset of every partition it wrote stays behind until then.
// The new owner's restore waits for that offset: without fencing, a
// failover would take the transaction timeout, not the session timeout.
//
// So the new owner ends it. Before its restore reads, it lists the open
// transactions of the group's processors (ListTransactions), keeps those
// whose owner is no longer a member of the group (DescribeGroups: a
// member's static instance id names its transactional id) and that hold
// one of its partitions (DescribeTransactions), and fences each by
// loading a producer id under the dead owner's transactional id
// (InitProducerID). That bumps the id's epoch and makes the coordinator
// abort the open transaction at once: a zombie (alive, but its session
// gone) can neither add to it nor commit it, and a transaction it begins
// later fails its offset commit, whose generation is no longer the
// group's (KIP-447).
//
// A member of the group is never fenced: its open transaction belongs to a
// batch that is ending, after a revoke or with the rebalance, and waiting
// for it costs one batch.

// orphans are the open transactions of processors that are no longer
// members of the group, and that hold any of parts on the topics the
// processor writes; sorted.
func (p *Processor) orphans(ctx context.Context, cl *kgo.Client, parts []int32) ([]string, error) {
	adm := kadm.NewClient(cl)
	prefix := TransactionalID(p.cfg.Group, "")
	own := TransactionalID(p.cfg.Group, p.cfg.InstanceID)
	listed, err := adm.ListTransactions(ctx, nil, []string{"Ongoing"})
	if err != nil {
		return nil, fmt.Errorf("list transactions: %w", err)
	}
	var open []string
	for id, t := range listed {
		if strings.HasPrefix(id, prefix) && id != own && t.State == "Ongoing" {
			open = append(open, id)
		}
	}
	if len(open) == 0 {
		return nil, nil
	}
	groups, err := adm.DescribeGroups(ctx, p.cfg.Group)
	if err != nil {
		return nil, fmt.Errorf("describe group: %w", err)
	}
	g, err := groups.On(p.cfg.Group, nil)
	if err != nil || g.Err != nil {
		return nil, fmt.Errorf("describe group: %w", errors.Join(err, g.Err))
	}
	for _, m := range g.Members {
		if m.InstanceID != nil {
			open = slices.DeleteFunc(open, func(id string) bool { return id == TransactionalID(p.cfg.Group, *m.InstanceID) })
		}
	}
	if len(open) == 0 {
		return nil, nil
	}
	described, err := adm.DescribeTransactions(ctx, open...)
	if err != nil {
		return nil, fmt.Errorf("describe transactions: %w", err)
	}
	var out []string
	for id, t := range described {
		if t.Err == nil && t.State == "Ongoing" && holdsAny(t.Topics, parts) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

// holdsAny reports whether a transaction's partitions include one of parts
// on a topic the processor writes.
func holdsAny(ts kadm.TopicsSet, parts []int32) bool {
	for _, topic := range []string{topics.Events, topics.Results, topics.State} {
		for part := range ts[topic] {
			if slices.Contains(parts, part) {
				return true
			}
		}
	}
	return false
}

// fence loads a producer id under txnID, which aborts its open
// transaction and fences its owner. A real broker answers
// CONCURRENT_TRANSACTIONS while the abort completes: the request is
// repeated until it succeeds or ctx ends.
func (p *Processor) fence(ctx context.Context, cl *kgo.Client, txnID string) error {
	// The abort takes a round of markers: a retry every 100 ms at most
	// keeps the takeover from waiting out a long backoff.
	for delay := 20 * time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = &txnID
		req.TransactionTimeoutMillis = int32(p.cfg.TransactionTimeout.Milliseconds())
		req.ProducerID, req.ProducerEpoch = -1, -1
		resp, err := req.RequestWith(ctx, cl)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err == nil {
			return nil
		}
		if !kerr.IsRetriable(err) && !errors.Is(err, kerr.ConcurrentTransactions) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

// endOrphans fences every orphan transaction that holds one of parts.
// It is the callback of the owner's wait for stable ends (stableEnds):
// an error is logged, not returned, and the wait goes on, at worst until
// the broker's transaction timeout (for example when the principal may
// not write the other processors' transactional ids).
func (p *Processor) endOrphans(cl *kgo.Client, parts []int32) func(context.Context) {
	return func(ctx context.Context) {
		ids, err := p.orphans(ctx, cl, parts)
		if err != nil {
			p.log.Warn("looking for open transactions of lost processors", "partitions", parts, "err", err)
			return
		}
		for _, id := range ids {
			if err := p.fence(ctx, cl, id); err != nil {
				p.log.Warn("fencing a lost processor's transaction", "transactional_id", id, "err", err)
				continue
			}
			p.metrics.fenced.Inc()
			p.log.Info("fenced the open transaction of a lost processor", "transactional_id", id, "partitions", parts)
		}
	}
}

// awaitStableOffsets waits until no transaction holds the group's
// offsets of parts pending, asking every few milliseconds, or until ctx
// ends; then franz-go's own fetch of them, which asks again only a
// second later, finds them stable. On Kafka, only a transaction that
// wrote offsets of parts holds them: a lost owner's, fenced just before,
// or one whose end is under way when the assignment comes, over within a
// round of markers. kfake answers UNSTABLE_OFFSET_COMMIT for every
// partition of a group while any transaction holds offsets of the group
// (the survivors' own batches too), so there this waits for a moment
// between the others' commits: without it, one takeover in ten or so
// took a second more. The offsets must look stable twice, settle apart:
// a member's commit that began just before its own assignment's hold
// (offsetHold) lands within that, and one in eighty takeovers met it.
func (p *Processor) awaitStableOffsets(ctx context.Context, cl *kgo.Client, parts []int32) {
	const settle = 5 * time.Millisecond
	adm := kadm.NewClient(cl)
	stable := false
	for delay := 5 * time.Millisecond; ; {
		offsets, err := adm.FetchOffsetsForTopics(kadm.RequireStable(ctx), p.cfg.Group, topics.Commands)
		if err != nil {
			return // franz-go's fetch tells the rest
		}
		unstable := false
		for _, part := range parts {
			if o, ok := offsets.Lookup(topics.Commands, part); ok && errors.Is(o.Err, kerr.UnstableOffsetCommit) {
				unstable = true
			}
		}
		wait := settle
		switch {
		case !unstable && stable:
			return
		case !unstable:
			stable = true
		default:
			stable, wait, delay = false, delay, min(2*delay, 40*time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

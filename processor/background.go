package processor

import (
	"context"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/rewind/rewind/topics"
)

// lagInterval is how often consumer lag is read from the broker.
const lagInterval = 5 * time.Second

// pollLag exports, for every partition of schedule-commands (owned by this
// instance or not), the records between the group's committed offset and
// the last stable offset. It reads the group's offsets from the broker, so
// lag stays visible while a partition has no live owner.
func (p *Processor) pollLag(ctx context.Context, adm *kadm.Client) {
	t := time.NewTicker(lagInterval)
	defer t.Stop()
	for {
		p.updateLag(ctx, adm)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *Processor) updateLag(ctx context.Context, adm *kadm.Client) {
	ends, err := adm.ListCommittedOffsets(ctx, topics.Commands)
	if err != nil {
		return
	}
	starts, err := adm.ListStartOffsets(ctx, topics.Commands)
	if err != nil {
		return
	}
	committed, err := adm.FetchOffsets(ctx, p.cfg.Group)
	if err != nil {
		return
	}
	ends.Each(func(end kadm.ListedOffset) {
		if end.Err != nil || end.Partition < 0 {
			return
		}
		from := int64(0)
		if s, ok := starts.Lookup(topics.Commands, end.Partition); ok {
			from = s.Offset
		}
		if c, ok := committed.Lookup(topics.Commands, end.Partition); ok && c.Err == nil && c.At >= 0 {
			from = c.At
		}
		p.metrics.lag.WithLabelValues(strconv.Itoa(int(end.Partition))).Set(float64(max(end.Offset-from, 0)))
	})
	if p.standby != nil {
		if lso, err := adm.ListCommittedOffsets(ctx, topics.State, topics.Keys); err == nil {
			p.standby.exportLag(lso)
		}
	}
}

package access

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/topics"
)

// A Break is a place where a chain does not hold: a record that is not
// one, a record missing, or a record that is not what the next one says
// it was.
type Break struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Writer    string `json:"writer,omitempty"`
	Seq       uint64 `json:"seq,omitempty"`
	Problem   string `json:"problem"`
}

func (b Break) String() string {
	return fmt.Sprintf("partition %d offset %d (writer %s seq %d): %s", b.Partition, b.Offset, b.Writer, b.Seq, b.Problem)
}

// Checker follows the chains of schedule-access, record by record in each
// partition's order. Its zero value is ready.
type Checker struct {
	// Records and Chains count what was checked; Breaks is what failed.
	Records, Chains int
	Breaks          []Break

	last map[string]*link // by writer
}

// link is a chain's last record.
type link struct {
	partition int32
	offset    int64
	seq       uint64
	hash      string
}

// Add checks the record at offset of partition. trimmed says whether the
// partition's log no longer starts at offset 0 (retention deleted its
// oldest records): a chain whose first record here is not its first began
// before them, which is not a break.
func (c *Checker) Add(partition int32, offset int64, value []byte, trimmed bool) {
	c.Records++
	r, err := Decode(value)
	if err != nil {
		c.Breaks = append(c.Breaks, Break{Partition: partition, Offset: offset, Problem: err.Error()})
		return
	}
	if c.last == nil {
		c.last = map[string]*link{}
	}
	at := Break{Partition: partition, Offset: offset, Writer: r.Writer, Seq: r.Seq}
	l, seen := c.last[r.Writer]
	switch {
	case !seen:
		c.Chains++
		if r.Seq != 1 && !trimmed {
			at.Problem = fmt.Sprintf("the chain's first record is seq %d: records 1 to %d are missing", r.Seq, r.Seq-1)
			c.Breaks = append(c.Breaks, at)
		}
	case l.partition != partition:
		at.Problem = fmt.Sprintf("the writer's chain is on partition %d: a writer writes one partition", l.partition)
		c.Breaks = append(c.Breaks, at)
		return
	case r.Seq != l.seq+1:
		at.Problem = fmt.Sprintf("seq %d follows seq %d (offset %d): records are missing or out of order", r.Seq, l.seq, l.offset)
		c.Breaks = append(c.Breaks, at)
	case r.Prev != l.hash:
		at.Problem = fmt.Sprintf("the record before it (seq %d, offset %d) is not the one it was written after: altered or replaced", l.seq, l.offset)
		c.Breaks = append(c.Breaks, at)
	}
	c.last[r.Writer] = &link{partition: partition, offset: offset, seq: r.Seq, hash: Hash(value)}
}

// Check reads schedule-access from its start to its current end and
// checks every chain.
func Check(ctx context.Context, opts []kgo.Opt) (*Checker, error) {
	cl, err := kgo.NewClient(append(slices.Clone(opts), kgo.ConsumeTopics(topics.Access),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, topics.Access)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("access: start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics.Access)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("access: end offsets: %w", err)
	}
	left := map[int32]int64{}
	trimmed := map[int32]bool{}
	ends.Each(func(o kadm.ListedOffset) {
		s, _ := starts.Lookup(o.Topic, o.Partition)
		trimmed[o.Partition] = s.Offset > 0
		if o.Offset > s.Offset {
			left[o.Partition] = o.Offset
		}
	})
	c := &Checker{}
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, p int32, err error) { ferr = errors.Join(ferr, fmt.Errorf("partition %d: %w", p, err)) })
		if ferr != nil {
			return nil, fmt.Errorf("access: read: %w", ferr)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			end, reading := left[rec.Partition]
			if !reading || rec.Offset >= end {
				return
			}
			c.Add(rec.Partition, rec.Offset, rec.Value, trimmed[rec.Partition])
			if rec.Offset+1 >= end {
				delete(left, rec.Partition)
			}
		})
	}
	return c, nil
}

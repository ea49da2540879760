package replay

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/internal/logread"
	"github.com/rewind/rewind/topics"
)

// Config configures a replay. Kind and ClientOpts are required.
type Config struct {
	// ClientOpts reach the cluster: seed brokers, TLS, SASL, a logger.
	ClientOpts []kgo.Opt
	// Kind is the candidate: the aggregate as this build defines it.
	Kind aggregate.Kind
	// Tenant, when set, replays that tenant's streams only.
	Tenant string
	// Commands also decides the retained commands again.
	Commands bool
	// Examples is how many examples a path or a group keeps (5).
	Examples int
	// Parallel is how many partitions are replayed at once (2). Each
	// holds its partition's states in memory while it runs.
	Parallel int
	// Progress, when set, is called about four times a second, and once
	// at the end, with the records read so far.
	Progress func(Progress)
}

// Progress is how far a replay is.
type Progress struct {
	// Records (offsets) read of Total, over every topic read.
	Records, Total int64
	// Done partitions of Partitions.
	Done, Partitions int
}

func (c *Config) setDefaults() {
	if c.Examples <= 0 {
		c.Examples = 5
	}
	if c.Parallel <= 0 {
		c.Parallel = 2
	}
}

// Validate reports what is missing.
func (c *Config) Validate() error {
	var errs []error
	if c.Kind == nil {
		errs = append(errs, errors.New("replay: Kind is required"))
	}
	if len(c.ClientOpts) == 0 {
		errs = append(errs, errors.New("replay: ClientOpts are required (at least the seed brokers)"))
	}
	if c.Tenant != "" && !aggregate.ValidID(c.Tenant) {
		errs = append(errs, fmt.Errorf("replay: tenant must match %s", aggregate.IDPattern))
	}
	return errors.Join(errs...)
}

// run is one replay's shared, read-only context.
type run struct {
	cfg        Config
	partitions int32
	hasState   bool
	starts     map[string]map[int32]int64
	ends       map[string]map[int32]int64
	records    atomic.Int64
}

// Run replays the whole log and returns the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	report := &Report{StartedAt: time.Now().UTC(), LogicVersion: cfg.Kind.LogicVersion(), Tenant: cfg.Tenant}
	r := &run{cfg: cfg, starts: map[string]map[int32]int64{}, ends: map[string]map[int32]int64{}}
	if err := r.offsets(ctx); err != nil {
		return nil, err
	}
	var total int64
	for t, ends := range r.ends {
		for p, end := range ends {
			total += max(end-r.starts[t][p], 0)
		}
	}
	var done atomic.Int64
	progress := func() {
		if cfg.Progress != nil {
			cfg.Progress(Progress{Records: r.records.Load(), Total: total, Done: int(done.Load()), Partitions: int(r.partitions)})
		}
	}
	stop := make(chan struct{})
	var ticker sync.WaitGroup
	ticker.Go(func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				progress()
			}
		}
	})

	tallies := make([]*tally, r.partitions)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.Parallel)
	for part := range r.partitions {
		g.Go(func() error {
			p := &partition{r: r, part: part, streams: map[string]*stream{}, t: newTally(cfg.Examples)}
			if err := p.replay(gctx); err != nil {
				return fmt.Errorf("partition %d: %w", part, err)
			}
			tallies[part] = p.t
			done.Add(1)
			return nil
		})
	}
	err := g.Wait()
	close(stop)
	ticker.Wait()
	progress()
	if err != nil {
		return nil, err
	}
	all := newTally(cfg.Examples)
	for _, t := range tallies {
		all.merge(t)
	}
	all.report(report, cfg.Commands)
	report.Seconds = time.Since(report.StartedAt).Seconds()
	return report, nil
}

// offsets finds the partitions and where each topic read starts and ends.
// The state topic's ends are taken before the events': a state record read
// then always follows from events that are read too.
func (r *run) offsets(ctx context.Context) error {
	adm, err := kadm.NewOptClient(r.cfg.ClientOpts...)
	if err != nil {
		return err
	}
	defer adm.Close()
	names := []string{topics.State, topics.Events}
	if r.cfg.Commands {
		names = append(names, topics.Results, topics.Commands)
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	ev, ok := details[topics.Events]
	if !ok || ev.Err != nil {
		return fmt.Errorf("topic %s not found: is -brokers the cluster Rewind runs on?", topics.Events)
	}
	r.partitions = int32(len(ev.Partitions))
	for _, name := range names {
		d, ok := details[name]
		if !ok || d.Err != nil {
			if name == topics.Events {
				continue
			}
			if name == topics.State {
				continue // nothing deployed to compare with: every stream is notDeployed
			}
			return fmt.Errorf("topic %s not found", name)
		}
		if int32(len(d.Partitions)) != r.partitions {
			return fmt.Errorf("topic %s has %d partitions, %s has %d", name, len(d.Partitions), topics.Events, r.partitions)
		}
		if name == topics.State {
			r.hasState = true
		}
	}
	for _, name := range names {
		if name == topics.State && !r.hasState {
			continue
		}
		starts, err := adm.ListStartOffsets(ctx, name)
		if err != nil {
			return fmt.Errorf("list start offsets of %s: %w", name, err)
		}
		// The last stable offset: every transaction below it is decided.
		ends, err := adm.ListCommittedOffsets(ctx, name)
		if err != nil {
			return fmt.Errorf("list stable offsets of %s: %w", name, err)
		}
		r.starts[name], r.ends[name] = map[int32]int64{}, map[int32]int64{}
		for p := range r.partitions {
			s, ok1 := starts.Lookup(name, p)
			e, ok2 := ends.Lookup(name, p)
			if !ok1 || !ok2 || s.Err != nil || e.Err != nil {
				return fmt.Errorf("offsets of %s/%d unknown", name, p)
			}
			r.starts[name][p], r.ends[name][p] = s.Offset, e.Offset
		}
	}
	return nil
}

// read reads one topic partition from its log start to its end.
func (r *run) read(ctx context.Context, topic string, part int32, fn func(*kgo.Record) error) error {
	stuck, err := logread.Read(ctx, r.cfg.ClientOpts,
		logread.Range{Topic: topic, From: map[int32]int64{part: r.starts[topic][part]}, Ends: map[int32]int64{part: r.ends[topic][part]}},
		logread.Hooks{Record: fn, Moved: func(n int64) { r.records.Add(n) }})
	if err == nil && len(stuck) > 0 {
		// A preview that skipped records would compare with less than
		// the log: fail instead.
		err = fmt.Errorf("%s/%d delivered nothing for %s below its end %d", topic, part, logread.StuckAfter, r.ends[topic][part])
	}
	return err
}

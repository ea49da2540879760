package processor

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
)

// Members are several processors in one process, each a member of the
// group with its own transactional id, session, Pebble store and share
// of the caches, as Kafka Streams runs stream threads. One member's
// transaction commits while another's batch is decided, which a single
// GroupTransactSession cannot do safely: its End commits every offset
// polled so far, so a batch polled during End would be committed before
// it is handled. docs/processor.md measures what it buys.
//
// With one member, the member is the processor of cfg as it stands. With
// n > 1, member i has the instance id <InstanceID>-<i>, the data dir
// <DataDir>/member-<i>, 1/n of the caches, and the label member="<i>" on
// its metrics. Changing n moves the state to other directories: the
// members restore from the state topic once.
type Members struct {
	ms []*Processor
}

// NewMembers opens n members of cfg. The caller MUST call Close after Run
// returns.
func NewMembers(cfg Config, n int) (*Members, error) {
	if n < 1 {
		return nil, errors.New("processor: members must be at least 1")
	}
	if n == 1 {
		p, err := New(cfg)
		if err != nil {
			return nil, err
		}
		return &Members{ms: []*Processor{p}}, nil
	}
	cfg.setDefaults()
	m := &Members{}
	for i := range n {
		mc := cfg
		mc.process = cfg.InstanceID
		mc.InstanceID = cfg.InstanceID + "-" + strconv.Itoa(i)
		if !cfg.InMemory {
			mc.DataDir = memberDir(cfg.DataDir, i)
		}
		if cfg.StateCacheBytes > 0 {
			mc.StateCacheBytes = max(cfg.StateCacheBytes/int64(n), 1)
		}
		mc.BlockCacheBytes = max(cfg.BlockCacheBytes/int64(n), 1)
		if cfg.Registerer != nil {
			mc.Registerer = prometheus.WrapRegistererWith(prometheus.Labels{"member": strconv.Itoa(i)}, cfg.Registerer)
		}
		p, err := New(mc)
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("processor: member %d: %w", i, err)
		}
		m.ms = append(m.ms, p)
	}
	return m, nil
}

// Run runs every member until ctx is canceled or one of them fails; a
// failure stops the others, as it stops a single processor.
func (m *Members) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, p := range m.ms {
		g.Go(func() error { return p.Run(ctx) })
	}
	return g.Wait()
}

// Ready reports whether every member is ready (Processor.Ready).
func (m *Members) Ready() bool {
	for _, p := range m.ms {
		if !p.Ready() {
			return false
		}
	}
	return true
}

// Close closes every member's store.
func (m *Members) Close() error {
	var errs []error
	for _, p := range m.ms {
		errs = append(errs, p.Close())
	}
	return errors.Join(errs...)
}

// memberDir is member i's data dir in a process of several members.
func memberDir(dataDir string, i int) string {
	return filepath.Join(dataDir, "member-"+strconv.Itoa(i))
}

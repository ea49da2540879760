package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/internal/jsondiff"
	"github.com/rewind/rewind/store"
	"github.com/rewind/rewind/topics"
)

// stream is one stream's fold in a partition.
type stream struct {
	tenant, id string
	state      any
	version    uint64
	err        error

	// deployed is its record on the state topic, decoded (deployedErr
	// when it cannot be), if it has one to compare with: none, or a
	// marker of a record too large for the topic, leave both nil. at is
	// the candidate's state at the version that record holds.
	deployed    *store.Stream
	deployedErr error
	at          any
	atSet       bool

	// For the decision replay: the versions its retained commands were
	// decided at (ascending), the candidate's states there, and the
	// events those commands produced.
	needs []uint64
	next  int
	snaps map[uint64]any
	orig  map[uint64]aggregate.Envelope
}

// partition replays one partition into t.
type partition struct {
	r       *run
	part    int32
	streams map[string]*stream
	pending []pending
	t       *tally
	buf     []byte
}

func (p *partition) stream(tenant, id string) *stream {
	key := topics.StreamKey(tenant, id)
	s := p.streams[key]
	if s == nil {
		s = &stream{tenant: tenant, id: id, state: p.r.cfg.Kind.Seed()}
		p.streams[key] = s
	}
	return s
}

func (p *partition) wanted(tenant string) bool {
	return p.r.cfg.Tenant == "" || tenant == p.r.cfg.Tenant
}

func (p *partition) replay(ctx context.Context) error {
	r := p.r
	// The state topic first, up to an end taken before the events' end:
	// every state record read then follows from events that are read.
	if r.hasState {
		err := r.read(ctx, topics.State, p.part, func(rec *kgo.Record) error {
			tenant, id, ok := topics.ParseStreamKey(rec.Key)
			if !ok || !p.wanted(tenant) {
				return nil // the completeness marker, or another tenant
			}
			s := p.stream(tenant, id)
			s.deployed, s.deployedErr = nil, nil
			if rec.Value == nil || topics.Oversized(rec.Value) {
				return nil // nothing to compare with
			}
			// Decoded once; the record shares the copy's memory.
			if dec, err := store.DecodeStream(bytes.Clone(rec.Value)); err != nil {
				s.deployedErr = err
			} else {
				s.deployed = &dec
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if r.cfg.Commands {
		if err := p.readCommands(ctx); err != nil {
			return err
		}
		for _, s := range p.streams {
			s.sortNeeds()
		}
	}
	if err := r.read(ctx, topics.Events, p.part, p.foldEvent); err != nil {
		return err
	}
	keys := make([]string, 0, len(p.streams))
	for k := range p.streams {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p.compare(p.streams[k])
	}
	if r.cfg.Commands {
		p.decideAll()
	}
	return nil
}

func (p *partition) foldEvent(rec *kgo.Record) error {
	e, err := topics.DecodeEvent(rec)
	if err != nil || e.Tombstone || !p.wanted(e.Tenant) {
		return nil // not an event, or erased on purpose: the processor skips it too
	}
	s := p.stream(e.Tenant, e.Stream)
	if s.err != nil {
		return nil
	}
	p.t.events++
	if s.deployed != nil && !s.atSet && e.Version > s.deployed.Version {
		s.at, s.atSet = s.state, true
	}
	for s.next < len(s.needs) && s.needs[s.next] < e.Version {
		s.snaps[s.needs[s.next]] = s.state
		s.next++
	}
	kind := p.r.cfg.Kind
	data, err := kind.DecodeEvent(e.Type, e.Schema, e.Raw)
	if err != nil {
		s.err = fmt.Errorf("event %d (%s, schema version %d) cannot be decoded: %v", e.Version, e.Type, max(e.Schema, 1), err)
		return nil
	}
	e.Data = data
	if s.orig != nil {
		if _, ok := s.orig[e.Version]; ok {
			s.orig[e.Version] = e.Envelope
		}
	}
	next, err := apply(kind, s.state, &e.Envelope)
	if err != nil {
		s.err = err
		return nil
	}
	s.state, s.version = next, e.Version
	return nil
}

// apply folds one event; a handler's panic fails the stream instead of
// the replay.
func apply(kind aggregate.Kind, s any, env *aggregate.Envelope) (next any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the handler of %s panicked at version %d: %v", env.Type, env.Version, r)
		}
	}()
	return kind.Apply(s, env), nil
}

// compare tallies a folded stream against its deployed state.
func (p *partition) compare(s *stream) {
	t := p.t
	// The decision replay needs the state at versions the stream never
	// went past: its last.
	for ; s.next < len(s.needs); s.next++ {
		s.snaps[s.needs[s.next]] = s.state
	}
	if s.version == 0 && s.err == nil {
		// No event: a stream known from a command, or one the processor
		// only remembers command ids of (every command rejected). Nothing
		// to compare, unless the state topic claims events.
		if s.deployedErr == nil && (s.deployed == nil || s.deployed.Version == 0) {
			return
		}
	}
	t.streams++
	if s.err != nil {
		t.fail(s.tenant, s.id, s.err.Error())
		return
	}
	if s.deployedErr != nil {
		t.fail(s.tenant, s.id, "its record on the state topic cannot be read: "+s.deployedErr.Error())
		return
	}
	if s.deployed == nil {
		t.notDeployed++
		return
	}
	if !s.atSet {
		s.at = s.state
	}
	rec := s.deployed
	t.deployedLogic[rec.Logic]++
	if rec.Version > s.version {
		t.fail(s.tenant, s.id, fmt.Sprintf("the state topic holds version %d, the events end at %d", rec.Version, s.version))
		return
	}
	kind := p.r.cfg.Kind
	// The processor keeps states without personal values (its rules do
	// not read them), so a candidate's are compared without them too: a
	// change to personal values shows in the decisions, as sealed events.
	at, _ := aggregate.DropPersonal(s.at)
	// Most streams are unchanged, and the same codec encodes the same
	// state to the same bytes: only the rest pays for JSON and a diff.
	mine, err := kind.AppendState(p.buf[:0], at)
	p.buf = mine
	if err == nil && bytes.Equal(mine, rec.State) {
		t.unchanged++
		return
	}
	deployed, err := kind.DecodeState(rec.State)
	if err != nil {
		t.fail(s.tenant, s.id, "this build cannot read the deployed state (keep reading the previous state format): "+err.Error())
		return
	}
	before, err1 := json.Marshal(deployed)
	after, err2 := json.Marshal(at)
	if err1 != nil || err2 != nil {
		t.fail(s.tenant, s.id, fmt.Sprintf("state does not encode as JSON: %v %v", err1, err2))
		return
	}
	changes, err := jsondiff.Diff(before, after)
	if err != nil {
		t.fail(s.tenant, s.id, err.Error())
		return
	}
	if len(changes) == 0 {
		t.unchanged++
		return
	}
	t.changed++
	for _, c := range changes {
		t.change(s.tenant, s.id, c.Path, c.Before, c.After)
	}
}

// need records that the decision replay needs the stream's state at
// version v and, for an accepted command, the events it produced.
func (s *stream) need(v uint64, produced []topics.ResultEvent) {
	if s.snaps == nil {
		s.snaps = map[uint64]any{}
	}
	s.needs = append(s.needs, v)
	for _, e := range produced {
		if s.orig == nil {
			s.orig = map[uint64]aggregate.Envelope{}
		}
		s.orig[e.Version] = aggregate.Envelope{}
	}
}

func (s *stream) sortNeeds() {
	slices.Sort(s.needs)
	s.needs = slices.Compact(s.needs)
}

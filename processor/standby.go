package processor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/store"
	"github.com/rewind/rewind/topics"
)

// Standby replicas (Config.StandbyReplicas) are warm copies, in this
// member's store, of partitions another member owns: the member tails
// their state topic partitions into Pebble with a checkpoint, exactly as
// a restore would. When the group gives it one of them, the restore finds
// a checkpoint that mirrors the state topic and reads only the tail since
// (fromStateTail), instead of the whole partition.
//
// A copy also tails the partition's subjects' keys (schedule-keys) into
// the member's key table, from the topic's start: a takeover then reads
// the keys written since, not the partition's every key record, which
// at 200k visitors cost a takeover 1.5 s.
//
// Who keeps which copy: standbyParts. In short, the processes of the
// group form a ring and a partition's copies are kept in the N processes
// after its owner's, never in the owner's own. Kafka's balancer, not
// Rewind, picks a failed member's successor, so only N = processes - 1
// guarantees that the successor holds a copy; with two processes and
// N = 1, it always does.
type standbys struct {
	p *Processor
	n int

	mu     sync.Mutex
	held   map[int32]bool  // partitions this member owns: never standbys
	cancel func()          // stops the catch-up in progress
	pos    map[int32]int64 // per standby, the next state topic offset to apply
	// keysAt is, per standby, the next schedule-keys offset to apply, as
	// of the last tail: a copy is warm only once its keys are too, or a
	// takeover reads them (a restarted member's copies read the whole
	// keys partition first, 1.5 s of a takeover at 200k visitors).
	keysAt map[int32]int64
	poke   chan struct{}
	// unusable holds when a partition's state topic last could not serve
	// a copy (no marker yet, another logic version): tried again after
	// standbyRetry, not at every recompute.
	unusable map[int32]time.Time

	// work is held while the store of a standby partition is written, so
	// that a restore taking the partition over waits for the write.
	work  sync.Mutex
	tails map[int32]*statePart // under work
	// keyPos is, per copy, the next schedule-keys offset to apply: the
	// key table holds the partition's records below it. Under work.
	keyPos map[int32]int64
	cl     *kgo.Client // tail consumer, under work
}

func newStandbys(p *Processor, n int) *standbys {
	return &standbys{p: p, n: n, held: map[int32]bool{}, pos: map[int32]int64{}, keysAt: map[int32]int64{}, poke: make(chan struct{}, 1),
		unusable: map[int32]time.Time{}, tails: map[int32]*statePart{}, keyPos: map[int32]int64{}}
}

// hold marks parts as owned by this member: no copy of them starts from
// now. It runs in the group's callback, in order with unhold.
func (s *standbys) hold(parts []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, part := range parts {
		s.held[part] = true
		delete(s.pos, part)
		delete(s.keysAt, part)
		s.p.metrics.standbyLag.DeleteLabelValues(strconv.Itoa(int(part)))
	}
	if s.cancel != nil {
		s.cancel() // a catch-up in progress may be one of them
	}
}

// release stops the copies of parts, now that this member owns them, and
// waits for any write to their store to end. It returns, for the copies
// it stopped, the schedule-keys offset the key table holds the partition
// up to: the restore reads the keys from there. ctx is the restore's: a
// revoke ends the wait.
func (s *standbys) release(ctx context.Context, parts []int32) (keysFrom map[int32]int64) {
	if ctx.Err() != nil {
		return nil
	}
	s.work.Lock()
	defer s.work.Unlock()
	keysFrom = map[int32]int64{}
	for _, part := range parts {
		if pos, ok := s.keyPos[part]; ok {
			keysFrom[part] = pos
		}
	}
	s.drop(parts)
	return keysFrom
}

// unhold makes revoked partitions candidates again.
func (s *standbys) unhold(parts []int32) {
	s.mu.Lock()
	for _, part := range parts {
		delete(s.held, part)
	}
	s.mu.Unlock()
	s.wake()
}

// wake asks for the standby set to be computed again.
func (s *standbys) wake() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// drop stops tailing parts and exporting their lag. The caller holds
// work, and forgets their keys (forget) unless the member now owns them.
func (s *standbys) drop(parts []int32) {
	var gone []int32
	for _, part := range parts {
		if _, ok := s.tails[part]; ok {
			delete(s.tails, part)
			delete(s.keyPos, part)
			gone = append(gone, part)
		}
	}
	if len(gone) > 0 && s.cl != nil {
		s.cl.RemoveConsumePartitions(map[string][]int32{topics.State: gone, topics.Keys: gone})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, part := range gone {
		delete(s.pos, part)
		delete(s.keysAt, part)
		s.p.metrics.standbyLag.DeleteLabelValues(strconv.Itoa(int(part)))
	}
}

// forget drops the key table's copies of parts, which this member neither
// owns nor keeps copies of any more.
func (s *standbys) forget(parts []int32) {
	for _, part := range parts {
		s.p.keys.DropPartition(part)
	}
}

// standbyRecompute is how often the standby set is computed again without
// a rebalance, and standbySettle how long after a rebalance: the group's
// description lags behind the members' own view for a moment.
const (
	standbyRecompute = 10 * time.Second
	standbySettle    = 500 * time.Millisecond
	standbyRetry     = time.Minute
)

// run keeps the standby copies until ctx ends.
func (s *standbys) run(ctx context.Context, adm *kadm.Client) {
	defer func() {
		s.work.Lock()
		defer s.work.Unlock()
		parts := slices.Collect(maps.Keys(s.tails))
		s.drop(parts)
		s.forget(parts)
		if s.cl != nil {
			s.cl.Close()
		}
	}()
	recompute := time.NewTimer(standbySettle)
	defer recompute.Stop()
	for ctx.Err() == nil {
		// Between polls of the copies, or blocked when there are none: a
		// poke from a rebalance sets the timer, the timer recomputes.
		var next <-chan struct{}
		if s.tail(ctx) {
			next = closed
		}
		select {
		case <-ctx.Done():
		case <-next:
		case <-s.poke:
			recompute.Reset(standbySettle)
		case <-recompute.C:
			next := standbyRecompute
			switch err := s.update(ctx, adm); {
			case errors.Is(err, errRebalancing):
				next = standbySettle
			case err != nil && ctx.Err() == nil:
				s.p.log.Warn("standby replicas", "err", err)
			}
			recompute.Reset(next)
		}
	}
}

// closed is a channel that is always ready.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// errRebalancing is update's answer while the group rebalances: its
// description is no assignment to act on, and update is tried again
// after standbySettle.
var errRebalancing = errors.New("the group is rebalancing")

// update computes the partitions to keep and starts or stops copies. The
// copies of partitions this member has just been given are left to the
// restore that takes them over (release): it starts from their keys.
func (s *standbys) update(ctx context.Context, adm *kadm.Client) error {
	want, err := s.assignment(ctx, adm)
	if err != nil {
		return err
	}
	s.work.Lock()
	s.mu.Lock()
	var stop []int32
	for part := range s.tails {
		if !want[part] && !s.held[part] {
			stop = append(stop, part)
		}
	}
	s.mu.Unlock()
	s.drop(stop)
	s.forget(stop)
	s.work.Unlock()
	for part := range want {
		if err := s.start(ctx, adm, part); err != nil {
			return err
		}
	}
	return nil
}

// assignment returns the partitions this member keeps copies of.
func (s *standbys) assignment(ctx context.Context, adm *kadm.Client) (map[int32]bool, error) {
	groups, err := adm.DescribeGroups(ctx, s.p.cfg.Group)
	if err != nil {
		return nil, fmt.Errorf("describe group: %w", err)
	}
	g, ok := groups[s.p.cfg.Group]
	if !ok {
		return nil, fmt.Errorf("describe group: %s is not in the answer", s.p.cfg.Group)
	}
	if g.Err != nil {
		return nil, fmt.Errorf("describe group: %w", g.Err)
	}
	// Mid-rebalance, members have no assignment or an old one: a copy
	// dropped on that word was one a takeover was about to start from
	// (a restore that then read every key record of six partitions,
	// 1.4 s at 200k visitors).
	if g.State != "Stable" {
		return nil, errRebalancing
	}
	var members []ringMember
	for _, m := range g.Members {
		id := m.MemberID
		if m.InstanceID != nil {
			id = *m.InstanceID
		}
		rm := ringMember{id: id, process: id}
		if proc, ok := strings.CutPrefix(m.ClientID, clientIDPrefix); ok {
			rm.process = proc
		}
		if a, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range a.Topics {
				if t.Topic == topics.Commands {
					rm.parts = t.Partitions
				}
			}
		}
		members = append(members, rm)
	}
	return standbyParts(members, s.p.cfg.InstanceID, s.n), nil
}

// clientIDPrefix starts the Kafka client id of every processor client;
// the rest is the process the member runs in (Config.processID).
const clientIDPrefix = "rewind-processor:"

// ringMember is a member of the group as the standby ring sees it.
type ringMember struct {
	id      string // instance id
	process string // the process it runs in; the members of one process share it
	parts   []int32
}

// standbyParts returns the partitions whose copies member me keeps.
//
// The processes of the group, ordered by id, form a ring; the copies of a
// partition are kept in the n processes after its owner's (fewer if
// there are not that many), by one member in each, chosen by the
// partition number so that a process's members share the work. A copy in
// the owner's own process would die with it, so none is kept there.
// Every member computes the same answer from the group's description.
func standbyParts(members []ringMember, me string, n int) map[int32]bool {
	byProcess := map[string][]string{}
	ownerProcess := map[int32]string{}
	for _, m := range members {
		byProcess[m.process] = append(byProcess[m.process], m.id)
		for _, part := range m.parts {
			ownerProcess[part] = m.process
		}
	}
	procs := slices.Sorted(maps.Keys(byProcess))
	for _, ids := range byProcess {
		slices.Sort(ids)
	}
	want := map[int32]bool{}
	n = min(n, len(procs)-1)
	for part, owner := range ownerProcess {
		at, _ := slices.BinarySearch(procs, owner)
		for d := 1; d <= n; d++ {
			ids := byProcess[procs[(at+d)%len(procs)]]
			if ids[int(part)%len(ids)] == me {
				want[part] = true
			}
		}
	}
	return want
}

// start catches a partition's copy up with the state topic, as a restore
// does, and tails it from there. A partition the state topic cannot serve
// (see restoreState) is left empty: its owner will fold the events.
func (s *standbys) start(ctx context.Context, adm *kadm.Client, part int32) error {
	s.mu.Lock()
	if s.held[part] {
		s.mu.Unlock()
		return nil
	}
	wctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	s.mu.Unlock()
	defer cancel()
	// A restore of the partition by this member, canceled by a revoke,
	// may still be writing its store.
	if run := s.p.parts.lastRun(part); run != nil {
		select {
		case <-run:
		case <-wctx.Done():
			return nil
		}
	}
	s.work.Lock()
	defer s.work.Unlock()
	if _, ok := s.tails[part]; ok || wctx.Err() != nil || time.Since(s.unusable[part]) < standbyRetry {
		return nil
	}
	cps, sources, err := s.p.startingPoints(wctx, adm, []int32{part})
	if err != nil {
		return err
	}
	if sources[part] == fromEvents {
		// A fold the state topic does not mirror: start the copy over.
		if err := s.p.store.WipePartition(part); err != nil {
			return err
		}
		cps[part], sources[part] = store.Checkpoint{Logic: int64(s.p.cfg.Kind.LogicVersion())}, fromState
	}
	stats := map[int32]*restoreStats{part: {source: sources[part]}}
	got, err := s.p.restoreState(wctx, adm, []int32{part}, cps, stats)
	if wctx.Err() != nil {
		return nil // owned now; what was written is consistent (see stateReader.flush)
	}
	if err != nil {
		return err
	}
	if got[part] != stateWhole {
		s.unusable[part] = time.Now()
		return s.p.store.WipePartition(part)
	}
	delete(s.unusable, part)
	cp := cps[part]
	s.tails[part] = newStatePart(cp, true, &restoreStats{})
	// The keys are tailed from the start, as a restore reads them.
	s.p.keys.DropPartition(part)
	s.keyPos[part] = 0
	offsets := map[string]map[int32]kgo.Offset{topics.State: {part: kgo.NewOffset().At(cp.State)}, topics.Keys: {part: kgo.NewOffset().At(0)}}
	if s.cl == nil {
		s.cl, err = kgo.NewClient(append(s.p.clientOpts(),
			kgo.ConsumePartitions(offsets),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.KeepControlRecords(),
			kgo.FetchMaxBytes(4<<20),
			kgo.FetchMaxPartitionBytes(1<<20),
		)...)
		if err != nil {
			return err
		}
	} else {
		s.cl.AddConsumePartitions(offsets)
	}
	s.mu.Lock()
	s.pos[part], s.keysAt[part] = cp.State, 0
	s.mu.Unlock()
	s.p.log.Info("standby replica started", "partition", part, "source", sources[part].String(), "state_records", stats[part].state)
	return nil
}

// tail applies what the state topic has for the copies; false when there
// is none to tail.
func (s *standbys) tail(ctx context.Context) bool {
	s.work.Lock()
	cl := s.cl
	n := len(s.tails)
	s.work.Unlock()
	if cl == nil || n == 0 {
		return false
	}
	pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	fetches := cl.PollFetches(pctx)
	cancel()
	s.work.Lock()
	defer s.work.Unlock()
	// All of it is written before work is released: a release finds no
	// half-applied batch.
	r := s.p.newStateReader(s.tails)
	r.w = s.p.newWriter(0)
	defer func() { r.w.close() }()
	keys := &keyReader{p: s.p}
	var err error
	fetches.EachRecord(func(rec *kgo.Record) {
		if _, ok := s.tails[rec.Partition]; !ok || err != nil {
			return // dropped since the poll
		}
		if rec.Topic == topics.Keys {
			if pos := s.keyPos[rec.Partition]; rec.Offset >= pos {
				_ = keys.apply(rec) // logs and skips a record it refuses, as a restore does
				s.keyPos[rec.Partition] = rec.Offset + 1
			}
			return
		}
		err = r.apply(rec)
	})
	if err == nil {
		err = r.flush(false) // checkpoints the copies that did not fail
	}
	failed := s.advance(err != nil)
	if err != nil {
		// The positions moved past records that were not written: no
		// copy can be trusted to mirror the topic any more.
		s.p.log.Warn("standby replicas dropped: write failed", "err", err)
	}
	s.forget(failed)
	for _, part := range failed {
		if err == nil {
			// Rewritten by another logic version: this copy is no use.
			s.p.log.Warn("standby replica dropped: the state topic has records it cannot use", "partition", part)
		}
		if werr := s.p.store.WipePartition(part); werr != nil {
			s.p.log.Warn("wipe standby partition", "partition", part, "err", werr)
		}
	}
	s.drop(failed)
	return true
}

// advance records the copies' positions after a tail and returns the
// copies that failed: all of them when failedAll. A partition held since
// the poll is this member's own now: it gets no position, or its lag
// would be exported, growing, for as long as the member owns it.
func (s *standbys) advance(failedAll bool) (failed []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for part, sp := range s.tails {
		switch {
		case sp.failed || failedAll:
			failed = append(failed, part)
		case !s.held[part]:
			s.pos[part], s.keysAt[part] = sp.cp.State, s.keyPos[part]
		}
	}
	return failed
}

// exportLag sets each copy's lag: the records of the state topic and of
// schedule-keys below their last stable offsets (lso) it has yet to apply.
func (s *standbys) exportLag(lso kadm.ListedOffsets) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for part, pos := range s.pos {
		st, ok1 := lso.Lookup(topics.State, part)
		k, ok2 := lso.Lookup(topics.Keys, part)
		if ok1 && ok2 && st.Err == nil && k.Err == nil {
			lag := max(st.Offset-pos, 0) + max(k.Offset-s.keysAt[part], 0)
			s.p.metrics.standbyLag.WithLabelValues(strconv.Itoa(int(part))).Set(float64(lag))
		}
	}
}

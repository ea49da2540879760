package replay

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/topics"
)

// pending is a retained command to decide again once its stream is
// folded.
type pending struct {
	cmd    topics.Command
	res    topics.Result
	before uint64 // the stream's version when it was decided
}

// readCommands reads the partition's results (each command's first
// outcome) and then its commands, and notes, per stream, the versions and
// events the decisions need.
func (p *partition) readCommands(ctx context.Context) error {
	r := p.r
	first := map[string]topics.Result{}
	err := r.read(ctx, topics.Results, p.part, func(rec *kgo.Record) error {
		res, err := topics.DecodeResult(rec.Value)
		if err != nil || !res.Own() || !p.wanted(res.TenantID) {
			return nil
		}
		key := topics.StreamKey(res.TenantID, res.ScheduleID) + "/" + res.CommandID
		if _, seen := first[key]; !seen {
			first[key] = res
		}
		return nil
	})
	if err != nil {
		return err
	}
	return r.read(ctx, topics.Commands, p.part, func(rec *kgo.Record) error {
		cmd, err := topics.DecodeCommand(rec, r.partitions)
		if err != nil || !p.wanted(cmd.Meta.Tenant) {
			if err != nil {
				p.t.commands.Skipped++
			}
			return nil // refused before the domain: no decision to replay
		}
		key := topics.StreamKey(cmd.Meta.Tenant, cmd.Meta.Stream) + "/" + cmd.Meta.ID
		res, ok := first[key]
		if !ok {
			p.t.commands.Skipped++ // a retry (decided once), or its result expired
			return nil
		}
		delete(first, key)
		before := res.Version
		if res.Status == topics.StatusAccepted && len(res.Events) > 0 {
			before = res.Events[0].Version - 1
		}
		cmd.Data = slices.Clone(cmd.Data)
		p.pending = append(p.pending, pending{cmd: cmd, res: res, before: before})
		s := p.stream(cmd.Meta.Tenant, cmd.Meta.Stream)
		if res.Status == topics.StatusAccepted {
			s.need(before, res.Events)
		} else {
			s.need(before, nil)
		}
		return nil
	})
}

// decideAll decides every pending command again against the candidate's
// state of its stream just before it, and tallies those whose outcome
// would differ.
func (p *partition) decideAll() {
	kind := p.r.cfg.Kind
	for i := range p.pending {
		c := &p.pending[i]
		s := p.streams[topics.StreamKey(c.cmd.Meta.Tenant, c.cmd.Meta.Stream)]
		st, ok := s.snaps[c.before]
		if !ok || s.err != nil {
			p.t.commands.Skipped++ // its stream failed, or never reached that version
			continue
		}
		p.t.commands.Decided++
		before := Outcome{Status: c.res.Status, Code: c.res.Code}
		for _, e := range c.res.Events {
			env := s.orig[e.Version]
			before.Events = append(before.Events, OutcomeEvent{Type: e.Type, Data: encodeEvent(kind, masked(env.Data))})
		}
		after := decide(kind, st, c)
		if !sameOutcome(before, after) {
			p.t.differ(c.cmd.Type, c.cmd.Meta.ID, c.cmd.Meta.Tenant, c.cmd.Meta.Stream, before, after)
		}
	}
}

// decide runs a command as the processor's domain step does: decode,
// then execute against the state at its version. Execute turns a panic
// into executor_panic.
func decide(kind aggregate.Kind, st any, c *pending) Outcome {
	cmd, err := kind.DecodeCommand(c.cmd.Type, c.cmd.Data)
	if err == nil {
		var events []aggregate.Envelope
		_, events, err = kind.Execute(st, c.before, c.cmd.Type, cmd, c.cmd.Meta)
		if err == nil {
			o := Outcome{Status: topics.StatusAccepted}
			for _, e := range events {
				o.Events = append(o.Events, OutcomeEvent{Type: e.Type, Data: encodeEvent(kind, masked(e.Data))})
			}
			return o
		}
	}
	return Outcome{Status: topics.StatusRejected, Code: aggregate.CodeOf(err)}
}

// personalMask stands for every personal value in a decision. The
// preview compares and reports what the rules decide, never a personal
// value (docs/privacy.md): the recorded event's is sealed, possibly
// erased, and the decision's again is what the producer sent, in clear.
const personalMask = "[personal]"

// masked is e with every personal value replaced by personalMask.
func masked(e aggregate.Event) aggregate.Event {
	m, _ := aggregate.SealPersonal(e, func(string, string) string { return personalMask })
	return m
}

func encodeEvent(kind aggregate.Kind, data aggregate.Event) json.RawMessage {
	b, err := kind.EncodeEvent(data)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

func sameOutcome(a, b Outcome) bool {
	return a.Status == b.Status && a.Code == b.Code && slices.EqualFunc(a.Events, b.Events, func(x, y OutcomeEvent) bool {
		return x.Type == y.Type && string(x.Data) == string(y.Data)
	})
}

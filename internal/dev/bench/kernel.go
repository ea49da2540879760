package bench

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/store"
	"github.com/rewind/rewind/topics"
)

// kernelCase prints what one command costs the kernel of the processor,
// in this process and without Kafka or Pebble: the command record
// decoded (topics.DecodeCommand), its data decoded and executed by the
// schedule kind, the event and the result encoded into their records,
// and the stream's record (its state and remembered ids) encoded. The
// drain's CPU per command minus this is the loop around the kernel:
// batching, the store, the client.
func kernelCase() error {
	k := newKernel()
	// A first run finds a failure before it is timed.
	if err := k.command(0); err != nil {
		return err
	}
	var failed error
	r := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := k.command(i + 1); err != nil && failed == nil {
				failed = err
			}
		}
	})
	if failed != nil {
		return failed
	}
	fmt.Printf("kernel per command (decode, execute, encode)  %5.2f µs, %d allocations, %d B allocated (%d commands)\n",
		float64(r.NsPerOp())/1e3, r.AllocsPerOp(), r.AllocedBytesPerOp(), r.N)
	return nil
}

// kernel is one stream, reserved and then rescheduled over and over, as
// in the 1k-streams case: every command is accepted with one event.
type kernel struct {
	kind    aggregate.Kind
	state   any
	version uint64
	meta    aggregate.Meta
}

// kernelPartitions is the commands topic's partition count the kernel's
// records are routed for.
const kernelPartitions = 12

func newKernel() *kernel {
	k := &kernel{kind: schedule.Kind, meta: aggregate.Meta{Tenant: "bench", Stream: "kernel-1", Initiator: "bench", Time: time.Now()}}
	k.state = k.kind.Seed()
	return k
}

// command runs the i-th command through the kernel.
func (k *kernel) command(i int) error {
	typ, data := "Reschedule", slot(i)
	if i == 0 {
		typ, data = "Reserve", `{"visitorId":"v1","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z","procedures":["botox"]}`
	}
	m := k.meta
	m.ID = "kernel-" + strconv.Itoa(i)
	rec := topics.CommandRecord(typ, m, []byte(data))
	rec.Partition = topics.PartitionFor(string(rec.Key), kernelPartitions)
	cmd, err := topics.DecodeCommand(rec, kernelPartitions)
	if err != nil {
		return fmt.Errorf("kernel: decode the record: %w", err)
	}
	c, err := k.kind.DecodeCommand(cmd.Type, cmd.Data)
	if err != nil {
		return fmt.Errorf("kernel: decode the data: %w", err)
	}
	next, events, err := k.kind.Execute(k.state, k.version, cmd.Type, c, cmd.Meta)
	if err != nil {
		return fmt.Errorf("kernel: %s: %w", cmd.Type, err)
	}
	res := &topics.Result{CommandID: cmd.Meta.ID, TenantID: cmd.Meta.Tenant, ScheduleID: cmd.Meta.Stream, Fingerprint: cmd.Fingerprint()}
	for j := range events {
		data, err := k.kind.EncodeEvent(events[j].Data)
		if err != nil {
			return err
		}
		_ = topics.EventRecord(&events[j], data, rec.Partition)
		res.Events = append(res.Events, topics.ResultEvent{Type: events[j].Type, Version: events[j].Version})
	}
	k.state, k.version = next, k.version+uint64(len(events))
	res.Status, res.Version = topics.StatusAccepted, k.version
	_ = topics.ResultRecord(res, rec.Key, rec.Partition)
	state, err := k.kind.AppendState(nil, k.state)
	if err != nil {
		return err
	}
	// The stream's record remembers the command with its first outcome:
	// status, version and event type, as the processor encodes it.
	outcome := binary.AppendUvarint([]byte{'a'}, k.version)
	outcome = append(append(outcome, 1, byte(len(events[0].Type))), events[0].Type...)
	added := store.Command{ID: cmd.Meta.ID, At: cmd.Meta.Time.UnixNano(), Fingerprint: res.Fingerprint, Outcome: outcome}
	_ = store.EncodeStream(store.Stream{Logic: uint64(k.kind.LogicVersion()), Version: k.version, State: state}, added)
	return nil
}

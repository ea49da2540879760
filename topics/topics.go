package topics

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The topic names.
const (
	Commands = "schedule-commands"
	Events   = "schedule-events"
	Results  = "schedule-results"
	// State is the processor's compacted cache of stream states: see
	// StateRecord.
	State = "schedule-state"
	// Keys holds the data subjects' wrapped data keys and the records of
	// their destruction: see KeyRecord.
	Keys = "schedule-keys"
	// Access is the access log: one record per read of patient data or
	// action, kept for a time (Layout.AccessRetention), never compacted.
	// See package access.
	Access = "schedule-access"
)

// DefaultPartitions is the partition count of newly created topics.
const DefaultPartitions = 12

// weekMS is seven days in milliseconds: the retention of commands and
// results, and so the longest dedup window that survives a cold restore.
const weekMS = "604800000"

// Layout is what Ensure creates topics with.
type Layout struct {
	// Partitions of each new topic; zero means DefaultPartitions.
	Partitions int32
	// ReplicationFactor of each new topic; zero or -1 is the broker's
	// default.
	ReplicationFactor int16
	// AccessRetention is how long schedule-access keeps a record; zero
	// means DefaultAccessRetention. Unlike the others, Ensure also sets it
	// on an existing topic, so that the flag is where it is changed.
	AccessRetention time.Duration
}

// DefaultAccessRetention is two years: the least that Korea's standard
// for personal information asks of a system holding health data; a
// clinic under a longer rule (HIPAA's six years for its documentation)
// sets more.
const DefaultAccessRetention = 2 * 365 * 24 * time.Hour

func (l Layout) withDefaults() Layout {
	if l.Partitions == 0 {
		l.Partitions = DefaultPartitions
	}
	if l.ReplicationFactor == 0 {
		l.ReplicationFactor = -1
	}
	if l.AccessRetention == 0 {
		l.AccessRetention = DefaultAccessRetention
	}
	return l
}

// Configs returns the topic configs Rewind creates each topic with.
func Configs(l Layout) map[string]map[string]*string {
	l = l.withDefaults()
	s := kadm.StringPtr
	return map[string]map[string]*string{
		// Commands hold personal data in clear (docs/privacy.md): hourly
		// segments let retention delete them within an hour of 7 days.
		Commands: {"cleanup.policy": s("delete"), "retention.ms": s(weekMS), "segment.ms": s(hourMS)},
		// Events are the truth: kept forever, compacted only to honour a
		// tombstone (event keys are unique, so nothing else is removed).
		Events:  {"cleanup.policy": s("compact"), "retention.ms": s("-1"), "retention.bytes": s("-1")},
		Results: {"cleanup.policy": s("delete"), "retention.ms": s(weekMS)},
		// One live record per stream: compaction keeps the latest and
		// nothing is removed by age. Only Rewind reads it, and it is the
		// most the processor writes: stored compressed even when the
		// processor's -compression is none (the broker compresses it).
		State: {"cleanup.policy": s("compact"), "retention.ms": s("-1"), "retention.bytes": s("-1"), "compression.type": s("gzip")},
		// One record per subject and partition, kept forever; a key's
		// record replaced by its destruction must leave the broker's
		// disks within a bound (docs/privacy.md): segments roll hourly
		// and are compacted within 12 hours of their first record.
		Keys: {"cleanup.policy": s("compact"), "retention.ms": s("-1"), "retention.bytes": s("-1"),
			"segment.ms": s(hourMS), "max.compaction.lag.ms": s(keysCompactionLagMS), "min.cleanable.dirty.ratio": s("0.01")},
		// Deleted by age alone, never by size: a record leaves when the
		// retention says, not when the clinic is busy.
		Access: {"cleanup.policy": s("delete"), "retention.ms": s(accessRetentionMS(l)), "retention.bytes": s("-1")},
	}
}

func accessRetentionMS(l Layout) string {
	return strconv.FormatInt(l.AccessRetention.Milliseconds(), 10)
}

// hourMS is an hour in milliseconds; keysCompactionLagMS is the longest
// a replaced key record may stay uncompacted (12 hours).
const (
	hourMS              = "3600000"
	keysCompactionLagMS = "43200000"
)

// All lists Rewind's topics.
func All() []string { return []string{Commands, Events, Results, State, Keys, Access} }

// Ensure creates the topics that are missing, as l says, sets the access
// log's retention, and verifies the topics by reading their metadata and
// configs back: equal partition counts, and schedule-events compacted
// with no time or size retention. It returns the partition count in use,
// which is the existing count when the topics already existed.
func Ensure(ctx context.Context, cl *kgo.Client, l Layout) (int32, error) {
	l = l.withDefaults()
	adm := kadm.NewClient(cl)
	details, err := adm.ListTopics(ctx, All()...)
	if err != nil {
		return 0, fmt.Errorf("topics: list: %w", err)
	}
	configs := Configs(l)
	created := false
	for _, name := range All() {
		if d, ok := details[name]; ok && d.Err == nil {
			continue
		}
		_, err := adm.CreateTopic(ctx, l.Partitions, l.ReplicationFactor, configs[name], name)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return 0, fmt.Errorf("topics: create %s: %w", name, err)
		}
		created = true
	}
	if !created {
		if err := setAccessRetention(ctx, adm, l); err != nil {
			return 0, err
		}
		return Verify(ctx, cl)
	}
	// kadm answers from metadata cached for up to 5s: forget the topics'
	// "missing" entries, then give brokers a moment to learn of them.
	for delay := 20 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		cl.PurgeTopicsFromClient(All()...)
		n, err := Verify(ctx, cl)
		if err == nil || delay == time.Second {
			return n, err
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(delay):
		}
	}
}

// setAccessRetention sets schedule-access's retention when it differs
// from l's: the flag, not a broker tool, is where it is changed.
func setAccessRetention(ctx context.Context, adm *kadm.Client, l Layout) error {
	want := accessRetentionMS(l)
	rcs, err := adm.DescribeTopicConfigs(ctx, Access)
	if err != nil {
		return fmt.Errorf("topics: describe %s: %w", Access, err)
	}
	rc, err := rcs.On(Access, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return fmt.Errorf("topics: describe %s: %w", Access, err)
	}
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" && c.Value != nil && *c.Value == want {
			return nil
		}
	}
	alter := []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: &want}}
	resps, err := adm.AlterTopicConfigs(ctx, alter, Access)
	if err == nil {
		var r kadm.AlterConfigsResponse
		if r, err = resps.On(Access, nil); err == nil {
			err = r.Err
		}
	}
	if err != nil {
		return fmt.Errorf("topics: set the retention of %s: %w", Access, err)
	}
	return nil
}

// LastStable lists topic's last stable offsets, what a read_committed
// consumer can reach, by partition. A topic that does not exist (yet) is
// an error, as is a partition whose offset the broker did not give.
func LastStable(ctx context.Context, adm *kadm.Client, topic string) (kadm.ListedOffsets, error) {
	listed, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err == nil && len(listed[topic]) == 0 {
		err = errors.New("no partitions")
	}
	if err != nil {
		return nil, fmt.Errorf("topics: last stable offsets of %s: %w", topic, err)
	}
	return listed, nil
}

// AwaitLastStable is LastStable once topic exists. The processor creates
// the topics; a service started beside it (make run, docker compose)
// waits for them instead of failing. It tries each second, telling
// waiting (if not nil) of each failure, for a log line, until ctx ends;
// then the error holds ctx's and the last listing's.
func AwaitLastStable(ctx context.Context, adm *kadm.Client, topic string, waiting func(error)) (kadm.ListedOffsets, error) {
	for {
		listed, err := LastStable(ctx, adm, topic)
		if err == nil {
			return listed, nil
		}
		if waiting != nil {
			waiting(err)
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), err)
		case <-time.After(time.Second):
		}
	}
}

// Verify checks the four topics without changing anything and returns
// their common partition count.
func Verify(ctx context.Context, cl *kgo.Client) (int32, error) {
	adm := kadm.NewClient(cl)
	details, err := adm.ListTopics(ctx, All()...)
	if err != nil {
		return 0, fmt.Errorf("topics: list: %w", err)
	}
	var errs []error
	counts := map[string]int{}
	for _, name := range All() {
		d, ok := details[name]
		if !ok || d.Err != nil {
			errs = append(errs, fmt.Errorf("topic %s is missing", name))
			continue
		}
		counts[name] = len(d.Partitions)
	}
	if len(errs) == 0 && (counts[Commands] != counts[Events] || counts[Commands] != counts[Results] || counts[Commands] != counts[State] || counts[Commands] != counts[Keys]) {
		errs = append(errs, fmt.Errorf("partition counts differ (%s %d, %s %d, %s %d, %s %d, %s %d): a stream's commands, events, results, state and keys must share a partition number",
			Commands, counts[Commands], Events, counts[Events], Results, counts[Results], State, counts[State], Keys, counts[Keys]))
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, Events, State)
	if err != nil {
		return 0, fmt.Errorf("topics: describe configs: %w", err)
	}
	for _, name := range []string{Events, State} {
		if rc, err := rcs.On(name, nil); err == nil && rc.Err == nil {
			errs = append(errs, checkCompactedForever(name, rc.Configs)...)
		} else if len(errs) == 0 {
			errs = append(errs, fmt.Errorf("configs of %s unreadable: %v", name, errors.Join(err, rc.Err)))
		}
	}
	if len(errs) > 0 {
		return 0, fmt.Errorf("topics: %w", errors.Join(errs...))
	}
	return int32(counts[Commands]), nil
}

// checkCompactedForever checks that a topic is compacted with no time or
// size retention: events are the truth, and the state topic's record of a
// quiet stream must outlive any retention.
func checkCompactedForever(name string, configs []kadm.Config) []error {
	get := func(key string) (string, bool) {
		for _, c := range configs {
			if c.Key == key && c.Value != nil {
				return *c.Value, true
			}
		}
		return "", false
	}
	var errs []error
	if v, _ := get("cleanup.policy"); strings.TrimSpace(v) != "compact" {
		errs = append(errs, fmt.Errorf("%s has cleanup.policy=%q, want compact", name, v))
	}
	for _, key := range []string{"retention.ms", "retention.bytes"} {
		if v, ok := get(key); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err != nil || n >= 0 {
				errs = append(errs, fmt.Errorf("%s has %s=%s, want -1 (no time or size retention)", name, key, v))
			}
		}
	}
	return errs
}

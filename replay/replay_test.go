package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate"
	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/dev/candidate"
	"github.com/rewind/rewind/internal/testing/inproc"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/replay"
	"github.com/rewind/rewind/topics"
)

const partitions = 4

// candidateKind is the deployed Schedule domain with one deliberate change,
// as a team's candidate build would have.
type candidateKind struct {
	aggregate.Kind
	apply   func(k aggregate.Kind, s any, env *aggregate.Envelope) any
	execute func(name string) error
}

func (c candidateKind) Apply(s any, env *aggregate.Envelope) any {
	if c.apply != nil {
		return c.apply(c.Kind, s, env)
	}
	return c.Kind.Apply(s, env)
}

func (c candidateKind) Execute(s any, v uint64, name string, cmd aggregate.Command, m aggregate.Meta) (any, []aggregate.Envelope, error) {
	if c.execute != nil {
		if err := c.execute(name); err != nil {
			return s, nil, err
		}
	}
	return c.Kind.Execute(s, v, name, cmd, m)
}

// history runs a processor over 200 full visits and 30 photo visits of
// clinic-1 and 20 photo visits of clinic-2, and stops it: the log and the
// state topic a deployed system would have.
func history(t *testing.T) string {
	t.Helper()
	brokers := testkit.Kafka(t, partitions)
	at := time.Now().Add(-time.Hour)
	recs := testkit.Interleave("clinic-1", 200, at)
	for i := range 30 {
		recs = append(recs, candidate.PhotoVisit("clinic-1", fmt.Sprintf("photo-%02d", i), at)...)
	}
	for i := range 20 {
		recs = append(recs, candidate.PhotoVisit("clinic-2", fmt.Sprintf("photo-%02d", i), at)...)
	}
	// A retry: decided once, so the decision replay skips it.
	recs = append(recs, testkit.Visit("clinic-1", "s000000", at)[0].Record())
	// A mistyped schedule id: rejected, no event; the processor keeps a
	// record of it (the id it remembers), which is no schedule to compare
	// but a decision to replay.
	recs = append(recs, testkit.Cmd{Tenant: "clinic-1", Stream: "typo", Type: "CheckIn", Data: `{"channel":"desk"}`, ID: "typo-1", Time: at}.Record())
	testkit.Send(t, testkit.Producer(t, brokers), recs)
	p := inproc.Run(t, brokers, partitions, "p1", filepath.Join(t.TempDir(), "p1"))
	testkit.WaitResults(t, brokers, len(recs), 2*time.Minute, p.Alive(t))
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	return brokers
}

func run(t *testing.T, brokers string, kind aggregate.Kind, options ...func(*replay.Config)) *replay.Report {
	t.Helper()
	cfg := replay.Config{ClientOpts: []kgo.Opt{kgo.SeedBrokers(brokers)}, Kind: kind, Commands: true, Examples: 3}
	for _, o := range options {
		o(&cfg)
	}
	r, err := replay.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReplay(t *testing.T) {
	brokers := history(t)
	t.Run("unchanged build", func(t *testing.T) { replayUnchanged(t, brokers) })
	t.Run("handler bug", func(t *testing.T) { replayHandlerBug(t, brokers) })
	t.Run("rule change", func(t *testing.T) { replayRuleChange(t, brokers) })
	t.Run("panicking handler", func(t *testing.T) { replayPanic(t, brokers) })
	t.Run("tenant", func(t *testing.T) { replayTenant(t, brokers) })
}

// replayUnchanged: an unchanged build changes nothing and decides every
// retained command as before.
func replayUnchanged(t *testing.T, brokers string) {
	var last replay.Progress
	r := run(t, brokers, schedule.Kind, func(c *replay.Config) { c.Progress = func(p replay.Progress) { last = p } })
	if r.Streams != 250 || r.Changed != 0 || r.Unchanged != 250 || r.Failed != 0 || r.NotDeployed != 0 || len(r.Paths) != 0 {
		t.Fatalf("report %+v", r)
	}
	if r.Summary() != "replay: 250 streams, 0 would change, 0 failed" {
		t.Fatalf("summary %q", r.Summary())
	}
	// 200 visits of 8 commands, 50 of 4 and the typo; the retry is
	// not decided.
	if c := r.Commands; c.Decided != 200*8+50*4+1 || c.Differ != 0 || c.Skipped != 1 {
		t.Fatalf("commands %+v", c)
	}
	if r.Events != 200*7+50*4 || last.Records != last.Total || last.Done != partitions {
		t.Fatalf("events %d, progress %+v", r.Events, last)
	}
}

// replayHandlerBug: a handler that multiplies photo counts changes
// exactly those, with examples that can be cited, and no decision.
func replayHandlerBug(t *testing.T, brokers string) {
	bug := candidateKind{Kind: schedule.Kind, apply: func(k aggregate.Kind, s any, env *aggregate.Envelope) any {
		if p, ok := env.Data.(schedule.PhotosTaken); ok {
			p.Count *= 10 // the bug: multiplied where it should have added
			e := *env
			e.Data = p
			return k.Apply(s, &e)
		}
		return k.Apply(s, env)
	}}
	r := run(t, brokers, bug)
	if r.Streams != 250 || r.Changed != 50 || r.Unchanged != 200 || r.Failed != 0 {
		t.Fatalf("report %+v", r)
	}
	if len(r.Paths) != 2 || r.Paths[0].Path != "/photos/0/count" || r.Paths[1].Path != "/photos/1/count" ||
		r.Paths[0].Count != 50 || r.Paths[1].Count != 50 {
		t.Fatalf("paths %+v", r.Paths)
	}
	ex := r.Paths[0].Examples
	if len(ex) != 3 || ex[0].Before != 3.0 || ex[0].After != 30.0 || !strings.HasPrefix(ex[0].ScheduleID, "photo-") {
		t.Fatalf("examples %+v", ex)
	}
	// The examples are the first schedules by tenant and id, however
	// the partitions were folded: a report can be cited.
	for i, want := range []string{"photo-00", "photo-01", "photo-02"} {
		if ex[i].TenantID != "clinic-1" || ex[i].ScheduleID != want {
			t.Errorf("example %d is %s/%s, want clinic-1/%s", i, ex[i].TenantID, ex[i].ScheduleID, want)
		}
	}
	// The rules do not read photo counts: no decision changes.
	if r.Commands.Differ != 0 {
		t.Fatalf("commands %+v", r.Commands)
	}
	var html bytes.Buffer
	if err := r.WriteHTML(&html); err != nil || !strings.Contains(html.String(), "<code>/photos/0/count</code>") ||
		strings.Contains(html.String(), "<script") || strings.Contains(html.String(), "http") {
		t.Fatalf("report.html (%v):\n%s", err, html.String())
	}
}

// replayRuleChange: stricter rules change no state but the decisions,
// grouped by command and outcome, most first.
func replayRuleChange(t *testing.T, brokers string) {
	strict := candidateKind{Kind: schedule.Kind, execute: func(name string) error {
		switch name {
		case "StartConsultation":
			return aggregate.Reject("counselor_unavailable", "no counselor today")
		case "CheckIn":
			return aggregate.Reject("clinic_closed", "closed today") // also the typo's, decided on an empty stream
		}
		return nil
	}}
	r := run(t, brokers, strict)
	if r.Changed != 0 || r.Commands.Differ != 200+250+1 || len(r.Commands.Groups) != 3 {
		t.Fatalf("report %+v, commands %+v", r, r.Commands)
	}
	// Most commands first.
	g := r.Commands.Groups[1]
	if g.Command != "StartConsultation" || g.Before != "accepted" || g.After != "rejected (counselor_unavailable)" ||
		g.Count != 200 || len(g.Examples) != 3 || len(g.Examples[0].Before.Events) != 1 {
		t.Fatalf("group %+v", g)
	}
	if g := r.Commands.Groups[0]; g.Command != "CheckIn" || g.After != "rejected (clinic_closed)" || g.Count != 250 {
		t.Fatalf("group %+v", g)
	}
	if g := r.Commands.Groups[2]; g.Command != "CheckIn" || g.Before != "rejected (not_reserved)" || g.Count != 1 ||
		g.Examples[0].ScheduleID != "typo" {
		t.Fatalf("group %+v", g)
	}
}

// replayPanic: a panicking fold fails its streams, with the panic, and
// the replay goes on.
func replayPanic(t *testing.T, brokers string) {
	boom := candidateKind{Kind: schedule.Kind, apply: func(k aggregate.Kind, s any, env *aggregate.Envelope) any {
		if env.Type == "CheckedOut" && strings.HasPrefix(env.Stream, "photo-0") {
			panic("boom")
		}
		return k.Apply(s, env)
	}}
	r := run(t, brokers, boom, func(c *replay.Config) { c.Commands = false })
	if r.Failed != 20 || r.Unchanged != 230 || len(r.Failures) != 20 || !strings.Contains(r.Failures[0].Error, "panicked") {
		t.Fatalf("report %+v", r)
	}
	if r.Summary() != "replay: 250 streams, 0 would change, 20 failed" {
		t.Fatalf("summary %q", r.Summary())
	}
}

// replayTenant: a tenant's replay folds its streams only.
func replayTenant(t *testing.T, brokers string) {
	r := run(t, brokers, schedule.Kind, func(c *replay.Config) { c.Tenant = "clinic-2" })
	if r.Streams != 20 || r.Unchanged != 20 || r.Commands.Decided != 80 {
		t.Fatalf("report %+v, commands %+v", r, r.Commands)
	}
}

// TestReplayPersonalData: the preview folds sealed values as they are and
// decides the commands again with personal values masked, so a visitor's
// data, erased or not, is no difference and never reaches the report,
// though the commands topic holds it in clear.
func TestReplayPersonalData(t *testing.T) {
	brokers := testkit.Kafka(t, partitions)
	at := time.Now().Add(-time.Hour)
	var recs []*kgo.Record
	for i, name := range []string{"Kim Minji", "Lee Seojun"} {
		stream := fmt.Sprintf("visit-%d", i)
		cmds := []testkit.Cmd{
			{Type: "Reserve", Data: fmt.Sprintf(`{"visitorId":"v-%d","visitor":{"name":%q},"start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`, i, name)},
			{Type: "CheckIn", Data: `{"channel":"desk"}`},
			{Type: "StartConsultation", Data: `{"counselorId":"c1"}`},
			{Type: "CompleteConsultation", Data: `{"notes":"allergic to lidocaine"}`},
		}
		for j, c := range cmds {
			c.Tenant, c.Stream, c.ID, c.Time = "clinic-1", stream, fmt.Sprintf("%s-%d", stream, j), at.Add(time.Duration(j)*time.Minute)
			recs = append(recs, c.Record())
		}
	}
	testkit.Send(t, testkit.Producer(t, brokers), recs)
	manual, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.RecordPartitioner(topics.CommandPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer manual.Close()
	erase := testkit.Erasure(t, aggregate.Meta{ID: "e1", Tenant: "clinic-1", Stream: "v-0", Initiator: "dpo", Time: at.Add(time.Hour)}, "asked", partitions)
	testkit.Send(t, manual, erase)
	p := inproc.Run(t, brokers, partitions, "p1", filepath.Join(t.TempDir(), "p1"))
	testkit.WaitResults(t, brokers, len(recs)+len(erase), 2*time.Minute, p.Alive(t))
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}

	r := run(t, brokers, schedule.Kind)
	if r.Changed != 0 || r.Commands.Decided != len(recs) || r.Commands.Differ != 0 {
		t.Fatalf("an unchanged build over personal data: %d changed, %d of %d decisions differ", r.Changed, r.Commands.Differ, r.Commands.Decided)
	}
	// A build that rejects every consultation's end: its decisions differ,
	// and the report shows the recorded events without their values.
	strict := candidateKind{Kind: schedule.Kind, execute: func(name string) error {
		if name == "CompleteConsultation" {
			return aggregate.Reject("no_notes", "no")
		}
		return nil
	}}
	r = run(t, brokers, strict)
	if r.Commands.Differ != 2 {
		t.Fatalf("want the 2 consultations' ends to differ, got %+v", r.Commands)
	}
	report, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"Kim Minji", "Lee Seojun", "lidocaine", "~pd1:"} {
		if bytes.Contains(report, []byte(p)) {
			t.Errorf("the report holds %q", p)
		}
	}
}

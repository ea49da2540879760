package replay

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report is what a replay found: report.json as written, and the data of
// report.html.
type Report struct {
	// Streams is the number of streams folded (of the tenant, with one).
	Streams int `json:"streams"`
	// Changed streams fold to another state than the deployed one;
	// Unchanged ones to the same. Failed ones could not be folded or
	// compared (Failures says why). NotDeployed ones have no state on
	// schedule-state to compare with: none yet, or too large for the
	// topic; they are counted in none of the other three.
	Changed     int `json:"changed"`
	Unchanged   int `json:"unchanged"`
	Failed      int `json:"failed"`
	NotDeployed int `json:"notDeployed"`
	// Paths lists each JSON Pointer into the state that differs in some
	// stream, with how many streams and a few examples, most streams
	// first.
	Paths    []Path    `json:"paths"`
	Failures []Failure `json:"failures,omitempty"`
	// Commands is the decision replay, with Config.Commands.
	Commands *Commands `json:"commands,omitempty"`

	// Events is the number of events folded.
	Events int64 `json:"events"`
	// LogicVersion is the candidate's; DeployedLogic counts the deployed
	// states compared by the logic version that computed them.
	LogicVersion  int            `json:"logicVersion"`
	DeployedLogic map[string]int `json:"deployedLogicVersions"`
	Tenant        string         `json:"tenant,omitempty"`
	StartedAt     time.Time      `json:"startedAt"`
	Seconds       float64        `json:"seconds"`
}

// Path is one field that would change.
type Path struct {
	Path     string    `json:"path"`
	Count    int       `json:"count"`
	Examples []Example `json:"examples"`
}

// Example is one stream where a path changes: its value in the deployed
// state (before) and in the candidate's fold (after); null when absent.
type Example struct {
	TenantID   string `json:"tenantId"`
	ScheduleID string `json:"scheduleId"`
	Before     any    `json:"before"`
	After      any    `json:"after"`
}

// Failure is a stream that could not be folded or compared.
type Failure struct {
	TenantID   string `json:"tenantId"`
	ScheduleID string `json:"scheduleId"`
	Error      string `json:"error"`
}

// Commands is the decision replay: the retained commands decided again.
type Commands struct {
	// Decided commands were decided again; Differ of them would have
	// another outcome. Skipped ones were never decided by the domain
	// (duplicates, misrouted or malformed records) or have no result
	// left to compare with.
	Decided int     `json:"decided"`
	Differ  int     `json:"differ"`
	Skipped int     `json:"skipped"`
	Groups  []Group `json:"groups"`
}

// Group is the commands of one type whose outcome changes the same way.
type Group struct {
	Command  string           `json:"command"`
	Before   string           `json:"before"`
	After    string           `json:"after"`
	Count    int              `json:"count"`
	Examples []CommandExample `json:"examples"`
}

// CommandExample is one command whose outcome would differ.
type CommandExample struct {
	CommandID  string  `json:"commandId"`
	TenantID   string  `json:"tenantId"`
	ScheduleID string  `json:"scheduleId"`
	Before     Outcome `json:"before"`
	After      Outcome `json:"after"`
}

// Outcome is what a command led to: accepted with events, or rejected
// with a code.
type Outcome struct {
	Status string         `json:"status"`
	Code   string         `json:"code,omitempty"`
	Events []OutcomeEvent `json:"events,omitempty"`
}

// OutcomeEvent is one event of an accepted command.
type OutcomeEvent struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// label is an outcome in a group's title.
func (o Outcome) label() string {
	if o.Code != "" {
		return o.Status + " (" + o.Code + ")"
	}
	return o.Status
}

// Summary is the line a replay ends with.
func (r *Report) Summary() string {
	return "replay: " + strconv.Itoa(r.Streams) + " streams, " + strconv.Itoa(r.Changed) + " would change, " +
		strconv.Itoa(r.Failed) + " failed"
}

// The files cmd/replay writes into its -out directory.
const (
	JSONFile = "report.json"
	HTMLFile = "report.html"
)

// ReadReport reads the report.json a replay wrote into dir.
func ReadReport(dir string) (*Report, error) {
	b, err := os.ReadFile(filepath.Join(dir, JSONFile))
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("replay: %s: %w", filepath.Join(dir, JSONFile), err)
	}
	return &r, nil
}

// WriteJSON writes report.json.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// maxFailures bounds the failures listed; all are counted.
const maxFailures = 100

// tally collects one partition's findings; partitions are merged in
// partition order, so a report is the same for the same log.
type tally struct {
	streams, changed, unchanged, failed, notDeployed int
	events                                           int64
	paths                                            map[string]*Path
	failures                                         []Failure
	deployedLogic                                    map[uint64]int
	commands                                         Commands
	groups                                           map[[3]string]*Group
	examples                                         int
}

func newTally(examples int) *tally {
	return &tally{paths: map[string]*Path{}, deployedLogic: map[uint64]int{}, groups: map[[3]string]*Group{}, examples: examples}
}

func (t *tally) fail(tenant, stream, err string) {
	t.failed++
	if len(t.failures) < maxFailures {
		t.failures = append(t.failures, Failure{TenantID: tenant, ScheduleID: stream, Error: err})
	}
}

func (t *tally) change(tenant, stream, path string, before, after any) {
	p := t.paths[path]
	if p == nil {
		p = &Path{Path: path}
		t.paths[path] = p
	}
	p.Count++
	p.Examples = keepFirst(p.Examples, Example{TenantID: tenant, ScheduleID: stream, Before: before, After: after}, t.examples, exampleOrder)
}

// keepFirst adds x to xs, which holds the first n by order, in order. A
// report then names the same examples however the partitions' streams
// were ordered and merged: the demo and the docs can cite them.
func keepFirst[T any](xs []T, x T, n int, order func(a, b T) int) []T {
	i, _ := slices.BinarySearchFunc(xs, x, order)
	if i >= n {
		return xs
	}
	xs = slices.Insert(xs, i, x)
	return xs[:min(len(xs), n)]
}

func exampleOrder(a, b Example) int {
	return cmp.Or(strings.Compare(a.TenantID, b.TenantID), strings.Compare(a.ScheduleID, b.ScheduleID))
}

func commandExampleOrder(a, b CommandExample) int {
	return cmp.Or(strings.Compare(a.TenantID, b.TenantID), strings.Compare(a.ScheduleID, b.ScheduleID), strings.Compare(a.CommandID, b.CommandID))
}

func (t *tally) differ(command, id, tenant, stream string, before, after Outcome) {
	t.commands.Differ++
	key := [3]string{command, before.label(), after.label()}
	if key[1] == key[2] {
		key[2] += ", other events"
	}
	g := t.groups[key]
	if g == nil {
		g = &Group{Command: key[0], Before: key[1], After: key[2]}
		t.groups[key] = g
	}
	g.Count++
	g.Examples = keepFirst(g.Examples, CommandExample{CommandID: id, TenantID: tenant, ScheduleID: stream, Before: before, After: after}, t.examples, commandExampleOrder)
}

// merge adds o (the next partition) to t.
func (t *tally) merge(o *tally) {
	t.streams += o.streams
	t.changed += o.changed
	t.unchanged += o.unchanged
	t.notDeployed += o.notDeployed
	t.events += o.events
	t.failed += o.failed
	for _, f := range o.failures {
		if len(t.failures) < maxFailures {
			t.failures = append(t.failures, f)
		}
	}
	for path, p := range o.paths {
		q := t.paths[path]
		if q == nil {
			q = &Path{Path: path}
			t.paths[path] = q
		}
		q.Count += p.Count
		for _, x := range p.Examples {
			q.Examples = keepFirst(q.Examples, x, t.examples, exampleOrder)
		}
	}
	for l, n := range o.deployedLogic {
		t.deployedLogic[l] += n
	}
	t.commands.Decided += o.commands.Decided
	t.commands.Differ += o.commands.Differ
	t.commands.Skipped += o.commands.Skipped
	for key, g := range o.groups {
		h := t.groups[key]
		if h == nil {
			h = &Group{Command: g.Command, Before: g.Before, After: g.After}
			t.groups[key] = h
		}
		h.Count += g.Count
		for _, x := range g.Examples {
			h.Examples = keepFirst(h.Examples, x, t.examples, commandExampleOrder)
		}
	}
}

// report turns the merged tally into a Report, most frequent first.
func (t *tally) report(r *Report, commands bool) {
	r.Streams, r.Changed, r.Unchanged, r.Failed, r.NotDeployed = t.streams, t.changed, t.unchanged, t.failed, t.notDeployed
	r.Events, r.Failures = t.events, t.failures
	r.Paths = make([]Path, 0, len(t.paths))
	for _, p := range t.paths {
		r.Paths = append(r.Paths, *p)
	}
	slices.SortFunc(r.Paths, func(a, b Path) int { return cmp.Or(b.Count-a.Count, cmp.Compare(a.Path, b.Path)) })
	r.DeployedLogic = map[string]int{}
	for l, n := range t.deployedLogic {
		r.DeployedLogic[strconv.FormatUint(l, 10)] = n
	}
	if commands {
		c := t.commands
		c.Groups = make([]Group, 0, len(t.groups))
		for _, g := range t.groups {
			c.Groups = append(c.Groups, *g)
		}
		slices.SortFunc(c.Groups, func(a, b Group) int {
			return cmp.Or(b.Count-a.Count, cmp.Compare(a.Command, b.Command), cmp.Compare(a.Before, b.Before), cmp.Compare(a.After, b.After))
		})
		r.Commands = &c
	}
}

package e2e_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/api"
	"github.com/rewind/rewind/internal/apiclient"
	"github.com/rewind/rewind/internal/dev/candidate"
	"github.com/rewind/rewind/internal/dev/proc"
	"github.com/rewind/rewind/internal/testing/logcheck"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/replay"
)

// TestReplaySeedStory is the walk of a logic change, on real binaries:
// the system runs a release with a handler bug; a preview of the same
// release reports nothing; a preview of the fix reports exactly the
// affected schedules and fields; the fix rolls out (processor, a new
// query replica beside the old one, then the old one restarted in place)
// with no answer of 5xx other than rebuilding and none mixing versions;
// a preview then reports nothing; and a wrong upcaster is caught the same
// way.
func TestReplaySeedStory(t *testing.T) {
	root := testkit.Root(t)
	st := &seedStory{t: t, dir: t.TempDir(), fix: testkit.Binaries(t)}
	st.log = testkit.LogFile(t, st.dir)
	var err error
	if st.released, err = candidate.Build(root, filepath.Join(st.dir, "released"), candidate.PhotoCountBug, "processor", "query", "replay"); err != nil {
		t.Fatal(err)
	}
	wrongUpcast, err := candidate.Build(root, filepath.Join(st.dir, "upcast"), candidate.WrongUpcaster, "replay")
	if err != nil {
		t.Fatal(err)
	}
	// 1. The released system, with today's visits.
	st.release()
	kafka, dir, released, fix := st.kafka, st.dir, st.released, st.fix

	// 2. A preview of the released build itself: nothing changes.
	r := runReplay(t, filepath.Join(released, "replay"), kafka, filepath.Join(dir, "same"), 0)
	if r.Streams != 125 || r.Changed != 0 || r.Failed != 0 || r.NotDeployed != 0 {
		t.Fatalf("the released build against itself: %+v", r)
	}

	// 3. A preview of the fix: exactly the photo visits (today's 20 and
	// last year's one), exactly the photo counts, from 30 to 3 and from
	// 20 to 2.
	r = runReplay(t, filepath.Join(fix, "replay"), kafka, filepath.Join(dir, "fix"), 3)
	if r.Changed != 21 || r.Unchanged != 104 || r.Failed != 0 || len(r.Paths) != 2 ||
		r.Paths[0].Path != "/photos/0/count" || r.Paths[0].Count != 21 || r.Paths[1].Path != "/photos/1/count" || r.Paths[1].Count != 21 {
		t.Fatalf("preview of the fix: %+v", r)
	}
	if ex := r.Paths[0].Examples[0]; ex.Before != 30.0 || ex.After != 3.0 || !strings.HasPrefix(ex.ScheduleID, "photo-") {
		t.Fatalf("preview of the fix, example: %+v", ex)
	}
	if r.Commands == nil || r.Commands.Differ != 0 || r.Commands.Decided != 100*8+20*4 {
		t.Fatalf("preview of the fix, decisions: %+v", r.Commands)
	}

	// 4. Roll the fix out.
	st.rollOut()
	// The deployed states are the fix's now: its preview reports nothing.
	r = runReplay(t, filepath.Join(fix, "replay"), kafka, filepath.Join(dir, "after"), 0)
	if r.Changed != 0 || r.Failed != 0 || r.NotDeployed != 0 || r.Streams != 125 {
		t.Fatalf("preview after the rollout: %+v", r)
	}

	// 5. A wrong upcaster: the two cancellations of last year, their
	// canceledBy, and nothing else.
	r = runReplay(t, filepath.Join(wrongUpcast, "replay"), kafka, filepath.Join(dir, "upcast"), 3)
	if r.Changed != 2 || len(r.Paths) != 1 || r.Paths[0].Path != "/reservation/canceledBy" || r.Paths[0].Count != 2 {
		t.Fatalf("preview of a wrong upcaster: %+v", r)
	}
	for _, ex := range r.Paths[0].Examples {
		if !strings.HasPrefix(ex.ScheduleID, "visit-canceled") || ex.Before != schedule.CanceledByUnrecorded || ex.After != schedule.CanceledByPatient {
			t.Fatalf("preview of a wrong upcaster, example: %+v", ex)
		}
	}
}

// seedStory is TestReplaySeedStory's broker, builds and services.
type seedStory struct {
	t                       *testing.T
	dir, log, kafka, tokens string
	released, fix           string // the builds' directories
	procHTTP                string
	procArgs                []string
	oldProc                 *testkit.Process
	oldQuery                *queryReplica
}

// release is step 1: the released system, with last year's
// cancellations in the log (schema version 1) and today's visits.
func (st *seedStory) release() {
	t := st.t
	st.kafka = testkit.FreeAddr(t)
	kafka, log, dir := st.kafka, st.log, st.dir
	testkit.StartKafka(t, log, kafka, filepath.Join(dir, "kafka"))
	testkit.Topics(t, kafka, partitions)
	fixture := testkit.Version1Events(t, "", partitions)
	testkit.CommitEvents(t, kafka, fixture)
	st.procHTTP = testkit.FreeAddr(t)
	st.procArgs = []string{"-brokers", kafka, "-instance-id", "p0", "-data-dir", filepath.Join(dir, "p0"), "-http", st.procHTTP,
		"-partitions", fmt.Sprint(partitions), "-log-level", "warn"}
	st.oldProc = testkit.Start(t, filepath.Join(st.released, "processor"), log, st.procArgs...)
	at := time.Now().Add(-time.Hour)
	var recs []*kgo.Record
	recs = append(recs, testkit.Interleave("clinic-1", 100, at)...)
	for i := range 20 {
		recs = append(recs, candidate.PhotoVisit("clinic-1", fmt.Sprintf("photo-%02d", i), at)...)
	}
	testkit.Send(t, testkit.Producer(t, kafka), recs)
	testkit.WaitResults(t, kafka, len(recs), 2*time.Minute, func() {})
	logcheck.WaitStateComplete(t, kafka, schedule.LogicVersion-1, 2*time.Minute)

	st.tokens = filepath.Join(dir, "tokens")
	testkit.WriteFile(t, st.tokens, api.TokenLine("t", "clinic-1", "desk-1", api.ScopeAll))
	st.oldQuery = &queryReplica{t: t, addr: testkit.FreeAddr(t), dir: filepath.Join(dir, "q-old")}
	st.oldQuery.start(filepath.Join(st.released, "query"), kafka, st.tokens, log)
	waitReady(t, st.oldQuery.addr)
	if got := st.oldQuery.photoCounts(); !slices.Equal(got, []int{30, 20}) {
		t.Fatalf("the released bug: photo counts %v, want [30 20]", got)
	}
}

// rollOut is step 4: the fix rolls out, the processor first, then a new
// query replica beside the old one, then the old one restarted in place.
func (st *seedStory) rollOut() {
	t := st.t
	// The processor: the new build folds the events again (its logic
	// version is newer) and rewrites the state topic.
	kafka, log, dir, tokens, fix, oldQuery := st.kafka, st.log, st.dir, st.tokens, st.fix, st.oldQuery
	testkit.StopCleanly(t, st.oldProc, syscall.SIGTERM, 30*time.Second)
	testkit.Start(t, "processor", log, st.procArgs...)
	waitReady(t, st.procHTTP)
	logcheck.WaitStateComplete(t, kafka, schedule.LogicVersion, 2*time.Minute)

	// A new query replica folds beside the old one, which keeps
	// answering (the old states, whole) until the new one is ready.
	newQuery := queryReplica{t: t, addr: testkit.FreeAddr(t), dir: filepath.Join(dir, "q-new")}
	newQuery.start(filepath.Join(fix, "query"), kafka, tokens, log)
	for !proc.Ready(newQuery.addr) {
		if got := oldQuery.photoCounts(); !slices.Equal(got, []int{30, 20}) {
			t.Fatalf("the old replica during the rollout: %v", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := newQuery.photoCounts(); !slices.Equal(got, []int{3, 2}) {
		t.Fatalf("the new replica: photo counts %v, want [3 2]", got)
	}
	// The old replica restarted in place on the new build: 503
	// rebuilding, then the new states, never the old ones or a mix.
	oldQuery.stop()
	oldQuery.start(filepath.Join(fix, "query"), kafka, tokens, log)
	testkit.WaitListening(t, oldQuery.addr, 20*time.Second)
	rebuilding := 0
	for !proc.Ready(oldQuery.addr) {
		if got := oldQuery.photoCounts(); got != nil && !slices.Equal(got, []int{3, 2}) {
			t.Fatalf("a replica restarted in place answered %v while rebuilding", got)
		} else if got == nil {
			rebuilding++
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := oldQuery.photoCounts(); !slices.Equal(got, []int{3, 2}) {
		t.Fatalf("the replica restarted in place: %v", got)
	}
	t.Logf("the replica restarted in place answered 503 rebuilding %d times", rebuilding)
}

// runReplay runs a replay binary with -commands -fail-on-change and
// checks its exit status, its last line and its report.html; it returns
// report.json.
func runReplay(t *testing.T, bin, kafka, out string, wantExit int) *replay.Report {
	t.Helper()
	cmd := exec.Command(bin, "-brokers", kafka, "-out", out, "-commands", "-fail-on-change")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != wantExit {
		t.Fatalf("%s: exit %d, want %d\n%s%s", bin, code, wantExit, stdout.String(), stderr.String())
	}
	r, err := replay.ReadReport(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if want := r.Summary(); lines[len(lines)-1] != want {
		t.Fatalf("last line %q, want %q", lines[len(lines)-1], want)
	}
	if html, err := os.ReadFile(filepath.Join(out, replay.HTMLFile)); err != nil || !bytes.Contains(html, []byte("Rewind replay preview")) {
		t.Fatalf("report.html: %v", err)
	}
	return r
}

// queryReplica is one query service of the walk.
type queryReplica struct {
	t         *testing.T
	addr, dir string
	p         *testkit.Process
}

func (q *queryReplica) start(bin, kafka, tokens, log string) {
	q.p = testkit.Start(q.t, bin, log, "-brokers", kafka, "-http", q.addr, "-data-dir", q.dir, "-tokens", tokens, "-log-level", "warn")
}

func (q *queryReplica) stop() {
	testkit.StopCleanly(q.t, q.p, syscall.SIGTERM, 30*time.Second)
}

// photoCounts reads photo-00's photo counts; nil for 503 rebuilding. Any
// other answer fails the test.
func (q *queryReplica) photoCounts() []int {
	q.t.Helper()
	client := &apiclient.Client{Query: "http://" + q.addr, Token: "t"}
	answer, err := client.State(q.t.Context(), "photo-00", nil)
	if e, ok := errors.AsType[*apiclient.Error](err); ok && e.StatusCode == http.StatusServiceUnavailable &&
		apiclient.Code(err) == "rebuilding" && e.Header.Get("Retry-After") != "" {
		return nil
	} else if err != nil {
		q.t.Fatalf("GET photo-00: %v", err)
	}
	var state schedule.State
	if err := json.Unmarshal(answer.State, &state); err != nil {
		q.t.Fatal(err)
	}
	var counts []int
	for _, p := range state.Photos.All() {
		counts = append(counts, p.Count)
	}
	return counts
}

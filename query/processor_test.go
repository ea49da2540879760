package query_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/testing/inproc"
	"github.com/rewind/rewind/internal/testing/logcheck"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/processor"
	"github.com/rewind/rewind/query"
)

// TestFoldsProcessorOutput runs the real processor on commands while the
// view follows its transactions, then checks every stream against a fold
// of the events read back from the topic, and that the view reports
// itself ready with no lag.
func TestFoldsProcessorOutput(t *testing.T) {
	brokers := testkit.Kafka(t, partitions)
	s := startView(t, brokers, t.TempDir())
	p := inproc.Run(t, brokers, partitions, "p1", t.TempDir(), func(c *processor.Config) { c.MaxBatch = 100 })
	defer p.Stop(t)
	recs := testkit.Interleave("clinic-a", 60, t0)
	testkit.Send(t, testkit.Producer(t, brokers), recs)
	testkit.WaitResults(t, brokers, len(recs), time.Minute, nil)
	log := logcheck.ReadAll(t, brokers)
	t.Logf("%d commands, %d events", len(recs), len(log.Events))
	s.waitFolded(len(log.Events))
	for key, want := range logcheck.Fold(t, schedule.Kind, log) {
		_, stream, _ := strings.Cut(key, "/")
		var got query.StateResponse
		if code, pc := s.get(tokenA, "/v1/schedules/"+stream+"?minVersion=1", &got); code != 200 {
			t.Fatalf("%s: %d %s", key, code, pc)
		}
		if got.Version != want.Version || !sameJSON(t, got.State, want.State) {
			t.Fatalf("%s: version %d %s, want %d %s", key, got.Version, got.State, want.Version, jsonOf(t, want.State))
		}
	}
	caughtUp := func() bool { return testkit.Metric(t, s.reg, "rewind_query_view_lag") == 0 && s.view.Ready() }
	if !testkit.Eventually(10*time.Second, caughtUp) {
		t.Fatalf("view lag %v ready %v after folding everything", testkit.Metric(t, s.reg, "rewind_query_view_lag"), s.view.Ready())
	}
	if n := testkit.Samples(t, s.reg).Count("rewind_query_view_lag{"); n != partitions {
		t.Fatalf("view lag has %d series, want one per partition (%d)", n, partitions)
	}
}

package processor_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/testing/logcheck"
	"github.com/rewind/rewind/internal/testing/promsample"
	"github.com/rewind/rewind/internal/testing/testkit"
	"github.com/rewind/rewind/processor"
)

// TestStandbyTakeover runs devkafka and two processor processes with a
// standby replica each, SIGKILLs one and deletes its disk, never to
// restart it. The survivor serves the lost member's partitions within the
// session timeout plus 1 s, restoring only the state topic's tail from its
// warm copies and the keys written since its copies read them, it seals
// the visitors' data with their keys of before, and every invariant holds
// after. With two members in each
// process, every copy must be in the other process: a copy kept by a
// sibling dies with it.
func TestStandbyTakeover(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: starts devkafka and processor processes")
	}
	for _, members := range []int{1, 2} {
		t.Run(fmt.Sprintf("members=%d", members), func(t *testing.T) { testStandbyTakeover(t, members) })
	}
}

func testStandbyTakeover(t *testing.T, members int) {
	const session = 3 * time.Second
	base := t.TempDir()
	kafkaAddr := testkit.FreeAddr(t)
	logFile := testkit.LogFile(t, base)
	testkit.StartKafka(t, logFile, kafkaAddr, filepath.Join(base, "kafka"))
	testkit.Topics(t, kafkaAddr, testPartitions)
	startProc := func(name, httpAddr string) *testkit.Process {
		return testkit.Start(t, "processor", logFile, "-brokers", kafkaAddr, "-instance-id", name,
			"-data-dir", filepath.Join(base, name), "-http", httpAddr, "-partitions", strconv.Itoa(testPartitions),
			"-standby-replicas", "1", "-session-timeout", session.String(), "-members", strconv.Itoa(members))
	}
	http1, http2 := testkit.FreeAddr(t), testkit.FreeAddr(t)
	p1 := startProc("p1", http1)
	waitMetric(t, http1, func(m promsample.Samples) bool { return m.Value("rewind_processor_partitions_owned") == testPartitions })
	p2 := startProc("p2", http2)
	defer func() {
		p2.Signal(syscall.SIGTERM)
		p2.Wait(30 * time.Second)
	}()
	// Each owns half and keeps a copy of the other half.
	for _, addr := range []string{http1, http2} {
		waitMetric(t, addr, func(m promsample.Samples) bool {
			return m.Value("rewind_processor_partitions_owned") == testPartitions/2 && m.Count("rewind_processor_standby_lag{") == testPartitions/2
		})
	}

	prod := testkit.Producer(t, kafkaAddr)
	at := time.Now().Add(time.Hour).UTC() // the open reservations' slot and commands
	recs := append(testkit.Interleave("clinic-1", 1000, time.Now().Add(-time.Hour)), openReservations("Reserve", at)...)
	testkit.Send(t, prod, recs)
	testkit.WaitResults(t, kafkaAddr, len(recs), 2*time.Minute, nil)
	// p2's copies of p1's partitions have caught up.
	waitMetric(t, http2, func(m promsample.Samples) bool {
		return m.Count("rewind_processor_standby_lag{") == testPartitions/2 && m.Sum("rewind_processor_standby_lag{") == 0
	})
	before := scrape(http2)

	p1.Kill()
	killed := time.Now()
	if err := os.RemoveAll(filepath.Join(base, "p1")); err != nil {
		t.Fatal(err)
	}
	// New visits (ids are per stream name, so new names), one command
	// each: most land on the lost member's partitions too.
	var more []*kgo.Record
	for i := range 100 {
		more = append(more, testkit.Visit("clinic-1", fmt.Sprintf("n%05d", i), time.Now())[0].Record())
	}
	more = append(more, openReservations("CancelReservation", at)...)
	testkit.Send(t, prod, more)
	testkit.WaitResults(t, kafkaAddr, len(recs)+len(more), time.Minute, nil)
	took := time.Since(killed)
	t.Logf("the survivor served every partition %v after the kill (session timeout %v)", took.Round(time.Millisecond), session)
	if took > session+time.Second {
		t.Errorf("takeover took %v, want at most the session timeout + 1s (%v)", took, session+time.Second)
	}
	after := scrape(http2)
	onlyTails(t, before, after)
	keysRead := after.Value("rewind_processor_restore_key_records_total") - before.Value("rewind_processor_restore_key_records_total")

	testkit.StopCleanly(t, p2, syscall.SIGTERM, 30*time.Second)
	log := logcheck.ReadAll(t, kafkaAddr)
	logcheck.Invariants(t, log)
	if want := 1000*7 + openVisits*2 + 100; len(log.Events) != want {
		t.Fatalf("want %d events, got %d", want, len(log.Events))
	}
	// Half the partitions' keys were the lost member's. A restore without
	// the copies' keys reads them all; with them, those written since the
	// copies' last poll, none here.
	if keysRead > float64(len(log.Keys))/20 {
		t.Errorf("the takeover read %v key records of %d on the topic, want those written since the copies' last poll", keysRead, len(log.Keys))
	}
	logcheck.OneKeyPerSubject(t, log)
	logcheck.StoreMatches(t, schedule.Kind, log, processor.MemberDirs(filepath.Join(base, "p2"), members)...)
	logcheck.StateMatches(t, schedule.Kind, log)
}

// openVisits is how many reservations TestStandbyTakeover keeps open
// across the takeover, each with a key of its visitor's on its partition,
// to be cancelled with a reason after it.
const openVisits = 200

// openReservations is a command of each open reservation at at:
// "Reserve" before the takeover, "CancelReservation" after.
func openReservations(typ string, at time.Time) []*kgo.Record {
	recs := make([]*kgo.Record, openVisits)
	for i := range recs {
		c := testkit.Cmd{Tenant: "clinic-1", Stream: fmt.Sprintf("w%05d", i), Type: typ, ID: fmt.Sprintf("w%05d-%s", i, typ), Time: at,
			Data: `{"by":"patient","reason":"a cold"}`}
		if typ == "Reserve" {
			c.Data = fmt.Sprintf(`{"visitorId":"v-w%05d","visitor":{"name":"Visitor %d"},"start":%q,"end":%q}`, i, i,
				at.Format(time.RFC3339), at.Add(time.Hour).Format(time.RFC3339))
		}
		recs[i] = c.Record()
	}
	return recs
}

// onlyTails: between the scrapes before and after a takeover, the
// survivor restored half the partitions from the state topic's tail
// after its copies, and nothing from the whole state topic or the events.
func onlyTails(t *testing.T, before, after promsample.Samples) {
	t.Helper()
	restored := func(m promsample.Samples, source string) (n float64) {
		for k, v := range m {
			if strings.HasPrefix(k, "rewind_processor_restore_seconds_count{") && strings.Contains(k, `source="`+source+`"`) {
				n += v
			}
		}
		return n
	}
	for _, source := range []string{"state", "events"} {
		if n := restored(after, source) - restored(before, source); n != 0 {
			t.Errorf("the takeover restored %v partitions from %s, want only state topic tails", n, source)
		}
	}
	if tails := restored(after, "state-tail") - restored(before, "state-tail"); tails != testPartitions/2 {
		t.Errorf("the takeover restored %v partitions from a state topic tail, want %d", tails, testPartitions/2)
	}
}

// waitMetric waits up to a minute for a processor's metrics to satisfy ok.
func waitMetric(t *testing.T, addr string, ok func(promsample.Samples) bool) {
	t.Helper()
	if !testkit.Eventually(time.Minute, func() bool { return ok(scrape(addr)) }) {
		t.Fatalf("metrics of %s did not reach the condition in a minute: %v", addr, scrape(addr))
	}
}

// scrape reads a processor's metrics.
func scrape(addr string) promsample.Samples { return promsample.Scrape("http://" + addr + "/metrics") }

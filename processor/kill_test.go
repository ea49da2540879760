package processor_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rewind/rewind/aggregate/schedule"
	"github.com/rewind/rewind/internal/testkit"
)

// TestKillProcesses runs devkafka and the processor as OS processes, sends
// load, and SIGKILLs the processor again and again (sometimes deleting its
// data dir, forcing a cold restore) and devkafka once, restarting each on
// its data dir. The invariants must hold from the topics, and the final
// Pebble state must equal the fold of the events.
func TestKillProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: builds the binaries and starts devkafka and processor processes")
	}
	base := t.TempDir()
	kafkaAddr := testkit.FreeAddr(t)
	kafkaDir, procDir := filepath.Join(base, "kafka"), filepath.Join(base, "processor")
	logFile := filepath.Join(base, "log.txt")
	defer func() {
		if t.Failed() {
			out, _ := os.ReadFile(logFile)
			t.Logf("process logs:\n%s", tail(out, 4000))
		}
	}()
	startKafka := func() *testkit.Process {
		p := testkit.Start(t, "devkafka", logFile, "-addr", kafkaAddr, "-data-dir", kafkaDir)
		testkit.WaitListening(t, kafkaAddr, 20*time.Second)
		return p
	}
	startProc := func() *testkit.Process {
		return testkit.Start(t, "processor", logFile, "-brokers", kafkaAddr, "-instance-id", "p1",
			"-data-dir", procDir, "-http", testkit.FreeAddr(t), "-partitions", fmt.Sprint(testPartitions), "-max-batch", "300")
	}
	kafka := startKafka()
	testkit.Topics(t, kafkaAddr, testPartitions)
	proc := startProc()

	recs := testkit.Interleave("clinic-1", 1500, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	prod := testkit.Producer(t, kafkaAddr)
	chunk := len(recs) / 8
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 8 {
		testkit.Send(t, prod, recs[i*chunk:min((i+1)*chunk, len(recs))])
		time.Sleep(time.Duration(100+r.IntN(300)) * time.Millisecond)
		proc.Kill()
		if i%3 == 2 {
			if err := os.RemoveAll(procDir); err != nil {
				t.Fatal(err)
			}
		}
		if i == 4 {
			prod.Close()
			kafka.Kill()
			kafka = startKafka()
			prod = testkit.Producer(t, kafkaAddr)
		}
		proc = startProc()
	}
	testkit.Send(t, prod, recs[8*chunk:])
	testkit.WaitResults(t, kafkaAddr, len(recs), 3*time.Minute, nil)
	_ = proc.Cmd.Process.Signal(syscall.SIGTERM)
	if _, ok := proc.Wait(30 * time.Second); !ok {
		t.Fatal("processor did not stop on SIGTERM")
	}
	log := testkit.ReadAll(t, kafkaAddr)
	testkit.Invariants(t, log)
	if len(log.Events) != 1500*7 {
		t.Fatalf("want %d events, got %d", 1500*7, len(log.Events))
	}
	testkit.StoreMatches(t, schedule.Kind, log, procDir)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

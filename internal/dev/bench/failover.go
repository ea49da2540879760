package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rewind/rewind/internal/dev/proc"
	"github.com/rewind/rewind/internal/testing/pause"
	"github.com/rewind/rewind/internal/testing/promsample"
	"github.com/rewind/rewind/topics"
)

// failoverSession is the processors' session timeout in the failover
// case: the write pause a loss costs with a standby is this plus about
// one rebalance.
const failoverSession = 6 * time.Second

// failoverRate is the steady load of the failover case, commands/s.
const failoverRate = 500

// failoverCase loses one of two and one of three processors, with and
// without standby replicas, at two history sizes, under steady load. Each
// setting kills failoverKills times; every second kill lands inside an
// open transaction (SIGUSR1 to the crashpoint build), the others at a
// random moment (SIGKILL). The victim is restarted on its disk after each
// takeover. It prints the longest write pause of each kill, read from
// the results as a client sees them, as a median and a maximum.
func (b *Bench) failoverCase(dir string) error {
	fmt.Printf("failover under %d commands/s, SIGKILL of one processor never restarted until the others serve, %v session, %d kills each\n",
		failoverRate, failoverSession, b.failoverKills)
	ran := 0
	for _, schedules := range []int{20000, 200000} {
		for _, procs := range []int{2, 3} {
			for _, standby := range []int{procs - 1, 0} {
				setting := fmt.Sprintf("%d-%d-%d", schedules, procs, standby)
				if b.failoverSettings != "" && !slices.Contains(strings.Split(b.failoverSettings, ","), setting) {
					continue
				}
				name := "failover-" + setting
				r, err := b.failoverSetting(filepath.Join(dir, name), schedules, procs, standby)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				r.print(schedules, procs, standby)
				ran++
			}
		}
	}
	if ran == 0 {
		return fmt.Errorf("-failover-settings %q names no setting: they are schedules-processors-standbys, 20000 or 200000, 2 or 3, processors-1 or 0", b.failoverSettings)
	}
	return nil
}

// failoverResult is what one setting of the failover case measured.
type failoverResult struct {
	inTxn, random []time.Duration // the longest write pause of each kill
	restores      []time.Duration // the survivors' restore of the lost partitions, per kill
	fenced        float64
}

func (r failoverResult) print(schedules, procs, standby int) {
	all := append(slices.Clone(r.inTxn), r.random...)
	bound, what := failoverSession+time.Second, "session + 1 s"
	if standby == 0 {
		bound, what = failoverSession+slices.Max(r.restores)+time.Second, "session + restore + 1 s"
	}
	verdict := "✓"
	if slices.Max(all) > bound {
		verdict = "✗"
	}
	fmt.Printf("  1 of %d, %d standby, %3dk schedules: in a transaction median %.2f s max %.2f s; at random median %.2f s max %.2f s; restore median %.2f s; %.0f transactions fenced; ≤ %s (%.2f s) %s\n",
		procs, standby, schedules/1000, median(r.inTxn).Seconds(), slices.Max(r.inTxn).Seconds(),
		median(r.random).Seconds(), slices.Max(r.random).Seconds(), median(r.restores).Seconds(), r.fenced, what, bound.Seconds(), verdict)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// fleet is the processors of one failover setting.
type fleet struct {
	e       *env
	dir     string
	standby int
	procs   []*proc.Process
	http    []string
}

// start starts processor i. Its log, at info, is appended to a file of
// its own: a kill over its bound prints the survivors' lines since.
func (f *fleet) start(i int) {
	f.http[i] = freeAddr()
	name := "f" + strconv.Itoa(i)
	p, err := proc.Start(proc.Spec{Path: filepath.Join(f.e.binDir, "crashpoints", "processor"), Env: f.e.childEnv(), Log: f.log(i),
		Args: []string{"-brokers", f.e.kafka, "-instance-id", name,
			"-data-dir", filepath.Join(f.dir, name), "-http", f.http[i], "-log-level", "info",
			"-session-timeout", failoverSession.String(), "-standby-replicas", strconv.Itoa(f.standby)}})
	if err != nil {
		panic(err)
	}
	f.procs[i] = p
}

func (f *fleet) log(i int) string { return filepath.Join(f.dir, "f"+strconv.Itoa(i)+".log") }

// logSizes returns the size of each processor's log.
func (f *fleet) logSizes() []int64 {
	sizes := make([]int64, len(f.procs))
	for i := range f.procs {
		if st, err := os.Stat(f.log(i)); err == nil {
			sizes[i] = st.Size()
		}
	}
	return sizes
}

// logSince returns the lines of processor i's log past offset that say
// something of a takeover: its steps, a fence, a restore, a warning.
func (f *fleet) logSince(i int, offset int64) []string {
	b, err := os.ReadFile(f.log(i))
	if err != nil || int64(len(b)) < offset {
		return nil
	}
	var lines []string
	for line := range strings.Lines(string(b[offset:])) {
		for _, what := range []string{`"partition taken over"`, "fenced", `"partition restored"`, `"partitions assigned"`, `"level":"WARN"`, `"level":"ERROR"`} {
			if strings.Contains(line, what) {
				lines = append(lines, strings.TrimSpace(line))
				break
			}
		}
	}
	return lines
}

// sum adds a metric over the running processors, all but skip.
func (f *fleet) sum(name string, skip int) (sum float64) {
	for i, addr := range f.http {
		if i != skip {
			sum += promsample.Scrape("http://" + addr + "/metrics").Sum(name)
		}
	}
	return sum
}

// settled reports whether every partition is owned and restored, every
// processor owns some, and every standby copy has caught up.
func (f *fleet) settled() bool { return f.unsettled() == "" }

// unsettled says what keeps the fleet from having settled: a processor
// that owns nothing, restores, or has a copy behind; the partitions
// owned, or the copies, short of all. It is "" once settled.
func (f *fleet) unsettled() string {
	copies := 0.0
	for i, addr := range f.http {
		m := promsample.Scrape("http://" + addr + "/metrics")
		switch {
		case m.Sum("rewind_processor_partitions_owned") == 0:
			return fmt.Sprintf("f%d owns no partition", i)
		case m.Sum("rewind_processor_restoring_partitions") > 0:
			return fmt.Sprintf("f%d restores %v partitions", i, m.Sum("rewind_processor_restoring_partitions"))
		case m.Sum("rewind_processor_standby_lag{") > 0:
			return fmt.Sprintf("f%d's copies are %v records behind", i, m.Sum("rewind_processor_standby_lag{"))
		}
		copies += float64(m.Count("rewind_processor_standby_lag{"))
	}
	if owned := f.sum("rewind_processor_partitions_owned", -1); owned != topics.DefaultPartitions {
		return fmt.Sprintf("%v of %d partitions owned", owned, topics.DefaultPartitions)
	}
	if want := float64(f.standby * topics.DefaultPartitions); copies != want {
		return fmt.Sprintf("%v of %v standby copies", copies, want)
	}
	return ""
}

// failoverSetting runs one setting on a broker of its own.
func (b *Bench) failoverSetting(dir string, schedules, procs, standby int) (r failoverResult, err error) {
	e, done, err := b.newEnv(dir, nil)
	if err != nil {
		return r, err
	}
	defer done()
	ctx := context.Background()
	if err := e.produceCommands(ctx, schedules, schedules); err != nil {
		return r, err
	}
	f := &fleet{e: e, dir: dir, standby: standby, procs: make([]*proc.Process, procs), http: make([]string, procs)}
	for i := range procs {
		f.start(i)
	}
	defer func() {
		for _, p := range f.procs {
			stop(p)
		}
	}()
	if !waitUntil(5*time.Minute, f.settled) {
		return r, fmt.Errorf("the processors did not settle in 5 minutes: %s", f.unsettled())
	}
	// The history's commands are decided before the first kill: a kill
	// while they drain would leave the survivor a backlog to decide in its
	// first transaction, and measure that instead of the takeover (it made
	// the first kill of the 200k settings without a standby 2-3 s longer).
	if !waitUntil(5*time.Minute, func() bool { done, end := e.committed(ctx); return done >= end }) {
		return r, errors.New("the processors did not decide the history's commands in 5 minutes")
	}
	watch, err := pause.Start([]string{e.kafka})
	if err != nil {
		return r, err
	}
	defer watch.Close()
	stopLoad := steadyLoad(ctx, e.cl, failoverRate)
	defer stopLoad()
	rnd := rand.New(rand.NewPCG(uint64(schedules), uint64(procs*10+standby)))
	for k := range b.failoverKills {
		took, restore, fenced, err := f.kill(k%procs, k%2 == 0, watch, rnd)
		if err != nil {
			return r, fmt.Errorf("kill %d: %w", k, err)
		}
		if k%2 == 0 {
			r.inTxn = append(r.inTxn, took)
		} else {
			r.random = append(r.random, took)
		}
		r.restores = append(r.restores, restore)
		r.fenced += fenced
	}
	return r, nil
}

// kill loses processor i, inside an open transaction or at a random
// moment, waits until the others serve every partition, and returns the
// longest write pause, the survivors' restore time and the transactions
// they fenced; then it restarts i and waits until the fleet has settled
// again.
func (f *fleet) kill(i int, inTxn bool, watch *pause.Watch, rnd *rand.Rand) (took, restore time.Duration, fenced float64, err error) {
	time.Sleep(time.Duration(500+rnd.IntN(1000)) * time.Millisecond)
	restoreSum, restores := f.sum("rewind_processor_restore_seconds_sum", i), f.sum("rewind_processor_restore_seconds_count", i)
	fencedBefore := f.sum("rewind_processor_fenced_transactions_total", i)
	// What had stalled already, and the survivors' takeovers so far: for
	// a kill over its bound, where the time went.
	quiet, takeovers, logs := watch.Quiet(), f.takeovers(i), f.logSizes()
	if inTxn {
		f.procs[i].Signal(syscall.SIGUSR1)
	} else {
		f.procs[i].Kill()
	}
	if _, exited := f.procs[i].Wait(30 * time.Second); !exited {
		return 0, 0, 0, errors.New("the processor did not die")
	}
	watch.Reset() // only now: the others' partitions advance until the loss
	owned := func() bool { return f.sum("rewind_processor_partitions_owned", i) == topics.DefaultPartitions }
	if !waitUntil(2*time.Minute, owned) {
		return 0, 0, 0, errors.New("the survivors did not own every partition within 2 minutes")
	}
	since := time.Now()
	if !waitUntil(2*time.Minute, func() bool { return watch.AnsweredSince(since, topics.DefaultPartitions) }) {
		return 0, 0, 0, errors.New("the survivors did not serve every partition within 2 minutes")
	}
	_, took = watch.Longest()
	fenced = f.sum("rewind_processor_fenced_transactions_total", i) - fencedBefore
	if n := f.sum("rewind_processor_restore_seconds_count", i) - restores; n > 0 {
		restore = time.Duration((f.sum("rewind_processor_restore_seconds_sum", i) - restoreSum) / n * float64(time.Second))
	}
	bound := failoverSession + time.Second // the bound r.print checks
	if f.standby == 0 {
		bound += restore
	}
	if took > bound {
		f.explain(i, inTxn, took, bound, quiet, takeovers, logs)
	}
	f.start(i)
	if !waitUntil(5*time.Minute, f.settled) {
		return 0, 0, 0, fmt.Errorf("the processors did not settle in 5 minutes after a restart: %s", f.unsettled())
	}
	return took, restore, fenced, nil
}

// explain says on stderr, for a kill whose pause was over its bound, how
// long each partition had been quiet when the kill came (the lost
// owner's partitions alone: it had stalled; all of them: the broker had),
// and the survivors' mean takeover since, from assignment to first
// commit: what is left of the pause came before the assignment (the
// session's expiry and the rebalance). Then the survivors' log lines
// since the kill on their takeovers: the steps of each.
func (f *fleet) explain(i int, inTxn bool, took, bound time.Duration, quiet map[int32]time.Duration, before [2]float64, logs []int64) {
	parts := make([]string, 0, len(quiet))
	for p := range int32(len(quiet)) {
		parts = append(parts, fmt.Sprintf("%d:%d", p, quiet[p].Milliseconds()))
	}
	after := f.takeovers(i)
	n := after[1] - before[1]
	fmt.Fprintf(os.Stderr, "bench: losing f%d (in a transaction %v) paused %v, over %v; ms each partition had been quiet at the kill: %s; "+
		"the survivors' %.0f takeovers since took %.3f s on average, assignment to first commit\n",
		i, inTxn, took.Round(time.Millisecond), bound, strings.Join(parts, " "), n, (after[0]-before[0])/max(n, 1))
	for j := range f.procs {
		if j != i {
			for _, line := range f.logSince(j, logs[j]) {
				fmt.Fprintf(os.Stderr, "bench:   f%d: %s\n", j, line)
			}
		}
	}
}

// takeovers is the sum and the count of the takeover histograms of every
// processor but skip.
func (f *fleet) takeovers(skip int) [2]float64 {
	return [2]float64{f.sum("rewind_processor_takeover_seconds_sum", skip), f.sum("rewind_processor_takeover_seconds_count", skip)}
}

// steadyLoad produces rate commands/s, each a check-in of a visit of its
// own, in ticks of 10 ms, until the returned func is called.
func steadyLoad(ctx context.Context, cl *kgo.Client, rate int) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ctx.Err() == nil; {
			select {
			case <-ctx.Done():
			case <-tick.C:
				for range rate / 100 {
					cl.Produce(ctx, checkIn("load-"+strconv.Itoa(i)), nil)
					i++
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// waitUntil polls cond every 100 ms until it holds or timeout passes.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rewind/rewind/internal/testing/testkit"
)

// TestMakeRun runs devrun as `make run` does, pastes the three commands it
// prints into a shell, stops it with SIGINT (Ctrl-C), checks that every
// service is gone, and starts it again on the same data: the visit is
// still there. A second part points it at an external Kafka.
func TestMakeRun(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl not found: the test pastes the printed curl commands into a shell; `make test` installs it (as root)")
	}
	data := t.TempDir()
	addrs := []string{"-kafka-addr", testkit.FreeAddr(t), "-processor-addr", testkit.FreeAddr(t),
		"-ingest-addr", testkit.FreeAddr(t), "-query-addr", testkit.FreeAddr(t)}
	out := filepath.Join(t.TempDir(), "devrun.out")
	run := func() *testkit.Process {
		os.Remove(out)
		return testkit.Start(t, "devrun", out, append([]string{"-bin", testkit.Binaries(t), "-data-dir", data}, addrs...)...)
	}
	p := run()
	banner := waitFor(t, out, "Ctrl-C stops everything", 120*time.Second)
	cmds := pastedCommands(banner)
	if len(cmds) != 3 {
		t.Fatalf("want three commands to paste, got %d:\n%s", len(cmds), banner)
	}
	answers := runPasted(t, cmds)
	if answers[0]["status"] != "accepted" || answers[1]["status"] != "accepted" {
		t.Fatalf("reserve and check in: %v, %v", answers[0], answers[1])
	}
	// The slot is the coming hour, not a fixed date in the past.
	if start := regexp.MustCompile(`"start":"([^"]+)"`).FindStringSubmatch(cmds[0]); start == nil {
		t.Fatalf("no slot in %s", cmds[0])
	} else if at, err := time.Parse(time.RFC3339, start[1]); err != nil || at.Before(time.Now()) || at.After(time.Now().Add(time.Hour)) {
		t.Errorf("the printed slot starts at %s, not in the next hour", start[1])
	}
	travel := answers[2]
	if travel["version"] != 1.0 || travel["latestVersion"] != 2.0 || travel["state"].(map[string]any)["status"] != "reserved" {
		t.Fatalf("time travel answered %v", travel)
	}

	stop(t, p)
	log, _ := os.ReadFile(out)
	for i := 1; i < len(addrs); i += 2 {
		if addr := addrs[i]; listening(addr) {
			t.Errorf("%s still listening after Ctrl-C", addr)
		}
	}
	if !strings.Contains(string(log), "stopped; the data stays in") {
		t.Errorf("devrun did not report a clean stop:\n%s", log)
	}

	// A second run keeps the data and the token.
	p = run()
	banner2 := waitFor(t, out, "Ctrl-C stops everything", 120*time.Second)
	again := pastedCommands(banner2)[2]
	visit := regexp.MustCompile(`schedules/(visit-[0-9a-f]+)`).FindStringSubmatch(cmds[2])[1]
	again = regexp.MustCompile(`schedules/visit-[0-9a-f]+\?version=1&minVersion=2`).ReplaceAllString(again, "schedules/"+visit)
	b, err := exec.Command("bash", "-c", again).Output()
	if err != nil || !strings.Contains(string(b), `"version":2`) || !strings.Contains(string(b), `"checked_in"`) {
		t.Fatalf("after a restart, %s answered %s (%v)", visit, b, err)
	}

	// A second make run while one runs says so and fails, instead of
	// printing a banner for the first one's services.
	out2 := filepath.Join(t.TempDir(), "second.out")
	second := testkit.Start(t, "devrun", out2, append([]string{"-bin", testkit.Binaries(t), "-data-dir", data}, addrs...)...)
	err, exited := second.Wait(30 * time.Second)
	log2, _ := os.ReadFile(out2)
	if !exited || err == nil || !strings.Contains(string(log2), "already in use") || strings.Contains(string(log2), "Rewind is running") {
		t.Fatalf("a second run while one runs: exited %v, %v:\n%s", exited, err, log2)
	}
	stop(t, p)
}

// TestMakeRunExternalKafka: with REWIND_BROKERS set, devrun starts no
// devkafka and uses that Kafka.
func TestMakeRunExternalKafka(t *testing.T) {
	_, brokers := testkit.Cluster(t)
	kafkaAddr := testkit.FreeAddr(t)
	out := filepath.Join(t.TempDir(), "devrun.out")
	t.Setenv("REWIND_BROKERS", brokers)
	p := testkit.Start(t, "devrun", out, "-bin", testkit.Binaries(t), "-data-dir", t.TempDir(), "-kafka-addr", kafkaAddr,
		"-processor-addr", testkit.FreeAddr(t), "-ingest-addr", testkit.FreeAddr(t), "-query-addr", testkit.FreeAddr(t))
	banner := waitFor(t, out, "Ctrl-C stops everything", 120*time.Second)
	if !strings.Contains(banner, brokers+" (external)") || listening(kafkaAddr) {
		t.Fatalf("with REWIND_BROKERS=%s devrun should use it and start no devkafka:\n%s", brokers, banner)
	}
	stop(t, p)
}

func stop(t *testing.T, p *testkit.Process) {
	t.Helper()
	testkit.StopCleanly(t, p, syscall.SIGINT, 60*time.Second)
}

// runPasted runs the banner's commands in a shell, as a user pastes
// them, and returns their JSON answers. The first two (the commands)
// must show a 200 with their version as ETag (curl -i).
func runPasted(t *testing.T, cmds []string) []map[string]any {
	t.Helper()
	var answers []map[string]any
	for i, c := range cmds {
		b, err := exec.Command("bash", "-c", c).Output()
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		// The commands show their status line and ETag (curl -i), the
		// read only its body.
		if i < 2 {
			head, body, _ := strings.Cut(string(b), "\r\n\r\n")
			if etag := fmt.Sprintf("ETag: \"%d\"", i+1); !strings.HasPrefix(head, "HTTP/1.1 200") || !strings.Contains(strings.ToLower(head), strings.ToLower(etag)) {
				t.Fatalf("%s: want 200 with %s, got\n%s", c, etag, head)
			}
			b = []byte(body)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s answered %q", c, b)
		}
		answers = append(answers, m)
	}
	return answers
}

// pastedCommands joins the banner's curl lines (with their continuations).
func pastedCommands(banner string) []string {
	var cmds []string
	lines := strings.Split(banner, "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(l, "curl ") {
			continue
		}
		for strings.HasSuffix(l, `\`) && i+1 < len(lines) {
			i++
			l = strings.TrimSuffix(l, `\`) + " " + strings.TrimSpace(lines[i])
		}
		cmds = append(cmds, l)
	}
	return cmds
}

func waitFor(t *testing.T, path, marker string, timeout time.Duration) string {
	t.Helper()
	var b []byte
	found := testkit.Eventually(timeout, func() bool {
		b, _ = os.ReadFile(path)
		return strings.Contains(string(b), marker)
	})
	if !found {
		t.Fatalf("no %q in %s after %s:\n%s", marker, path, timeout, b)
	}
	return string(b)
}

func listening(addr string) bool {
	return exec.Command("bash", "-c", "exec 3<>/dev/tcp/"+strings.Replace(addr, ":", "/", 1)).Run() == nil
}

// TestMakeRunKilled: `make run` killed outright (SIGKILL: no chance to
// stop its children, as when a test's cleanup or the OOM killer ends it)
// leaves no broker or service running: each child is told to stop when
// its supervisor dies.
func TestMakeRunKilled(t *testing.T) {
	data := t.TempDir()
	addrs := []string{"-kafka-addr", testkit.FreeAddr(t), "-processor-addr", testkit.FreeAddr(t),
		"-ingest-addr", testkit.FreeAddr(t), "-query-addr", testkit.FreeAddr(t)}
	out := filepath.Join(t.TempDir(), "devrun.out")
	p := testkit.Start(t, "devrun", out, append([]string{"-bin", testkit.Binaries(t), "-data-dir", data}, addrs...)...)
	waitFor(t, out, "Ctrl-C stops everything", 120*time.Second)
	if n := len(running(data)); n != 5 {
		t.Fatalf("%d processes run on %s, want devrun, devkafka, the processor, ingest and query", n, data)
	}
	p.Kill()
	if !testkit.Eventually(60*time.Second, func() bool { return len(running(data)) == 0 }) {
		t.Fatalf("a minute after make run was killed, still running on its data: %v", running(data))
	}
}

// running lists the command lines of the processes whose arguments name
// dir: the children of a make run on it.
func running(dir string) []string {
	var out []string
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range cmdlines {
		b, err := os.ReadFile(f)
		if err == nil && strings.Contains(string(b), dir) {
			out = append(out, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

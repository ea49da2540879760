package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rewind/rewind/internal/dev/proc"
)

var (
	buildOnce, crashOnce sync.Once
	binDir, crashBin     string
	buildErr, crashErr   error
)

// Binaries builds the commands once per test process and returns their
// directory.
func Binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() { binDir, buildErr = build("rewind-bin-", "./cmd/...") })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// CrashpointProcessor builds the processor binary with the build tag
// rewind_crashpoints once per test process, and returns its path. On
// SIGUSR1 it SIGKILLs itself inside an open transaction, on SIGUSR2 it
// SIGSTOPs itself there (processor/crashpoints_on.go).
func CrashpointProcessor(t testing.TB) string {
	t.Helper()
	crashOnce.Do(func() {
		dir, err := build("rewind-crashpoints-", "-tags", "rewind_crashpoints", "./cmd/processor")
		crashBin, crashErr = filepath.Join(dir, "processor"), err
	})
	if crashErr != nil {
		t.Fatal(crashErr)
	}
	return crashBin
}

// build runs go build with args into a new temporary directory.
func build(prefix string, args ...string) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", append([]string{"build", "-o", dir + "/"}, args...)...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %v: %v\n%s", args, err, out)
	}
	return dir, nil
}

// ModuleRoot is the nearest directory at or above the working directory
// (the package's, under go test) that holds go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testkit: go.mod not found")
		}
		dir = parent
	}
}

// Root is ModuleRoot for a test, which cannot go on without it.
func Root(t testing.TB) string {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// FreeAddr returns a loopback address with a port free at the time.
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := proc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// Process is a running binary.
type Process = proc.Process

// Start runs a binary from Binaries (or at the absolute path name) with
// args and the test's KEK and erasure key files (REWIND_KEK_FILE,
// REWIND_ERASE_KEY_FILE); its output goes to logFile. It is killed when the test ends.
func Start(t testing.TB, name, logFile string, args ...string) *Process {
	t.Helper()
	path := name
	if !filepath.IsAbs(name) {
		path = filepath.Join(Binaries(t), name)
	}
	env := append(os.Environ(), "REWIND_KEK_FILE="+KEKFile(t), "REWIND_ERASE_KEY_FILE="+EraseKeyFile(t))
	p, err := proc.Start(proc.Spec{Path: path, Args: args, Log: logFile, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

// StopCleanly sends sig (SIGTERM, or SIGINT as Ctrl-C does) and requires a
// clean exit within within: a graceful stop that hangs, or ends with an
// error, is a failure. It returns how long the stop took.
func StopCleanly(t testing.TB, p *Process, sig os.Signal, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	p.Signal(sig)
	err, exited := p.Wait(within)
	if !exited {
		t.Fatalf("%s (pid %d) still running %s after %v", p.Name, p.Pid(), within, sig)
	}
	if err != nil {
		t.Fatalf("%s (pid %d) exited with %v after %v", p.Name, p.Pid(), err, sig)
	}
	return time.Since(start)
}

// LogFile returns the path of a log file in dir for the test's processes
// to share. When the test fails, its tail is logged: what the processes
// said last is what explains a failure.
func LogFile(t testing.TB, dir string) string {
	path := filepath.Join(dir, "log.txt")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(path)
			t.Logf("process logs (tail):\n%s", b[max(len(b)-8000, 0):])
		}
	})
	return path
}

// StartKafka runs devkafka on addr with its data in dataDir ("" keeps it
// in memory) and args after (TLS, SASL), and waits until it listens.
func StartKafka(t testing.TB, logFile, addr, dataDir string, args ...string) *Process {
	t.Helper()
	p := Start(t, "devkafka", logFile, append([]string{"-addr", addr, "-data-dir", dataDir}, args...)...)
	WaitListening(t, addr, 20*time.Second)
	return p
}

// WaitListening waits until addr accepts TCP connections.
func WaitListening(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	if !Eventually(timeout, func() bool { return proc.Listening(addr) }) {
		t.Fatalf("%s not listening after %s", addr, timeout)
	}
}

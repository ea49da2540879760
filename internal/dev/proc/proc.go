// Package proc starts Rewind's binaries as child processes and stops
// them: the one supervisor behind make run and make demo (devstack), the
// bench and the tests that run the real binaries.
//
// A child's output goes to a log file, so that a child that dies before
// it is ready can be reported with the end of its log. Stop ends a child
// the way an orchestrator does: SIGTERM, and SIGKILL only after a grace
// period, because Rewind's services finish their work on SIGTERM (ingest
// drains its requests, the processor ends its transaction and leaves the
// group).
package proc

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Spec says how to start a child.
type Spec struct {
	// Path is the binary.
	Path string
	Args []string
	// Env is the child's environment; nil inherits this process's.
	Env []string
	// Log is a file the child's stdout and stderr are appended to. When
	// it is empty they go to Stdout and Stderr, or nowhere where those
	// are nil.
	Log            string
	Stdout, Stderr io.Writer
	// OwnGroup starts the child in a process group of its own, so that
	// a terminal's Ctrl-C reaches only the supervisor, which then stops
	// its children in order; and, on Linux, has it sent SIGTERM should
	// the supervisor die without stopping it.
	OwnGroup bool
}

// Process is a running child.
type Process struct {
	// Name is the base name of the binary, for messages.
	Name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// Start starts a child as spec says.
func Start(spec Spec) (*Process, error) {
	p := &Process{Name: filepath.Base(spec.Path), log: spec.Log, done: make(chan struct{})}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = spec.Env
	var logFile *os.File
	if spec.Log != "" {
		var err error
		if logFile, err = os.OpenFile(spec.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return nil, err
		}
		cmd.Stdout, cmd.Stderr = logFile, logFile
	} else {
		cmd.Stdout, cmd.Stderr = spec.Stdout, spec.Stderr
	}
	if spec.OwnGroup {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		parentDeath(cmd.SysProcAttr)
	}
	// The kernel sends the parent-death signal when the thread that
	// started the child exits, not the process (Go issue 27505): the
	// goroutine that starts and waits for the child keeps its thread for
	// the child's life.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			if logFile != nil {
				logFile.Close()
			}
			started <- fmt.Errorf("start %s: %w", p.Name, err)
			return
		}
		p.cmd = cmd
		started <- nil
		p.err = cmd.Wait()
		if logFile != nil {
			logFile.Close()
		}
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the child; a child that has exited is not an error.
func (p *Process) Signal(sig os.Signal) {
	_ = p.cmd.Process.Signal(sig)
}

// Done is closed when the child has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is how the child exited: nil for status 0. It is valid after Done.
func (p *Process) Err() error { return p.err }

// Wait waits up to timeout for the child to exit and returns how it
// exited and whether it did.
func (p *Process) Wait(timeout time.Duration) (err error, exited bool) {
	select {
	case <-p.done:
		return p.err, true
	case <-time.After(timeout):
		return nil, false
	}
}

// Stop sends SIGTERM and waits up to grace for the child to exit, then
// kills it. It returns an error when the child failed or had to be
// killed; a child that had already exited is not stopped again.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	p.Signal(syscall.SIGTERM)
	if err, exited := p.Wait(grace); exited {
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		return nil
	}
	p.Kill()
	return fmt.Errorf("%s did not stop within %s after SIGTERM; killed", p.Name, grace)
}

// Kill sends SIGKILL and waits for the child to go.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// WaitFor polls ok until it holds, the child exits (an error with the end
// of its log), ctx ends or timeout passes.
func (p *Process) WaitFor(ctx context.Context, timeout time.Duration, ok func() bool) error {
	deadline := time.After(timeout)
	for !ok() {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v)%s", p.Name, p.err, p.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("%s not ready after %s%s", p.Name, timeout, p.logTail())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// logTail is the last lines of the child's log, introduced, or nothing
// when it has no log file.
func (p *Process) logTail() string {
	if p.log == "" {
		return ""
	}
	f, err := os.Open(p.log)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 15 {
			lines = lines[1:]
		}
	}
	return "; its log ends:\n" + strings.Join(lines, "\n")
}

// Listening reports whether addr accepts TCP connections.
func Listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Ready reports whether the service at addr answers GET /readyz with 200,
// which each of Rewind's services does once it serves.
func Ready(addr string) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + addr + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// FreeAddr returns a loopback address with a port free at the time, and
// never one it returned before in this process: the kernel may hand a
// port just closed out again, and a test that gave devkafka and a
// processor's HTTP server the same port saw the processor fail to listen
// and its metrics requests answered by devkafka.
func FreeAddr() (string, error) {
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := ln.Addr().String()
		ln.Close()
		given.Lock()
		fresh := !given.addrs[addr]
		given.addrs[addr] = true
		given.Unlock()
		if fresh {
			return addr, nil
		}
	}
}

// given holds the addresses FreeAddr returned.
var given = struct {
	sync.Mutex
	addrs map[string]bool
}{addrs: map[string]bool{}}

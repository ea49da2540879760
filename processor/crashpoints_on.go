//go:build rewind_crashpoints

package processor

import (
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
)

// Built with the tag rewind_crashpoints (the bench's and the failover
// tests' processor binary, never a release), a processor lands a crash
// exactly where it is most costly to others, on a signal:
//
//   - SIGUSR1: at the next batch's BeforeCommit (its records produced, its
//     transaction open), the process SIGKILLs itself: a machine lost
//     mid-transaction.
//   - SIGUSR2: there, the process SIGSTOPs itself: a zombie, frozen with
//     its transaction open until it gets SIGCONT, when it goes on to End.
//
// A random SIGKILL mostly lands between two transactions under a light
// load; these land inside one every time.
func init() {
	var armed atomic.Int32 // the signal to act on, or 0
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		for sig := range sigs {
			armed.Store(int32(sig.(syscall.Signal)))
		}
	}()
	crashpoint = func() {
		switch syscall.Signal(armed.Swap(0)) {
		case syscall.SIGUSR1:
			signalThread(syscall.SIGKILL)
			select {} // the signal ends the process
		case syscall.SIGUSR2:
			signalThread(syscall.SIGSTOP)
		}
	}
}

// signalThread sends sig to the calling thread, not to the process. Sent to
// the process, a SIGSTOP is taken by whichever thread the kernel wakes
// for it, and on a busy machine that thread may wait for a CPU while the
// caller goes on to End and commits: the zombie would freeze after its
// transaction, not inside it. Sent to the thread, the signal is taken on
// the way back from the call, and the stop, which applies to every
// thread, lands before the caller runs another instruction.
func signalThread(sig syscall.Signal) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	_ = syscall.Tgkill(os.Getpid(), syscall.Gettid(), sig)
}

package proc

import "syscall"

// parentDeath asks the kernel to SIGTERM the child when its parent dies:
// a supervisor killed with SIGKILL (a test's cleanup, the OOM killer)
// leaves no broker or service behind. Linux only; elsewhere children
// outlive a supervisor that could not stop them.
func parentDeath(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGTERM }
